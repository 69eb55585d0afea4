"""Token-bucket rate limits per key (or signed-in user) and per client IP.

A bucket holds up to ``burst`` tokens and refills at ``rate`` tokens per second; each
request takes one, and an empty bucket answers 429 with ``Retry-After`` (the seconds until
a token is back). Writes (POST/PUT/PATCH/DELETE) share one bucket per identity; each
expensive route (simulation jobs, sign-in) has buckets of its own with a much lower rate.
The check runs inside :class:`twin.server.auth.RoleCheck`, after the key is verified, so a
forged key id cannot drain someone else's bucket.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from twin.server.problems import Problem

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Set in the request state once the request's tokens are taken (so a handler it is passed on to takes none).
CHECKED = "twin.rate_checked"
#: Past this many buckets, full ones (idle clients) are forgotten.
_PRUNE_AT = 10_000


@dataclass(frozen=True)
class Limit:
    """``rate`` tokens per second, at most ``burst`` saved up; a rate of 0 means no limit."""

    rate: float
    burst: int

    @property
    def off(self) -> bool:
        return self.rate <= 0


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """Buckets per (limit kind, identity); thread-safe (role checks run in the thread pool)."""

    def __init__(self, writes: Limit, expensive: Limit, expensive_routes: frozenset[str],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.writes = writes
        self.expensive = expensive
        self.expensive_routes = expensive_routes
        self._clock = clock
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._lock = threading.Lock()

    def check(self, method: str, route: str | None, identities: list[str]) -> None:
        """Take a token for each identity from the buckets this request draws on, or raise 429."""
        kinds: list[tuple[str, Limit]] = []
        if route is not None and f"{method} {route}" in self.expensive_routes:
            kinds.append((f"{method} {route}", self.expensive))
        if method in WRITE_METHODS:
            kinds.append(("writes", self.writes))
        for kind, limit in kinds:
            if limit.off:
                continue
            for identity in identities:
                wait = self._take((kind, identity), limit)
                if wait > 0:
                    seconds = max(1, math.ceil(wait))
                    raise Problem(429, f"Too many requests ({kind}) from {identity}; retry in {seconds} s.",
                                  "rate-limited", headers={"Retry-After": str(seconds)})

    def _take(self, key: tuple[str, str], limit: Limit) -> float:
        """0 if a token was taken, else the seconds until one is available."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= _PRUNE_AT:
                    self._prune(now)
                bucket = self._buckets[key] = _Bucket(float(limit.burst), now)
            bucket.tokens = min(float(limit.burst), bucket.tokens + (now - bucket.stamp) * limit.rate)
            bucket.stamp = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / limit.rate

    def _prune(self, now: float) -> None:
        limits = {"writes": self.writes}
        for key, bucket in list(self._buckets.items()):
            limit = limits.get(key[0], self.expensive)
            if bucket.tokens + (now - bucket.stamp) * limit.rate >= limit.burst:
                del self._buckets[key]
