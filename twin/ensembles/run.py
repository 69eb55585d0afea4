"""An ensemble from start to end: check, write the design, run the members, stream the counts, write maps.

``run_ensemble`` checks everything it can before writing a byte (the parameters, the design, every
member's inputs on the City's grid), writes ``members.csv``, then hands the members to a runner
(``twin.convert.runners``: in this process one after the other, or on dask.distributed workers of a
LocalCluster or of a scheduler whose workers see the same folders). As each member finishes its
maps are added to the counts (``twin.ensembles.statistics.Exceedance``); a member that fails is run
once more, and if it fails again it is reported in ``summary.json`` and left out. Percentiles are
computed at the end from the members' saved rasters, then the outputs are written
(``twin.ensembles.outputs``) and ``summary.json`` last, so its presence means the ensemble is whole.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from sim.flood import Scheme
from twin.city.grids import CityGrids, load_grids, require_measured_terrain
from twin.convert.runners import Runner, dask_runner, run_inline
from twin.ensembles import outputs
from twin.ensembles.design import MIN_MEMBERS, PARAMETERS, Design, Varied, latin_hypercube, write_design
from twin.ensembles.members import (
    ARRIVAL,
    MAX_DEPTH,
    SUMMARY,
    WETTED,
    MemberOutcome,
    MemberTask,
    member_folder,
    member_inputs,
    run_member,
)
from twin.ensembles.statistics import EXCEEDANCE_DEPTHS_M, PERCENTILES, Exceedance, percentiles
from twin.errors import TwinInputError
from twin.files.atomic import write_json
from twin.flood.city_run import flood_run
from twin.flood.scenario import Scenario

DESIGN_FILE = "members.csv"
SUMMARY_FILE = "summary.json"


@dataclass(frozen=True)
class EnsembleSpec:
    """An ensemble of ``scenario`` on the City at ``city``: what varies, how many members, the seed."""

    city: Path
    scenario: Scenario
    varied: tuple[Varied, ...]
    members: int
    seed: int = 0
    cell_size: float | None = None
    scheme: Scheme | None = None  # default: the scenario's scheme, one numba thread per member
    evacuation: dict | None = None  # options of an evacuation per member (twin.evacuation.city_run)
    allow_estimated_terrain: bool = False
    fail_attempts: dict[int, int] = field(default_factory=dict)  # test hook: member → attempts that fail

    def member_scheme(self) -> Scheme:
        # Members are the parallelism: one thread each keeps N workers on N cores without oversubscription.
        return self.scheme or Scheme(kind=self.scenario.scheme, threads=1)


#: A member finished (ok or not): the outcome, members finished so far, members to run in all.
OnMember = Callable[[MemberOutcome, int, int], None]


@contextmanager
def ensemble_runner(workers: int, scheduler: str | None = None) -> Iterator[Runner]:
    """Members on ``workers`` local dask worker processes, on the cluster at ``scheduler``, or with
    ``workers`` 0 and no scheduler one after the other in this process."""
    if scheduler is None and workers == 0:
        yield run_inline
        return
    with ExitStack() as stack:
        try:
            # spawned, not forked: a server or a benchmark that ran a flood here holds numba's OpenMP threads
            runner = stack.enter_context(dask_runner(max(workers, 1), scheduler, start_method="spawn"))
        except OSError as exc:
            if scheduler is None:
                raise
            raise TwinInputError(f"--scheduler {scheduler}: cannot reach the dask scheduler ({exc})") from None
        yield runner


def prepare(spec: EnsembleSpec) -> tuple[Design, CityGrids]:
    """The design and the City's grids; TwinInputError for anything a member would trip on."""
    design = latin_hypercube(spec.varied, spec.members, spec.seed)
    if spec.evacuation is not None:
        from twin.evacuation.city_run import evacuation_spec

        evacuation_spec(spec.evacuation, None, spec.cell_size)
    if not spec.city.is_dir():
        raise TwinInputError(f"{spec.city}: no such City folder")
    city = load_grids(spec.city, spec.cell_size)
    require_measured_terrain(city, spec.allow_estimated_terrain)
    for m in range(design.members):  # positions off the grid or inside a building fail now, not on a worker
        scenario, grids = member_inputs(spec.scenario, city, design.member(m))
        flood_run(grids, scenario)
    return design, city


def run_ensemble(spec: EnsembleSpec, out: Path, runner: Runner = run_inline,
                 on_member: OnMember = lambda outcome, done, total: None) -> dict:
    """Run the ensemble into ``out`` (new or empty); returns the summary also written to summary.json."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise TwinInputError(f"{out}: exists and is not an empty folder; give a new output folder")
    design, city = prepare(spec)
    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    write_design(out / DESIGN_FILE, design)
    counts = Exceedance(city.terrain.shape, len(city.buildings))
    tasks = {m: MemberTask(index=m, values=design.member(m), city=spec.city.resolve(), cell_size=spec.cell_size,
                           scenario=spec.scenario, folder=member_folder(out.resolve(), m),
                           scheme=spec.member_scheme(), evacuation=spec.evacuation,
                           fail_attempts=spec.fail_attempts.get(m, 0))
             for m in range(design.members)}
    used: list[int] = []
    errors: dict[int, list[str]] = {}
    walls: list[float] = []

    def done(outcome: MemberOutcome) -> None:
        walls.append(outcome.wall_s)
        if outcome.error is None:
            counts.add(np.load(outcome.folder / MAX_DEPTH), np.load(outcome.folder / WETTED))
            used.append(outcome.index)
        else:
            errors.setdefault(outcome.index, []).append(outcome.error)
        on_member(outcome, len(walls), design.members + len(errors))

    runner(run_member, [(task,) for task in tasks.values()], done)
    first_failures = sorted(errors)
    runner(run_member, [(replace(tasks[m], attempt=2),) for m in first_failures], done)
    used.sort()
    failed = [m for m in first_failures if m not in used]
    summary = _summary(spec, design, city, used, failed, first_failures, errors, out)
    if len(used) < MIN_MEMBERS:
        summary["status"] = "failed"
        write_json(out / SUMMARY_FILE, summary)
        raise TwinInputError(f"only {len(used)} of {design.members} members ran (see {out / SUMMARY_FILE}): "
                             + (errors[failed[0]][-1].splitlines()[0] if failed else ""))
    _write_maps(out, city, counts, used, summary)
    summary["wall_s"] = round(time.perf_counter() - start, 3)
    summary["member_wall_s"] = {"mean": round(float(np.mean(walls)), 3), "max": round(float(np.max(walls)), 3)}
    write_json(out / SUMMARY_FILE, summary)
    return summary


def _write_maps(out: Path, city: CityGrids, counts: Exceedance, used: list[int], summary: dict) -> None:
    folders = [member_folder(out, m) for m in used]
    depth_q = percentiles([f / MAX_DEPTH for f in folders], PERCENTILES)
    arrival_q = percentiles([f / ARRIVAL for f in folders], PERCENTILES, nan_is_never=True)
    probability = counts.probability()
    outputs.write_netcdf(out / outputs.NETCDF, city.terrain, probability, counts.depths_m, depth_q, arrival_q,
                         PERCENTILES, {"members_used": len(used), "seed": summary["seed"],
                                       "city": city.id, "scenario": summary["scenario"],
                                       "varied": json.dumps(summary["varied"])})
    outputs.write_buildings(out / outputs.BUILDINGS, city.buildings, counts.wetted, counts.members)
    rectangle = outputs.write_picture(out / outputs.PICTURE, city.terrain,
                                      probability[EXCEEDANCE_DEPTHS_M.index(0.5)])
    p_wet = counts.building_probability()
    summary.update(status="done", picture={"file": outputs.PICTURE, "rectangle": rectangle,
                                           "shows": "P(max depth ≥ 0.5 m)"},
                   buildings={"count": int(len(p_wet)),
                              "wetted_in_any": int((p_wet > 0).sum()),
                              "wetted_in_half_or_more": int((p_wet >= 0.5).sum()),
                              "wetted_in_all": int((p_wet >= 1).sum())},
                   cells={f"p_exceed_{d:g}m_any": int((counts.cells[k] > 0).sum())
                          for k, d in enumerate(counts.depths_m)})


def _summary(spec: EnsembleSpec, design: Design, city: CityGrids, used: list[int], failed: list[int],
             retried: list[int], errors: dict[int, list[str]], out: Path) -> dict:
    members = [json.loads((member_folder(out, m) / SUMMARY).read_text(encoding="utf-8")) for m in used]
    figures = {}
    for key in ("max_depth_m", "flooded_area_m2", "buildings_wetted"):
        values = np.array([m[key] for m in members], float)
        figures[key] = ({f"p{q}": float(np.percentile(values, q, method="inverted_cdf")) for q in PERCENTILES}
                        if len(values) else None)
    return {
        "city": city.id, "scenario": spec.scenario.name, "seed": design.seed,
        "cell_size_m": city.terrain.cell_size,
        "varied": {v.name: {"low": v.low, "high": v.high, "unit": PARAMETERS[v.name].unit,
                            "meaning": PARAMETERS[v.name].meaning} for v in design.varied},
        "design": {"method": "Latin hypercube (scipy.stats.qmc.LatinHypercube)", "file": DESIGN_FILE},
        "members_requested": design.members, "members_used": len(used), "used": used,
        "retried": [m for m in retried if m in used],
        "failed": [{"member": m, "values": design.member(m), "errors": [e.splitlines()[0] for e in errors[m]]}
                   for m in failed],
        "statistics": {"exceedance_depths_m": list(EXCEEDANCE_DEPTHS_M), "percentiles": list(PERCENTILES),
                       "percentile_method": "inverted CDF (Hyndman & Fan 1996, definition 1)",
                       "wet_depth_m": spec.scenario.arrival_depth_m},
        "member_figures": figures,
        "evacuation": _evacuation_figures(members) if spec.evacuation is not None else None,
        "outputs": {"netcdf": outputs.NETCDF, "buildings": outputs.BUILDINGS, "design": DESIGN_FILE,
                    "members": "members/NNNN/ (max_depth.npy, arrival_time.npy, wetted.npy, summary.json)"},
    }


def _evacuation_figures(members: list[dict]) -> dict:
    out = {}
    for key in ("arrived", "stranded", "evacuation_time_s"):
        values = np.array([m["evacuation"][key] for m in members if m["evacuation"].get(key) is not None], float)
        out[key] = ({f"p{q}": float(np.percentile(values, q, method="inverted_cdf")) for q in PERCENTILES}
                    if len(values) else None)
    return out
