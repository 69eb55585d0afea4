"""Errors the engines raise for inputs they cannot run on."""


class SimInputError(ValueError):
    """Inputs that do not fit together (shapes, CRSs, values out of range)."""
