"""How long a bench's write transactions hold the database: on SQLite every transaction but a
read-only one (storage.db.read_only) is BEGIN IMMEDIATE, so its length is how long every other
writer waits."""

from __future__ import annotations

import time

from sqlalchemy import event

from storage.db import READ_ONLY


class WriteTransactions:
    """Times every write transaction of an engine, from BEGIN to COMMIT or ROLLBACK."""

    def __init__(self, engine) -> None:
        self.durations: list[float] = []  # seconds
        self._started: dict[int, float] = {}
        sync = engine.sync_engine
        event.listen(sync, "begin", self._begin)
        event.listen(sync, "commit", self._end)
        event.listen(sync, "rollback", self._end)

    def _begin(self, connection) -> None:
        if connection.get_execution_options().get(READ_ONLY):
            return
        self._started[id(connection.connection)] = time.perf_counter()

    def _end(self, connection) -> None:
        started = self._started.pop(id(connection.connection), None)
        if started is not None:
            self.durations.append(time.perf_counter() - started)

    def reset(self) -> None:
        self.durations.clear()

    def summary(self) -> str:
        if not self.durations:
            return "no write transaction"
        return f"{len(self.durations)} transactions, longest {max(self.durations) * 1000:.1f} ms, total {sum(self.durations) * 1000:.0f} ms"
