"""Outgoing pace: a token bucket per key, so every platform's one send path obeys its limits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class RateLimiter:
    """At most `rate` acquisitions per `per` seconds for each key (e.g. 20/60 s per group), plus
    an optional overall limit (e.g. 30/1 s per bot). """

    def __init__(
        self,
        rate: int,
        per: float,
        *,
        overall_rate: int | None = None,
        overall_per: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.rate, self.per = rate, per
        self.overall_rate, self.overall_per = overall_rate, overall_per
        self._monotonic = monotonic
        self._stamps: dict[str, list[float]] = {}
        self._overall: list[float] = []
        self._lock = asyncio.Lock()

    def _delay(self, key: str, now: float) -> float:
        delay = 0.0
        stamps = self._stamps.setdefault(key, [])
        while stamps and stamps[0] <= now - self.per:
            stamps.pop(0)
        if len(stamps) >= self.rate:
            delay = max(delay, stamps[0] + self.per - now)
        if self.overall_rate:
            while self._overall and self._overall[0] <= now - self.overall_per:
                self._overall.pop(0)
            if len(self._overall) >= self.overall_rate:
                delay = max(delay, self._overall[0] + self.overall_per - now)
        return delay

    async def acquire(self, key: str = "") -> None:
        # The lock is held only to reserve a slot, never while sleeping: a group that is at its
        # own limit must not hold up sends to other groups.
        while True:
            async with self._lock:
                now = self._monotonic()
                delay = self._delay(key, now)
                if delay <= 0:
                    self._stamps[key].append(now)
                    if self.overall_rate:
                        self._overall.append(now)
                    return
            await asyncio.sleep(delay)
