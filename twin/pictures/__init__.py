"""Every picture the twin draws: offscreen city renders, SVG charts, grids as lon/lat PNGs."""
