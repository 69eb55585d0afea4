"""A converted sample city for server and viewer tests, built once per test session.

``twin sample-city`` → ``twin convert -o ROOT/cities/sample``, run through the real
command line. Each test module then gets its own data folder (own ``twin.db``) that
links to the shared city.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

TWIN = str(Path(sys.executable).with_name("twin"))
CITY_ID = "sample"


@functools.cache
def converted_sample_city(buildings: int = 120, seed: int = 2) -> Path:
    """Folder of the converted sample city (cached for the process, removed at exit).

    Seed 2 puts a dozen of the 120 buildings in official flood zones.
    """
    root = Path(tempfile.mkdtemp(prefix="machi-twin-city-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    _twin("sample-city", str(root / "source"), "--buildings", str(buildings), "--seed", str(seed), "--json")
    _twin("convert", str(root / "source"), "-o", str(root / "cities" / CITY_ID))
    return root / "cities" / CITY_ID


def data_dir_linking(target: Path, *cities: Path) -> Path:
    """A fresh server home at ``target`` whose cities are symlinks to ``cities``."""
    target.mkdir(parents=True, exist_ok=True)
    for city in cities:
        (target / city.name).symlink_to(city, target_is_directory=True)
    return target


def _twin(*args: str) -> None:
    done = subprocess.run([TWIN, *args], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"twin {' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")


@functools.cache
def converted_real_city(sample: str) -> Path:
    """A real PLATEAU sample (``tests.conftest.plateau_sample``, skipped where absent) converted into
    ``ROOT/cities/<short name>`` (cached for the process, removed at exit)."""
    from tests.conftest import plateau_sample
    from twin.convert.pipeline import convert

    source = plateau_sample(sample)
    root = Path(tempfile.mkdtemp(prefix="machi-twin-real-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    out = root / "cities" / source.name.split("_")[1].split("-")[0]
    convert(source, out)
    return out
