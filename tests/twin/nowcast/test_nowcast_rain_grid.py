"""Rain grid forecasts for the nowcast: posted as GeoTIFF or CF-NetCDF, checked (nothing kept
from a bad file), and used by the cycles as rain grids on the flood grid.

The City is the converted 120-building sample city (EPSG:6677) at 16 m cells. Volumes are
checked against rain × open area × time worked by hand; the open area is the sum of the
cells' open fractions (1 − the share of buildings), the engine's storage area."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import rasterio
from affine import Affine
from fastapi.testclient import TestClient
from rasterio.crs import CRS
from rasterio.io import MemoryFile

from sim.flood import FloodModel, Scheme
from tests.twin.fixtures_city import CITY_ID, TWIN, converted_sample_city
from twin.city.grids import load_grids
from twin.errors import TwinInputError
from twin.flood.city_run import flood_run
from twin.nowcast.config import NowcastConfig
from twin.nowcast.cycle import scenario_of
from twin.nowcast.folder import NowcastFolder
from twin.nowcast.forcing import CycleForcing, cycle_forcing
from twin.nowcast.rain_grid import RainGrid, read_rain_grid
from twin.sensors.times import iso
from twin.server import Settings, create_app

MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
URL = f"/api/nowcast/{CITY_ID}"
CELL_M = 16.0
ISSUE = datetime(2026, 7, 1, 3, 0, tzinfo=UTC)  # the forcing tests' issue time (gauges read 0 mm/h before it)
START = ISSUE - timedelta(hours=1)


@pytest.fixture(scope="module")
def grids():
    return load_grids(converted_sample_city(), CELL_M)


@pytest.fixture(scope="module")
def gauge(client, keys) -> int:
    """A rain gauge reading 0 mm/h every 10 minutes, before ``ISSUE`` and for the last two hours."""
    stream = {"name": "rain", "description": "rain", "observationType": MEASUREMENT,
              "unitOfMeasurement": {"name": "mm/h", "symbol": "mm/h", "definition": "mm/h"},
              "Sensor": {"name": "rain", "encodingType": "text/plain", "metadata": "-"},
              "ObservedProperty": {"name": "rain", "definition": "urn:rain"}}
    thing = {"name": "gauge", "description": "-", "Datastreams": [stream]}
    assert client.post("/sta/v1.1/Things", json=thing, headers=keys["sensor"]).status_code == 201
    ident = client.get("/sta/v1.1/Datastreams", headers=keys["sensor"]).json()["value"][0]["@iot.id"]
    now = datetime.now(UTC).replace(microsecond=0)
    for first in (START - timedelta(hours=1), now - timedelta(hours=2)):
        for k in range(13):
            answer = client.post(f"/sta/v1.1/Datastreams({ident})/Observations", headers=keys["sensor"],
                                 json={"phenomenonTime": iso(first + timedelta(minutes=10 * k)), "result": 0.0})
            assert answer.status_code == 201, answer.text
    settings = {"rain_gauges": [ident], "horizon_s": 3600, "cell_size_m": CELL_M, "output_interval_s": 600,
                "scheme": "inertial"}
    assert client.put(URL, json=settings, headers=keys["admin"]).status_code == 200
    return ident


def geotiff(bands: np.ndarray, transform: Affine, crs: CRS | None, valid: list[str] | None = None) -> bytes:
    profile = {"driver": "GTiff", "height": bands.shape[1], "width": bands.shape[2], "count": bands.shape[0],
               "dtype": "float32", "transform": transform, "nodata": np.nan}
    if crs is not None:
        profile["crs"] = crs
    with MemoryFile() as memory:
        with memory.open(**profile) as dst:
            dst.write(bands.astype(np.float32))
            for k, v in enumerate(valid or []):
                dst.set_band_description(k + 1, v)
        return memory.read()


def netcdf(path: Path, rain: np.ndarray, lon: np.ndarray, lat: np.ndarray, valid: list[datetime],
           units: str = "mm/h", lonlat_units: tuple[str, str] = ("degrees_east", "degrees_north")) -> bytes:
    """A CF-NetCDF file: ``rain`` (time, lat, lon) with latitudes as given (south first if increasing)."""
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("time", len(valid))
        ds.createDimension("lat", lat.size)
        ds.createDimension("lon", lon.size)
        time = ds.createVariable("time", "f8", ("time",))
        time.units = "minutes since 2000-01-01 00:00:00"
        time[:] = [(v - datetime(2000, 1, 1, tzinfo=UTC)).total_seconds() / 60 for v in valid]
        x = ds.createVariable("lon", "f8", ("lon",))
        x.units = lonlat_units[0]
        x[:] = lon
        y = ds.createVariable("lat", "f8", ("lat",))
        y.units = lonlat_units[1]
        y[:] = lat
        r = ds.createVariable("rain", "f4", ("time", "lat", "lon"), fill_value=np.float32(-9999.0))
        r.units = units
        r[:] = np.where(np.isnan(rain), -9999.0, rain)
    return path.read_bytes()


def around_city(grids, margin_m: float = 200.0, cell_m: float = 100.0) -> tuple[Affine, int, int]:
    """A grid in the City's CRS a little larger than its flood grid."""
    t = grids.terrain.transform
    rows, cols = grids.terrain.shape
    west, north = t.c - margin_m, t.f + margin_m
    width = cols * CELL_M + 2 * margin_m
    height = rows * CELL_M + 2 * margin_m
    return Affine(cell_m, 0, west, 0, -cell_m, north), int(np.ceil(height / cell_m)), int(np.ceil(width / cell_m))


def lonlat_axes(grids, n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Cell-centre lon (west first) and lat (south first) of a grid a little wider than the City."""
    w, s, e, north = grids.lonlat_bounds()
    return np.linspace(w - 0.002, e + 0.002, n), np.linspace(s - 0.002, north + 0.002, n)


def in_minutes(now: datetime, *minutes: float) -> list[datetime]:
    return [now + timedelta(minutes=m) for m in minutes]


def test_bad_rain_grids_are_refused_and_nothing_is_kept(app, client, keys, gauge, grids, tmp_path):
    now = datetime.now(UTC)
    ahead = in_minutes(now, 10, 20)
    transform, rows, cols = around_city(grids)
    ones = np.ones((2, rows, cols))
    city_crs = grids.terrain.crs
    lon, lat = lonlat_axes(grids)
    partly = ones.copy()
    partly[1, 0, 0] = np.nan
    far = Affine(100.0, 0, 50_000.0, 0, -100.0, 300_000.0)  # 300 km from the City
    cases = [
        (b"", {}, "the upload is empty"),
        (b"not a grid at all", {}, "not a GeoTIFF or a NetCDF file"),
        (geotiff(ones, transform, None, [iso(t) for t in ahead]), {}, "the GeoTIFF has no CRS"),
        (geotiff(ones, Affine(0.01, 0, 10, 0, -0.01, 10), CRS.from_user_input("IAU_2015:49900"),
                 [iso(t) for t in ahead]), {}, "cannot transform from IAU_2015:49900"),
        (geotiff(ones, far, city_crs, [iso(t) for t in ahead]), {}, "does not overlap the City"),
        (geotiff(ones, transform, city_crs), {}, "give the valid times"),
        (geotiff(ones, transform, city_crs), {"valid": iso(ahead[0])}, "1 valid times for 2 bands"),
        (geotiff(ones, transform, city_crs, [iso(now - timedelta(minutes=5)), iso(ahead[0])]), {}, "in the past"),
        (geotiff(ones, transform, city_crs, [iso(t) for t in ahead[::-1]]), {}, "must increase"),
        (geotiff(-ones, transform, city_crs, [iso(t) for t in ahead]), {}, "negative intensities"),
        (geotiff(partly, transform, city_crs, [iso(t) for t in ahead]), {},
         "1 cells have data at some valid times and not at others"),
        (netcdf(tmp_path / "metres.nc", np.ones((2, 40, 40)), lon, lat, ahead, lonlat_units=("m", "m")), {},
         "the NetCDF file has no CRS"),
        (netcdf(tmp_path / "units.nc", np.ones((2, 40, 40)), lon, lat, ahead, units="mm"), {}, "give rain in mm/h"),
        (netcdf(tmp_path / "nan.nc", np.full((2, 40, 40), np.nan), lon, lat, ahead), {}, "every cell is no data"),
    ]
    for body, params, message in cases:
        answer = client.post(f"{URL}/inputs/rain-grid", content=body, params=params, headers=keys["staff"])
        assert answer.status_code == 422, (message, answer.text)
        assert message in answer.json()["detail"], (message, answer.json())
    assert client.get(URL, headers=keys["staff"]).json()["posted"] == {}
    assert not list((app.state.nowcasts.folder(CITY_ID).path).glob("*rain_grid*"))
    assert client.post(f"{URL}/inputs/rain-grid", content=cases[-1][0], headers=keys["sensor"]).status_code == 403


def test_geotiff_and_netcdf_are_read_and_kept(app, client, keys, gauge, grids, tmp_path):
    """A GeoTIFF (valid times as a parameter) and a NetCDF on lon/lat (latitudes south first,
    rain in the northern half only): read the right way up, kept one at a time."""
    folder = app.state.nowcasts.folder(CITY_ID)
    now = datetime.now(UTC)
    ahead = in_minutes(now, 10, 20, 30)
    transform, rows, cols = around_city(grids)
    bands = np.stack([np.full((rows, cols), v) for v in (5.0, 10.0, 2.5)])
    answer = client.post(f"{URL}/inputs/rain-grid", content=geotiff(bands, transform, grids.terrain.crs),
                         params={"valid": ",".join(iso(t) for t in ahead)}, headers=keys["staff"])
    assert answer.status_code == 200, answer.text
    kept = answer.json()["rain_grid"]
    assert kept["valid"] == [iso(t) for t in ahead] and kept["bands"] == 3 and kept["city_share"] == 1.0
    assert (folder.path / kept["file"]).is_file()
    stored = folder.rain_grid(folder.posted())
    assert stored is not None
    assert [float(stored.on(grids.terrain, [k])[0].mean()) for k in range(3)] == pytest.approx([5.0, 10.0, 2.5])

    lon, lat = lonlat_axes(grids)
    north = np.where(lat[:, None] > np.median(lat), 8.0, 0.0) * np.ones(lon.size)
    answer = client.post(f"{URL}/inputs/rain-grid", content=netcdf(tmp_path / "r.nc", np.stack([north, north]), lon,
                                                                   lat, ahead[:2]), headers=keys["staff"])
    assert answer.status_code == 200, answer.text
    posted = client.get(URL, headers=keys["staff"]).json()["posted"]
    assert posted["rain_grid"]["crs"] == "OGC:CRS84" and posted["rain_grid"]["valid"] == [iso(t) for t in ahead[:2]]
    assert [p.name for p in folder.path.glob("rain_grid-*.tif")] == [posted["rain_grid"]["file"]]
    on_city = folder.rain_grid(folder.posted()).on(grids.terrain, [0])[0]  # type: ignore[union-attr]
    assert on_city[0].min() == 8.0 and on_city[-1].max() == 0.0  # row 0 is the City's north edge

    series = {"rain": {"valid": [iso(t) for t in ahead], "mm_per_h": [1, 2, 3]}}
    assert client.post(f"{URL}/inputs", json=series, headers=keys["staff"]).status_code == 200
    posted = client.get(URL, headers=keys["staff"]).json()["posted"]
    assert "rain_grid" not in posted and posted["rain"]["mm_per_h"] == [1, 2, 3]
    assert not list(folder.path.glob("rain_grid-*.tif"))


def test_a_projected_netcdf_with_a_grid_mapping(app, client, keys, gauge, grids, tmp_path):
    """x/y in the City's CRS (EPSG:6677) named by a grid_mapping's ``crs_wkt``, time in JST
    units (+09:00), rain 6 mm/h in the eastern half: kept with its valid times in UTC, the
    eastern cells at 6 and the western at 0; the same file with (time, x, y) is refused."""
    now = datetime.now(UTC).replace(microsecond=0)
    transform, rows, cols = around_city(grids)
    x = transform.c + transform.a * (np.arange(cols) + 0.5)
    y = transform.f + transform.e * (np.arange(rows) + 0.5)
    rain = np.where(x[None, :] > x.mean(), 6.0, 0.0) * np.ones((rows, 1))
    jst = now + timedelta(hours=9)

    def write(path: Path, swapped: bool = False) -> bytes:
        with netCDF4.Dataset(path, "w") as ds:
            ds.createDimension("time", 2)
            ds.createDimension("y", rows)
            ds.createDimension("x", cols)
            t = ds.createVariable("time", "f8", ("time",))
            t.units = f"minutes since {jst:%Y-%m-%d %H:%M:%S} +09:00"
            t[:] = [10, 20]
            for name, values in (("x", x), ("y", y)):
                v = ds.createVariable(name, "f8", (name,))
                v.units, v.axis = "m", name.upper()
                v[:] = values
            crs = ds.createVariable("crs", "i4")
            crs.crs_wkt = grids.terrain.crs.to_wkt()
            dims = ("time", "x", "y") if swapped else ("time", "y", "x")
            r = ds.createVariable("precipitation", "f4", dims)
            r.units, r.grid_mapping = "mm h-1", "crs"
            r[:] = np.stack([rain, rain]).transpose(0, 2, 1) if swapped else np.stack([rain, rain])
        return path.read_bytes()

    answer = client.post(f"{URL}/inputs/rain-grid", content=write(tmp_path / "swapped.nc", True), headers=keys["staff"])
    assert answer.status_code == 422 and "give them as (time, y, x)" in answer.json()["detail"]
    answer = client.post(f"{URL}/inputs/rain-grid", content=write(tmp_path / "xy.nc"), headers=keys["staff"])
    assert answer.status_code == 200, answer.text
    assert answer.json()["rain_grid"]["valid"] == [iso(t) for t in in_minutes(now, 10, 20)]
    folder = app.state.nowcasts.folder(CITY_ID)
    on_city = folder.rain_grid(folder.posted()).on(grids.terrain, [1])[0]  # type: ignore[union-attr]
    half = grids.terrain.shape[1] // 2
    assert on_city[:, : half - 1].max() == 0.0 and on_city[:, half + 1:].min() == pytest.approx(6.0)


def _forcing(app, gauge: int, grids, posted: dict, rain_grid: RainGrid | None):
    config = NowcastConfig(city=CITY_ID, origin=START, rain_gauges=(gauge,), horizon_s=3600, cell_size_m=CELL_M,
                           scheme="inertial")
    with app.state.store.session() as session:
        return config, cycle_forcing(session, config, posted, START, ISSUE, rain_grid, grids.terrain)


def _model(grids, config, forcing) -> FloodModel:
    run = flood_run(grids, scenario_of(config, forcing), Scheme(kind="inertial"))
    return FloodModel(run.dem.data, run.dem.cell_size, manning=run.manning, blocked=run.blocked,
                      buildings=run.buildings, building_height=run.building_height_m, forcing=run.forcing,
                      scheme=run.scheme)


def test_a_uniform_grid_gives_the_water_of_the_same_series(app, gauge, grids):
    """36, 18 then 54 mm/h from 10, 30 and 50 minutes after the issue time to its 60-minute
    horizon, nothing before: 36·20/60 + 18·20/60 + 54·10/60 = 12 + 6 + 9 = 27 mm over the open
    area, as a grid (in the City's CRS, 100 m cells) and as the same posted series."""
    valid = in_minutes(ISSUE, 10, 30, 50)
    transform, rows, cols = around_city(grids)
    grid = RainGrid(np.stack([np.full((rows, cols), v) for v in (36.0, 18.0, 54.0)]), transform,
                    grids.terrain.crs, tuple(valid))
    posted_at = iso(ISSUE - timedelta(minutes=30))
    config, by_grid = _forcing(app, gauge, grids, {"rain_grid": {"posted": posted_at}}, grid)
    assert by_grid.labels["rain"].startswith(f"observed to {iso(ISSUE)}, persistence of the last hour's mean (0.0 mm/h) "
                                             f"to {iso(valid[0])}, then the rain grid posted at {posted_at} (3 grid(s)")
    assert "covering 100% of the City" in by_grid.labels["rain"]
    series = {"rain": {"valid": [iso(t) for t in valid], "mm_per_h": [36.0, 18.0, 54.0], "posted": posted_at}}
    _, by_series = _forcing(app, gauge, grids, series, None)
    open_area = float(np.sum(1.0 - grids.blocked)) * CELL_M ** 2
    expected = 0.027 * open_area
    volumes = []
    for forcing in (by_grid, by_series):
        model = _model(grids, config, forcing)
        model.run(config.seconds(forcing.end))
        assert model.mass.rain_m3 == pytest.approx(expected, rel=1e-3)
        volumes.append(model.stored_volume())
    assert volumes[0] == pytest.approx(volumes[1], rel=1e-3)
    assert volumes[0] == pytest.approx(expected, rel=1e-2)  # closed sides: all the rain stays


def test_rain_on_half_the_city_wets_only_that_half(app, gauge, grids, tmp_path):
    """120 mm/h over the western half of the City, no data (NaN) over the eastern half, on a
    CRS84 NetCDF grid: after 10 minutes the western cells hold water and the eastern quarter
    none."""
    lon, lat = lonlat_axes(grids, 80)
    w, _, e, _ = grids.lonlat_bounds()
    west = np.where(lon[None, :] < (w + e) / 2, 120.0, np.nan) * np.ones((lat.size, 1))
    valid = in_minutes(ISSUE, -30, 30)  # the first in force at the issue time
    grid = read_rain_grid(netcdf(tmp_path / "half.nc", np.stack([west, west]), lon, lat, valid))
    config, forcing = _forcing(app, gauge, grids, {"rain_grid": {"posted": iso(ISSUE - timedelta(hours=1))}}, grid)
    assert forcing.rain_grids is not None and forcing.rain_grids.shape == (2, *grids.terrain.shape)
    assert forcing.labels["rain"].startswith(f"observed to {iso(ISSUE)}, then the rain grid posted at")
    assert forcing.rain_grid_times == pytest.approx([3600.0 + 1e-6, 5400.0])  # s since START
    cols = grids.terrain.shape[1]
    rain = forcing.rain_grids[0]
    assert rain[:, : cols // 2 - 2].min() == 120.0 and rain[:, cols // 2 + 2:].max() == 0.0
    model = _model(grids, config, forcing)
    model.run(config.seconds(ISSUE + timedelta(minutes=10)))
    depth = np.nan_to_num(model.state().depth)
    open_ = grids.blocked < 1.0
    west_wet = (depth[:, : cols // 2 - 2] > 0.001)[open_[:, : cols // 2 - 2]]
    assert west_wet.mean() > 0.9
    assert depth[:, 3 * cols // 4:][open_[:, 3 * cols // 4:]].max() == 0.0


def test_a_cycle_runs_on_the_posted_grid(app, client, keys, gauge, grids):
    """A grid posted through the API drives the next cycle; its forecast says so."""
    now = datetime.now(UTC).replace(microsecond=0)
    transform, rows, cols = around_city(grids)
    body = geotiff(np.full((2, rows, cols), 30.0), transform, grids.terrain.crs,
                   [iso(t) for t in in_minutes(now, 5, 35)])
    answer = client.post(f"{URL}/inputs/rain-grid", content=body, headers=keys["staff"])
    assert answer.status_code == 200, answer.text
    forecast = app.state.nowcasts.run(CITY_ID, now)
    label = forecast["forcing"]["rain"]
    assert "then the rain grid posted at " + answer.json()["rain_grid"]["posted"] in label, label
    assert forecast["timeline"][-1]["flooded_area_m2"] > 0


def test_the_file_readers_refuse_what_they_cannot_use():
    with pytest.raises(TwinInputError, match="do not give them apart"):
        read_rain_grid(b"CDF\x01rest", ["2026-07-01T00:00:00Z"])
    with pytest.raises(TwinInputError, match="not a readable NetCDF"):
        read_rain_grid(b"CDF\x01rest")
    with rasterio.Env():
        with pytest.raises(TwinInputError, match="not a readable GeoTIFF"):
            read_rain_grid(b"II*\x00" + b"\x00" * 20)


@pytest.mark.slow  # two `twin` processes, each loading the City's grid
def test_the_command_posts_a_rain_grid(app, gauge, grids, data_dir, tmp_path):
    """``twin nowcast post-rain``: the same checks, the same file kept; a clear error otherwise."""
    now = datetime.now(UTC)
    transform, rows, cols = around_city(grids)
    path = tmp_path / "rain.tif"
    path.write_bytes(geotiff(np.full((2, rows, cols), 4.0), transform, grids.terrain.crs))
    valid = [iso(t) for t in in_minutes(now, 15, 45)]
    done = subprocess.run([TWIN, "nowcast", "post-rain", CITY_ID, str(path), "--valid", valid[0], "--valid", valid[1],
                           "-d", str(data_dir)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["valid"] == valid
    assert app.state.nowcasts.folder(CITY_ID).posted()["rain_grid"]["valid"] == valid
    done = subprocess.run([TWIN, "nowcast", "post-rain", CITY_ID, str(path), "-d", str(data_dir)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "give the valid times" in done.stderr


def test_scenario_rain_grids_must_lie_on_the_flood_grid(grids):
    config = NowcastConfig(city=CITY_ID, origin=START, rain_gauges=(1,))
    scenario = replace(scenario_of(config, CycleForcing(START, ISSUE, ISSUE + timedelta(hours=1))),
                       rain_grids=np.zeros((1, 3, 3)), rain_grid_times=np.array([0.0]))
    with pytest.raises(TwinInputError, match=r"rain grids of \(3, 3\) cells on a flood grid"):
        flood_run(grids, scenario)


def test_an_upload_over_the_size_limit_is_refused(data_dir, gauge, grids):
    """A server with a 64 KiB body limit refuses a larger rain grid with 413 and keeps nothing."""
    small = create_app(Settings(data_dir=data_dir, nowcast=False, max_body_bytes=64 << 10))
    transform, rows, cols = around_city(grids, cell_m=10.0)
    noise = np.random.default_rng(0).uniform(0, 50, (3, rows, cols))  # hardly compressible
    body = geotiff(noise, transform, grids.terrain.crs, [iso(t) for t in in_minutes(datetime.now(UTC), 10, 20, 30)])
    assert len(body) > 64 << 10
    before = NowcastFolder(data_dir, CITY_ID).posted()
    with TestClient(small) as client:
        key = {"Authorization": f"Bearer {small.state.keys.create('staff2', 'staff')}"}
        answer = client.post(f"{URL}/inputs/rain-grid", content=body, headers=key)
    assert answer.status_code == 413, answer.text
    assert NowcastFolder(data_dir, CITY_ID).posted() == before
