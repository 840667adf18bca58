"""Commutative figures kept in memory and written in batches: daily counters, members' daily activity,
rule message counts, last-seen times.

A message would otherwise pay an upsert per figure inside its transaction. Instead a handler notes the
figure after its transaction commits (`scope.count`, `tally.add` from an after-commit step), the figures
add up here, and `flush` writes them — on every scheduler tick, at shutdown, and before a command reads
figures (`scope.flush_figures`). What a crash can lose is bounded and only ever figures: at most one
tick's worth of counts and last-seen times; never points, penalties, strikes or questionnaire state,
which are written in the event's own transaction.

Each kind of figure is registered with how two pending values combine (`+` for counts, `max` for
times) and a writer that stores a batch of `{key: value}` in a session; writers use upserts that add
to what is stored, so several processes on one PostgreSQL can each flush their own.
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Hashable

log = logging.getLogger(__name__)

Writer = Callable[[Any, dict[Hashable, Any]], Awaitable[None]]  # (session, {key: value})


@dataclass
class _Kind:
    writer: Writer
    combine: Callable[[Any, Any], Any]


class Tally:
    def __init__(self) -> None:
        self._kinds: dict[str, _Kind] = {}
        self._pending: dict[str, dict[Hashable, Any]] = {}

    def register(self, kind: str, writer: Writer, combine: Callable[[Any, Any], Any] = operator.add) -> None:
        self._kinds[kind] = _Kind(writer, combine)
        self._pending.setdefault(kind, {})

    def add(self, kind: str, key: Hashable, value: Any = 1) -> None:
        """Note a figure (call it once the event's transaction has committed)."""
        pending = self._pending[kind]
        old = pending.get(key)
        pending[key] = value if old is None else self._kinds[kind].combine(old, value)

    def pending(self, kind: str, key: Hashable, default: Any = 0) -> Any:
        """What is noted for `key` and not yet written (0 for counts when nothing is)."""
        return self._pending.get(kind, {}).get(key, default)

    def discard(self, kind: str, key: Hashable) -> None:
        """Forget what is pending for `key` (e.g. a count that restarts at zero)."""
        self._pending.get(kind, {}).pop(key, None)

    def __len__(self) -> int:
        return sum(len(p) for p in self._pending.values())

    def take(self) -> dict[str, dict[Hashable, Any]]:
        """Everything pending, emptied here; `restore` puts it back if writing it failed."""
        taken = {kind: pending for kind, pending in self._pending.items() if pending}
        for kind in taken:
            self._pending[kind] = {}
        return taken

    def restore(self, taken: dict[str, dict[Hashable, Any]]) -> None:
        for kind, items in taken.items():
            for key, value in items.items():
                self.add(kind, key, value)

    async def write(self, session, taken: dict[str, dict[Hashable, Any]]) -> None:
        """Write what `take` returned in `session` (the caller commits, or restores on failure)."""
        for kind, items in taken.items():
            await self._kinds[kind].writer(session, items)
