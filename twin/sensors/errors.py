"""The one error type of sensor input, with the HTTP status and problem type it maps to."""

from __future__ import annotations

from twin.errors import TwinInputError


class SensorInputError(TwinInputError):
    """Bad sensor input: answered as problem+json ``/problems/{slug}`` with ``status``."""

    def __init__(self, detail: str, status: int = 422, slug: str = "validation") -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
