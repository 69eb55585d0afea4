"""Evacuations on grids and on a City: population, placement, hazard depth, outputs and runs."""
