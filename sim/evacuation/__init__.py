"""Agent-based evacuation on a walkable raster, with water that slows and strands people.

    from sim.evacuation import simulate
    result = simulate(walls, cell_size, origin, agents, exits, depth=None)
"""

from sim.evacuation.fundamental_diagram import weidmann_flow, weidmann_speed
from sim.evacuation.model import MAX_DT_S, DepthProvider, EvacuationConfig, EvacuationResult, Water, simulate
from sim.evacuation.profiles import DEFAULT_PROFILES, Distribution, Profile
from sim.evacuation.water import blend_frames

__all__ = [
    "DEFAULT_PROFILES",
    "DepthProvider",
    "Distribution",
    "EvacuationConfig",
    "EvacuationResult",
    "MAX_DT_S",
    "Profile",
    "Water",
    "blend_frames",
    "simulate",
    "weidmann_flow",
    "weidmann_speed",
]
