"""SQLite on the event loop's own thread, for SQLAlchemy's asyncio engine (`[database] sqlite_driver
= "inline"`, the default; storage.db.create_engine picks it).

aiosqlite sends every call (execute, each fetch, commit …) to the connection's own thread and back
with a future: about a millisecond a statement through SQLAlchemy, where sqlite3 itself takes
microseconds. Here the sqlite3 calls are made directly, from the greenlet SQLAlchemy runs its
synchronous core in. What must not block the loop is handled apart:

- a lock held by another connection or process: the connection's busy timeout is 0, so SQLite
  answers SQLITE_BUSY at once (at BEGIN IMMEDIATE, where storage.db takes the write lock); we wait
  with asyncio.sleep, the loop running meanwhile, and try again until `timeout` seconds have passed,
  then raise the same sqlite3.OperationalError ("database is locked") aiosqlite would have;
- long reads: a read-only transaction (storage.db.read_only: the stats warm-up, the purge's
  reads) runs its statements and fetches in a worker thread, as aiosqlite would.

- other connections of this process: a write transaction (BEGIN IMMEDIATE) first takes an
  asyncio lock per database file, held until its COMMIT or ROLLBACK, so this process's writers
  queue and are woken the moment the lock is free, instead of polling SQLite's lock with sleeps
  (which cost concurrent events several milliseconds each).

One connection per pool slot; a connection is only ever used by the session that checked it out,
so it is never used by two threads at once.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import weakref
from collections.abc import Iterator
from itertools import islice
from typing import Any

from sqlalchemy import pool
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.util.concurrency import await_

# Extended result codes after which trying again can succeed (SQLITE_BUSY, SQLITE_BUSY_RECOVERY);
# SQLITE_BUSY_SNAPSHOT cannot: the transaction's snapshot is stale.
_RETRYABLE = {sqlite3.SQLITE_BUSY, 261}
# Waits between tries while another connection holds the lock: short first (most transactions take
# milliseconds), then at most this.
_FIRST_WAIT = 0.001
_MAX_WAIT = 0.05


async def _nothing() -> None:
    """Awaited once a statement: AsyncConnection.execute insists that its call awaited something
    (its guard against a synchronous driver); this completes at once, without a turn of the loop."""


class Cursor(sqlite3.Cursor):
    # Rows of a statement run in a worker thread, served from here (None: fetch from SQLite).
    _rows: Iterator[Any] | None = None

    def execute(self, sql: str, parameters: Any = ()) -> "Cursor":
        connection: Connection = self.connection
        if sql.startswith("BEGIN IMMEDIATE"):
            connection.take_writer_lock()
        if connection.in_thread:
            self._rows = iter(await_(asyncio.to_thread(self._execute_and_fetch, sql, parameters)))
            return self
        self._rows = None
        connection.retrying(super().execute, sql, parameters)
        await_(_nothing())
        return self

    def _execute_and_fetch(self, sql: str, parameters: Any) -> list[Any]:
        super(Cursor, self).execute(sql, parameters)
        return super(Cursor, self).fetchall()

    def executemany(self, sql: str, seq_of_parameters: Any) -> "Cursor":
        self._rows = None
        self.connection.retrying(super().executemany, sql, seq_of_parameters)
        await_(_nothing())
        return self

    def fetchone(self) -> Any:
        return super().fetchone() if self._rows is None else next(self._rows, None)

    def fetchmany(self, size: int | None = None) -> list[Any]:
        size = self.arraysize if size is None else size
        return super().fetchmany(size) if self._rows is None else list(islice(self._rows, size))

    def fetchall(self) -> list[Any]:
        return super().fetchall() if self._rows is None else list(self._rows)

    async def _async_soft_close(self) -> None:
        """AsyncConnection.execute's hook for drivers whose cursors close asynchronously; the
        rows stay readable here whatever the thread, so there is nothing to do."""


# One asyncio lock per (database file, event loop): tests run many loops in one process.
_WRITER_LOCKS: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]]" = weakref.WeakKeyDictionary()


def _writer_lock(path: str) -> asyncio.Lock:
    locks = _WRITER_LOCKS.setdefault(asyncio.get_running_loop(), {})
    lock = locks.get(path)
    if lock is None:
        lock = locks[path] = asyncio.Lock()
    return lock


class Connection(sqlite3.Connection):
    def __init__(self, *args: Any, timeout: float = 5.0, **kwargs: Any):
        kwargs["check_same_thread"] = False  # a read-only transaction's statements run in a worker thread
        super().__init__(*args, timeout=0, **kwargs)
        self.busy_timeout = timeout
        self.in_thread = False  # set for a read-only transaction by storage.db
        self.path = str(args[0] if args else kwargs.get("database", ""))
        self._writer_lock: asyncio.Lock | None = None

    def cursor(self, factory: Any = Cursor) -> Cursor:
        return super().cursor(factory)

    def commit(self) -> None:
        self.in_thread = False
        try:
            self.retrying(super().commit)
        finally:
            self.release_writer_lock()

    def rollback(self) -> None:
        self.in_thread = False
        try:
            super().rollback()
        finally:
            self.release_writer_lock()

    def close(self) -> None:
        self.release_writer_lock()
        super().close()

    def take_writer_lock(self) -> None:
        """Wait (on the loop) for this process's other writers on the file; as long as SQLite would
        wait for another process, then "database is locked"."""
        if self._writer_lock is not None:
            return
        lock = _writer_lock(self.path)
        if lock.locked():
            try:
                await_(asyncio.wait_for(lock.acquire(), self.busy_timeout))
            except asyncio.TimeoutError:
                raise sqlite3.OperationalError("database is locked") from None
        else:
            await_(lock.acquire())  # free: returns at once, no turn of the loop
        self._writer_lock = lock

    def release_writer_lock(self) -> None:
        lock, self._writer_lock = self._writer_lock, None
        if lock is not None:
            lock.release()

    def retrying(self, call, *args: Any) -> Any:
        """call(*args); while SQLite answers that another connection holds the lock, wait on the
        event loop and try again, for up to busy_timeout seconds."""
        deadline = None
        wait = _FIRST_WAIT
        while True:
            try:
                return call(*args)
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode not in _RETRYABLE:
                    raise
                now = time.monotonic()
                deadline = deadline or now + self.busy_timeout
                if now >= deadline:
                    raise
                await_(asyncio.sleep(min(wait, deadline - now)))
                wait = min(wait * 2, _MAX_WAIT)


class _DBAPI:
    """sqlite3 as SQLAlchemy's pysqlite dialect sees it, but connecting through Connection."""

    paramstyle = "qmark"

    def __init__(self) -> None:
        for name in (
            "DatabaseError", "Error", "IntegrityError", "InterfaceError", "InternalError", "NotSupportedError",
            "OperationalError", "ProgrammingError", "DataError", "Warning", "Binary",
            "PARSE_COLNAMES", "PARSE_DECLTYPES", "sqlite_version", "sqlite_version_info",
        ):
            setattr(self, name, getattr(sqlite3, name))

    @staticmethod
    def connect(*args: Any, **kwargs: Any) -> Connection:
        return Connection(*args, **kwargs)


class SQLiteDialect_inline(SQLiteDialect_pysqlite):
    """The pysqlite dialect, usable by create_async_engine (registered as sqlite+qunzhu_inline)."""

    driver = "qunzhu_inline"
    is_async = True
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> _DBAPI:
        return _DBAPI()

    @classmethod
    def get_pool_class(cls, url):
        return pool.AsyncAdaptedQueuePool if cls._is_url_file_db(url) else pool.StaticPool


dialect = SQLiteDialect_inline
