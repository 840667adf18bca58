"""Another connection holding SQLite's write lock, as a backup tool, `sqlite3` in a shell or a second
process does: the bot's writes wait its busy timeout and then fail with "database is locked"."""

from __future__ import annotations

import sqlite3
import threading


class HeldLock:
    """Another connection holding SQLite's write lock until released."""

    def __init__(self, path: str):
        self.path = path
        self._release = threading.Event()
        self._held = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        connection = sqlite3.connect(self.path, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        self._held.set()
        self._release.wait(30)
        connection.execute("ROLLBACK")
        connection.close()

    def __enter__(self) -> "HeldLock":
        self._thread.start()
        self._held.wait(5)
        return self

    def release(self) -> None:
        self._release.set()
        self._thread.join(5)

    def __exit__(self, *exc) -> None:
        self.release()
