"""A flood model's state at one time, to save and to start again from (warm starts).

A :class:`FloodState` holds everything a step reads that is not rebuilt from the terrain and
the forcing: the depths, the scheme's discharges (face discharges for the inertial scheme,
cell discharges and velocities for the full one) and its wave speed, the maxima and arrival
times recorded so far, the volume budget and the clock. A model restored from it steps on as
the model it came from would have, to round-off (``tests/sim/test_flood_state.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import SimInputError

_SCALARS = ("time", "steps", "wave_speed")
_BUDGET = ("initial_m3", "rain_m3", "inflow_m3", "boundary_in_m3", "boundary_out_m3")


@dataclass
class FloodState:
    """The state of a :class:`sim.flood.FloodModel` at ``time`` (s of the model's clock).

    ``solver`` holds the scheme's own arrays by name (``qx``, ``qy`` for ``"inertial"``;
    ``hu``, ``hv``, ``u``, ``v`` for ``"full"``); ``budget`` the volumes of
    :class:`sim.flood.MassBalance` (m³) so far.
    """

    scheme: str
    time: float
    steps: int
    depth: np.ndarray
    solver: dict[str, np.ndarray]
    wave_speed: float
    max_depth: np.ndarray
    arrival: np.ndarray  # s of first depth above the arrival depth; +inf until then
    max_speed2: np.ndarray
    budget: dict[str, float] = field(default_factory=dict)

    def save(self, path: Path) -> None:
        """Write the state to ``path`` (an ``.npz`` file; the caller chooses how to make it atomic)."""
        arrays: dict[str, Any] = {f"solver_{k}": v for k, v in self.solver.items()}
        arrays.update(scheme=np.array(self.scheme), time=np.float64(self.time), steps=np.int64(self.steps),
                      wave_speed=np.float64(self.wave_speed), depth=self.depth, max_depth=self.max_depth,
                      arrival=self.arrival, max_speed2=self.max_speed2,
                      budget=np.array([self.budget.get(k, 0.0) for k in _BUDGET]))
        np.savez(path, **arrays)

    @classmethod
    def load(cls, path: Path) -> FloodState:
        """Read a state written by :meth:`save`."""
        try:
            with np.load(path, allow_pickle=False) as f:
                names = set(f.files)
                missing = {"scheme", "depth", "max_depth", "arrival", "max_speed2", "budget", *_SCALARS} - names
                if missing:
                    raise SimInputError(f"{path}: not a flood state (missing {', '.join(sorted(missing))})")
                return cls(scheme=str(f["scheme"]), time=float(f["time"]), steps=int(f["steps"]),
                           depth=f["depth"], wave_speed=float(f["wave_speed"]),
                           solver={k.removeprefix("solver_"): f[k] for k in names if k.startswith("solver_")},
                           max_depth=f["max_depth"], arrival=f["arrival"], max_speed2=f["max_speed2"],
                           budget=dict(zip(_BUDGET, map(float, f["budget"]), strict=True)))
        except (OSError, ValueError, KeyError) as exc:
            if isinstance(exc, SimInputError):
                raise
            raise SimInputError(f"{path}: cannot read a flood state ({exc})") from exc
