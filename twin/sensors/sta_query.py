"""SensorThings query options (OGC 18-088 §9.3): parsed into plain dataclasses.

``$filter`` supports ``eq ne gt ge lt le``, ``and or not``, parentheses, numbers, quoted
strings, booleans, ``null`` and ISO 8601 times, on properties, ``properties/…`` paths and
``phenomenonTime``/``resultTime``. Translating to SQL is ``twin.sensors.sta_entities``' job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from twin.sensors.errors import SensorInputError
from twin.sensors.times import parse_moment

DEFAULT_TOP = 100
MAX_TOP = 10_000
#: Offsets beyond a 64-bit integer are refused (the databases cannot hold them).
MAX_SKIP = 2**63 - 1
COMPARISONS = ("eq", "ne", "gt", "ge", "lt", "le")

Literal = float | int | str | bool | datetime | None


@dataclass(frozen=True)
class Path:
    """A property, or a path into a JSON property (``properties/thresholds/danger``)."""

    parts: tuple[str, ...]


@dataclass(frozen=True)
class Compare:
    op: str
    path: Path
    value: Literal


@dataclass(frozen=True)
class Logical:
    op: str  # "and" | "or"
    left: Filter
    right: Filter


@dataclass(frozen=True)
class Not:
    operand: Filter


Filter = Compare | Logical | Not


@dataclass
class Query:
    """The options of one request or one ``$expand`` item."""

    top: int = DEFAULT_TOP
    skip: int = 0
    count: bool = False
    orderby: list[tuple[str, bool]] = field(default_factory=list)  # (property, descending)
    select: list[str] | None = None
    filter: Filter | None = None
    expand: list[Expand] = field(default_factory=list)


@dataclass
class Expand:
    navigation: str
    query: Query


def parse_query(options: dict[str, str]) -> Query:
    """A Query from ``$``-options (unknown ``$`` options are refused)."""
    query = Query()
    for name, value in options.items():
        if name == "$top":
            query.top = _integer(name, value, 0, MAX_TOP)
        elif name == "$skip":
            query.skip = _integer(name, value, 0, MAX_SKIP)
        elif name == "$count":
            if value not in ("true", "false"):
                raise SensorInputError(f"$count: expected true or false, got {value!r}", 400, "bad-query")
            query.count = value == "true"
        elif name == "$orderby":
            query.orderby = [_order(item) for item in _split(value, ",")]
        elif name == "$select":
            query.select = [item.strip() for item in _split(value, ",")]
        elif name == "$filter":
            query.filter = parse_filter(value)
        elif name == "$expand":
            query.expand = [_expand(item) for item in _split(value, ",")]
        elif name.startswith("$"):
            raise SensorInputError(f"unsupported query option {name}", 400, "bad-query")
    return query


def _integer(name: str, text: str, low: int, high: int | None) -> int:
    if not re.fullmatch(r"\d{1,19}", text.strip()):
        raise SensorInputError(f"{name}: expected a whole number, got {text!r}", 400, "bad-query")
    value = int(text)
    if value < low or (high is not None and value > high):
        raise SensorInputError(f"{name}: {value} is outside {low}..{high}", 400, "bad-query")
    return value


def _order(item: str) -> tuple[str, bool]:
    words = item.split()
    if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
        raise SensorInputError(f"$orderby: cannot read {item!r}", 400, "bad-query")
    return words[0], len(words) == 2 and words[1].lower() == "desc"


def _split(text: str, separator: str) -> list[str]:
    """Split on ``separator`` outside parentheses and quotes."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, char in enumerate(text):
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and depth == 0 and char == separator:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    if depth != 0 or quoted:
        raise SensorInputError(f"unbalanced parentheses or quotes in {text!r}", 400, "bad-query")
    return [p for p in (part.strip() for part in parts) if p]


def _expand(item: str) -> Expand:
    """``Datastreams``, ``Datastreams/Observations`` or ``Datastreams($top=1;$expand=…)``."""
    match = re.fullmatch(r"([A-Za-z]+)(?:\((.*)\))?(?:/(.+))?", item, re.S)
    if match is None:
        raise SensorInputError(f"$expand: cannot read {item!r}", 400, "bad-query")
    name, inner, rest = match.groups()
    options = {}
    for part in _split(inner or "", ";"):
        key, _, value = part.partition("=")
        options[key.strip()] = value.strip()
    query = parse_query(options)
    if rest:
        query.expand.append(_expand(rest))
    return Expand(name, query)


_TOKEN = re.compile(r"""\s*(?:
    (?P<string>'(?:[^']|'')*')
  | (?P<time>\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:\d{2})?)
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<paren>[()])
  | (?P<word>[A-Za-z@_][A-Za-z0-9@._/]*)
)""", re.X)


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None:
            raise SensorInputError(f"$filter: cannot read {text[pos:pos + 20]!r}", 400, "bad-query")
        tokens.append(next((k, v) for k, v in match.groupdict().items() if v is not None))
        pos = match.end()
    return tokens


def parse_filter(text: str) -> Filter:
    """The syntax tree of a ``$filter`` expression."""
    parser = _FilterParser(_tokens(text))
    tree = parser.expression()
    if parser.pos != len(parser.tokens):
        raise SensorInputError(f"$filter: unexpected {parser.tokens[parser.pos][1]!r}", 400, "bad-query")
    return tree


class _FilterParser:
    """Recursive descent: or → and → not → comparison | (expression)."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens, self.pos = tokens, 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise SensorInputError("$filter: unexpected end", 400, "bad-query")
        self.pos += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token[0] == "word" and token[1].lower() == word:
            self.pos += 1
            return True
        return False

    def expression(self) -> Filter:
        left = self.conjunction()
        while self.keyword("or"):
            left = Logical("or", left, self.conjunction())
        return left

    def conjunction(self) -> Filter:
        left = self.negation()
        while self.keyword("and"):
            left = Logical("and", left, self.negation())
        return left

    def negation(self) -> Filter:
        if self.keyword("not"):
            return Not(self.negation())
        if self.peek() == ("paren", "("):
            self.take()
            inner = self.expression()
            if self.take() != ("paren", ")"):
                raise SensorInputError("$filter: missing ')'", 400, "bad-query")
            return inner
        return self.comparison()

    def comparison(self) -> Filter:
        left = self.operand()
        kind, op = self.take()
        if kind != "word" or op.lower() not in COMPARISONS:
            raise SensorInputError(f"$filter: expected one of {', '.join(COMPARISONS)}, got {op!r}",
                                   400, "bad-query")
        right = self.operand()
        op = op.lower()
        if isinstance(left, Path) and not isinstance(right, Path):
            return Compare(op, left, right)
        if isinstance(right, Path) and not isinstance(left, Path):
            flipped = {"gt": "lt", "lt": "gt", "ge": "le", "le": "ge"}.get(op, op)
            return Compare(flipped, right, left)
        raise SensorInputError("$filter: compare a property with a value", 400, "bad-query")

    def operand(self) -> Path | Literal:
        kind, text = self.take()
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if kind == "number":
            return float(text) if any(c in text for c in ".eE") else int(text)
        if kind == "time":
            return parse_moment(text, "$filter")
        if kind == "word":
            lowered = text.lower()
            if lowered in ("true", "false"):
                return lowered == "true"
            if lowered == "null":
                return None
            return Path(tuple(text.split("/")))
        raise SensorInputError(f"$filter: unexpected {text!r}", 400, "bad-query")
