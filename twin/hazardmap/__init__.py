"""What the public hazard map (``/hazard``) needs: shelter walks, footprints, the published depth."""
