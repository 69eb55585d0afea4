"""Crash-safe writes: a temporary sibling, fsync, rename, fsync of the folder.

After a crash a reader sees either the old file or the whole new one, never a torn write
(the rename is atomic on POSIX file systems; the folder's fsync makes it durable). Every
temporary name has one pattern, ``.{stem}.partial{suffix}`` (the suffix kept, because
writers such as rasterio and pandas choose the format by it), so ``remove_leftovers`` finds
what a crash left behind. Folders of results are staged the same way (``staging_folder``,
``publish``).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

#: Glob of every temporary name ``partial`` makes.
LEFTOVERS = ".*.partial*"


def partial(path: Path) -> Path:
    """The temporary sibling that ``path`` is written as before it is renamed into place."""
    return path.with_name(f".{path.stem}.partial{path.suffix}")


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Write the yielded temporary path; on success it replaces ``path`` durably, on error it goes.

    An OSError (ENOSPC…) while writing leaves the old file as it was.
    """
    tmp = partial(path)
    try:
        yield tmp
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` all at once."""
    with replacing(path) as tmp:
        tmp.write_bytes(data)


def write_with(path: Path, write: Callable[[Path], object]) -> None:
    """Replace ``path`` with what ``write(tmp)`` writes (e.g. ``frame.to_parquet``)."""
    with replacing(path) as tmp:
        write(tmp)


def write_json(path: Path, value: object) -> None:
    """Replace ``path`` with ``value`` as indented UTF-8 JSON (kana and kanji as they are)."""
    write_atomic(path, (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def fsync_folder(folder: Path) -> None:
    """Make the folder's entries (a rename, a new file) durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def staging_folder(final: Path) -> Path:
    """An empty hidden sibling of ``final`` to write results into; old leftovers are removed."""
    staging = partial(final)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def publish(staging: Path, final: Path) -> None:
    """Sync every file of a complete staging folder, then rename it to ``final`` (not existing yet)."""
    for path in sorted(staging.rglob("*")):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    os.replace(staging, final)
    fsync_folder(final.parent)


def remove_leftovers(folder: Path) -> None:
    """Remove the temporary files and staging folders a crash left in ``folder``."""
    for leftover in folder.glob(LEFTOVERS):
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
