"""Small durable-file mechanisms, written once: atomic writes, rasters, job state."""
