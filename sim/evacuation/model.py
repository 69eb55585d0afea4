"""The evacuation driver: validate inputs, set up agents, exits and routes, run the steps."""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np
import pandas as pd
from scipy import ndimage

from sim.errors import SimInputError
from sim.evacuation import crowd
from sim.evacuation.crowd import ARRIVED, MOVING, STRANDED, WAITING
from sim.evacuation.exit_choice import CHECK_BLOCK, choose_exits, closing_near
from sim.evacuation.navigation import arrival_times, fast_marching, nearest_exits
from sim.evacuation.profiles import DEFAULT_PROFILES, Profile
from sim.evacuation.water import clean_grid, hazard_grid, water_factor_grid
from sim.threading_layer import kernel_launch

#: The longest step the engine accepts (s): the step its validation (tests/sim) runs at.
MAX_DT_S = 1.0
#: Speed factor given, when planning routes, to a cell the water will close before the
#: first walker can reach it: such a cell costs 50 times a dry one, so a route crosses it
#: only when no other exists (and then the walker stops at the water's edge).
LATE_SPEED_FACTOR = 0.02
#: Grids at least this large compute the routes of their classes at the same time, one per thread.
PARALLEL_ROUTES_CELLS = 1_000_000
#: Runs of at least this many agents store them in space order every ``SORT_EVERY_S`` of
#: simulated time (``_Run.store_in_space_order``); below it their arrays fit in a core's 2 MB
#: cache anyway.
SORT_AGENTS_FROM = 20_000
SORT_EVERY_S = 60.0
#: the per-agent arrays of ``_Run``, reordered together
AGENT_ARRAYS = ("ids", "px", "py", "v0", "start", "lim_d", "lim_dv", "assigned", "cls", "state", "target", "arrival",
                "arrived_exit", "stranded_t", "redirected", "vx", "vy", "dirx", "diry", "plan", "span", "busy", "parts",
                "t_from", "near", "memo_at", "memo", "input_index")
#: the squares (m) whose Z-order sets that storage order
SORT_SQUARE_M = 4.0
#: agents handed to a thread at a time when choosing exits: those near water, who check their
#: way against it, lie together in space order, so equal halves would leave one thread idle
CHOICE_CHUNK = 4096
#: no distances to the exits known for the next step's ordering (``_Run.known``)
NO_DISTANCES = np.zeros(0)
#: Speed factor, when planning routes, of a cell whose centre lies nearer a wall than a
#: body's radius: routes keep off walls where there is room (people do not brush walls).
WALL_SPEED_FACTOR = 0.5


@dataclass(frozen=True, slots=True)
class Water:
    """Water on the walking grid at one time: depth (m) and, when the flood result has it,
    the flow speed (m/s, the magnitude of the depth-averaged velocity)."""

    depth: np.ndarray
    speed: np.ndarray | None = None

    @classmethod
    def from_velocity(cls, depth: np.ndarray, u: np.ndarray, v: np.ndarray) -> Water:
        """From the velocity components (m/s) a flood result writes."""
        return cls(depth, np.hypot(np.asarray(u, np.float32), np.asarray(v, np.float32)))


#: ``depth(t)`` gives the water at time t (s): a depth grid, a ``Water``, or a tuple
#: ``(depth, speed)`` or ``(depth, u, v)``, all on the walking grid.
DepthProvider = Callable[[float], "np.ndarray | Water | tuple"]
Progress = Callable[[float, int, int], None]


@dataclass(frozen=True, slots=True)
class EvacuationConfig:
    """Run and model parameters; defaults are justified in docs/evacuation.md."""

    duration_s: float = 3600.0
    dt_s: float = 0.2
    seed: int = 0
    trajectory_interval_s: float = 1.0
    body_m: float = 0.46
    core_m: float = 0.40
    sub_move_m: float = 0.25
    density_radius_m: float = 1.5
    headway_s: float = 0.4
    plan_interval_s: float = 0.1
    slowed_plan_interval_s: float = 0.25
    creep_factor: float = 0.05
    anticipation_s: float = 2.0
    avoid_side: str = "right"
    choice_interval_s: float = 5.0
    reconsider_p: float = 0.2
    hysteresis_s: float = 5.0
    hysteresis_frac: float = 0.1
    exit_specific_flow: float = 1.3
    candidate_exits: int = 4
    water_interval_s: float = 1.0
    nav_min_interval_s: float = 5.0
    nav_refresh_s: float = 60.0
    route_check_s: float = 300.0
    profiles: Mapping[str, Profile] = field(default_factory=lambda: dict(DEFAULT_PROFILES))
    default_profile: str = "adult"

    @classmethod
    def for_city(cls, **overrides) -> EvacuationConfig:
        """Settings for a whole city's people on a city's walking grid: the longest validated
        step, positions kept every minute, the water read every 10 s (flood results are minutes
        apart), routes following the water at most every minute and refreshed every 15 minutes
        (with a flood known in advance, they already plan on the water to come, and each agent
        checks its own way against it when choosing a shelter: ``route_check_s``)."""
        values: dict[str, Any] = dict(dt_s=MAX_DT_S, trajectory_interval_s=60.0, water_interval_s=10.0,
                                      nav_min_interval_s=60.0, nav_refresh_s=900.0)
        values.update(overrides)
        return cls(**values)

    def checked(self) -> EvacuationConfig:
        if not (self.dt_s > 0 and self.duration_s > 0):
            raise SimInputError("time step and duration must be positive")
        if self.dt_s > MAX_DT_S + 1e-12:
            raise SimInputError(f"time step {self.dt_s:g} s is longer than the {MAX_DT_S:g} s the engine is "
                                "validated at")
        if self.avoid_side not in ("right", "left"):
            raise SimInputError(f"avoid_side must be 'right' or 'left', got {self.avoid_side!r}")
        if not 0 <= self.route_check_s < math.inf:
            raise SimInputError(f"route_check_s must be 0 (no check) or a positive number of seconds, got "
                                f"{self.route_check_s:g}")
        if not 0 < self.plan_interval_s <= self.slowed_plan_interval_s:
            raise SimInputError(f"need 0 < plan_interval_s ≤ slowed_plan_interval_s, got {self.plan_interval_s:g} "
                                f"and {self.slowed_plan_interval_s:g} s")
        if self.candidate_exits < 1 or not 0 < self.core_m <= self.body_m or self.water_interval_s <= 0:
            raise SimInputError("candidate_exits and water_interval_s must be positive and 0 < core_m ≤ body_m")
        for p in self.profiles.values():
            if not (p.depth_limit_m > 0 and p.dv_limit_m2s > 0):
                raise SimInputError(f"profile {p.name}: water limits must be positive")
        return self


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
    redirected: np.ndarray  # True for agents sent on from a shelter that filled before they got in

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
    if len(table) > np.iinfo(np.int16).max:
        raise SimInputError(f"at most {np.iinfo(np.int16).max} exits, got {len(table)}")
    ny, nx = walls.shape
    gx, gy = _to_grid(_column(table, "x", "exit"), _column(table, "y", "exit"), origin)
    radius = _column(table, "radius_m", "exit")
    cap = _column(table, "capacity", "exit") if "capacity" in table.columns else np.full(len(table), np.nan)
    ids = table["id"].astype(str).to_numpy()
    cap = np.where(np.isfinite(cap), cap, np.inf)
    cell_map = np.full((ny, nx), -1, dtype=np.int16)
    cells, comps = [], []
    for k, eid in enumerate(ids):
        if not (0 <= gx[k] <= nx * h and 0 <= gy[k] <= ny * h):
            raise SimInputError(f"exit {eid} at ({table['x'].iloc[k]}, {table['y'].iloc[k]}) lies outside the grid")
        if radius[k] <= 0 or cap[k] < 0:
            raise SimInputError(f"exit {eid}: radius_m must be > 0 and capacity ≥ 0")
        r0, r1 = max(int((gy[k] - radius[k]) / h), 0), min(int((gy[k] + radius[k]) / h) + 1, ny)
        c0, c1 = max(int((gx[k] - radius[k]) / h), 0), min(int((gx[k] + radius[k]) / h) + 1, nx)
        cy, cx = (np.mgrid[r0:r1, c0:c1] + 0.5) * h
        inside = ((cx - gx[k]) ** 2 + (cy - gy[k]) ** 2 <= radius[k] ** 2) & ~walls[r0:r1, c0:c1]
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
        return walkable.astype(np.float32)
    yy, xx = np.mgrid[-n:n + 1, -n:n + 1] * h
    k = np.clip(1.0 - (xx**2 + yy**2) / radius**2, 0.0, None)
    return ndimage.convolve(walkable.astype(np.float32), (k / k.sum()).astype(np.float32), mode="constant", cval=0.0)


def _clearances(walls: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
    """Per cell: a lower bound of the distance (m) from any point in it to any wall cell (the
    grid's outside counts as wall), and the distance from its centre to the nearest wall."""
    padded = np.pad(~walls, 1, constant_values=False)
    centres = ndimage.distance_transform_edt(padded)[1:-1, 1:-1].astype(np.float32) * np.float32(h)
    anywhere = np.maximum(centres - np.float32(h * math.sqrt(2.0)), 0.0).astype(np.float32)
    return anywhere, np.maximum(centres - np.float32(0.5 * h), 0.0).astype(np.float32)


@numba.njit(cache=True)
def split_steps(order, busy, plan, v0, near, dt, busy_parts, slowed_parts, fine, work, parts, span):
    """How many sub-steps each agent of ``order`` takes in a step of ``dt``: ``fine`` near its
    exit, ``slowed_parts`` slowed below half its free speed, ``busy_parts`` after it stopped short
    or met someone head on, else one; into ``work`` (by position in ``order``) and ``parts`` (by
    agent), with ``span`` set to the sub-step. Returns the agents taking more than one."""
    split = np.empty(order.shape[0], dtype=np.int64)
    m = 0
    for q in range(order.shape[0]):
        i = order[q]
        p = 1
        if busy[i]:
            p = busy_parts
        if plan[i] < 0.5 * v0[i] * dt:
            p = slowed_parts
        if near[i]:
            p = fine
        work[q] = p
        parts[i] = p
        if p > 1:
            span[i] = dt / p
            split[m] = i
            m += 1
    return split[:m]


@numba.njit(cache=True)
def due_sub_steps(sub, k, fine, state, target, parts, t_from, span, t, dt):
    """At the ``k``-th of ``fine`` sub-steps of the step from ``t``: the agents of ``sub`` still
    walking to an exit, and of them those whose next sub-step starts now, their ``t_from`` and
    ``span`` set."""
    keep = 0
    due = np.empty(sub.shape[0], dtype=np.int64)
    nd = 0
    for q in range(sub.shape[0]):
        i = sub[q]
        if state[i] != MOVING or target[i] < 0:
            continue
        sub[keep] = i
        keep += 1
        m = parts[i]
        if (k * m) // fine > ((k - 1) * m) // fine:
            t_from[i] = t + ((k * m) // fine) * dt / m
            span[i] = dt / m
            due[nd] = i
            nd += 1
    return sub[:keep], due[:nd]


@numba.njit(cache=True)
def set_off(state, start, t):
    """Those waiting whose start time has come start walking; returns how many did."""
    n = 0
    for i in range(state.shape[0]):
        if state[i] == WAITING and start[i] <= t + 1e-9:
            state[i] = MOVING
            n += 1
    return n


@numba.njit(cache=True)
def heading_agents(state, target):
    """The agents walking to an exit, in storage order."""
    out = np.empty(state.shape[0], dtype=np.int64)
    m = 0
    for i in range(state.shape[0]):
        if state[i] == MOVING and target[i] >= 0:
            out[m] = i
            m += 1
    return out[:m]


@numba.njit(cache=True)
def census(state, target):
    """How many agents have arrived, are stranded, are waiting, and are walking to an exit."""
    arrived = stranded = waiting = heading = 0
    for i in range(state.shape[0]):
        s = state[i]
        if s == ARRIVED:
            arrived += 1
        elif s == STRANDED:
            stranded += 1
        elif s == WAITING:
            waiting += 1
        elif s == MOVING and target[i] >= 0:
            heading += 1
    return arrived, stranded, waiting, heading


def _sub_steps(dt: float, interval: float) -> int:
    """How many sub-steps of at most ``interval`` (s) a step of ``dt`` takes (at least one)."""
    return max(1, int(math.ceil(dt / interval - 1e-9)))


class _Run:
    """State of one simulation: struct-of-arrays agents, exits, routes and cell bins."""

    def __init__(self, walls, cell_size, origin, agents, exits, depth, forecast_times, config):
        self.cfg = config
        self.h = float(cell_size)
        self.origin = (float(origin[0]), float(origin[1]))
        self.walls = np.ascontiguousarray(walls, dtype=np.bool_)
        self.depth_at = depth
        self.rng = np.random.default_rng(config.seed)
        ny, nx = self.walls.shape
        self.component = ndimage.label(~self.walls)[0].astype(np.int32)
        self.exits = _exits(exits, self.walls, self.h, self.origin, self.component)
        self._agents(agents)
        self.area_fraction = _area_fraction(~self.walls, self.h, config.density_radius_m)
        self.clear, centre_clear = _clearances(self.walls, self.h)
        self.base_speed = np.where(self.walls, 0.0, np.where(centre_clear < 0.5 * config.body_m, WALL_SPEED_FACTOR,
                                                               1.0)).astype(np.float32)
        del centre_clear
        self.no_grid = np.zeros((0, 0), dtype=np.float32)
        # each agent's distance to its exit as the last exit choice read it (NaN where the exit changed)
        self.known = NO_DISTANCES
        self.depth = self.flow = self.no_grid
        self.water_source: tuple = ()
        self.water_version = 0
        # one route class per distinct pair of water limits (a single one without water)
        if depth is None:
            self.class_limits = np.array([[np.inf, np.inf]])
            self.cls = np.zeros(self.n, dtype=np.int64)
        else:
            self.class_limits, inverse = np.unique(np.c_[self.lim_d, self.lim_dv], axis=0, return_inverse=True)
            self.cls = inverse.ravel().astype(np.int64)
        n_cls = len(self.class_limits)
        n_exits = len(self.exits.ids)
        self.k = min(config.candidate_exits, n_exits)
        self.lab = np.full((n_cls, ny * nx * self.k), -1, dtype=np.int16)
        self.val = np.full((n_cls, ny * nx * self.k), np.inf, dtype=np.float32)
        # exits assigned to agents get a full field each: an assigned exit may be far away
        assigned = np.unique(self.assigned[self.assigned >= 0])
        self.dense_of = np.full(n_exits, -1, dtype=np.int64)
        self.dense_of[assigned] = np.arange(len(assigned))
        self.dense = np.zeros((n_cls, len(assigned), ny * nx if len(assigned) else 0), dtype=np.float32)
        self.forecast = None if forecast_times is None else np.sort(np.asarray(forecast_times, dtype=float))
        # with a forecast: closing times by class and cell, and the soonest near each block of cells
        self.close = np.zeros((0, 0), dtype=np.float32)
        self.close_near = np.zeros((0, 0, 0), dtype=np.float32)
        self.nav_time = np.full(n_cls, -np.inf)
        self.nav_version = np.full(n_cls, -1)
        self.nav_passable: list[np.ndarray | None] = [None] * n_cls
        self.nav_skip: list[np.ndarray | None] = [None] * n_cls
        self.nav_updates = 0
        self.route_span = 0.0
        self.exit_open = self.exits.capacity > 0
        self.exit_count = np.zeros(n_exits, dtype=np.int64)
        self.exit_flow = config.exit_specific_flow * 2.0 * self.exits.radius
        area = ny * nx * self.h * self.h
        self.bin_size = max(1.5, math.sqrt(area / 8e6))
        self.nbx = int(math.ceil(nx * self.h / self.bin_size))
        self.nby = int(math.ceil(ny * self.h / self.bin_size))
        self.head = np.empty(self.nbx * self.nby, dtype=np.int64)
        self.nxt = np.empty(self.n, dtype=np.int64)
        self.prv = np.empty(self.n, dtype=np.int64)
        self.binof = np.empty(self.n, dtype=np.int64)
        angles = np.deg2rad([0, 15, -15, 30, -30, 45, -45, 60, -60, 75, -75, 90, -90])
        self.cand_cos, self.cand_sin = np.cos(angles), np.sin(angles)
        self.side = 1.0 if config.avoid_side == "right" else -1.0
        self.moves = 0

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
        # a body's core clear of the walls from the start (docs/evacuation.md, "Bodies")
        crowd.off_walls(self.px, self.py, 0.5 * cfg.core_m, h, self.walls)
        r = np.minimum((self.py / h).astype(np.int64), ny - 1)
        c = np.minimum((self.px / h).astype(np.int64), nx - 1)
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
        self.lim_d = np.empty(n)
        self.lim_dv = np.empty(n)
        for name in np.unique(names):
            sel = names == name
            prof = cfg.profiles[name]
            need = sel & ~np.isfinite(self.v0)
            self.v0[need] = prof.speed.sample(self.rng, int(need.sum()))
            need = sel & ~np.isfinite(self.start)
            self.start[need] = prof.delay.sample(self.rng, int(need.sum()))
            self.lim_d[sel] = prof.depth_limit_m
            self.lim_dv[sel] = prof.dv_limit_m2s
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
                    raise SimInputError(f"agents: agent {self.ids[k]}: exit_id {eid} is not an exit")
                self.assigned[k] = index[key]
        self.state = np.full(n, WAITING, dtype=np.int8)
        self.target = np.full(n, -1, dtype=np.int64)
        self.arrival = np.full(n, np.nan)
        self.arrived_exit = np.full(n, -1, dtype=np.int64)
        self.stranded_t = np.full(n, np.nan)
        self.redirected = np.zeros(n, dtype=bool)
        self.vx = np.zeros(n)
        self.vy = np.zeros(n)
        self.dirx = np.zeros(n)
        self.diry = np.zeros(n)
        self.plan = np.zeros(n)
        self.span = np.zeros(n)
        self.busy = np.zeros(n, dtype=bool)
        self.parts = np.ones(n, dtype=np.int64)
        self.t_from = np.zeros(n)
        self.near = np.zeros(n, dtype=bool)
        # the field gradients each agent last read (``navigation.descent_direction``)
        self.memo_at = np.full(n, -1, dtype=np.int64)
        self.memo = np.zeros((n, 8))
        self.input_index = np.arange(n)  # each stored agent's row in the input (``store_in_space_order``)

    def store_in_space_order(self) -> None:
        """Store the agents in Z-order of the 4 m squares they stand in, so that people near one
        another lie near one another in memory and a neighbour search mostly hits the caches
        (docs/evacuation.md, *Agents stored in space order*). Results keep the input's order
        (``input_index``)."""
        order = np.argsort(crowd.z_order(self.px, self.py, SORT_SQUARE_M), kind="stable")
        for name in AGENT_ARRAYS:
            setattr(self, name, getattr(self, name)[order])
        crowd.link_all(self.px, self.py, self.state, self.bin_size, self.nbx, self.nby, self.head, self.nxt, self.prv,
                       self.binof)

    # --- water ----------------------------------------------------------------------------

    def read_water(self, t: float) -> tuple[tuple, np.ndarray, np.ndarray]:
        """The provider's answer at ``t``: its source objects, depth and flow speed (float32,
        NaN as dry and still; flow empty when the provider gives none)."""
        with kernel_launch():  # providers may blend frames on all threads (``blend_frames``)
            w = self.depth_at(t)
        source: tuple
        if isinstance(w, Water):
            source, d, s = (w.depth, w.speed), w.depth, w.speed
        elif isinstance(w, tuple):
            if len(w) == 2:
                source, d, s = w, w[0], w[1]
            elif len(w) == 3:
                source, d, s = w, w[0], np.hypot(np.asarray(w[1], np.float32), np.asarray(w[2], np.float32))
            else:
                raise SimInputError(f"water at t={t:g} s: expected (depth, speed) or (depth, u, v), got {len(w)} grids")
        else:
            source, d, s = (w,), w, None
        d = np.asarray(d)
        if d.shape != self.walls.shape:
            raise SimInputError(f"depth grid at t={t:g} s has shape {d.shape}, walls have {self.walls.shape}")
        d = clean_grid(d)
        if s is None:
            return source, d, self.no_grid
        s = np.asarray(s)
        if s.shape != self.walls.shape:
            raise SimInputError(f"flow speed grid at t={t:g} s has shape {s.shape}, walls have {self.walls.shape}")
        return source, d, clean_grid(s, magnitude=True)

    def update_water(self, t: float) -> bool:
        """Read the water at ``t`` and strand agents it catches; True when it changed."""
        source, d, s = self.read_water(t)
        if len(source) == len(self.water_source) and all(a is b for a, b in zip(source, self.water_source)):
            return False
        self.water_source, self.depth, self.flow = source, d, s
        self.water_version += 1
        crowd.strand_in_water(t, self.px, self.py, self.state, self.lim_d, self.lim_dv, self.depth, self.flow,
                              self.h, self.stranded_t)
        return True

    def speed_grid(self, k: int, depth: np.ndarray, flow: np.ndarray) -> np.ndarray:
        """Route speed factor of class ``k`` over the grid for this water (0 impassable)."""
        if depth.size == 0:
            return self.base_speed
        lim_d, lim_dv = self.class_limits[k]
        return self.base_speed * water_factor_grid(depth, lim_d, flow if flow.size else None, lim_dv)

    def closing_times(self, t: float) -> list[np.ndarray]:
        """Per class, when the water known in advance first closes each cell (s; t where it
        is closed now, inf where it stays open through the forecast): the hazard index is
        taken linear in time between frames."""
        frames = [t] + [float(f) for f in self.forecast if f > t]
        with kernel_launch():  # the hazard grids are computed on all threads
            prev = [hazard_grid(self.depth, self.flow, lim_d, lim_dv) for lim_d, lim_dv in self.class_limits]
            close = [np.where(hz >= 1.0, np.float32(t), np.float32(np.inf)).astype(np.float32) for hz in prev]
            for a, b in zip(frames[:-1], frames[1:]):
                _, d, s = self.read_water(b)
                for k, (lim_d, lim_dv) in enumerate(self.class_limits):
                    hz = hazard_grid(d, s, lim_d, lim_dv)
                    newly = np.isinf(close[k]) & (hz >= 1.0)
                    if newly.any():
                        h0 = prev[k][newly]
                        frac = np.clip((1.0 - h0) / np.maximum(hz[newly] - h0, 1e-6), 0.0, 1.0)
                        close[k][newly] = a + frac * (b - a)
                    prev[k] = hz
        return close

    # --- routes ---------------------------------------------------------------------------

    def compute_routes(self, t: float, classes: Sequence[int] | None = None) -> None:
        """Recompute the exit lists (and full fields of assigned exits) of the given classes
        (all by default) for the water now and, when the flood is known in advance, the water
        at the time the first walker can get to each cell; full shelters are left out. On a
        large grid the classes are computed at the same time, one per thread."""
        classes = list(range(len(self.class_limits)) if classes is None else classes)
        close = self.closing_times(t) if self.forecast is not None and self.depth_at is not None else None
        if close is not None and self.cfg.route_check_s > 0:
            self.close = np.stack([c.ravel() for c in close])
            reach = math.sqrt(2.0) * self.cfg.route_check_s * float(self.v0.max(initial=0.0)) + self.h
            self.close_near = np.stack([closing_near(c, CHECK_BLOCK, int(math.ceil(reach / self.h))) for c in close])
        skip = ~self.exit_open
        jobs = [(k, t, None if close is None else close[k], skip) for k in classes]
        if len(jobs) > 1 and self.walls.size >= PARALLEL_ROUTES_CELLS:
            with ThreadPoolExecutor(max_workers=min(len(jobs), os.cpu_count() or 1)) as pool:
                spans = list(pool.map(lambda job: self._route_class(*job), jobs))
        else:
            spans = [self._route_class(*job) for job in jobs]
        self.route_span = max([self.route_span, *spans])
        self.memo_at.fill(-1)
        self.nav_updates += len(jobs)

    def _route_class(self, k: int, t: float, close: np.ndarray | None, skip: np.ndarray) -> float:
        """The routes of class ``k`` (see ``compute_routes``); returns the longest listed distance."""
        ny, nx = self.walls.shape
        speed = self.speed_grid(k, self.depth, self.flow)
        if close is not None:
            mine = (self.cls == k) & ((self.state == WAITING) | (self.state == MOVING))
            cells = (np.minimum((self.py[mine] / self.h).astype(np.int64), ny - 1) * nx
                     + np.minimum((self.px[mine] / self.h).astype(np.int64), nx - 1))
            plan_speed = float(np.median(self.v0[mine])) if mine.any() else 1.0
            reach = arrival_times(speed * np.float32(plan_speed), cells, np.maximum(self.start[mine], t), self.h, close)
            speed = np.where(np.isfinite(reach) & (reach >= close), speed * np.float32(LATE_SPEED_FACTOR),
                             speed).astype(np.float32)
            del reach
        _, val = nearest_exits(speed, self.exits.cells, self.h, self.k, skip=skip,
                               out=(self.lab[k].reshape(-1, self.k), self.val[k].reshape(-1, self.k)))
        for e in np.flatnonzero(self.dense_of >= 0):
            self.dense[k, self.dense_of[e]] = fast_marching(speed, self.exits.cells[e], self.h).ravel()
        self.nav_passable[k] = speed > 0
        self.nav_skip[k] = skip.copy()
        self.nav_time[k] = t
        self.nav_version[k] = self.water_version
        return float(np.max(val, where=np.isfinite(val), initial=0.0))

    def routes_due(self, t: float) -> list[int]:
        """Classes whose routes should follow the water now: when passability changed (at most
        every ``nav_min_interval_s``) or the water changed ``nav_refresh_s`` ago; with a
        forecast, every ``nav_refresh_s`` (the first walkers' arrival times move on)."""
        due = []
        for k in range(len(self.class_limits)):
            since = t - self.nav_time[k]
            if self.forecast is not None:
                if since >= self.cfg.nav_refresh_s:
                    due.append(k)
                continue
            if self.nav_version[k] == self.water_version or since < self.cfg.nav_min_interval_s:
                continue
            before = self.nav_passable[k]
            if since >= self.cfg.nav_refresh_s or before is None or not np.array_equal(
                    self.speed_grid(k, self.depth, self.flow) > 0, before):
                due.append(k)
        return due

    # --- choices and steps ----------------------------------------------------------------

    def choose(self, t: float, p: float) -> None:
        """Exits for those who must choose and, with probability ``p``, a better one for the others
        (``choose_exits``); when some agents' listed shelters are all full, the lists are computed
        again without the full ones and those agents choose from the next."""
        if self._choose(t, p, last=False):
            self.compute_routes(t)
            self._choose(t, 0.0, last=True)

    def _choose(self, t: float, p: float, last: bool) -> bool:
        """One round of ``choose_exits``; keeps the distances it read for the step that follows."""
        span = self.route_span + 1.0
        nbins = 4096
        ny, nx = self.walls.shape
        with kernel_launch(), numba.parallel_chunksize(CHOICE_CHUNK):  # on all threads, CHOICE_CHUNK agents at a time
            stale, self.known = choose_exits(
                self.px, self.py, self.v0, self.cls, self.state, self.target, self.assigned, self.redirected,
                self.stranded_t, self.component, self.exits.component, self.lab, self.val, self.k, self.dense,
                self.dense_of, ny, nx, self.exit_open, self.exit_flow, self.h, self.rng.random(self.n), p,
                self.cfg.hysteresis_s, self.cfg.hysteresis_frac, max(1.0, span / nbins), nbins, self.close,
                self.close_near, CHECK_BLOCK, t, self.cfg.route_check_s, last)
        return stale

    def step(self, t: float, dt: float) -> tuple[int, bool]:
        """One step of ``dt``: every agent plans and moves; those near their exit re-plan and
        move every ``plan_interval_s`` within it, those in a dense crowd (slowed below half their
        free speed) every ``slowed_plan_interval_s``, and those that, in the previous step,
        stopped short or met someone walking the other way, every 2.5 × ``plan_interval_s``, so
        their reactions do not lag by a long step."""
        ny, nx = self.walls.shape
        with kernel_launch():  # the distances are read on all threads
            order = crowd.front_first_order(self.px, self.py, self.state, self.target, self.cls, self.lab, self.val,
                                            self.k, self.dense, self.dense_of, ny, nx, self.h, 0.25, self.known)
        self.known = NO_DISTANCES  # read at the positions before this step's moves
        walkers = heading_agents(self.state, self.target)  # the same agents, in storage order
        self.t_from[walkers] = t
        self.span[walkers] = dt
        self._plan(walkers, dt)
        fine = _sub_steps(dt, self.cfg.plan_interval_s)
        if fine == 1:
            return len(order), self._move(order, self._strips(order, np.ones(len(order), dtype=np.int64)))
        parts = np.empty(len(order), dtype=np.int64)
        busy = _sub_steps(dt, 2.5 * self.cfg.plan_interval_s)
        slowed = _sub_steps(dt, self.cfg.slowed_plan_interval_s)
        sub = split_steps(order, self.busy, self.plan, self.v0, self.near, dt, busy, slowed, fine, parts, self.parts,
                          self.span)
        if sub.size:
            self._plan(np.sort(sub), dt)
        strips = self._strips(order, parts)
        filled = self._move(order, strips)
        for k in range(1, fine):
            if sub.size == 0:
                break
            sub, due = due_sub_steps(sub, k, fine, self.state, self.target, self.parts, self.t_from, self.span, t, dt)
            if due.size:
                self._plan(np.sort(due), dt)
                filled |= self._move(due, strips)
        return len(order), filled

    def _plan(self, agents: np.ndarray, dt: float) -> None:
        """Heading and step of ``agents`` for steps of their ``span`` (s, set by the caller) within a
        step of ``dt`` (``crowd.plan_steps``). Each agent plans on its own from where everyone stands,
        so the order does not matter to the result; the callers give the storage order, in which
        agents near one another lie near one another in memory (planning front first, as the
        moves go, took 0.25 s against 0.15 s for the whole city's 258,476 walkers at 900 s)."""
        ex, cfg = self.exits, self.cfg
        parallel = len(agents) >= crowd.PARALLEL_PLAN
        kernel = crowd.plan_steps_parallel if parallel else crowd.plan_steps
        with kernel_launch() if parallel else contextlib.nullcontext():
            kernel(agents, dt, self.span, self.px, self.py, self.vx, self.vy, self.v0, self.lim_d, self.lim_dv,
                   self.cls, self.target, self.lab, self.val, self.k, self.dense, self.dense_of, self.walls,
                   self.depth, self.flow, self.area_fraction, self.h, ex.x, ex.y, self.head, self.nxt,
                   self.bin_size, self.nbx, self.nby, cfg.body_m, cfg.density_radius_m, cfg.creep_factor,
                   self.dirx, self.diry, self.plan, cfg.headway_s, self.near, self.memo_at, self.memo)

    def _strips(self, order: np.ndarray, work: np.ndarray) -> np.ndarray | None:
        """Where to cut the grid into strips moved side by side this step (bin columns), or None
        when the batch is small or the grid too narrow for three strips; ``work[q]`` is how many
        times ``order[q]`` moves this step, which the strips share out evenly. A strip must be wider
        than twice what an agent can touch beyond its own: its step, its reach for others and a
        pushed body's, a bin, a shelter's radius (``crowd.move_strips``)."""
        if len(order) < crowd.PARALLEL_MOVE:
            return None
        cfg = self.cfg
        step = float(self.plan[order].max())
        reach = max(step + 2.0 * cfg.body_m, crowd.LOOK_CAP_M)
        touch = step + reach + cfg.body_m + self.bin_size
        shelter = float(self.exits.radius.max()) + step + self.bin_size if len(self.exits.radius) else 0.0
        min_cols = int(math.ceil(crowd.STRIP_SAFETY * 2.0 * max(touch, shelter) / self.bin_size))
        if self.nbx < 3 * min_cols:
            return None
        return crowd.strip_edges(order, work, self.px, self.bin_size, self.nbx, min_cols, crowd.MOVE_STRIPS)

    def _move(self, order: np.ndarray, strips: np.ndarray | None) -> bool:
        """Move the agents in ``order`` by their planned steps, strip by strip on all threads
        when ``strips`` are given (``_strips``); True if an exit filled."""
        ex, cfg = self.exits, self.cfg
        self.moves += 1
        key = np.uint64((cfg.seed * 0x9E3779B97F4A7C15 + self.moves * 0xD1B54A32D192ED03) % 2**64)
        common = (key, self.t_from, self.span, self.px, self.py, self.vx, self.vy, self.lim_d, self.lim_dv, self.state,
                  self.target, self.assigned, self.arrival, self.arrived_exit, self.dirx, self.diry, self.plan,
                  self.walls, self.clear, self.depth, self.flow, self.h, ex.x, ex.y, ex.radius, self.exit_open,
                  self.exit_count, ex.capacity, ex.cell_map, self.head, self.nxt, self.prv, self.binof, self.bin_size,
                  self.nbx, self.nby, cfg.body_m, cfg.core_m, cfg.anticipation_s, self.side, self.cand_cos,
                  self.cand_sin, cfg.sub_move_m, self.busy)
        if strips is None or len(order) < crowd.PARALLEL_MOVE:
            return crowd.move_agents(order, np.array([0, len(order)]), 0, *common)
        grouped, offsets = crowd.group_by_strip(order, self.px, self.bin_size, self.nbx, strips)
        with kernel_launch(), numba.parallel_chunksize(1):
            return crowd.move_strips(grouped, offsets, self.moves % 2, *common)

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
    forecast_times: Sequence[float] | np.ndarray | None = None,
) -> EvacuationResult:
    """Evacuate ``agents`` to ``exits`` over the raster ``walls`` (True = impassable).

    ``walls[row, col]`` is north-up with ``origin`` = (x of the west edge, y of the north edge)
    in map metres. ``agents`` has columns ``id, x, y`` and optionally ``speed_mps, profile,
    start_s, exit_id``; ``exits`` has ``id, x, y, radius_m`` and optionally ``capacity``.
    ``depth(t)`` gives the water on the same grid at time ``t`` (s): a depth grid (m), a
    ``Water`` or a tuple ``(depth, speed)`` / ``(depth, u, v)`` with the flow in m/s.
    ``forecast_times``: when the flood is known in advance (a finished flood result), the
    times at which ``depth`` may be read ahead of the clock (its frames); routes then plan on
    the water at the time the first walker can reach each cell.
    ``progress(t, arrived, stranded)`` is called after every step.
    """
    cfg = (config or EvacuationConfig()).checked()
    walls = np.asarray(walls)
    if walls.ndim != 2 or walls.size == 0:
        raise SimInputError(f"walls must be a non-empty 2-D grid, got shape {walls.shape}")
    if not cell_size > 0:
        raise SimInputError("cell size must be positive")
    if forecast_times is not None and depth is None:
        raise SimInputError("forecast_times needs a depth provider")
    clock = time.perf_counter()
    run = _Run(walls.astype(bool), cell_size, origin, agents, exits, depth, forecast_times, cfg)
    if depth is not None:
        run.update_water(0.0)
    run.compute_routes(0.0)
    crowd.link_all(run.px, run.py, run.state, run.bin_size, run.nbx, run.nby, run.head, run.nxt, run.prv,
                   run.binof)
    back = np.empty(run.n, dtype=np.int64)  # the stored index of each input agent (``_Run.store_in_space_order``)
    back[run.input_index] = np.arange(run.n)
    rec_t, rec_i, rec_x, rec_y = [], [], [], []
    t, steps, agent_steps = 0.0, 0, 0
    next_record, next_choice, next_water = 0.0, 0.0, cfg.water_interval_s
    next_sort = 0.0
    n_steps = int(math.ceil(cfg.duration_s / cfg.dt_s - 1e-9))
    for steps in range(1, n_steps + 1):
        t = (steps - 1) * cfg.dt_s
        if depth is not None and t >= next_water - 1e-9:
            run.update_water(t)
            next_water = t + cfg.water_interval_s
            due = run.routes_due(t)
            if due:
                run.compute_routes(t, due)
                next_choice = t
        if run.n >= SORT_AGENTS_FROM and t >= next_sort - 1e-9:
            run.store_in_space_order()
            back[run.input_index] = np.arange(run.n)
            next_sort = t + SORT_EVERY_S
        started = set_off(run.state, run.start, t)
        choice_due = t >= next_choice - 1e-9
        if choice_due or started:
            run.choose(t, cfg.reconsider_p if choice_due else 0.0)
            if choice_due:
                next_choice = t + cfg.choice_interval_s
        if t >= next_record - 1e-9:
            present = (run.state == WAITING) | (run.state == MOVING)
            gx, gy = run.positions()
            rows = np.flatnonzero(present[back])  # input rows of those present, in the input's order
            rec_t.append(np.full(rows.size, t))
            rec_i.append(rows)
            rec_x.append(gx[back[rows]])
            rec_y.append(gy[back[rows]])
            next_record = t + cfg.trajectory_interval_s
        moved, filled = run.step(t, cfg.dt_s)
        agent_steps += moved
        if filled:
            next_choice = t + cfg.dt_s
        arrived, stranded, waiting, heading = census(run.state, run.target)
        if progress is not None:
            progress(t + cfg.dt_s, arrived, stranded)
        if not filled and not waiting and not heading:
            break
    t_end = steps * cfg.dt_s
    gx, gy = run.positions()
    sx = np.where(np.isfinite(run.stranded_t), gx, np.nan)
    sy = np.where(np.isfinite(run.stranded_t), gy, np.nan)
    which = np.where(run.arrived_exit >= 0, run.arrived_exit, run.target)
    exit_id = np.where(which >= 0, run.exits.ids[np.maximum(which, 0)], "")
    idx = np.concatenate(rec_i) if rec_i else np.zeros(0, dtype=np.int64)
    traj = pd.DataFrame({"agent_id": run.ids[back][idx], "t": np.concatenate(rec_t) if rec_t else [],
                         "x": np.concatenate(rec_x) if rec_x else [],
                         "y": np.concatenate(rec_y) if rec_y else []})
    return EvacuationResult(
        agent_id=run.ids[back], exit_id=exit_id[back], start_s=run.start[back], arrival_s=run.arrival[back],
        stranded_s=run.stranded_t[back], stranded_x=sx[back], stranded_y=sy[back], trajectories=traj,
        simulated_s=t_end, steps=steps, agent_steps=agent_steps,
        wall_s=time.perf_counter() - clock, navigation_updates=run.nav_updates, redirected=run.redirected[back])
