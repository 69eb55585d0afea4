"""Errors and warnings the reader reports, each naming the file and the place in it."""

from __future__ import annotations

from dataclasses import dataclass

#: How many places a repeated warning lists (the first ones met).
FIRST_PLACES = 3


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
    """Something skipped while the rest of the file was read.

    A message met several times in one file is one warning: ``count`` says how often,
    ``line`` is the first place and ``lines`` the first few.
    """

    source: str
    line: int | None
    message: str
    count: int = 1
    lines: tuple[int, ...] = ()

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        if self.count == 1:
            return f"{where}: {self.message}"
        places = f", first at lines {', '.join(map(str, self.lines))}" if len(self.lines) > 1 else ""
        return f"{where}: {self.message} ({self.count} times{places})"


class WarningLog:
    """The warnings of one source: each distinct message once, with its count and first places."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._counts: dict[str, int] = {}
        self._lines: dict[str, list[int]] = {}

    def add(self, message: str, line: int | None = None, count: int = 1) -> None:
        self._counts[message] = self._counts.get(message, 0) + count
        lines = self._lines.setdefault(message, [])
        if line and len(lines) < FIRST_PLACES and line not in lines:
            lines.append(line)

    def __len__(self) -> int:
        return len(self._counts)

    @property
    def total(self) -> int:
        """Every occurrence, repeats included."""
        return sum(self._counts.values())

    def entries(self) -> list[ReadWarning]:
        """One ReadWarning per distinct message, in the order they were first met."""
        return [
            ReadWarning(self.source, lines[0] if lines else None, message, self._counts[message], tuple(lines))
            for message, lines in self._lines.items()
        ]
