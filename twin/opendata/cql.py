"""CQL2 text filters (OGC 21-065, Basic CQL2 and S_INTERSECTS) over a layer's queryables.

Parsed by pygeofilter's CQL2 text parser and evaluated on each batch of candidate rows by its
GeoPandas backend. Before evaluation the expression is checked here: every property must be a
queryable of the collection, comparisons must match its type, and only the conformance classes
the API declares are accepted (no temporal, array or arithmetic operators, no functions), so a
bad filter is a clear error and never a crash halfway through a table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import shapely
import shapely.geometry
from lark.exceptions import LarkError
from pygeofilter import ast, values
from pygeofilter.backends.geopandas.evaluate import to_filter
from pygeofilter.parsers.cql2_text import parse as parse_cql2_text

from twin.errors import TwinInputError

#: The queryable that stands for a feature's geometry.
GEOMETRY = "geometry"
#: Spatial predicates accepted (CQL2 "Spatial Functions"; S_INTERSECTS is "Basic Spatial Functions").
_SPATIAL = frozenset({"INTERSECTS", "DISJOINT", "CONTAINS", "WITHIN", "TOUCHES", "CROSSES", "OVERLAPS", "EQUALS"})
MAX_FILTER_CHARS = 20_000


@dataclass(frozen=True)
class Queryable:
    """A property a filter may name: its column and JSON Schema type (string, number, integer, boolean)."""

    column: str
    type: str


@dataclass(frozen=True)
class Filter:
    """A checked CQL2 expression: the columns it reads and whether it needs the geometry."""

    text: str
    node: ast.Node
    columns: tuple[str, ...]
    spatial: bool
    mapping: dict[str, str]
    #: A lon/lat box every selected feature meets (from a spatial predicate the whole filter needs), or None.
    envelope: tuple[float, float, float, float] | None = None

    def test(self, frame: pd.DataFrame) -> np.ndarray:
        """Which rows of ``frame`` the expression selects (NULL compares false, as in SQL)."""
        try:
            result = to_filter(frame, self.node, self.mapping)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise TwinInputError(f"filter {self.text!r}: cannot be evaluated ({exc})") from None
        if isinstance(result, bool | np.bool_):
            return np.full(len(frame), bool(result))
        return pd.Series(result).fillna(False).to_numpy(bool)


def parse_filter(text: str, queryables: dict[str, Queryable],
                 to_lonlat: Callable[[Any], Any] | None = None) -> Filter:
    """``text`` as a checked :class:`Filter`; TwinInputError naming what is wrong.

    ``to_lonlat`` turns geometry literals given in another CRS (``filter-crs``) into lon/lat.
    """
    if len(text) > MAX_FILTER_CHARS:
        raise TwinInputError(f"filter: longer than {MAX_FILTER_CHARS} characters")
    try:
        node = parse_cql2_text(text)
    except (LarkError, ValueError, TypeError, AttributeError, IndexError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TwinInputError(f"filter {text!r}: not CQL2 text ({first})") from None
    if not isinstance(node, ast.Node):
        raise TwinInputError(f"filter {text!r}: not a condition")
    names: set[str] = set()
    spatial = _check(node, queryables, names, text)
    if to_lonlat is not None:
        node = _geometries_to_lonlat(node, to_lonlat)
    mapping = {name: queryables[name].column for name in names}
    columns = tuple(sorted({queryables[n].column for n in names if n != GEOMETRY}))
    return Filter(text, node, columns, spatial, mapping, _envelope(node))


def _envelope(node: Any) -> tuple[float, float, float, float] | None:
    """The bounds of a geometry literal that a feature must meet for ``node`` to hold.

    Every spatial predicate but S_DISJOINT implies that the two geometries meet, hence that
    their bounding boxes do; in an AND each side must hold. Nothing is inferred through OR or NOT.
    """
    if isinstance(node, ast.And):
        found = [box for box in (_envelope(node.lhs), _envelope(node.rhs)) if box is not None]
        if not found:
            return None
        lows, highs = np.max([b[:2] for b in found], axis=0), np.min([b[2:] for b in found], axis=0)
        return (float(lows[0]), float(lows[1]), float(highs[0]), float(highs[1]))
    if isinstance(node, ast.SpatialComparisonPredicate) and node.op.name != "DISJOINT":
        literal = node.rhs if isinstance(node.lhs, ast.Attribute) else node.lhs
        if isinstance(literal, values.Envelope):
            return (literal.x1, literal.y1, literal.x2, literal.y2)
        if isinstance(literal, values.Geometry):
            return tuple(float(v) for v in shapely.bounds(shapely.geometry.shape(literal.geometry)))  # type: ignore[return-value]
    if isinstance(node, ast.BBox):
        return (node.minx, node.miny, node.maxx, node.maxy)
    return None


def _check(node: Any, queryables: dict[str, Queryable], names: set[str], text: str) -> bool:
    """Raise on anything outside Basic CQL2 + spatial predicates; collect property names; True if spatial."""
    where = f"filter {text!r}"
    if isinstance(node, ast.Attribute):
        if node.name not in queryables:
            known = ", ".join(sorted(queryables))
            raise TwinInputError(f"{where}: {node.name!r} is not a queryable of this collection ({known})")
        names.add(node.name)
        return node.name == GEOMETRY
    if isinstance(node, ast.And | ast.Or):
        return _check(node.lhs, queryables, names, text) | _check(node.rhs, queryables, names, text)
    if isinstance(node, ast.Not):
        return _check(node.sub_node, queryables, names, text)
    if isinstance(node, ast.Comparison):
        _typed(node.lhs, node.rhs, queryables, where)
        _typed(node.rhs, node.lhs, queryables, where)
        return _scalar(node.lhs, queryables, names, where) | _scalar(node.rhs, queryables, names, where)
    if isinstance(node, ast.Between):
        for bound in (node.low, node.high):
            _typed(node.lhs, bound, queryables, where)
        return _scalar(node.lhs, queryables, names, where)
    if isinstance(node, ast.Like):
        if not isinstance(node.pattern, str):
            raise TwinInputError(f"{where}: LIKE takes a text pattern such as '共同%'")
        _attribute_of_type(node.lhs, ("string",), queryables, where, "LIKE")
        return _scalar(node.lhs, queryables, names, where)
    if isinstance(node, ast.In):
        for option in node.sub_nodes:
            _typed(node.lhs, option, queryables, where)
        return _scalar(node.lhs, queryables, names, where)
    if isinstance(node, ast.IsNull):
        return _scalar(node.lhs, queryables, names, where)
    if isinstance(node, ast.SpatialComparisonPredicate):
        if node.op.name not in _SPATIAL:
            raise TwinInputError(f"{where}: spatial operator {node.op.name} is not supported")
        for side in (node.lhs, node.rhs):
            if isinstance(side, ast.Attribute):
                if side.name != GEOMETRY:
                    raise TwinInputError(f"{where}: spatial predicates compare {GEOMETRY!r} with a geometry")
                _check(side, queryables, names, text)
            elif not isinstance(side, values.Geometry | values.Envelope):
                raise TwinInputError(f"{where}: spatial predicates compare {GEOMETRY!r} with a geometry literal")
        return True
    if isinstance(node, ast.BBox):
        _check(node.lhs, queryables, names, text)
        return True
    if isinstance(node, ast.Include):
        return False
    kind = type(node).__name__
    raise TwinInputError(f"{where}: {kind} is not supported (Basic CQL2 comparisons, LIKE, IN, BETWEEN, IS NULL, "
                         "AND/OR/NOT and spatial predicates such as S_INTERSECTS)")


def _scalar(node: Any, queryables: dict[str, Queryable], names: set[str], where: str) -> bool:
    """One side of a comparison: a non-geometry property or a literal."""
    if isinstance(node, ast.Attribute):
        if node.name == GEOMETRY:
            raise TwinInputError(f"{where}: compare the geometry with spatial predicates (S_INTERSECTS)")
        if node.name not in queryables:
            known = ", ".join(sorted(queryables))
            raise TwinInputError(f"{where}: {node.name!r} is not a queryable of this collection ({known})")
        names.add(node.name)
        return False
    if isinstance(node, str | int | float | bool) or node is None:
        if isinstance(node, float) and not math.isfinite(node):
            raise TwinInputError(f"{where}: numbers must be finite")
        return False
    raise TwinInputError(f"{where}: {type(node).__name__} values are not supported in comparisons")


_LITERAL_TYPES = {"string": (str,), "number": (int, float), "integer": (int, float), "boolean": (bool,)}


def _typed(lhs: Any, rhs: Any, queryables: dict[str, Queryable], where: str) -> None:
    """A property compared with a literal of its own type (numbers with numbers, text with text)."""
    if not isinstance(lhs, ast.Attribute) or lhs.name not in queryables or isinstance(rhs, ast.Attribute):
        return
    kind = queryables[lhs.name].type
    allowed = _LITERAL_TYPES.get(kind)
    if allowed is None or rhs is None:
        return
    if isinstance(rhs, bool) and kind != "boolean" or not isinstance(rhs, allowed):
        raise TwinInputError(f"{where}: {lhs.name!r} is a {kind}; it cannot be compared with {rhs!r}")


def _attribute_of_type(node: Any, kinds: tuple[str, ...], queryables: dict[str, Queryable], where: str,
                       operator: str) -> None:
    if isinstance(node, ast.Attribute) and node.name in queryables and queryables[node.name].type not in kinds:
        raise TwinInputError(f"{where}: {operator} needs a text property; {node.name!r} is a "
                             f"{queryables[node.name].type}")


def _geometries_to_lonlat(node: Any, convert: Callable[[Any], Any]) -> Any:
    """The expression with every geometry literal's coordinates mapped by ``convert``."""
    for literal in _literals(node):
        if isinstance(literal, values.Geometry):
            literal.geometry = {**literal.geometry, "coordinates": convert(literal.geometry["coordinates"])}
        elif isinstance(literal, values.Envelope):
            (x1, y1), (x2, y2) = convert([[literal.x1, literal.y1], [literal.x2, literal.y2]])
            literal.x1, literal.y1, literal.x2, literal.y2 = min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)
    return node


def _literals(node: Any) -> Iterator[Any]:
    if isinstance(node, values.Geometry | values.Envelope):
        yield node
    elif isinstance(node, ast.Node):
        for sub in node.get_sub_nodes():
            yield from _literals(sub)
