"""``twin.server.static.FileCache``: served bytes follow the file, and the cache stays within its budget."""

from __future__ import annotations

import os

from twin.server.static import FileCache


def _key(path) -> tuple[str, int, int]:
    info = os.stat(path)
    return str(path), info.st_mtime_ns, info.st_size


def test_a_rewritten_file_is_read_again(tmp_path):
    path = tmp_path / "tile.glb"
    path.write_bytes(b"old")
    cache = FileCache(1 << 20)
    assert cache.get(*_key(path)) == b"old"
    path.write_bytes(b"newer")
    os.utime(path, ns=(1, 1))  # a different mtime even on coarse clocks
    assert cache.get(*_key(path)) == b"newer"


def test_least_recently_used_files_leave_first_within_the_budget(tmp_path):
    cache = FileCache(250)
    paths = []
    for n in range(3):
        paths.append(tmp_path / f"{n}.bin")
        paths[-1].write_bytes(bytes([n]) * 100)
    keys = [_key(p) for p in paths]
    cache.get(*keys[0])
    cache.get(*keys[1])
    cache.get(*keys[0])  # 0 is now the most recent
    cache.get(*keys[2])  # 300 bytes > 250: 1 goes
    assert sorted(cache._held) == sorted([keys[0], keys[2]])
    assert cache._size == 200
