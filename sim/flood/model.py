"""The flood model: a raster of terrain and buildings stepped in time under forcing.

Local inertial approximation of the shallow water equations (Bates, Horritt & Fewtrell
2010, J. Hydrol. 387:33-45) with the θ-weighted momentum flux of de Almeida et al.
(2012, Water Resour. Res. 48, W05528), an adaptive CFL time step, implicit Manning
friction and an outflow limiter that keeps depths non-negative on steep terrain.
"""

from __future__ import annotations

import time as wallclock
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numba
import numpy as np

from sim.errors import SimInputError
from sim.flood import kernels
from sim.flood.forcing import MM_PER_H, SIDES, Boundaries, Forcing

Buildings = Literal["walls", "raised"]
SERIAL_BELOW_CELLS = 40_000


@dataclass(frozen=True)
class Scheme:
    """Numerical settings; the defaults suit urban pluvial and fluvial floods."""

    theta: float = 0.8  # de Almeida's weighting; 1 is Bates 2010, 0.7-0.9 damps checkerboards
    cfl: float = 0.5  # α in Δt = α Δx / sqrt(g h_max); with θ < 1 the 2-D scheme needs α ≲ 0.6
    dt_max: float = 5.0  # s
    h_min: float = 1e-3  # m: a face shallower than this carries no flow
    froude_max: float | None = None  # clip |q| to Fr·h·sqrt(g h); None for no clipping
    gravity: float = 9.81
    dtype: type = np.float64
    threads: int | None = None  # numba threads; None keeps numba's setting

    def __post_init__(self) -> None:
        if not 0 < self.theta <= 1:
            raise SimInputError(f"theta must lie in (0, 1], got {self.theta}")
        if not 0 < self.cfl <= 1:
            raise SimInputError(f"cfl must lie in (0, 1], got {self.cfl}")
        if self.dt_max <= 0 or self.h_min <= 0:
            raise SimInputError("dt_max and h_min must be positive")
        if np.dtype(self.dtype) not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise SimInputError("dtype must be float32 or float64")


@dataclass(frozen=True)
class Gauge:
    """A named cell whose depth is recorded over time."""

    name: str
    row: int
    col: int


@dataclass
class MassBalance:
    """Water volumes in m³ since the start: what came in, went out and is stored."""

    initial_m3: float = 0.0
    rain_m3: float = 0.0
    inflow_m3: float = 0.0
    boundary_in_m3: float = 0.0
    boundary_out_m3: float = 0.0
    stored_m3: float = 0.0

    @property
    def volume_in_m3(self) -> float:
        return self.rain_m3 + self.inflow_m3 + self.boundary_in_m3

    @property
    def volume_out_m3(self) -> float:
        return self.boundary_out_m3

    @property
    def error_m3(self) -> float:
        return self.stored_m3 - (self.initial_m3 + self.volume_in_m3 - self.volume_out_m3)

    @property
    def error_rel(self) -> float:
        """Volume error relative to all the water that ever was in the domain."""
        total = self.initial_m3 + self.volume_in_m3
        return abs(self.error_m3) / total if total > 0 else 0.0


@dataclass(frozen=True)
class Snapshot:
    """Depth and water-surface elevation at one time; NaN on walls (and WSE where dry)."""

    time: float
    depth: np.ndarray
    wse: np.ndarray


@dataclass
class FloodResult:
    """What a run leaves: final state, maxima, first wetting, gauges and the volume budget."""

    time: float
    depth: np.ndarray
    max_depth: np.ndarray
    arrival_time: np.ndarray  # s of first depth above the arrival threshold; NaN if never
    max_velocity: np.ndarray  # m/s, cell-centred, where deeper than the velocity threshold
    gauge_times: np.ndarray
    gauge_depths: dict[str, np.ndarray]
    mass: MassBalance
    steps: int
    cells: int
    wall_s: float

    @property
    def cell_steps_per_s(self) -> float:
        return self.steps * self.cells / self.wall_s if self.wall_s > 0 else 0.0


OutputCallback = Callable[[Snapshot], None]
ProgressCallback = Callable[[float, float], None]


@dataclass
class _Faces:
    """Open fractions of the cells and faces; walls have zero."""

    phi: np.ndarray
    wx: np.ndarray
    wy: np.ndarray


def _faces(phi: np.ndarray, boundaries: Boundaries) -> _Faces:
    """Face widths: the smaller open fraction of the two cells; closed grid edges are walls."""
    ny, nx = phi.shape
    wx = np.empty((ny, nx + 1), phi.dtype)
    wx[:, 1:-1] = np.minimum(phi[:, :-1], phi[:, 1:])
    wx[:, 0] = phi[:, 0] if boundaries.west.kind != "closed" else 0
    wx[:, -1] = phi[:, -1] if boundaries.east.kind != "closed" else 0
    wy = np.empty((ny + 1, nx), phi.dtype)
    wy[1:-1] = np.minimum(phi[:-1], phi[1:])
    wy[0] = phi[0] if boundaries.north.kind != "closed" else 0
    wy[-1] = phi[-1] if boundaries.south.kind != "closed" else 0
    return _Faces(phi, wx, wy)


def _as_grid(name: str, value: float | np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return np.full(shape, float(arr))
    if arr.shape != shape:
        raise SimInputError(f"{name} grid has shape {arr.shape}, the DEM {shape}")
    return arr


class FloodModel:
    """A flood on a north-up raster (row 0 = north) with square cells of ``cell_size`` m.

    ``blocked`` is a mask or a blocked fraction per cell: fully blocked cells are walls
    (``buildings="walls"``) or the DEM raised by ``building_height`` (``"raised"``);
    partly blocked cells keep their open fraction of storage and face width.
    """

    def __init__(self, dem: np.ndarray, cell_size: float, *, manning: float | np.ndarray = 0.03,
                 blocked: np.ndarray | None = None, buildings: Buildings = "walls",
                 building_height: float | np.ndarray = 10.0, forcing: Forcing | None = None,
                 initial_wse: float | np.ndarray | None = None,
                 initial_depth: float | np.ndarray | None = None,
                 gauges: tuple[Gauge, ...] | list[Gauge] = (), scheme: Scheme | None = None,
                 arrival_depth: float = 0.1, velocity_depth: float = 0.01) -> None:
        self.scheme = scheme or Scheme()
        self.forcing = forcing or Forcing()
        dt_ = self.scheme.dtype
        dem = np.asarray(dem, dtype=np.float64)
        if dem.ndim != 2 or min(dem.shape) < 1:
            raise SimInputError(f"the DEM must be a 2D grid, got shape {dem.shape}")
        if not np.all(np.isfinite(dem)):
            bad = np.argwhere(~np.isfinite(dem))[0]
            raise SimInputError(f"the DEM has NaN/nodata cells, first at row {bad[0]}, col {bad[1]}")
        if not (np.isfinite(cell_size) and cell_size > 0):
            raise SimInputError(f"cell size must be positive, got {cell_size}")
        if buildings not in ("walls", "raised"):
            raise SimInputError(f"buildings are 'walls' or 'raised', not {buildings!r}")
        self.shape: tuple[int, int] = dem.shape  # type: ignore[assignment]
        self.dx = float(cell_size)
        frac = np.zeros(self.shape) if blocked is None else _as_grid("blocked", blocked, self.shape)
        if not np.all((frac >= 0) & (frac <= 1)):
            raise SimInputError("blocked fractions must lie between 0 and 1")
        z = dem.copy()
        full = frac >= 1
        if buildings == "raised":
            z[full] += _as_grid("building height", building_height, self.shape)[full]
            frac = np.where(full, 0.0, frac)
        self.faces = _faces((1 - frac).astype(dt_), self.forcing.boundaries)
        self.z = z.astype(dt_)
        n = _as_grid("manning", manning, self.shape)
        if not np.all(np.isfinite(n) & (n >= 0)):
            raise SimInputError("Manning's n must be finite and not negative")
        self.n2 = (n * n).astype(dt_)
        self.h = self._initial_depth(initial_wse, initial_depth, dem_shape=self.shape).astype(dt_)
        self.qx = np.zeros((self.shape[0], self.shape[1] + 1), dt_)
        self.qy = np.zeros((self.shape[0] + 1, self.shape[1]), dt_)
        self._qx_new = np.zeros_like(self.qx)
        self._qy_new = np.zeros_like(self.qy)
        self.gauges = tuple(gauges)
        for g in self.gauges:
            self._check_cell(g.name, np.array([g.row]), np.array([g.col]))
        for inflow in self.forcing.inflows:
            self._check_cell(inflow.name, inflow.rows, inflow.cols)
            if np.any(self.faces.phi[inflow.rows, inflow.cols] == 0):
                raise SimInputError(f"{inflow.name}: inflow into a blocked cell")
        rain = self.forcing.rain
        if rain is not None and rain.grids is not None and rain.grids.shape[1:] != self.shape:
            raise SimInputError(f"rain grids have shape {rain.grids.shape[1:]}, the DEM {self.shape}")
        self.arrival_depth = float(arrival_depth)
        self.velocity_depth = float(velocity_depth)
        self.time = 0.0
        self.steps = 0
        self.wall_s = 0.0
        self.max_depth = self.h.copy()
        self.arrival_time = np.where(self.h > self.arrival_depth, 0.0, np.inf)
        phi = self.faces.phi
        self._inv_width = np.where(phi > 0, 1 / (np.where(phi > 0, phi, 1) * self.dx), 0).astype(dt_)
        self._max_speed2 = np.zeros(self.shape, dt_)
        self._factors = np.ones((self.shape[0] + 2, self.shape[1] + 2), dt_)
        self._row_max = np.zeros(self.shape[0], dt_)
        self._h_max = float(self.h.max())
        self.mass = MassBalance(initial_m3=self.stored_volume())
        self._gauge_times: list[float] = []
        self._gauge_depths: list[np.ndarray] = []
        edges = {"north": (self.z[0], phi[0]), "south": (self.z[-1], phi[-1]),
                 "west": (self.z[:, 0], phi[:, 0]), "east": (self.z[:, -1], phi[:, -1])}
        self._edge_low = {side: float(np.min(z[p > 0])) for side, (z, p) in edges.items() if np.any(p > 0)}
        self._open_area = float(np.sum(self.faces.phi, dtype=np.float64)) * self.dx * self.dx
        self._no_grid = np.zeros((1, 1), dt_)
        self._rain_grid = self._no_grid
        self._rain_grid_index = -1
        self._rain_grid_rate = 0.0

    def _initial_depth(self, wse: float | np.ndarray | None, depth: float | np.ndarray | None,
                       dem_shape: tuple[int, int]) -> np.ndarray:
        if wse is not None and depth is not None:
            raise SimInputError("give an initial water-surface elevation or an initial depth, not both")
        h = np.zeros(dem_shape)
        if wse is not None:
            h = np.maximum(_as_grid("initial WSE", wse, dem_shape) - self.z, 0.0)
        elif depth is not None:
            h = _as_grid("initial depth", depth, dem_shape)
        if not np.all(np.isfinite(h)) or h.min() < 0:
            raise SimInputError("the initial water must be finite and not below the ground")
        return np.where(self.faces.phi > 0, h, 0.0)

    def _check_cell(self, name: str, rows: np.ndarray, cols: np.ndarray) -> None:
        ny, nx = self.shape
        if np.any((rows < 0) | (rows >= ny) | (cols < 0) | (cols >= nx)):
            raise SimInputError(f"{name}: cell outside the {ny} x {nx} grid")

    # -- state ---------------------------------------------------------------------------

    def stored_volume(self) -> float:
        """Water held in the grid, m³."""
        return float(np.sum(self.h * self.faces.phi, dtype=np.float64)) * self.dx * self.dx

    def snapshot(self) -> Snapshot:
        """Depth and WSE now, as float64 copies with NaN on walls."""
        wall = self.faces.phi == 0
        depth = np.where(wall, np.nan, self.h.astype(np.float64))
        wse = np.where(depth > 0, self.z + depth, np.nan)
        return Snapshot(self.time, depth, wse)

    # -- stepping ------------------------------------------------------------------------

    def _cfl_dt(self, h_max: float) -> float:
        s = self.scheme
        if h_max <= 0:
            return s.dt_max
        return min(s.dt_max, s.cfl * self.dx / np.sqrt(s.gravity * h_max))

    def _stage_depth(self) -> float:
        """The deepest water a stage boundary holds against its lowest open edge cell."""
        deepest = 0.0
        for side, low in self._edge_low.items():
            b = getattr(self.forcing.boundaries, side)
            if b.kind == "stage":
                deepest = max(deepest, b.stage(self.time) - low)
        return deepest

    def _stable_dt(self) -> float:
        """The CFL step for the deepest water, counting what stage boundaries and inflows
        bring within the step (on a dry grid they set the first steps)."""
        h_max = max(self._h_max, self._stage_depth())
        dt = self._cfl_dt(h_max)
        for _ in range(4):
            h_peak = h_max
            for inflow in self.forcing.inflows:
                q = inflow.m3_per_s(self.time)
                if q > 0:
                    cells = self.h[inflow.rows, inflow.cols]
                    area = inflow.rows.size * self.faces.phi[inflow.rows, inflow.cols] * self.dx * self.dx
                    h_peak = max(h_peak, float(np.max(cells + q * dt / area)))
            shorter = self._cfl_dt(h_peak)
            if shorter >= dt * 0.999:
                break
            dt = shorter
        return dt

    def _boundary_arrays(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        kinds = np.zeros(4, np.int64)
        stages = np.zeros(4, np.float64)
        code = {"closed": kernels.CLOSED, "open": kernels.OPEN, "stage": kernels.STAGE}
        for i, side in enumerate(SIDES):
            b = getattr(self.forcing.boundaries, side)
            kinds[i] = code[b.kind]
            if b.stage is not None:
                stages[i] = b.stage(t)
        return kinds, stages

    def _add_inflows(self, t_mid: float, dt: float) -> None:
        area = self.dx * self.dx
        for inflow in self.forcing.inflows:
            q = inflow.m3_per_s(t_mid)
            if q == 0:
                continue
            phi = self.faces.phi[inflow.rows, inflow.cols].astype(np.float64)
            dh = q * dt / (inflow.rows.size * phi * area)
            if q < 0:  # abstraction takes at most what is there
                dh = np.maximum(dh, -self.h[inflow.rows, inflow.cols])
            np.add.at(self.h, (inflow.rows, inflow.cols), dh.astype(self.h.dtype))
            self.mass.inflow_m3 += float(np.sum(dh * phi)) * area

    def _rain_rates(self, t: float) -> tuple[float, np.ndarray, bool, float]:
        """Uniform rain (m/s), the rain grid in force (m/s), whether it applies, and its
        volume rate over the open area (m³/s)."""
        rain = self.forcing.rain
        if rain is None:
            return 0.0, self._no_grid, False, 0.0
        uniform = rain.mm_per_h(t) * MM_PER_H
        rate = uniform * self._open_area
        i = rain.grid_index(t)
        if i < 0:
            return uniform, self._no_grid, False, rate
        if self._rain_grid_index != i:
            self._rain_grid = (rain.grids[i] * MM_PER_H).astype(self.h.dtype)
            self._rain_grid_rate = float(np.sum(self._rain_grid * self.faces.phi, dtype=np.float64)) \
                * self.dx * self.dx
            self._rain_grid_index = i
        return uniform, self._rain_grid, True, rate + self._rain_grid_rate

    def step(self, dt: float) -> None:
        """Advance by ``dt`` seconds (the caller keeps ``dt`` within the stable step)."""
        s = self.scheme
        f = self.faces
        t0 = self.time
        t1 = t0 + dt
        self._add_inflows(t0 + dt / 2, dt)
        kernels.face_fluxes(self.h, self.z, self.n2, f.wx, f.wy, self.qx, self.qy, self._qx_new,
                            self._qy_new, dt, self.dx, s.gravity, s.theta, s.h_min, s.froude_max or 0.0)
        kinds, stages = self._boundary_arrays(t0 + dt / 2)
        kernels.boundary_fluxes(self.h, self.z, self.n2, f.phi, self.qx, self.qy, self._qx_new,
                                self._qy_new, kinds, stages, dt, self.dx, s.gravity, s.h_min,
                                s.froude_max or 0.0)
        kernels.outflow_factors(self.h, f.phi, f.wx, f.wy, self._qx_new, self._qy_new, dt, self.dx,
                                self._factors)
        uniform, grid, use_grid, rain_rate = self._rain_rates(t0)
        self.mass.rain_m3 += rain_rate * dt
        # the limited fluxes overwrite the old ones, which the step no longer needs
        self._h_max = float(kernels.update_depth(
            self.h, self._inv_width, f.wx, f.wy, self._qx_new, self._qy_new, self._factors, self.qx,
            self.qy, uniform, grid, use_grid, dt, t1, self.max_depth, self.arrival_time,
            self.arrival_depth, self._max_speed2, self.velocity_depth, self._row_max))
        v_in, v_out = kernels.boundary_volumes(f.wx, f.wy, self.qx, self.qy, self.dx, dt)
        self.mass.boundary_in_m3 += v_in
        self.mass.boundary_out_m3 += v_out
        self.time = t1
        self.steps += 1

    def _record_gauges(self) -> None:
        self._gauge_times.append(self.time)
        self._gauge_depths.append(np.array([self.h[g.row, g.col] for g in self.gauges], np.float64))

    def run(self, until: float, output_interval: float | None = None,
            gauge_interval: float | None = None, on_output: OutputCallback | None = None,
            on_progress: ProgressCallback | None = None) -> FloodResult:
        """Step to simulated time ``until`` (s), calling ``on_output`` every ``output_interval``
        (and at the start and the end) and ``on_progress(time, until)`` after each step."""
        if not np.isfinite(until) or until < self.time:
            raise SimInputError(f"cannot run to {until} s: the model is at {self.time} s")
        for name, value in (("output interval", output_interval), ("gauge interval", gauge_interval)):
            if value is not None and not value > 0:
                raise SimInputError(f"{name} must be positive, got {value}")
        previous_threads = numba.get_num_threads()
        numba.set_num_threads(self._threads())
        try:
            self._run(until, output_interval, gauge_interval, on_output, on_progress)
        finally:
            numba.set_num_threads(previous_threads)
        return self.result()

    def _threads(self) -> int:
        """The scheme's thread count, else one thread on small grids (waking a second thread
        for each of a step's kernels costs more than it saves there), else numba's."""
        if self.scheme.threads:
            return min(self.scheme.threads, numba.config.NUMBA_NUM_THREADS)
        return 1 if self.h.size < SERIAL_BELOW_CELLS else numba.get_num_threads()

    def _run(self, until: float, output_interval: float | None, gauge_interval: float | None,
             on_output: OutputCallback | None, on_progress: ProgressCallback | None) -> None:
        out_every = output_interval or max(until - self.time, 1.0)
        gauge_every = gauge_interval or out_every
        next_out = self.time
        next_gauge = self.time
        start = wallclock.perf_counter()
        while True:
            if self.time >= next_gauge - 1e-9:
                if not self._gauge_times or self._gauge_times[-1] < self.time:
                    self._record_gauges()
                next_gauge = _next_multiple(self.time, gauge_every)
            if self.time >= next_out - 1e-9 or self.time >= until:
                if on_output is not None:
                    on_output(self.snapshot())
                next_out = _next_multiple(self.time, out_every)
            if self.time >= until:
                break
            target = min(next_out, next_gauge, until)
            dt = min(self._stable_dt(), target - self.time)
            if target - (self.time + dt) < 1e-9:  # land on the event exactly
                dt = target - self.time
            self.step(dt)
            if self.time > target - 1e-9:
                self.time = target
            if on_progress is not None:
                on_progress(self.time, until)
            if not np.isfinite(self._h_max):
                raise FloatingPointError(f"the flood solution diverged at t = {self.time:.3f} s")
        self.wall_s += wallclock.perf_counter() - start

    def result(self) -> FloodResult:
        """The run so far as a result (copies)."""
        wall = self.faces.phi == 0
        self.mass.stored_m3 = self.stored_volume()
        depths = np.array(self._gauge_depths).reshape(len(self._gauge_times), len(self.gauges))
        return FloodResult(
            time=self.time,
            depth=self.snapshot().depth,
            max_depth=np.where(wall, np.nan, self.max_depth.astype(np.float64)),
            arrival_time=np.where(wall | np.isinf(self.arrival_time), np.nan, self.arrival_time),
            max_velocity=np.where(wall, np.nan, np.sqrt(self._max_speed2.astype(np.float64))),
            gauge_times=np.array(self._gauge_times),
            gauge_depths={g.name: depths[:, i] for i, g in enumerate(self.gauges)},
            mass=MassBalance(**self.mass.__dict__),
            steps=self.steps,
            cells=self.h.size,
            wall_s=self.wall_s,
        )


def _next_multiple(t: float, every: float) -> float:
    """The first multiple of ``every`` after ``t`` (by more than round-off)."""
    return (np.floor(t / every + 1e-9) + 1) * every


def simulate(dem: np.ndarray, cell_size: float, duration: float, *,
             output_interval: float | None = None, on_output: OutputCallback | None = None,
             on_progress: ProgressCallback | None = None, **model_args) -> FloodResult:
    """Build a :class:`FloodModel` and run it for ``duration`` seconds."""
    if not (np.isfinite(duration) and duration >= 0):
        raise SimInputError(f"duration must be zero or positive, got {duration}")
    model = FloodModel(dem, cell_size, **model_args)
    return model.run(duration, output_interval=output_interval, on_output=on_output,
                     on_progress=on_progress)


