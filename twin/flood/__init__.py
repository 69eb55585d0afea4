"""Floods on grids and on a City: the scenario format, built-in scenarios, grid runs and city runs."""
