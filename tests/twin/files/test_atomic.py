"""Crash-safe writes: whole old file or whole new one, and the leftovers a crash leaves are found."""

from __future__ import annotations

from pathlib import Path

import pytest

from twin.files.atomic import (
    LEFTOVERS,
    partial,
    publish,
    remove_leftovers,
    replacing,
    staging_folder,
    write_atomic,
    write_json,
)


def test_a_write_replaces_the_file_and_leaves_nothing_beside_it(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    write_atomic(path, b"old")
    write_json(path, {"名前": "文京区"})
    assert path.read_text(encoding="utf-8") == '{\n  "名前": "文京区"\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_an_error_while_writing_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "depth.tif"
    write_atomic(path, b"old")
    with pytest.raises(OSError), replacing(path) as tmp:
        assert tmp.suffix == ".tif"  # writers choose the format by the suffix
        tmp.write_bytes(b"half")
        raise OSError(28, "No space left on device")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["depth.tif"]


def test_what_a_killed_writer_leaves_is_recognised_and_removed_on_restart(tmp_path: Path) -> None:
    # a process killed between writing and renaming leaves its temporary file or staging folder
    kept = tmp_path / "job.json"
    write_atomic(kept, b"{}")
    partial(tmp_path / "max_depth.tif").write_bytes(b"torn")
    (staging_folder(tmp_path / "result") / "depth.nc").write_bytes(b"torn")
    assert sorted(p.name for p in tmp_path.glob(LEFTOVERS)) == [".max_depth.partial.tif", ".result.partial"]
    remove_leftovers(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["job.json"]


def test_a_staged_folder_is_published_whole(tmp_path: Path) -> None:
    final = tmp_path / "result"
    staging = staging_folder(final)
    (staging / "depth.nc").write_bytes(b"frames")
    publish(staging, final)
    assert (final / "depth.nc").read_bytes() == b"frames"
    assert not staging.exists()
