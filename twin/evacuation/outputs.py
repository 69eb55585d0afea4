"""What a city evacuation writes, in people as well as agents, and reads back for the viewer.

The folder holds ``agents.parquet``, ``trajectories.parquet``, ``arrivals.csv``,
``clearance.csv``, ``shelters.csv``, ``stranded.csv``, ``buildings.csv``, ``occupancy.csv`` and
``summary.json`` (docs/evacuation.md, "On the city"). ``agents_at`` reads a finished folder
back as positions and states at one time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from sim.evacuation import EvacuationResult
from twin.city.grids import CityGrids
from twin.evacuation.population import Occupancy
from twin.files.atomic import write_json, write_with

STATES = ("waiting", "walking", "arrived", "stranded")
#: The result files a client may read from an evacuation folder.
EVACUATION_FILES = ("summary.json", "clearance.csv", "shelters.csv", "stranded.csv", "buildings.csv", "arrivals.csv",
                    "occupancy.csv")


@dataclass
class CityOutputs:
    """The tables of a finished city run, in people as well as agents."""

    city: CityGrids
    buildings: gpd.GeoDataFrame
    people: np.ndarray  # per building
    agents: pd.DataFrame
    shelters: pd.DataFrame
    result: EvacuationResult
    catchment: np.ndarray  # per agent: index of the shelter nearest on foot
    record_interval_s: float

    @property
    def weight(self) -> np.ndarray:
        return self.agents["weight"].to_numpy(float)

    def to_lonlat(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.city.map_to_lonlat(x, y)

    def agent_table(self) -> pd.DataFrame:
        r, a = self.result, self.agents
        lon0, lat0 = self.to_lonlat(a["x"].to_numpy(), a["y"].to_numpy())
        slon, slat = self.to_lonlat(np.nan_to_num(r.stranded_x), np.nan_to_num(r.stranded_y))
        stranded = np.isfinite(r.stranded_s)
        return pd.DataFrame({
            "agent_id": a["id"].to_numpy(), "gml_id": self.buildings["gml_id"].to_numpy()[a["building"].to_numpy()],
            "profile": a["profile"].to_numpy(), "people": self.weight, "start_s": r.start_s,
            "lon": lon0, "lat": lat0, "exit_id": r.exit_id, "redirected": r.redirected, "arrival_s": r.arrival_s,
            "stranded_s": r.stranded_s,
            "stranded_lon": np.where(stranded, slon, np.nan), "stranded_lat": np.where(stranded, slat, np.nan)})

    def clearance(self) -> pd.DataFrame:
        r = self.result
        times = np.arange(0.0, r.simulated_s + self.record_interval_s, self.record_interval_s)
        times[-1] = min(times[-1], r.simulated_s)
        arrived = _weighted_before(r.arrival_s, self.weight, times)
        stranded = _weighted_before(r.stranded_s, self.weight, times)
        total = self.weight.sum()
        return pd.DataFrame({"t_s": times, "arrived": arrived.round(2), "stranded": stranded.round(2),
                             "evacuating": (total - arrived - stranded).round(2)})

    def arrived_at(self) -> np.ndarray:
        """Per agent: index of the shelter it reached, -1 when it reached none."""
        index = {s: k for k, s in enumerate(self.shelters["shelter_id"].astype(str))}
        reached = np.array([index.get(str(e), -1) for e in self.result.exit_id], dtype=np.int64)
        return np.where(np.isfinite(self.result.arrival_s), reached, -1)

    def shelter_table(self) -> pd.DataFrame:
        ids = self.shelters["shelter_id"].astype(str).to_numpy()
        reached = self.arrived_at()
        moved_on = (reached >= 0) & self.result.redirected  # sent on by a shelter that filled (the engine's count)
        arrivals = np.bincount(reached[reached >= 0], weights=self.weight[reached >= 0], minlength=len(ids))
        redirected_in = np.bincount(reached[moved_on], weights=self.weight[moved_on], minlength=len(ids))
        demand = np.bincount(self.catchment, weights=self.weight, minlength=len(ids))
        capacity = self.shelters["capacity"].to_numpy(float)
        overflow = np.where(np.isfinite(capacity), np.maximum(demand - capacity, 0.0), 0.0)
        return pd.DataFrame({"shelter_id": ids, "name": self.shelters["name"].to_numpy(),
                             "lon": self.shelters["lon"].to_numpy(), "lat": self.shelters["lat"].to_numpy(),
                             "capacity": capacity, "arrivals": arrivals.round(2), "overflow": overflow.round(2),
                             "redirected_in": redirected_in.round(2)})

    def stranded_table(self, agents: pd.DataFrame) -> pd.DataFrame:
        s = agents[agents["stranded_s"].notna()]
        return pd.DataFrame({"agent_id": s["agent_id"], "profile": s["profile"], "t_s": s["stranded_s"],
                             "lon": s["stranded_lon"], "lat": s["stranded_lat"], "people": s["people"].round(3)})

    def building_table(self, agents: pd.DataFrame) -> pd.DataFrame:
        times = agents["arrival_s"].fillna(np.inf)
        median = times.groupby(agents["gml_id"]).median()
        table = pd.DataFrame({"gml_id": self.buildings["gml_id"].to_numpy(), "people": self.people.round(2)})
        table["median_evacuation_s"] = table["gml_id"].map(median).replace(np.inf, np.nan).round(1)
        return table

    def summary(self) -> dict:
        r = self.result
        arrived, stranded = np.isfinite(r.arrival_s), np.isfinite(r.stranded_s)
        by_profile = pd.Series(self.weight).groupby(self.agents["profile"].to_numpy()).sum()
        # left without a shelter: neither arrived nor stranded, and heading nowhere at the end (every
        # shelter they could reach was full)
        no_place = ~arrived & ~stranded & (r.exit_id == "")
        return {"people": round(float(self.people.sum()), 1),
                "people_represented": round(float(self.weight.sum()), 1),
                "people_arrived": round(float(self.weight[arrived].sum()), 1),
                "people_stranded": round(float(self.weight[stranded].sum()), 1),
                "people_redirected": round(float(self.weight[r.redirected].sum()), 1),
                "people_without_shelter_place": round(float(self.weight[no_place].sum()), 1),
                "people_by_profile": {k: round(float(v), 1) for k, v in by_profile.items()},
                "shelters": len(self.shelters),
                "vertical_shelters": int((self.shelters["kind"] == "vertical").sum())}

    def write(self, out: Path, summary: dict, occupancy: Occupancy) -> None:
        out.mkdir(parents=True, exist_ok=True)
        agents = self.agent_table()
        traj = self.result.trajectories
        lon, lat = self.to_lonlat(traj["x"].to_numpy(), traj["y"].to_numpy())
        traj = traj.assign(lon=lon, lat=lat)
        write_with(out / "agents.parquet", lambda p: agents.to_parquet(p, index=False))
        write_with(out / "trajectories.parquet", lambda p: traj.to_parquet(p, index=False))
        write_with(out / "arrivals.csv", lambda p: agents[["agent_id", "exit_id", "start_s", "arrival_s"]]
                   .to_csv(p, index=False))
        write_with(out / "clearance.csv", lambda p: self.clearance().to_csv(p, index=False))
        write_with(out / "shelters.csv", lambda p: self.shelter_table().to_csv(p, index=False))
        write_with(out / "stranded.csv", lambda p: self.stranded_table(agents).to_csv(p, index=False))
        write_with(out / "buildings.csv", lambda p: self.building_table(agents).to_csv(p, index=False))
        write_with(out / "occupancy.csv", occupancy.to_csv)
        write_json(out / "summary.json", summary)


def _weighted_before(times: np.ndarray, weight: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Sum of ``weight`` over the finite ``times`` ≤ each of ``at``."""
    done = np.isfinite(times)
    order = np.argsort(times[done])
    cum = np.concatenate([[0.0], np.cumsum(weight[done][order])])
    return cum[np.searchsorted(times[done][order], at, side="right")]



def agents_at(folder: Path, t: float) -> dict:
    """Every agent's lon, lat and state at the recorded time nearest ``t`` (s) of a finished run."""
    agents = pd.read_parquet(folder / "agents.parquet")
    traj = pd.read_parquet(folder / "trajectories.parquet", columns=["agent_id", "t", "lon", "lat"])
    times = np.unique(traj["t"].to_numpy()) if len(traj) else np.array([0.0])
    k = int(np.argmin(np.abs(times - t)))
    when = float(times[k])
    at = traj[traj["t"] == when].set_index("agent_id")
    lon = agents["lon"].to_numpy(float).copy()
    lat = agents["lat"].to_numpy(float).copy()
    ids = agents["agent_id"].to_numpy()
    present = np.isin(ids, at.index.to_numpy())
    lon[present] = at.loc[ids[present], "lon"].to_numpy()
    lat[present] = at.loc[ids[present], "lat"].to_numpy()
    state = np.where(agents["start_s"].to_numpy() > when, 0, 1)
    arrived = agents["arrival_s"].to_numpy() <= when
    stranded = agents["stranded_s"].to_numpy() <= when
    shelters = pd.read_csv(folder / "shelters.csv", dtype={"shelter_id": str})
    where = shelters.set_index("shelter_id")
    ex = agents["exit_id"].astype(str).to_numpy()
    at_shelter = arrived & np.isin(ex, where.index.to_numpy())
    lon[at_shelter] = where.loc[ex[at_shelter], "lon"].to_numpy()
    lat[at_shelter] = where.loc[ex[at_shelter], "lat"].to_numpy()
    lon[stranded] = agents["stranded_lon"].to_numpy()[stranded]
    lat[stranded] = agents["stranded_lat"].to_numpy()[stranded]
    state = np.where(arrived, 2, np.where(stranded, 3, state))
    load = pd.Series(agents["people"].to_numpy()[arrived]).groupby(ex[arrived]).sum()
    return {"t_s": when, "requested_t_s": t, "times_s": times.tolist(), "count": len(ids),
            "states": list(STATES),
            "agents": [{"id": int(i), "lon": round(float(a), 7), "lat": round(float(b), 7), "state": STATES[s]}
                       for i, a, b, s in zip(ids, lon, lat, state)],
            "shelter_load": {str(k): round(float(v), 1) for k, v in load.items()}}
