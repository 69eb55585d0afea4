"""``twin flood run``: a flood simulation on grids, or a scenario on a City (``--city``)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from sim.flood import Boundaries, Boundary, Forcing, Gauge, Inflow, Rain, Scheme, Series
from sim.flood.forcing import SIDES
from twin.errors import TwinInputError
from twin.files.rasters import Grid, read_grid
from twin.flood.builtin import sample_city_only_help
from twin.flood.grid_run import SERIES_COLUMNS, FloodRun, read_series, run_flood
from twin.flood.scenario import SCHEMES


def register(app: typer.Typer) -> None:
    flood_app = typer.Typer(help="Flood simulations on a raster: local inertial or full shallow water.",
                            no_args_is_help=True)
    flood_app.command("run")(run)
    app.add_typer(flood_app, name="flood")


def run(
    city: Path = typer.Option(None, "--city", help="City folder (twin convert): run --scenario on it."),
    scenario: str = typer.Option(None, "--scenario", help="With --city: a scenario TOML file or a built-in name "
                                 f"(river-breach, cloudburst-100mm). {sample_city_only_help()} --river or --at "
                                 "places the breach on another City."),
    river: str = typer.Option(None, "--river", help="With --city: put the scenario's breach (its first inflow) on "
                              "this river of the City (the bank nearest --at, else the town's side)."),
    at: str = typer.Option(None, "--at", help="With --city: LON,LAT near the bank where the breach goes."),
    bank: str = typer.Option(None, "--bank", help="With --city: the bank the breach goes on: left or right "
                             "(looking downstream, the flow read from the City's terrain), or the side it faces: "
                             "north, south, east or west."),
    cell_size: float = typer.Option(None, "--cell-size", help="With --city: coarsen the City's grid to this cell "
                                    "size (a whole multiple of it), m."),
    dem: Path = typer.Option(None, "--dem", help="Terrain grid (GeoTIFF or .asc), metres; row 0 north."),
    manning: float = typer.Option(None, "--manning", help="Manning's n everywhere (default 0.03)."),
    manning_grid: Path = typer.Option(None, "--manning-grid", help="Manning's n per cell (grid)."),
    blocked: Path = typer.Option(None, "--blocked", help="Building grid: blocked fraction 0-1 per cell (1 = building)."),
    buildings: str = typer.Option("walls", "--buildings", help="Fully blocked cells are 'walls' or 'raised'."),
    building_height: float = typer.Option(10.0, "--building-height", help="Raise of 'raised' buildings, m."),
    rain: float = typer.Option(None, "--rain", help="Uniform rain, mm/h, for the whole run."),
    rain_series: Path = typer.Option(None, "--rain-series", help="CSV time_s,mm_per_h (each held until the next)."),
    inflow: list[str] = typer.Option([], "--inflow", help="X,Y=Q or X1,Y1,X2,Y2=Q (a line); Q in m³/s or a CSV time_s,m3_per_s."),
    boundary: list[str] = typer.Option([], "--boundary", help="SIDE=closed|open|stage:WSE|stage:CSV (time_s,wse_m)|"
                                       "discharge:Q|discharge:CSV (m³/s across the side, time_s,m3_per_s); "
                                       "SIDE north/south/east/west."),
    initial_wse: str = typer.Option(None, "--initial-wse", help="Initial water-surface elevation: a number or a grid."),
    gauge: list[str] = typer.Option([], "--gauge", help="NAME=X,Y: record the depth there."),
    duration: float = typer.Option(None, "--duration", help="Simulated time, s (with --city: overrides the scenario's)."),
    output_interval: float = typer.Option(None, "--output-interval", help="Seconds between depth frames (default: duration/10)."),
    gauge_interval: float = typer.Option(None, "--gauge-interval", help="Seconds between gauge samples "
                                                                   "(default: the output interval)."),
    arrival_depth: float = typer.Option(0.1, "--arrival-depth", help="Depth that counts as arrival, m."),
    scheme: str = typer.Option(None, "--scheme", help="inertial (fast; slow floods), full (shallow water "
                               "equations; breaches, dam breaks) or auto (picks one and says why); default auto, "
                               "with --city the scenario's (auto unless it names one)."),
    precision: str = typer.Option("float32", "--precision", help="float32 (fast) or float64."),
    threads: int = typer.Option(None, "--threads", help="Threads for the kernels (default: all numba allows)."),
    cfl: float = typer.Option(Scheme.cfl, "--cfl", help="CFL number α of the adaptive step."),
    allow_estimated_terrain: bool = typer.Option(False, "--allow-estimated-terrain",
                                                 help="With --city: run even where the City's terrain is estimated "
                                                      "from its buildings (no DEM); the share goes into summary.json."),
    out: Path = typer.Option(..., "-o", "--out", help="Output folder."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Run a flood on grids (--dem) or a scenario on a City (--city, --scenario) and write depth.nc,
    max_depth.tif/.asc, arrival_time.tif, max_velocity.tif, gauges.csv and summary.json into OUT
    (with --city also buildings.parquet)."""
    scheme_args = dict(scheme=scheme, precision=precision, threads=threads, cfl=cfl)
    if city is not None or scenario is not None:
        grid_flags = {"--dem": dem, "--manning": manning, "--manning-grid": manning_grid, "--blocked": blocked,
                      "--rain": rain, "--rain-series": rain_series, "--initial-wse": initial_wse,
                      "--inflow": inflow or None, "--boundary": boundary or None, "--gauge": gauge or None}
        given = [flag for flag, value in grid_flags.items() if value is not None]
        if given:
            raise TwinInputError(f"{given[0]} belongs to the grid mode; with --city the scenario sets the forcing")
        _run_city(city, scenario, cell_size, duration, output_interval, scheme_args, out, as_json,
                  allow_estimated_terrain, river, at, bank)
        return
    if river is not None or at is not None or bank is not None:
        raise TwinInputError("--river, --at and --bank belong to the city mode (--city CITY --scenario SCENARIO)")
    if dem is None:
        raise TwinInputError("twin flood run needs --dem DEM (grid mode) or --city CITY --scenario SCENARIO")
    if cell_size is not None:
        raise TwinInputError("--cell-size belongs to the city mode (--city); resample the grids for the grid mode")
    if duration is None:
        raise TwinInputError("twin flood run --dem needs --duration S")
    terrain = read_grid(dem)
    flood = FloodRun(
        dem=_checked_dem(terrain, dem),
        duration_s=_duration(duration),
        output_interval_s=_interval(output_interval, duration),
        manning=_manning(manning, manning_grid, terrain),
        blocked=_blocked(blocked, terrain),
        buildings=_choice(buildings, ("walls", "raised"), "--buildings"),
        building_height_m=building_height,
        forcing=Forcing(rain=_rain(rain, rain_series), inflows=tuple(_inflow(s, terrain, i) for i, s in enumerate(inflow)),
                        boundaries=_boundaries(boundary)),
        gauges=_gauges(gauge, terrain),
        initial_wse=_initial_wse(initial_wse, terrain),
        scheme=_scheme(scheme_args, "auto"),
        arrival_depth_m=arrival_depth,
        gauge_interval_s=gauge_interval,
    )
    summary = _with_progress(flood.duration_s, as_json, lambda progress: run_flood(flood, out, progress))
    _report(summary, out, as_json)


def _with_progress(duration_s: float, quiet: bool, work):
    """Run ``work(on_progress)`` under a rich progress bar on stderr."""
    err = Console(stderr=True)
    with Progress(TextColumn("[bold]flood"), BarColumn(), TextColumn("{task.fields[t]:>9.0f} s"),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=err, transient=True,
                  disable=quiet) as bar:
        task = bar.add_task("", total=max(duration_s, 1e-9), t=0.0)
        last = [0.0]

        def progress(t: float, until: float) -> None:
            now = time.monotonic()
            if now - last[0] > 0.2 or t >= until:
                last[0] = now
                bar.update(task, completed=t, t=t)

        return work(progress)


def _scheme(args: dict, default: str) -> Scheme:
    """The numerical settings from the --scheme (``default`` if not given), --precision, --threads
    and --cfl flags."""
    kind = _choice(args["scheme"] or default, SCHEMES, "--scheme")
    return Scheme(kind=kind,  # type: ignore[arg-type]  # one of SCHEMES, checked by _choice
                  dtype=np.dtype(_choice(args["precision"], ("float32", "float64"), "--precision")).type,
                  threads=args["threads"], cfl=args["cfl"])


def _report(summary: dict, out: Path, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    typer.echo(f"scheme: {summary['scheme_reason']}")
    typer.echo(f"flood: {summary['steps']} steps in {summary['wall_s']:.1f} s "
               f"({summary['cell_steps_per_s'] / 1e6:.1f} M cell-steps/s), max depth "
               f"{summary['max_depth_m']:.2f} m, mass error {summary['mass_error_rel']:.1e} -> {out}")
    if "buildings" in summary:
        b, c = summary["buildings"], summary["comparison"]
        agreement = "n/a" if c["agreement"] is None else f"{c['agreement']:.0%}"
        typer.echo(f"buildings: {b['wetted']} of {b['count']} wetted; official rank agreement {agreement} "
                   f"over {c['buildings_with_official_rank']} buildings with an official depth")


def _run_city(city: Path | None, scenario_ref: str | None, cell_size: float | None, duration: float | None,
              output_interval: float | None, scheme_args: dict, out: Path, as_json: bool,
              allow_estimated_terrain: bool = False, river: str | None = None, at: str | None = None,
              bank: str | None = None) -> None:
    from twin.city.grids import load_grids, require_measured_terrain
    from twin.flood.breach_site import BANKS, with_breach
    from twin.flood.city_run import run_city_flood
    from twin.flood.scenario import parse_scenario, scenario_table

    if city is None or scenario_ref is None:
        raise TwinInputError("the city mode needs both --city CITY and --scenario SCENARIO")
    if not city.is_dir():
        raise TwinInputError(f"--city {city}: no such City folder")
    near: tuple[float, float] | None = None
    if at is not None:
        lon, lat = _numbers(at, (2,), f"--at {at}")
        near = (lon, lat)
    data, source = scenario_table(scenario_ref)
    if bank is not None and bank not in BANKS:
        raise TwinInputError(f"--bank {bank}: one of {', '.join(BANKS)}")
    if river is None and near is None and bank is None:
        parse_scenario(data, source)  # a bad scenario is named before the City is read
    if cell_size is not None and not (np.isfinite(cell_size) and cell_size > 0):
        raise TwinInputError(f"--cell-size must be positive metres, got {cell_size:g}")
    if duration is not None:
        _duration(duration)
    grids = load_grids(city, cell_size)
    chosen = parse_scenario(with_breach(data, grids, river, near,
                                        ask="pass --river NAME or --at LON,LAT to place the breach",
                                        bank=bank), source)
    if output_interval is not None:
        _interval(output_interval, duration or chosen.duration_s)
    require_measured_terrain(grids, allow_estimated_terrain)
    scheme = _scheme(scheme_args, chosen.scheme)
    total = chosen.duration_s if duration is None else duration
    summary = _with_progress(total, as_json, lambda progress: run_city_flood(
        grids, chosen, out, progress, scheme=scheme, duration_s=duration, output_interval_s=output_interval))
    _report(summary, out, as_json)


def _checked_dem(grid: Grid, path: Path) -> Grid:
    bad = np.argwhere(~np.isfinite(grid.data))
    if bad.size:
        r, c = bad[0]
        x, y = grid.transform @ (c + 0.5, r + 0.5)
        raise TwinInputError(f"{path}: {len(bad)} nodata/NaN cell(s) in the DEM, first at row {r}, col {c} "
                             f"(x={x:.2f}, y={y:.2f}); fill them before a flood run")
    return grid


def _duration(duration: float) -> float:
    if not (np.isfinite(duration) and duration >= 0):
        raise TwinInputError(f"--duration must be zero or positive seconds, got {duration:g}")
    return duration


def _interval(interval: float | None, duration: float) -> float:
    if interval is None:
        return max(duration / 10, 1e-3)
    if not interval > 0:
        raise TwinInputError(f"--output-interval must be positive seconds, got {interval:g}")
    return interval


def _choice(value: str, allowed: tuple[str, ...], flag: str) -> str:
    if value not in allowed:
        raise TwinInputError(f"{flag} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _same_grid(path: Path, dem: Grid) -> Grid:
    """A grid that must cover exactly the DEM's cells in the DEM's CRS."""
    grid = read_grid(path)
    if grid.shape != dem.shape:
        raise TwinInputError(f"{path}: {grid.shape[0]} x {grid.shape[1]} cells, the DEM has "
                             f"{dem.shape[0]} x {dem.shape[1]}")
    if grid.crs is not None and dem.crs is not None and grid.crs != dem.crs:
        raise TwinInputError(f"{path}: CRS {grid.crs.to_string()} differs from the DEM's {dem.crs.to_string()}")
    if not grid.transform.almost_equals(dem.transform):
        raise TwinInputError(f"{path}: its cells do not line up with the DEM's (origin or cell size differ)")
    return grid


def _manning(n: float | None, grid_path: Path | None, dem: Grid) -> float | np.ndarray:
    if n is not None and grid_path is not None:
        raise TwinInputError("give --manning or --manning-grid, not both")
    if grid_path is not None:
        values = _same_grid(grid_path, dem).data
        if not np.all(np.isfinite(values)) or values.min() < 0:
            raise TwinInputError(f"{grid_path}: Manning's n must be a non-negative number in every cell")
        return values
    n = 0.03 if n is None else n
    if not (np.isfinite(n) and n >= 0):
        raise TwinInputError(f"--manning must be a non-negative number, got {n:g}")
    return n


def _blocked(path: Path | None, dem: Grid) -> np.ndarray | None:
    if path is None:
        return None
    values = np.nan_to_num(_same_grid(path, dem).data, nan=0.0)
    if values.min() < 0:
        raise TwinInputError(f"{path}: blocked fractions must not be negative")
    return np.clip(values, 0.0, 1.0)


def _series(text: str, kind: str, what: str, hold: bool = False) -> Series:
    """A number (constant) or the path of a CSV with ``time_s`` and the kind's column."""
    try:
        return Series.constant(float(text))
    except ValueError:
        pass
    path = Path(text)
    if not path.is_file():
        raise TwinInputError(f"{what}: {text!r} is neither a number nor a CSV file")
    return read_series(path, SERIES_COLUMNS[kind], hold=hold)


def _rain(mm_per_h: float | None, series: Path | None) -> Rain | None:
    if mm_per_h is not None and series is not None:
        raise TwinInputError("give --rain or --rain-series, not both")
    if series is not None:
        s = read_series(series, "mm_per_h", hold=True)
    elif mm_per_h is not None:
        s = Series.constant(mm_per_h)
    else:
        return None
    if s.values.min() < 0:
        raise TwinInputError(f"rain must not be negative ({series or mm_per_h})")
    return Rain(s)


def _numbers(text: str, count: tuple[int, ...], what: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) not in count:
        raise TwinInputError(f"{what}: expected {' or '.join(str(c) for c in count)} comma-separated numbers, got {text!r}")
    return values


def _cell(grid: Grid, x: float, y: float, what: str) -> tuple[int, int]:
    row, col = grid.cell_of(x, y)
    rows, cols = grid.shape
    if not (0 <= row < rows and 0 <= col < cols):
        (x0, y1), (x1, y0) = grid.transform @ (0, 0), grid.transform @ (cols, rows)
        raise TwinInputError(f"{what}: point ({x:g}, {y:g}) lies outside the grid "
                             f"(x {x0:g}..{x1:g}, y {y0:g}..{y1:g})")
    return row, col


def _inflow(spec: str, grid: Grid, index: int) -> Inflow:
    where, sep, value = spec.partition("=")
    what = f"--inflow {spec}"
    if not sep:
        raise TwinInputError(f"{what}: expected X,Y=Q or X1,Y1,X2,Y2=Q")
    xy = _numbers(where, (2, 4), what)
    discharge = _series(value, "inflow", what)
    name = f"inflow{index + 1}"
    start = _cell(grid, xy[0], xy[1], what)
    if len(xy) == 2:
        return Inflow.point(*start, discharge, name=name)
    return Inflow.line(start, _cell(grid, xy[2], xy[3], what), discharge, name=name)


def _boundaries(specs: list[str]) -> Boundaries:
    sides: dict[str, Boundary] = {}
    for spec in specs:
        side, sep, kind = spec.partition("=")
        side = side.strip().lower()
        if not sep or side not in SIDES:
            raise TwinInputError(f"--boundary {spec}: expected SIDE=closed|open|stage:WSE|discharge:Q with SIDE one of "
                                 f"{', '.join(SIDES)}")
        if kind == "closed":
            sides[side] = Boundary.closed()
        elif kind == "open":
            sides[side] = Boundary.open()
        elif kind.startswith("stage:"):
            sides[side] = Boundary.fixed_stage(_series(kind[len("stage:"):], "stage", f"--boundary {spec}"))
        elif kind.startswith("discharge:"):
            sides[side] = Boundary.inflow(_series(kind[len("discharge:"):], "inflow", f"--boundary {spec}"))
        else:
            raise TwinInputError(f"--boundary {spec}: the kind must be closed, open, stage:WSE|CSV or discharge:Q|CSV, "
                                 f"got {kind!r}")
    return Boundaries(**sides)


def _gauges(specs: list[str], grid: Grid) -> list[Gauge]:
    gauges = [_gauge(s, grid) for s in specs]
    names = [g.name for g in gauges]
    if len(set(names)) != len(names):
        raise TwinInputError(f"--gauge names must differ, got {', '.join(names)}")
    return gauges


def _gauge(spec: str, grid: Grid) -> Gauge:
    name, sep, where = spec.partition("=")
    what = f"--gauge {spec}"
    if not sep or not name.strip():
        raise TwinInputError(f"{what}: expected NAME=X,Y")
    x, y = _numbers(where, (2,), what)
    return Gauge(name.strip(), *_cell(grid, x, y, what))


def _initial_wse(text: str | None, dem: Grid) -> float | np.ndarray | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    values = _same_grid(Path(text), dem).data
    return np.where(np.isfinite(values), values, -np.inf)
