"""Flood ensembles: many members of one scenario with varied inputs, run on dask.distributed, and the odds."""
