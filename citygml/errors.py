"""Errors and warnings the reader reports, each naming the file and the place in it."""

from __future__ import annotations

from dataclasses import dataclass


class CityGMLError(ValueError):
    """Input that cannot be read at all: ``file:line: what is wrong``."""

    def __init__(self, source: str, message: str, line: int | None = None) -> None:
        self.source = source
        self.line = line
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class ReadWarning:
    """Something skipped while the rest of the file was read."""

    source: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.message}"
