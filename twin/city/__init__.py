"""The City folder: its layout and every part a converted city holds (grids, shelters, hazard areas)."""
