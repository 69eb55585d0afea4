"""The evacuation driver: validate inputs, set up agents, exits and fields, run the steps."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import ndimage

from sim.errors import SimInputError
from sim.evacuation import crowd
from sim.evacuation.crowd import ARRIVED, MOVING, STRANDED, WAITING
from sim.evacuation.exit_choice import NO_ROUTE, choose_exits
from sim.evacuation.navigation import exit_fields
from sim.evacuation.profiles import DEFAULT_PROFILES, Profile
from sim.evacuation.water import water_factor_grid

DepthProvider = Callable[[float], np.ndarray]
Progress = Callable[[float, int, int], None]


@dataclass(frozen=True, slots=True)
class EvacuationConfig:
    """Run and model parameters; defaults are justified in docs/evacuation.md."""

    duration_s: float = 3600.0
    dt_s: float = 0.2
    seed: int = 0
    trajectory_interval_s: float = 1.0
    body_m: float = 0.46
    core_m: float = 0.44
    density_radius_m: float = 1.0
    creep_factor: float = 0.05
    choice_interval_s: float = 5.0
    reconsider_p: float = 0.2
    hysteresis_s: float = 5.0
    hysteresis_frac: float = 0.1
    exit_specific_flow: float = 1.3
    nav_min_interval_s: float = 5.0
    nav_refresh_s: float = 60.0
    profiles: Mapping[str, Profile] = field(default_factory=lambda: dict(DEFAULT_PROFILES))
    default_profile: str = "adult"


@dataclass(slots=True)
class EvacuationResult:
    """Per-agent outcomes (input order), trajectories and run statistics."""

    agent_id: np.ndarray
    exit_id: np.ndarray
    start_s: np.ndarray
    arrival_s: np.ndarray
    stranded_s: np.ndarray
    stranded_x: np.ndarray
    stranded_y: np.ndarray
    trajectories: pd.DataFrame
    simulated_s: float
    steps: int
    agent_steps: int
    wall_s: float
    navigation_updates: int

    @property
    def agents(self) -> int:
        return len(self.agent_id)

    @property
    def arrived(self) -> int:
        return int(np.isfinite(self.arrival_s).sum())

    @property
    def stranded(self) -> int:
        return int(np.isfinite(self.stranded_s).sum())

    @property
    def evacuation_time_s(self) -> float:
        """Time of the last arrival (NaN if nobody arrived)."""
        return float(np.nanmax(self.arrival_s)) if self.arrived else math.nan

    @property
    def agent_steps_per_s(self) -> float:
        return self.agent_steps / self.wall_s if self.wall_s > 0 else math.nan


@dataclass(slots=True)
class _Exits:
    ids: np.ndarray
    x: np.ndarray
    y: np.ndarray
    radius: np.ndarray
    capacity: np.ndarray
    cells: list[np.ndarray]
    cell_map: np.ndarray
    component: np.ndarray


def _column(table: pd.DataFrame, name: str, what: str) -> np.ndarray:
    values = np.array(pd.to_numeric(table[name], errors="coerce"), dtype=float)
    bad = ~np.isfinite(values)
    if name in ("x", "y", "radius_m") and bad.any():
        raise SimInputError(f"{what} {table['id'].iloc[int(np.argmax(bad))]}: {name} is not a number")
    return values


def _require(table: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise SimInputError(f"{what} table lacks column(s) {', '.join(missing)}")
    if table["id"].astype(str).duplicated().any():
        dup = table["id"].astype(str)[table["id"].astype(str).duplicated()].iloc[0]
        raise SimInputError(f"{what} id {dup} appears twice")


def _to_grid(x: np.ndarray, y: np.ndarray, origin: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Map coordinates → grid frame (metres east of the west edge, south of the north edge)."""
    return x - origin[0], origin[1] - y


def _exits(table: pd.DataFrame, walls: np.ndarray, h: float, origin: tuple[float, float],
           component: np.ndarray) -> _Exits:
    _require(table, ("id", "x", "y", "radius_m"), "exits")
    if len(table) == 0:
        raise SimInputError("exits table is empty")
    ny, nx = walls.shape
    gx, gy = _to_grid(_column(table, "x", "exit"), _column(table, "y", "exit"), origin)
    radius = _column(table, "radius_m", "exit")
    cap = _column(table, "capacity", "exit") if "capacity" in table.columns else np.full(len(table), np.nan)
    ids = table["id"].astype(str).to_numpy()
    cap = np.where(np.isfinite(cap), cap, np.inf)
    cy, cx = (np.mgrid[0:ny, 0:nx] + 0.5) * h
    cell_map = np.full((ny, nx), -1, dtype=np.int32)
    cells, comps = [], []
    for k, eid in enumerate(ids):
        if not (0 <= gx[k] <= nx * h and 0 <= gy[k] <= ny * h):
            raise SimInputError(f"exit {eid} at ({table['x'].iloc[k]}, {table['y'].iloc[k]}) lies outside the grid")
        if radius[k] <= 0 or cap[k] < 0:
            raise SimInputError(f"exit {eid}: radius_m must be > 0 and capacity ≥ 0")
        r0, r1 = max(int((gy[k] - radius[k]) / h), 0), min(int((gy[k] + radius[k]) / h) + 1, ny)
        c0, c1 = max(int((gx[k] - radius[k]) / h), 0), min(int((gx[k] + radius[k]) / h) + 1, nx)
        inside = (cx[r0:r1, c0:c1] - gx[k]) ** 2 + (cy[r0:r1, c0:c1] - gy[k]) ** 2 <= radius[k] ** 2
        inside &= ~walls[r0:r1, c0:c1]
        rr, cc = np.nonzero(inside)
        rr, cc = rr + r0, cc + c0
        if rr.size == 0:
            r, c = min(int(gy[k] / h), ny - 1), min(int(gx[k] / h), nx - 1)
            if walls[r, c]:
                raise SimInputError(f"exit {eid} has no walkable cell within its radius")
            rr, cc = np.array([r]), np.array([c])
        free = cell_map[rr, cc] < 0
        cell_map[rr[free], cc[free]] = k
        cells.append((rr * nx + cc).astype(np.int64))
        comps.append(component[rr[0], cc[0]])
    return _Exits(ids, gx, gy, radius, cap, cells, cell_map, np.array(comps, dtype=np.int64))


def _area_fraction(walkable: np.ndarray, h: float, radius: float) -> np.ndarray:
    """Walkable share of the density kernel (1 − r²/R²) centred on each cell."""
    n = int(radius / h)
    if n < 1:
        return walkable.astype(np.float64)
    yy, xx = np.mgrid[-n:n + 1, -n:n + 1] * h
    k = np.clip(1.0 - (xx**2 + yy**2) / radius**2, 0.0, None)
    return ndimage.convolve(walkable.astype(np.float64), k / k.sum(), mode="constant", cval=0.0)


class _Run:
    """State of one simulation: struct-of-arrays agents, exits, fields and cell bins."""

    def __init__(self, walls, cell_size, origin, agents, exits, depth, config):
        self.cfg = config
        self.h = float(cell_size)
        self.origin = (float(origin[0]), float(origin[1]))
        self.walls = np.ascontiguousarray(walls, dtype=np.bool_)
        self.depth_at = depth
        self.rng = np.random.default_rng(config.seed)
        ny, nx = self.walls.shape
        self.component, _ = ndimage.label(~self.walls)
        self.exits = _exits(exits, self.walls, self.h, self.origin, self.component)
        self._agents(agents)
        self.area_fraction = _area_fraction(~self.walls, self.h, config.density_radius_m)
        self.no_depth = np.zeros((0, 0), dtype=np.float32)
        self.depth = self.no_depth
        self.limits = np.unique(self.limit) if depth is not None else np.array([np.inf])
        self.cls = np.searchsorted(self.limits, self.limit).astype(np.int64) if depth is not None \
            else np.zeros(self.n, dtype=np.int64)
        self.fields = np.empty((len(self.limits), len(self.exits.ids), ny, nx), dtype=np.float32)
        self.passable = [None] * len(self.limits)
        self.field_span = np.zeros(len(self.limits))
        self.nav_time = np.full(len(self.limits), -np.inf)
        self.nav_depth = [None] * len(self.limits)
        self.nav_updates = 0
        self.exit_open = self.exits.capacity > 0
        self.exit_count = np.zeros(len(self.exits.ids), dtype=np.int64)
        self.exit_flow = config.exit_specific_flow * 2.0 * self.exits.radius
        area = ny * nx * self.h * self.h
        self.bin_size = max(1.0, 0.5 * (1.6 * config.dt_s + config.body_m + config.core_m), math.sqrt(area / 4e6))
        self.nbx = int(math.ceil(nx * self.h / self.bin_size))
        self.nby = int(math.ceil(ny * self.h / self.bin_size))
        self.head = np.empty(self.nbx * self.nby, dtype=np.int64)
        self.nxt = np.empty(self.n, dtype=np.int64)
        self.prv = np.empty(self.n, dtype=np.int64)
        self.binof = np.empty(self.n, dtype=np.int64)
        self.nb = np.empty(crowd.MAX_NEIGHBOURS, dtype=np.int64)

    def _agents(self, table: pd.DataFrame) -> None:
        _require(table, ("id", "x", "y"), "agents")
        cfg, h = self.cfg, self.h
        ny, nx = self.walls.shape
        self.n = n = len(table)
        self.ids = table["id"].to_numpy()
        x, y = _column(table, "x", "agent"), _column(table, "y", "agent")
        self.px, self.py = _to_grid(x, y, self.origin)
        outside = ~((self.px >= 0) & (self.px < nx * h) & (self.py >= 0) & (self.py < ny * h))
        if outside.any():
            k = int(np.argmax(outside))
            raise SimInputError(f"agent {self.ids[k]} at ({x[k]}, {y[k]}) lies outside the grid")
        r = np.minimum((self.py / h).astype(np.int64), ny - 1)
        c = np.minimum((self.px / h).astype(np.int64), nx - 1)
        inside = self.walls[r, c]
        if inside.any():
            k = int(np.argmax(inside))
            raise SimInputError(f"agent {self.ids[k]} at ({x[k]}, {y[k]}) is inside a wall")
        reachable = np.isin(self.component[r, c], self.exits.component)
        if not reachable.all():
            k = int(np.argmin(reachable))
            raise SimInputError(f"agent {self.ids[k]} at ({x[k]}, {y[k]}) cannot reach any exit")
        names = (table["profile"].fillna(cfg.default_profile).astype(str).to_numpy()
                 if "profile" in table.columns else np.full(n, cfg.default_profile))
        unknown = sorted(set(names) - set(cfg.profiles))
        if unknown:
            raise SimInputError(f"agents: unknown profile {unknown[0]!r} (known: {', '.join(cfg.profiles)})")
        self.v0 = _column(table, "speed_mps", "agent") if "speed_mps" in table.columns else np.full(n, np.nan)
        self.start = _column(table, "start_s", "agent") if "start_s" in table.columns else np.full(n, np.nan)
        self.limit = np.empty(n)
        for name in np.unique(names):
            sel = names == name
            prof = cfg.profiles[name]
            need = sel & ~np.isfinite(self.v0)
            self.v0[need] = prof.speed.sample(self.rng, int(need.sum()))
            need = sel & ~np.isfinite(self.start)
            self.start[need] = prof.delay.sample(self.rng, int(need.sum()))
            self.limit[sel] = prof.depth_limit_m
        if (self.v0 <= 0).any() or (self.start < 0).any():
            k = int(np.argmax((self.v0 <= 0) | (self.start < 0)))
            raise SimInputError(f"agent {self.ids[k]}: speed_mps must be > 0 and start_s ≥ 0")
        self.assigned = np.full(n, -1, dtype=np.int64)
        if "exit_id" in table.columns:
            index = {eid: k for k, eid in enumerate(self.exits.ids)}
            for k, eid in enumerate(table["exit_id"]):
                if pd.isna(eid) or str(eid) == "":
                    continue
                key = str(eid).removesuffix(".0") if isinstance(eid, float) else str(eid)
                if key not in index:
                    raise SimInputError(f"agent {self.ids[k]}: exit_id {eid} is not an exit")
                self.assigned[k] = index[key]
        self.state = np.full(n, WAITING, dtype=np.int8)
        self.target = np.full(n, -1, dtype=np.int64)
        self.arrival = np.full(n, np.nan)
        self.arrived_exit = np.full(n, -1, dtype=np.int64)
        self.stranded_t = np.full(n, np.nan)

    def update_depth(self, t: float) -> bool:
        """Read the water at ``t``, strand agents caught by it, refresh fields whose passability
        changed; True when any field was recomputed."""
        if self.depth_at is None:
            return False
        d = np.asarray(self.depth_at(t), dtype=np.float32)
        if d.shape != self.walls.shape:
            raise SimInputError(f"depth grid at t={t:g} s has shape {d.shape}, walls have {self.walls.shape}")
        self.depth = np.ascontiguousarray(np.nan_to_num(d, nan=0.0))
        crowd.strand_in_water(t, self.px, self.py, self.state, self.limit, self.depth, self.h, self.stranded_t)
        updated = False
        for k, lim in enumerate(self.limits):
            passable = ~self.walls & (self.depth < lim)
            since = t - self.nav_time[k]
            changed = self.passable[k] is None or not np.array_equal(passable, self.passable[k])
            stale = since >= self.cfg.nav_refresh_s and not np.array_equal(self.depth, self.nav_depth[k])
            if (changed and since >= self.cfg.nav_min_interval_s) or stale:
                self.compute_fields(k, passable, water_factor_grid(self.depth, lim))
                self.nav_time[k] = t
                self.nav_depth[k] = self.depth
                updated = True
        return updated

    def compute_fields(self, k: int, passable: np.ndarray, factor: np.ndarray | None) -> None:
        """Travel-time fields of depth-limit class ``k`` over ``passable`` cells slowed by ``factor``."""
        speed = passable.astype(np.float64) if factor is None else passable * factor.astype(np.float64)
        self.fields[k] = exit_fields(speed, self.exits.cells, self.h)
        finite = self.fields[k][np.isfinite(self.fields[k])]
        self.field_span[k] = float(finite.max()) if finite.size else 0.0
        self.passable[k] = passable
        self.nav_updates += 1

    def choose(self, p: float) -> None:
        span = max(self.field_span) + 1.0
        nbins = 4096
        choose_exits(self.px, self.py, self.v0, self.cls, self.state, self.target, self.assigned,
                     self.component, self.exits.component, self.fields, self.exit_open, self.exit_flow,
                     self.h, self.rng.random(self.n), p, self.cfg.hysteresis_s, self.cfg.hysteresis_frac,
                     max(1.0, span / nbins), nbins)

    def strand_cut_off(self, t: float) -> None:
        cut = (self.state == MOVING) & (self.target == NO_ROUTE)
        self.state[cut] = STRANDED
        self.stranded_t[cut] = t

    def step(self, t: float, dt: float) -> tuple[int, bool]:
        order = crowd.front_first_order(self.px, self.py, self.state, self.target, self.cls, self.fields,
                                        self.h, 0.25)
        cfg, ex = self.cfg, self.exits
        filled = crowd.move_agents(
            order, t, dt, self.px, self.py, self.v0, self.limit, self.cls, self.state, self.target,
            self.assigned, self.arrival, self.arrived_exit, self.fields, self.walls, self.depth,
            self.area_fraction, self.h, ex.x, ex.y, ex.radius, self.exit_open, self.exit_count,
            ex.capacity, ex.cell_map, self.head, self.nxt, self.prv, self.binof, self.bin_size,
            self.nbx, self.nby, cfg.body_m, cfg.core_m, cfg.density_radius_m, cfg.creep_factor, self.nb)
        return len(order), filled

    def positions(self) -> tuple[np.ndarray, np.ndarray]:
        return self.px + self.origin[0], self.origin[1] - self.py


def simulate(
    walls: np.ndarray,
    cell_size: float,
    origin: tuple[float, float],
    agents: pd.DataFrame,
    exits: pd.DataFrame,
    depth: DepthProvider | None = None,
    config: EvacuationConfig | None = None,
    progress: Progress | None = None,
) -> EvacuationResult:
    """Evacuate ``agents`` to ``exits`` over the raster ``walls`` (True = impassable).

    ``walls[row, col]`` is north-up with ``origin`` = (x of the west edge, y of the north edge)
    in map metres. ``agents`` has columns ``id, x, y`` and optionally ``speed_mps, profile,
    start_s, exit_id``; ``exits`` has ``id, x, y, radius_m`` and optionally ``capacity``.
    ``depth(t)`` returns water depth (m) on the same grid at time ``t`` (s).
    ``progress(t, arrived, stranded)`` is called after every step.
    """
    cfg = config or EvacuationConfig()
    walls = np.asarray(walls)
    if walls.ndim != 2 or walls.size == 0:
        raise SimInputError(f"walls must be a non-empty 2-D grid, got shape {walls.shape}")
    if not cell_size > 0 or not cfg.dt_s > 0 or not cfg.duration_s > 0:
        raise SimInputError("cell size, time step and duration must be positive")
    clock = time.perf_counter()
    run = _Run(walls.astype(bool), cell_size, origin, agents, exits, depth, cfg)
    if depth is None:
        run.compute_fields(0, ~run.walls, None)
    else:
        run.update_depth(0.0)
    crowd.link_all(run.px, run.py, run.state, run.bin_size, run.nbx, run.nby, run.head, run.nxt, run.prv,
                   run.binof)
    rec_t, rec_i, rec_x, rec_y = [], [], [], []
    t, steps, agent_steps = 0.0, 0, 0
    next_record, next_choice = 0.0, 0.0
    n_steps = int(math.ceil(cfg.duration_s / cfg.dt_s - 1e-9))
    for steps in range(1, n_steps + 1):
        t = (steps - 1) * cfg.dt_s
        if depth is not None and steps > 1 and run.update_depth(t):
            next_choice = t
        starting = (run.state == WAITING) & (run.start <= t + 1e-9)
        run.state[starting] = MOVING
        due = t >= next_choice - 1e-9
        if due or starting.any():
            run.choose(cfg.reconsider_p if due else 0.0)
            run.strand_cut_off(t)
            if due:
                next_choice = t + cfg.choice_interval_s
        if t >= next_record - 1e-9:
            present = (run.state == WAITING) | (run.state == MOVING)
            gx, gy = run.positions()
            rec_t.append(np.full(int(present.sum()), t))
            rec_i.append(np.nonzero(present)[0])
            rec_x.append(gx[present])
            rec_y.append(gy[present])
            next_record = t + cfg.trajectory_interval_s
        moved, filled = run.step(t, cfg.dt_s)
        agent_steps += moved
        if filled:
            next_choice = t + cfg.dt_s
        if progress is not None:
            progress(t + cfg.dt_s, int((run.state == ARRIVED).sum()), int((run.state == STRANDED).sum()))
        heading = (run.state == MOVING) & (run.target >= 0)
        if not filled and not (run.state == WAITING).any() and not heading.any():
            break
    t_end = steps * cfg.dt_s
    gx, gy = run.positions()
    sx = np.where(np.isfinite(run.stranded_t), gx, np.nan)
    sy = np.where(np.isfinite(run.stranded_t), gy, np.nan)
    which = np.where(run.arrived_exit >= 0, run.arrived_exit, run.target)
    exit_id = np.where(which >= 0, run.exits.ids[np.maximum(which, 0)], "")
    idx = np.concatenate(rec_i) if rec_i else np.zeros(0, dtype=np.int64)
    traj = pd.DataFrame({"agent_id": run.ids[idx], "t": np.concatenate(rec_t) if rec_t else [],
                         "x": np.concatenate(rec_x) if rec_x else [],
                         "y": np.concatenate(rec_y) if rec_y else []})
    return EvacuationResult(
        agent_id=run.ids, exit_id=exit_id, start_s=run.start, arrival_s=run.arrival,
        stranded_s=run.stranded_t, stranded_x=sx, stranded_y=sy, trajectories=traj,
        simulated_s=t_end, steps=steps, agent_steps=agent_steps,
        wall_s=time.perf_counter() - clock, navigation_updates=run.nav_updates)
