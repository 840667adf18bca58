"""Run a prebuilt Core statement on the session's driver connection, inside its open transaction.

Through `session.execute` a short statement costs ≈40 µs of SQLAlchemy's Python on SQLite and ≈185 µs
on PostgreSQL (the ORM session, the execution context, a greenlet switch, the result object); the
driver itself takes 3 µs and 60 µs. The few statements every message runs (the inbox row, the member
read, the points ledger and totals, the outbox states) come here instead: SQLAlchemy still builds
and compiles them — once a process, per dialect — and converts the values both ways with the
columns' own types, so the SQL and the stored forms are the same as through the session.

What stays with SQLAlchemy: the transaction (the session begins and commits it; on SQLite its begin
is BEGIN IMMEDIATE, on PostgreSQL the adapter's BEGIN is started here when it has not been yet, as
its own cursor would), and every error: a driver error is handed to the connection's own handler,
which wraps it (OperationalError, IntegrityError …) and invalidates a connection that is gone, so
callers see exactly what `session.execute` would have raised.

Two drivers take the direct path, the inline SQLite driver (storage/sqlite_inline.py) and asyncpg;
another (aiosqlite) or a transaction whose statements run in a worker thread uses `session.execute`.
This leans on two internals of SQLAlchemy 2.x (the asyncpg cursor's `_prepare_and_execute`, the
connection's `_handle_dbapi_exception`); pyproject.toml pins SQLAlchemy below 2.2 and the tests run
both paths.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from storage import sqlite_inline


@dataclass(frozen=True)
class Compiled:
    sql: str
    names: tuple[str, ...]  # the parameters in placeholder order
    binds: tuple[Any, ...]  # per parameter: a converter, or None
    defaults: dict[str, Any]  # parameters with a value of their own (literals, Python-side column defaults)
    keys: tuple[str, ...]  # the result columns' names
    converted: tuple[tuple[int, Any], ...]  # (position, converter) of the result columns that have one


class Rows:
    """What a statement returned: its rows (converted) and how many rows it changed."""

    __slots__ = ("rows", "rowcount", "keys")

    def __init__(self, rows: list[tuple], rowcount: int, keys: tuple[str, ...]):
        self.rows, self.rowcount, self.keys = rows, rowcount, keys

    def first(self) -> tuple | None:
        return self.rows[0] if self.rows else None

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None

    def one_mapping(self) -> dict[str, Any]:
        if len(self.rows) != 1:
            raise LookupError(f"expected one row, got {len(self.rows)}")
        return dict(zip(self.keys, self.rows[0]))


_COMPILED: dict[tuple, tuple[Any, Compiled]] = {}


def compiled(stmt: Any, dialect: Any, keys: tuple[str, ...]) -> Compiled:
    cache_key = (id(stmt), dialect.name, keys)
    found = _COMPILED.get(cache_key)
    if found is not None and found[0] is stmt:
        return found[1]
    # An INSERT without .values() takes its columns from the parameters, as session.execute would.
    column_keys = list(keys) if isinstance(stmt, Insert) and not stmt._values else None
    result = stmt.compile(dialect=dialect, column_keys=column_keys)
    if result.literal_execute_params or result.post_compile_params:
        raise ValueError(f"not for the direct path (expanding parameters): {result}")
    names = tuple(result.positiontup or ())
    defaults: dict[str, Any] = {}
    for name, bind in result.binds.items():
        if name not in keys and bind.value is not None:
            defaults[name] = bind.value
    for column in (*result.insert_prefetch, *result.update_prefetch):
        default = column.default if column in result.insert_prefetch else column.onupdate
        if default is None or not (default.is_scalar or default.is_callable):
            raise ValueError(f"not for the direct path (default of {column}): {result}")
        defaults[column.key] = default.arg if default.is_scalar else default.arg(None)
    binds = tuple(result.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names)
    columns = result._result_columns  # (key, name, objects, type) per column, in order
    results = tuple(column[3].dialect_impl(dialect).result_processor(dialect, None) for column in columns)
    entry = Compiled(str(result), names, binds, defaults, tuple(column[0] for column in columns),
                     tuple((i, convert) for i, convert in enumerate(results) if convert is not None))
    _COMPILED[cache_key] = (stmt, entry)
    return entry


_CONNECTION = "qunzhu.direct_connection"


async def _connection(session: AsyncSession) -> Any:
    """The session's connection in its current transaction (beginning it), remembered for the
    transaction's further statements: asking the session each time costs a greenlet switch."""
    transaction = session.sync_session.get_transaction()
    cached = session.info.get(_CONNECTION)
    if cached is not None and transaction is not None and cached[0] is transaction and transaction.is_active:
        return cached[1]
    connection = await session.connection()
    session.info[_CONNECTION] = (session.sync_session.get_transaction(), connection)
    return connection


async def execute(session: AsyncSession, stmt: Any, params: dict[str, Any]) -> Rows:
    """`stmt` (built once, see storage.db.built) with `params`, in the session's transaction."""
    # As session.execute would: pending ORM changes go first, so the statement sees them.
    if session.new or session.dirty or session.deleted:
        await session.flush()
    connection = await _connection(session)
    sync = connection.sync_connection
    dialect = sync.dialect
    dbapi = sync.connection.dbapi_connection
    direct_sqlite = isinstance(dbapi, sqlite_inline.Connection) and not dbapi.in_thread
    # echo logs through SQLAlchemy's execution: with it on, every statement goes that way.
    if sync._echo or (not direct_sqlite and dialect.driver != "asyncpg"):
        result = await session.execute(stmt, params)
        # A SELECT through the ORM session answers with a result that always has rows (no rowcount).
        returns_rows = getattr(result, "returns_rows", True)
        rows = [tuple(row) for row in result] if returns_rows else []
        return Rows(rows, getattr(result, "rowcount", -1), tuple(result.keys()) if returns_rows else ())
    entry = compiled(stmt, dialect, tuple(params))
    values = []
    for name, convert in zip(entry.names, entry.binds):
        value = params[name] if name in params else entry.defaults[name]
        values.append(convert(value) if convert is not None else value)
    cursor = sqlite3.Cursor(dbapi) if direct_sqlite else dbapi.cursor()
    # Listeners of the engine's cursor events (statement counts in tests and the bench) see these too.
    events = sync._has_events or sync.engine._has_events
    if events:
        sync.dispatch.before_cursor_execute(sync, cursor, entry.sql, values, None, False)
    try:
        if direct_sqlite:
            cursor.execute(entry.sql, values)
            fetched, rowcount = cursor.fetchall(), cursor.rowcount
        else:
            await cursor._prepare_and_execute(entry.sql, values)
            fetched, rowcount = list(cursor._rows), cursor.rowcount
    except Exception as exc:  # the connection's own handler wraps it (and drops a dead connection)
        await connection.run_sync(lambda c, e=exc: c._handle_dbapi_exception(e, entry.sql, tuple(values), None, None))
        raise
    if events:
        sync.dispatch.after_cursor_execute(sync, cursor, entry.sql, values, None, False)
    if entry.converted:
        # Only the few columns with a converter (times, mostly) of a wide row are touched (speed).
        rows = []
        for row in fetched:
            row = list(row)
            for i, convert in entry.converted:
                row[i] = convert(row[i])
            rows.append(tuple(row))
        fetched = rows
    else:
        fetched = [tuple(row) for row in fetched]
    return Rows(fetched, rowcount, entry.keys)
