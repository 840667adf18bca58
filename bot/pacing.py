"""Outgoing pace: a token bucket per key, so every platform's one send path obeys its limits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from bot import metrics


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
        sleep: Callable[[float], Awaitable[None]] | None = None,
        platform: str | None = None,
    ):
        self.rate, self.per = rate, per
        self.overall_rate, self.overall_per = overall_rate, overall_per
        self._monotonic = monotonic
        # Tests hand in a virtual clock: `monotonic` reads it and `sleep` advances it.
        self._sleep = sleep or asyncio.sleep
        self._stamps: dict[str, list[float]] = {}
        self._overall: list[float] = []
        self._scheduled = 0.0  # when the next send is due once the overall limit is being spread
        self._lock = asyncio.Lock()
        self.waiting = 0  # acquisitions sleeping for a slot now
        # The `qunzhu_send_queue_waiting{platform}` gauge this limiter adds its waiters to.
        self._gauge = metrics.SEND_QUEUE.labels(platform=platform) if platform else None

    def _delay(self, key: str, now: float) -> float:
        delay = 0.0
        stamps = self._stamps.setdefault(key, [])
        while stamps and stamps[0] <= now - self.per:
            stamps.pop(0)
        if len(stamps) >= self.rate:
            delay = max(delay, stamps[0] + self.per - now)
        if self.overall_rate:
            # The bot-wide window is kept 3 % (at most 30 ms) longer than the platform's: the server
            # counts arrivals, and a request that left first but arrived late (a new connection)
            # would otherwise make 31 in one second there, which Telegram answers with 429.
            window = self.overall_per + min(0.03, self.overall_per * 0.03)
            while self._overall and self._overall[0] <= now - window:
                self._overall.pop(0)
            if len(self._overall) >= self.overall_rate:
                delay = max(delay, self._overall[0] + window - now)
            if len(self._overall) >= max(1, self.overall_rate // 6):
                # Past a sixth of the overall limit, spread the rest evenly (30/s → one send every
                # 34 ms, on a schedule that absorbs a few ms of event-loop lateness) instead of back
                # to back, so a large fan-out never bunches up at the limit (bench/columns_fanout.py).
                # Below that, a reply still goes out at once.
                interval = window / self.overall_rate
                delay = max(delay, self._scheduled - interval / 2 - now)
        return delay

    def would_wait(self, key: str = "") -> float:
        """Seconds an acquire(key) now would wait (0: a slot is free). Reserves nothing; lets a
        sender queue a message instead of holding its caller while the window rolls over."""
        return self._delay(key, self._monotonic())

    async def acquire(self, key: str = "") -> None:
        # The lock is held only to reserve a slot, never while sleeping: a group that is at its
        # own limit must not hold up sends to other groups.
        waited = False
        try:
            while True:
                async with self._lock:
                    now = self._monotonic()
                    delay = self._delay(key, now)
                    if delay <= 0:
                        self._stamps[key].append(now)
                        if self.overall_rate:
                            self._overall.append(now)
                            window = self.overall_per + min(0.03, self.overall_per * 0.03)
                            self._scheduled = max(self._scheduled, now) + window / self.overall_rate
                        return
                if not waited:
                    waited = True
                    self._waiting(+1)
                await self._sleep(delay)
        finally:
            if waited:
                self._waiting(-1)

    def _waiting(self, change: int) -> None:
        self.waiting += change
        if self._gauge is not None:
            self._gauge.inc(change)
