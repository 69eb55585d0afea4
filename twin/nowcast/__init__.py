"""Nowcasts: a City's flood run forward from the live gauges, cycle after cycle (docs/forecasting.md)."""
