"""Flood engine on a raster: the local inertial scheme (Bates et al. 2010; de Almeida et al.
2012) and a full shallow-water Godunov-type scheme (HLLC, Audusse et al. 2004), with
:func:`choose_scheme` to pick between them."""

from sim.flood.choice import SchemeChoice, SchemeKind, choose_scheme
from sim.flood.forcing import Boundaries, Boundary, Forcing, Inflow, Rain, Series
from sim.flood.model import FloodModel, FloodResult, Gauge, MassBalance, Scheme, Snapshot, simulate

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
    "SchemeChoice",
    "SchemeKind",
    "Series",
    "Snapshot",
    "choose_scheme",
    "simulate",
]
