"""Strict JSON for request bodies: numbers that fit the database, nesting errors caught.

Python's ``json`` accepts ``NaN``/``Infinity``, turns ``1e400`` into infinity, reads integers
of any size (which SQLite and PostgreSQL then refuse with an overflow) and recurses once per
nesting level. Here every such input is a ``ValueError`` naming the problem, so the server
answers 400 instead of failing on it later.
"""

from __future__ import annotations

import json
import math
from typing import Any

#: Integers must fit a signed 64-bit database column.
INT_LIMIT = 2**63 - 1


def loads(data: bytes | str) -> Any:
    """Parse ``data``; ValueError for invalid JSON, non-finite or out-of-range numbers, deep nesting."""
    try:
        return json.loads(data, parse_float=_finite, parse_int=_int64, parse_constant=_constant)
    except RecursionError:  # the C scanner stops at the interpreter's recursion limit, cleanly
        raise ValueError("nested too deeply") from None


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def _int64(text: str) -> int:
    if len(text) > 20 or abs(value := int(text)) > INT_LIMIT:
        raise ValueError(f"integer {text[:40]}… does not fit 64 bits")
    return value


def _constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")
