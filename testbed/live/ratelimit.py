"""Requests per source address: a token bucket each, in bounded memory.

Each source may make ``rate`` requests a second on average and ``burst`` at once.
:meth:`RateLimiter.take` spends a token, or says how many whole seconds to wait
(the ``Retry-After`` of a 429).  At most ``max_sources`` buckets are held; the one
used least recently is forgotten first (a forgotten source starts full again, so
the limiter never refuses more than it should, only possibly less).
"""

from __future__ import annotations

import math
from collections import OrderedDict

__all__ = ["RateLimiter"]


class RateLimiter:
    """Token buckets per source (see the module docstring)."""

    def __init__(self, *, rate: float, burst: int, max_sources: int = 4096) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"a rate > 0 and a burst >= 1, got {rate!r} and {burst!r}")
        self.rate = rate
        self.burst = burst
        self.max_sources = max_sources
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at

    def take(self, source: str, now: float) -> int | None:
        """Spend one of ``source``'s tokens at ``now`` (monotonic seconds): None when
        allowed, else the seconds until a token is there (at least 1)."""
        tokens, at = self._buckets.pop(source, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        wait = None
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = max(1, math.ceil((1.0 - tokens) / self.rate))
        self._buckets[source] = (tokens, now)
        if len(self._buckets) > self.max_sources:
            self._buckets.popitem(last=False)
        return wait

    def __len__(self) -> int:
        return len(self._buckets)
