"""A per-client budget for the endpoints that write (feedback events): a token bucket, pure and in memory.

Each client (its address) may send `burst` events at once and `per_second` after that; a request is
charged for every event it carries (a list of hundreds is hundreds), and one over budget is refused
whole, answered 429 with the seconds to wait. In memory, per process: one search page
process serves one deployment's users; behind several processes a proxy's limit is the place.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Callable, Optional


class RateLimit:
    # A page of 100 hits, each with an ad, draws 200 impressions at once.
    def __init__(self, per_second: float = 50.0, burst: int = 400, clock: Callable[[], float] = time.monotonic,
                 max_clients: int = 10_000):
        self.per_second, self.burst, self.clock, self.max_clients = per_second, burst, clock, max_clients
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, at)
        self._lock = threading.Lock()

    def wait_s(self, client: str, cost: int = 1) -> Optional[float]:
        """None: `cost` events may pass (and are counted); otherwise the seconds until they may (infinite when
        `cost` is over the burst: such a request never fits and must be split)."""
        if cost > self.burst:
            return math.inf
        now = self.clock()
        with self._lock:
            tokens, at = self._buckets.get(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.per_second)
            if tokens < cost:
                self._buckets[client] = (tokens, now)
                return (cost - tokens) / self.per_second
            if len(self._buckets) >= self.max_clients and client not in self._buckets:
                self._buckets.clear()  # a flood of addresses must not grow memory without bound
            self._buckets[client] = (tokens - cost, now)
            return None

    @staticmethod
    def retry_after(wait_s: float) -> str:
        return str(max(1, math.ceil(wait_s)))
