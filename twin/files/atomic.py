"""Crash-safe file writes: a temporary sibling, fsync, rename, fsync of the folder.

After a crash a reader sees either the old file or the whole new one, never a torn
write (the rename is atomic on POSIX file systems; the folder's fsync makes it durable).
Folders of results are staged the same way (``publish``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` all at once; an OSError (ENOSPC…) leaves the old file."""
    tmp = path.with_name(f".{path.name}.partial")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)


def fsync_folder(folder: Path) -> None:
    """Make the folder's entries (a rename, a new file) durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def staging_folder(final: Path) -> Path:
    """An empty hidden sibling of ``final`` to write results into; old leftovers are removed."""
    staging = final.with_name(f".{final.name}.partial")
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
