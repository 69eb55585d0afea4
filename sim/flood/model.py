"""The flood model: a raster of terrain and buildings stepped in time under forcing.

Two schemes share the raster, the forcing and the bookkeeping:

- ``"inertial"``: the local inertial approximation (Bates, Horritt & Fewtrell 2010, J. Hydrol.
  387:33-45; de Almeida et al. 2012, Water Resour. Res. 48, W05528), :mod:`sim.flood.inertial`;
  fast, accurate for slow, friction-dominated flow.
- ``"full"``: the full shallow water equations, a second-order Godunov-type finite-volume
  scheme (HLLC, hydrostatic reconstruction, SSP-RK2), :mod:`sim.flood.godunov`; needed where
  the flow is fast (breaches, dam breaks).

Both take an adaptive CFL step, skip blocks of dry ground (:mod:`sim.flood.blocks`) and
book every volume that enters, leaves or stays, in float64 whatever the grid's precision.
"""

from __future__ import annotations

import math
import time as wallclock
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import numba
import numpy as np

from sim.errors import SimInputError
from sim.flood.blocks import ActiveBlocks, deepest_at
from sim.flood.choice import SchemeChoice, SchemeKind, choose_scheme
from sim.flood.forcing import MM_PER_H, SIDES, Forcing
from sim.flood.godunov import GodunovSolver
from sim.flood.inertial import CLOSED, DISCHARGE, OPEN, STAGE, InertialSolver
from sim.flood.raster import Raster, Tracks
from sim.flood.state import FloodState
from sim.threading_layer import kernel_launch

Buildings = Literal["walls", "raised"]
SERIAL_BELOW_CELLS = 40_000


@dataclass(frozen=True)
class Scheme:
    """Numerical settings; the defaults suit urban pluvial and fluvial floods.

    ``kind`` is the scheme, or ``"auto"`` to let :func:`sim.flood.choose_scheme` pick it from the
    run's terrain, forcing and initial water. ``theta``, ``h_min`` and ``froude_max`` belong to
    the inertial scheme, ``limiter_theta`` to the full one; the rest to both.
    """

    kind: SchemeKind | Literal["auto"] = "inertial"
    theta: float = 0.8  # de Almeida's weighting; 1 is Bates 2010, 0.7-0.9 damps checkerboards
    cfl: float = 0.5  # inertial: α in Δt = α Δx / sqrt(g h_max); full: Δt = α Δx / max(|u|, |v|) + c
    dt_max: float = 5.0  # s
    h_min: float = 1e-3  # m: a face shallower than this carries no flow (inertial)
    froude_max: float | None = None  # clip |q| to Fr·h·sqrt(g h); None for no clipping (inertial)
    limiter_theta: float = 1.3  # generalised minmod of the full scheme: 1 minmod ... 2 MC
    gravity: float = 9.81
    dtype: type = np.float64
    threads: int | None = None  # numba threads; None keeps numba's setting
    skip_dry: bool = True  # compute only blocks of cells holding or bordering water

    def __post_init__(self) -> None:
        if self.kind not in ("inertial", "full", "auto"):
            raise SimInputError(f"the scheme is 'inertial', 'full' or 'auto', not {self.kind!r}")
        if not 0 < self.theta <= 1:
            raise SimInputError(f"theta must lie in (0, 1], got {self.theta}")
        if not 0 < self.cfl <= 1:
            raise SimInputError(f"cfl must lie in (0, 1], got {self.cfl}")
        if not 1 <= self.limiter_theta <= 2:
            raise SimInputError(f"limiter_theta must lie in [1, 2], got {self.limiter_theta}")
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
    """Depth, water-surface elevation and cell-centred velocity (``u`` east, ``v`` north,
    m/s) at one time; NaN on walls, WSE NaN where dry, velocities 0 where shallower than the
    model's velocity depth."""

    time: float
    depth: np.ndarray
    wse: np.ndarray
    u: np.ndarray
    v: np.ndarray


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
    scheme: str = "inertial"
    scheme_reason: str = ""  # why: the caller's pick, or choose_scheme's one line for "auto"
    cells_computed: float = 0.0  # cell-steps actually computed (dry blocks skipped)

    @property
    def cell_steps_per_s(self) -> float:
        """Grid cells times steps per second of wall time (skipped cells count as done)."""
        return self.steps * self.cells / self.wall_s if self.wall_s > 0 else 0.0


OutputCallback = Callable[[Snapshot], None]
ProgressCallback = Callable[[float, float], None]


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
    partly blocked cells keep their open fraction of storage and face width. ``scheme`` is a
    :class:`Scheme` or just its kind, ``"inertial"``, ``"full"`` or ``"auto"``; ``choice`` says
    which scheme runs and why.
    """

    def __init__(self, dem: np.ndarray, cell_size: float, *, manning: float | np.ndarray = 0.03,
                 blocked: np.ndarray | None = None, buildings: Buildings = "walls",
                 building_height: float | np.ndarray = 10.0, forcing: Forcing | None = None,
                 initial_wse: float | np.ndarray | None = None,
                 initial_depth: float | np.ndarray | None = None,
                 gauges: tuple[Gauge, ...] | list[Gauge] = (), scheme: Scheme | SchemeKind | None = None,
                 arrival_depth: float = 0.1, velocity_depth: float = 0.01) -> None:
        self.scheme = Scheme(kind=scheme) if isinstance(scheme, str) else scheme or Scheme()
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
        n = _as_grid("manning", manning, self.shape)
        if not np.all(np.isfinite(n) & (n >= 0)):
            raise SimInputError("Manning's n must be finite and not negative")
        self.raster = Raster.build(z.astype(dt_), (n * n).astype(dt_), (1 - frac).astype(dt_), self.dx,
                                   self.forcing.boundaries)
        self.z = self.raster.z
        self.h = self._initial_depth(initial_wse, initial_depth, dem_shape=self.shape).astype(dt_)
        self.gauges = tuple(gauges)
        for g in self.gauges:
            self._check_cell(g.name, np.array([g.row]), np.array([g.col]))
        for inflow in self.forcing.inflows:
            self._check_cell(inflow.name, inflow.rows, inflow.cols)
            if np.any(self.raster.phi[inflow.rows, inflow.cols] == 0):
                raise SimInputError(f"{inflow.name}: inflow into a blocked cell")
        rain = self.forcing.rain
        if rain is not None and rain.grids is not None and rain.grids.shape[1:] != self.shape:
            raise SimInputError(f"rain grids have shape {rain.grids.shape[1:]}, the DEM {self.shape}")
        self.time = 0.0
        self.steps = 0
        self.wall_s = 0.0
        self.cells_computed = 0.0
        self._threads_in_run: int | None = None  # run()'s thread count while it runs
        self._threads_now = 0  # numba's thread count as step() last set it in this run
        self.tracks = Tracks(max_depth=self.h.copy(),
                             arrival=np.where(self.h > arrival_depth, 0.0, np.inf),
                             max_speed2=np.zeros(self.shape, dt_), arrival_depth=float(arrival_depth),
                             velocity_depth=float(velocity_depth))
        if self.scheme.kind == "auto":
            self.choice = choose_scheme(self.z, self.dx, self.forcing, manning=n, initial_depth=self.h,
                                        walls=self.raster.phi == 0, gravity=self.scheme.gravity)
            self.scheme = replace(self.scheme, kind=self.choice.kind)
        else:
            self.choice = SchemeChoice(self.scheme.kind, f"{self.scheme.kind}: chosen by the caller")
        s = self.scheme
        if s.kind == "full":
            self.solver: InertialSolver | GodunovSolver = GodunovSolver(self.raster, self.h, s.limiter_theta,
                                                                          s.gravity)
        else:
            self.solver = InertialSolver(self.raster, self.h, s.theta, s.h_min, s.froude_max, s.gravity)
        self._fed_sides = tuple(side for side in SIDES
                                if getattr(self.forcing.boundaries, side).kind in ("stage", "discharge"))
        self.blocks = self._new_blocks()
        self.mass = MassBalance(initial_m3=self.stored_volume())
        self._gauge_times: list[float] = []
        self._gauge_depths: list[np.ndarray] = []
        phi = self.raster.phi
        edges = {"north": (self.z[0], phi[0]), "south": (self.z[-1], phi[-1]),
                 "west": (self.z[:, 0], phi[:, 0]), "east": (self.z[:, -1], phi[:, -1])}
        edge_low = {side: float(np.min(z[p > 0])) for side, (z, p) in edges.items() if np.any(p > 0)}
        self._stages = [(i, b.stage, edge_low.get(side, np.inf)) for i, side in enumerate(SIDES)
                        if (b := getattr(self.forcing.boundaries, side)).kind == "stage"]
        self._discharges = []  # (side index, series in m³/s, the side's open width in m)
        for i, side in enumerate(SIDES):
            b = getattr(self.forcing.boundaries, side)
            if b.kind == "discharge":
                width = float(np.sum(edges[side][1], dtype=np.float64)) * self.dx
                if width <= 0:
                    raise SimInputError(f"a discharge enters the {side} side, which has no open cell")
                self._discharges.append((i, b.discharge, width))
        code = {"closed": CLOSED, "open": OPEN, "stage": STAGE, "discharge": DISCHARGE}
        self._kinds = np.array([code[getattr(self.forcing.boundaries, side).kind] for side in SIDES], np.int64)
        self._side_values = np.zeros(4)
        # per inflow: its cells and their open areas (m²)
        self._inflows = [(inflow, area, float(area.min())) for inflow in self.forcing.inflows
                         for area in [(phi[inflow.rows, inflow.cols] * self.dx * self.dx).astype(np.float64)]]
        self._open_area = float(np.sum(phi, dtype=np.float64)) * self.dx * self.dx
        self._no_grid = np.zeros((1, 1), dt_)
        self._rain_grid = self._no_grid
        self._rain_grid_index = -1
        self._rain_grid_rate = 0.0
        self._rain_grid_blocks = np.zeros((self.blocks.nby, self.blocks.nbx), bool)

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
        return np.where(self.raster.phi > 0, h, 0.0)

    def _check_cell(self, name: str, rows: np.ndarray, cols: np.ndarray) -> None:
        ny, nx = self.shape
        if np.any((rows < 0) | (rows >= ny) | (cols < 0) | (cols >= nx)):
            raise SimInputError(f"{name}: cell outside the {ny} x {nx} grid")

    # -- state ---------------------------------------------------------------------------

    def stored_volume(self) -> float:
        """Water held in the grid, m³."""
        return float(np.sum(self.h * self.raster.phi, dtype=np.float64)) * self.dx * self.dx

    def velocities(self) -> tuple[np.ndarray, np.ndarray]:
        """Cell-centred velocity (east, north), m/s, as float64; 0 where shallower than the
        velocity depth (and on walls)."""
        qe, qs = self.solver.cell_discharges()
        h = self.h.astype(np.float64)
        deep = h > self.tracks.velocity_depth
        inv_h = np.where(deep, 1 / np.where(deep, h, 1), 0)
        return qe * inv_h, -qs * inv_h

    def snapshot(self) -> Snapshot:
        """Depth, WSE and velocity now, as float64 copies with NaN on walls."""
        wall = self.raster.phi == 0
        depth = np.where(wall, np.nan, self.h.astype(np.float64))
        wse = np.where(depth > 0, self.z + depth, np.nan)
        u, v = self.velocities()
        return Snapshot(self.time, depth, wse, np.where(wall, np.nan, u), np.where(wall, np.nan, v))

    def state(self) -> FloodState:
        """The state now, as copies: restore it into a model of the same grid to go on from here."""
        arrays, wave = self.solver.state()
        t = self.tracks
        budget = {k: float(getattr(self.mass, k)) for k in ("initial_m3", "rain_m3", "inflow_m3",
                                                           "boundary_in_m3", "boundary_out_m3")}
        return FloodState(scheme=self.solver.name, time=self.time, steps=self.steps, depth=self.h.copy(),
                          solver=arrays, wave_speed=wave, max_depth=t.max_depth.copy(), arrival=t.arrival.copy(),
                          max_speed2=t.max_speed2.copy(), budget=budget)

    def restore(self, state: FloodState, *, tracks: bool = True) -> None:
        """Go on from ``state`` (from :meth:`state` of a model on the same grid and scheme; the
        forcing may differ). With ``tracks=False`` the maxima, arrival times and volume budget
        start afresh from the restored water, as a new run would; gauge records start empty."""
        if state.scheme != self.solver.name:
            raise SimInputError(f"a state of the {state.scheme} scheme cannot start the {self.solver.name} scheme")
        if state.depth.shape != self.shape:
            raise SimInputError(f"the state's grid is {state.depth.shape}, the model's {self.shape}")
        h = np.where(self.raster.phi > 0, state.depth, 0)
        if not np.all(np.isfinite(h)) or h.min() < 0:
            raise SimInputError("the state's depths must be finite and not negative")
        self.h[...] = h
        self.solver.restore(state.solver, state.wave_speed)
        self.time = float(state.time)
        self.steps = int(state.steps)
        t = self.tracks
        if tracks:
            t.max_depth[...] = state.max_depth
            t.arrival[...] = state.arrival
            t.max_speed2[...] = state.max_speed2
            self.mass = MassBalance(**state.budget)
        else:
            t.max_depth[...] = self.h
            t.arrival[...] = np.where(self.h > t.arrival_depth, self.time, np.inf)
            t.max_speed2[...] = 0
            self.mass = MassBalance(initial_m3=self.stored_volume())
        self.blocks = self._new_blocks()
        self._rain_grid_index = -1
        self._gauge_times = []
        self._gauge_depths = []

    # -- stepping ------------------------------------------------------------------------

    def _stage_depth(self) -> float:
        """The deepest water a stage boundary holds against its lowest open edge cell."""
        return max([stage(self.time) - low for _, stage, low in self._stages], default=0.0)

    def _cfl_dt(self, speed: float) -> float:
        s = self.scheme
        return s.dt_max if speed <= 0 else min(s.dt_max, s.cfl * self.dx / speed)

    def _stable_dt(self) -> float:
        """The CFL step for the fastest wave, counting the water that stage boundaries and
        inflows bring within the step (on a dry grid they set the first steps)."""
        g = self.scheme.gravity
        speed = max(self.solver.wave_speed(), math.sqrt(g * max(self._stage_depth(), 0.0)),
                    *[2 * (g * abs(q(self.time)) / width) ** (1 / 3) for _, q, width in self._discharges])
        dt = self._cfl_dt(speed)
        rising = [(q, deepest_at(self.h, inflow.rows, inflow.cols), smallest)
                  for inflow, _, smallest in self._inflows if (q := inflow.m3_per_s(self.time) / inflow.rows.size) > 0]
        for _ in range(4 if rising else 0):
            h_peak = max(h + q * dt / area for q, h, area in rising)  # an upper bound over the cells
            shorter = self._cfl_dt(max(speed, math.sqrt(g * h_peak)))
            if shorter >= dt * 0.999:
                break
            dt = shorter
        return dt

    def _boundary_arrays(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """Each side's kind and value: its stage (m) or inward unit discharge (m²/s)."""
        for i, stage, _ in self._stages:
            self._side_values[i] = stage(t)
        for i, q, width in self._discharges:
            self._side_values[i] = q(t) / width
        return self._kinds, self._side_values

    def _add_inflows(self, t_mid: float, dt: float) -> list[int]:
        """Add (or take) the inflows' water for a step; returns the indices of those running."""
        running = []
        for i, (inflow, area, _) in enumerate(self._inflows):
            q = inflow.m3_per_s(t_mid)
            if q != 0:
                self.mass.inflow_m3 += self.solver.add_inflow(inflow.rows, inflow.cols, area, q * dt / inflow.rows.size)
                running.append(i)
        return running

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
            self._rain_grid_rate = float(np.sum(self._rain_grid * self.raster.phi, dtype=np.float64)) \
                * self.dx * self.dx
            self._rain_grid_index = i
            b = self.blocks.block
            padded = np.zeros((self.blocks.nby * b, self.blocks.nbx * b), bool)
            padded[:self.shape[0], :self.shape[1]] = self._rain_grid > 0
            self._rain_grid_blocks = padded.reshape(self.blocks.nby, b, self.blocks.nbx, b).any(axis=(1, 3))
        return uniform, self._rain_grid, True, rate + self._rain_grid_rate

    def _new_blocks(self) -> ActiveBlocks:
        """Blocks for this run's forcing and scheme, all computed in the first step."""
        return ActiveBlocks.for_forcing(self.shape, [(i.rows, i.cols) for i in self.forcing.inflows],
                                        self._fed_sides, block=self.solver.block, skip=self.scheme.skip_dry,
                                        reach=self.solver.reach)

    def step(self, dt: float) -> None:
        """Advance by ``dt`` seconds (the caller keeps ``dt`` within the stable step)."""
        t0 = self.time
        t1 = t0 + dt
        running = self._add_inflows(t0 + dt / 2, dt)
        uniform, grid, use_grid, rain_rate = self._rain_rates(t0)
        stopped = self.blocks.refresh(uniform > 0 or (self._rain_grid_blocks if use_grid else False), running,
                                      self.h, self.solver.quiet_depth)
        if stopped.size:
            self.solver.stop(stopped, self.blocks.block)
        items = self.blocks.items
        active = self.blocks.cells
        if self._threads_in_run is not None:  # few cells to compute: one thread (see _threads)
            threads = 1 if active < SERIAL_BELOW_CELLS else self._threads_in_run
            if threads != self._threads_now:
                numba.set_num_threads(threads)
                self._threads_now = threads
        kinds, values = self._boundary_arrays(t0 + dt / 2)
        self.mass.rain_m3 += rain_rate * dt
        with kernel_launch():
            v_in, v_out = self.solver.step(dt, t1, uniform, grid, use_grid, kinds, values, items, self.blocks.wet,
                                           self.blocks.block, self.blocks.tracking, self.tracks,
                                           self.blocks.spans_out)
        self.mass.boundary_in_m3 += v_in
        self.mass.boundary_out_m3 += v_out
        self.cells_computed += active
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
        self._threads_in_run = self._threads_now = self._threads()
        numba.set_num_threads(self._threads_in_run)
        try:
            self._run(until, output_interval, gauge_interval, on_output, on_progress)
        finally:
            self._threads_in_run = None
            numba.set_num_threads(previous_threads)
        return self.result()

    def _threads(self) -> int:
        """The scheme's thread count, else one thread on small grids (waking a second thread
        for each of a step's kernels costs more than it saves there), else numba's. A step with
        fewer cells to compute than that (dry blocks skipped) runs on one thread too: on a loaded
        machine a kernel's second thread may wait a scheduler slice at each of the step's barriers
        (measured: the sample city's breach, 23,000 of 593,000 cells computed, load 7 on 2 cores:
        46 ms a step on 2 threads, 2.6 ms on 1)."""
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
            if self.solver.diverged:
                raise FloatingPointError(f"the flood solution diverged at t = {self.time:.3f} s")
        self.wall_s += wallclock.perf_counter() - start

    def result(self) -> FloodResult:
        """The run so far as a result (copies)."""
        wall = self.raster.phi == 0
        self.mass.stored_m3 = self.stored_volume()
        depths = np.array(self._gauge_depths).reshape(len(self._gauge_times), len(self.gauges))
        t = self.tracks
        return FloodResult(
            time=self.time,
            depth=self.snapshot().depth,
            max_depth=np.where(wall, np.nan, t.max_depth.astype(np.float64)),
            arrival_time=np.where(wall | np.isinf(t.arrival), np.nan, t.arrival),
            max_velocity=np.where(wall, np.nan, np.sqrt(t.max_speed2.astype(np.float64))),
            gauge_times=np.array(self._gauge_times),
            gauge_depths={g.name: depths[:, i] for i, g in enumerate(self.gauges)},
            mass=MassBalance(**self.mass.__dict__),
            steps=self.steps,
            cells=self.h.size,
            wall_s=self.wall_s,
            scheme=self.solver.name,
            scheme_reason=self.choice.reason,
            cells_computed=self.cells_computed,
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


