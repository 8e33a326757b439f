"""A per-client budget for the endpoints that write (feedback events): a token bucket, pure and in memory.

Each client (its address) may send `burst` requests at once and `per_second` after that; a request
over budget is answered 429 with the seconds to wait. In memory, per process: one search page
process serves one deployment's users; behind several processes a proxy's limit is the place.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Callable, Optional


class RateLimit:
    def __init__(self, per_second: float = 20.0, burst: int = 60, clock: Callable[[], float] = time.monotonic,
                 max_clients: int = 10_000):
        self.per_second, self.burst, self.clock, self.max_clients = per_second, burst, clock, max_clients
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, at)
        self._lock = threading.Lock()

    def wait_s(self, client: str) -> Optional[float]:
        """None: the request may pass (and is counted); otherwise the seconds until it may."""
        now = self.clock()
        with self._lock:
            tokens, at = self._buckets.get(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.per_second)
            if tokens < 1.0:
                self._buckets[client] = (tokens, now)
                return (1.0 - tokens) / self.per_second
            if len(self._buckets) >= self.max_clients and client not in self._buckets:
                self._buckets.clear()  # a flood of addresses must not grow memory without bound
            self._buckets[client] = (tokens - 1.0, now)
            return None

    @staticmethod
    def retry_after(wait_s: float) -> str:
        return str(max(1, math.ceil(wait_s)))
