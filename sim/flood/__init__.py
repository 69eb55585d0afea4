"""Flood engine: local inertial shallow water on a raster (Bates et al. 2010; de Almeida et al. 2012)."""

from sim.flood.forcing import Boundaries, Boundary, Forcing, Inflow, Rain, Series
from sim.flood.model import FloodModel, FloodResult, Gauge, MassBalance, Scheme, SchemeKind, Snapshot, simulate

__all__ = [
    "Boundaries",
    "Boundary",
    "FloodModel",
    "FloodResult",
    "Forcing",
    "Gauge",
    "Inflow",
    "MassBalance",
    "Rain",
    "Scheme",
    "Series",
    "Snapshot",
    "simulate",
]
