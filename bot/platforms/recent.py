"""The joins and leaves reported lately, to drop the second report of one transition.

Telegram reports a join twice when the bot is an admin (a chat_member update and a service message).
Entries are kept in the order they were last written and expire from the front, so each join costs
O(1) amortised however many members a raid brings (no rebuild of the whole map)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable


class RecentTransitions:
    def __init__(self, window_seconds: float):
        self.window = window_seconds
        self._last: OrderedDict[Hashable, tuple[str, float]] = OrderedDict()  # key → (kind, when)
        self.expired = 0  # entries dropped from the front, so far (tests count the work)

    def __len__(self) -> int:
        return len(self._last)

    def is_news(self, key: Hashable, kind: str, now: float) -> bool:
        """True when `kind` ("join" / "leave") of `key` was not reported within the window; remembers it.
        `now` must not go backwards (a monotonic clock): the front is then always the oldest entry."""
        while self._last:
            oldest_key, (_, when) = next(iter(self._last.items()))
            if now - when < self.window:
                break
            del self._last[oldest_key]
            self.expired += 1
        last = self._last.get(key)
        if last is not None and last[0] == kind:
            return False
        self._last[key] = (kind, now)
        self._last.move_to_end(key)
        return True
