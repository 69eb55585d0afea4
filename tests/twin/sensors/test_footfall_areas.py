"""Named footfall areas: saved whole through the one atomic writer, read back as saved."""

from __future__ import annotations

from pathlib import Path

import pytest
from shapely.geometry import box

from twin.files import atomic
from twin.sensors.footfall_areas import Area, areas_path, load_areas, save_areas


def test_saved_areas_read_back_and_leave_no_temporary_file(tmp_path: Path) -> None:
    areas = [Area("east", "東口", "East exit", box(139.0, 35.0, 139.001, 35.001))]
    save_areas(tmp_path, "town", areas)
    assert load_areas(tmp_path, "town") == areas
    assert sorted(p.name for p in areas_path(tmp_path, "town").parent.iterdir()) == ["town.geojson"]


def test_a_failed_save_keeps_the_old_areas(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = [Area("east", "東口", "East exit", box(139.0, 35.0, 139.001, 35.001))]
    save_areas(tmp_path, "town", old)

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full_disk)
    with pytest.raises(OSError):
        save_areas(tmp_path, "town", [Area("west", "西口", "West exit", box(139.1, 35.0, 139.101, 35.001))])
    monkeypatch.undo()
    assert load_areas(tmp_path, "town") == old
    assert not list(areas_path(tmp_path, "town").parent.glob(atomic.LEFTOVERS))
