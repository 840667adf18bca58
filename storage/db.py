"""Engine, sessions and migrations, for SQLite (WAL) and PostgreSQL alike."""

from __future__ import annotations

import ast
import errno
import os
import re
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import event, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.dialects import postgresql, registry, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.orm.attributes import set_committed_value

from storage import direct, sqlite_inline

MIGRATIONS = Path(__file__).parent / "migrations"

# SQLite connections: kept open, and opened beyond that under load (closed when returned).
SQLITE_POOL_SIZE = 2
SQLITE_POOL_OVERFLOW = 2
# Page cache of each SQLite connection, in KiB (PRAGMA cache_size=-N; SQLite's default is 2,000).
SQLITE_CACHE_KIB = 8192


# SQLite drivers ([database] sqlite_driver): "inline" runs sqlite3 on the event loop's thread
# (storage/sqlite_inline.py), "aiosqlite" sends each call to a thread of its own.
SQLITE_DRIVERS = ("inline", "aiosqlite")
registry.register("sqlite.qunzhu_inline", "storage.sqlite_inline", "SQLiteDialect_inline")


def create_engine(url: str, *, echo: bool = False, busy_timeout: float = 30.0, sqlite_driver: str = "inline",
                  pool_size: int = 10) -> AsyncEngine:
    """`pool_size`: PostgreSQL connections kept open ([database] pool_size); SQLite has its own few."""
    if url.startswith("sqlite"):
        if sqlite_driver not in SQLITE_DRIVERS:
            raise ValueError(f"[database] sqlite_driver: {sqlite_driver!r} is not one of {', '.join(SQLITE_DRIVERS)}")
        path = url.split("///", 1)[-1]
        pool: dict[str, Any] = {}  # :memory: is one shared connection (SQLAlchemy's StaticPool)
        if path and ":memory:" not in path:
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError:
                pass  # check_writable says what is wrong, naming [database] url
            # Only one connection can write at a time, and each keeps its own page cache: a few
            # are enough. A slot frees up within a busy timeout (a statement waiting for the lock
            # fails then), so waiting much longer for one means a bug, not a busy database.
            pool = {"pool_size": SQLITE_POOL_SIZE, "max_overflow": SQLITE_POOL_OVERFLOW, "pool_timeout": 4 * busy_timeout}

        if sqlite_driver == "inline":
            url = make_url(url).set(drivername="sqlite+qunzhu_inline")
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": busy_timeout}, **pool)
        _tune_sqlite(engine, busy_timeout)
        return engine
    # A fixed set of connections: events beyond it wait for one (PostgreSQL work is CPU-bound here,
    # so more would not be faster), and none is opened and closed per burst as an overflow one is.
    engine = create_async_engine(url, echo=echo, pool_size=pool_size, max_overflow=0)
    _ping_after_idle(engine)
    return engine


# A pooled PostgreSQL connection idle this long is pinged before use (a restarted server, a
# firewall or idle_session_timeout may have closed it). SQLAlchemy's pool_pre_ping pings at every
# checkout: three round trips (BEGIN, ";", ROLLBACK) before each transaction's own.
PING_AFTER_IDLE_SECONDS = 10.0


def _ping_after_idle(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "checkin")
    def _returned(_dbapi_connection, record):
        if record is not None:
            record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _check(dbapi_connection, record, _proxy):
        returned = record.info.get("returned_at")
        if returned is None or time.monotonic() - returned < PING_AFTER_IDLE_SECONDS:
            return
        try:
            dbapi_connection.ping()
        except Exception as exc:
            # The pool drops this connection and checks out another (a new one if need be).
            raise DisconnectionError(f"idle connection is gone: {type(exc).__name__}") from exc


def _tune_sqlite(engine: AsyncEngine, busy_timeout: float) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not the driver, issue BEGIN (IMMEDIATE, below) and SAVEPOINTs.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        if not isinstance(dbapi_connection, sqlite_inline.Connection):
            # The inline driver waits for the lock itself, on the event loop (its SQLite timeout is 0).
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn):
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")  # deferred: a snapshot of the WAL, no write lock
            driver = conn.connection.dbapi_connection
            if isinstance(driver, sqlite_inline.Connection):
                driver.in_thread = True  # long reads must not hold up the event loop
            return
        # IMMEDIATE takes the write lock up front: two writers never deadlock upgrading a read lock.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


# Execution option of a connection whose transactions only read (see read_only).
READ_ONLY = "qunzhu_read_only"


async def read_only(session: AsyncSession) -> AsyncSession:
    """Make the session's transaction a reader, before its first statement: on SQLite a deferred
    BEGIN, so long reads (the stats warm-up) neither take nor wait for the write lock that every
    message needs. Nothing may be written in it. PostgreSQL: no difference."""
    await session.connection(execution_options={READ_ONLY: True})
    return session


def dialect_name(session: Any) -> str:
    """The session's database: "sqlite" or "postgresql". Read from the sync session's engine:
    AsyncSession.bind translates it back to the async one each time (a cost on the per-message path)."""
    bind = getattr(session, "sync_session", session).bind
    return bind.dialect.name if bind is not None else "sqlite"


def dialect_insert(session: Any) -> Any:
    """The insert() of the session's database (with its ON CONFLICT clauses and `excluded`)."""
    return postgresql.insert if dialect_name(session) == "postgresql" else sqlite.insert


def insert_ignore(session: AsyncSession, model: Any, values: dict[str, Any] | list[dict[str, Any]], conflict: list[str]):
    """INSERT … ON CONFLICT DO NOTHING on either database, built for these values (one row or many);
    returns the statement to execute. On the per-message path use `insert_ignoring`, built once."""
    return dialect_insert(session)(model).values(values).on_conflict_do_nothing(index_elements=conflict)


# Statements of the per-message path, built once: building one costs more Python than running it.
_BUILT: dict[tuple, Any] = {}


def built(key: tuple, build: Callable[[], Any]) -> Any:
    """The statement cached under `key` (include the dialect when it differs), built on first use;
    execute it with the values as parameters of its bindparams."""
    stmt = _BUILT.get(key)
    if stmt is None:
        stmt = _BUILT[key] = build()
    return stmt


_PRIMARY_KEYS: dict[type, tuple[str, ...]] = {}


def in_session(session: Any, model: Any, key: tuple) -> Any:
    """The session's row of `model` with primary key `key` (a tuple), or None; no statement. The
    identity key spelt out, as `identity_key()` builds it (that looks the mapper up each time)."""
    return session.identity_map.get((model, key, None))


def as_stored(session: Any, model: Any, values: dict[str, Any]) -> Any:
    """`values`, known to be what the database holds now (a RETURNING row, a cached copy), as the
    session's row of `model`, without a statement: later reads in the transaction need none. `values`
    must include the primary key."""
    names = _PRIMARY_KEYS.get(model) or _PRIMARY_KEYS.setdefault(
        model, tuple(column.key for column in model.__mapper__.primary_key))
    key = tuple(values[name] for name in names)
    row = in_session(session, model, key)
    if row is None:
        # Made and attached as a load makes and attaches it (sqlalchemy/orm/loading.py): the values
        # straight into its state, the state into the identity map as committed. session.add after
        # make_transient_to_detached costs five times as much (cascades, events), for up to four
        # rows an event.
        sync = getattr(session, "sync_session", session)
        row = model.__mapper__.class_manager.new_instance()
        state = instance_state(row)
        row.__dict__.update(values)
        state.key = (model, key, None)
        state.identity_token = None
        state.session_id = sync.hash_key
        sync.identity_map._add_unpresent(state, state.key)
        state._commit_all(state.dict, sync.identity_map)
    else:  # loaded (or expired) earlier in this session: refresh it in place
        for name, value in values.items():
            set_committed_value(row, name, value)
    return row


def _insert_ignoring_stmt(session: AsyncSession, model: Any, columns: tuple[str, ...], conflict: tuple[str, ...],
                          returning: tuple[str, ...]) -> Any:
    """INSERT … ON CONFLICT DO NOTHING [RETURNING columns], built once per shape; the columns come
    from the parameters (no .values()), with the columns' own types."""
    dialect = dialect_name(session)

    def build():
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        table = model.__table__
        stmt = insert(table).on_conflict_do_nothing(index_elements=list(conflict))
        return stmt.returning(*(table.c[name] for name in returning)) if returning else stmt

    return built(("insert_ignoring", dialect, model, columns, conflict, returning), build)


async def insert_ignoring(session: AsyncSession, model: Any, values: dict[str, Any], conflict: tuple[str, ...],
                          returning: str | None = None):
    """Execute INSERT … ON CONFLICT DO NOTHING [RETURNING column] with `values`, on the direct path;
    the rows (`.scalar()` is the returned column, None when the row was there; `.rowcount` 0 then)."""
    stmt = _insert_ignoring_stmt(session, model, tuple(values), conflict, (returning,) if returning else ())
    return await direct.execute(session, stmt, values)


async def insert_ignoring_many(session: AsyncSession, model: Any, rows: list[dict[str, Any]], conflict: tuple[str, ...],
                               returning: tuple[str, ...]) -> list[tuple]:
    """The same for rows of one shape, as one multi-row statement (SQLAlchemy's "insertmanyvalues");
    the returned columns of the rows that went in (in no promised order)."""
    stmt = _insert_ignoring_stmt(session, model, tuple(rows[0]), conflict, returning)
    return [tuple(row) for row in await session.execute(stmt, rows)]


def alembic_config():
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


# pg_advisory_lock key of the migrations: any constant that no other code uses ("qunzhu" in ASCII).
MIGRATION_LOCK = 0x71756E7A6875


async def upgrade(engine: AsyncEngine, revision: str = "heads") -> None:
    """Apply migrations on the given engine (used by `qunzhu db upgrade` and at start).

    Instances that start together on one database take turns: on PostgreSQL under a session-level
    advisory lock held by the migrating connection (released after, or by the server if the
    process dies); on SQLite the migration transaction is BEGIN IMMEDIATE (see _tune_sqlite),
    which waits up to the busy timeout for the other writer. Whoever comes second finds the
    schema at heads and has nothing to do.

    A database already at the scripts' heads (every start but the first after an upgrade) is left
    alone without importing alembic: its migration machinery is ~8 MB of memory a running bot never
    needs again."""
    if revision == "heads" and await current_heads(engine) == script_heads():
        return
    from alembic import command

    def _run(sync_connection):
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_connection
        command.upgrade(cfg, revision)

    if engine.dialect.name != "postgresql":
        async with engine.begin() as connection:
            await connection.run_sync(_run)
        return
    async with engine.connect() as connection:
        await connection.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK})")
        await connection.commit()
        try:
            async with connection.begin():
                await connection.run_sync(_run)
        finally:
            await connection.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK})")
            await connection.commit()


# Rows ANALYZE reads per index (PRAGMA analysis_limit): enough for the planner's estimates, and
# small enough that on a file of millions of rows each table's ANALYZE holds the write lock for
# milliseconds, not seconds.
ANALYSIS_LIMIT = 1000


async def analyze(engine: AsyncEngine) -> list[str]:
    """SQLite only: give the query planner statistics (SQLite never gathers them by itself).
    Tables with none yet (new, or never analyzed) are analyzed one by one, each in its own short
    transaction; then `PRAGMA optimize` refreshes the ones whose size changed a lot. Run at start
    and hourly. Returns the tables analyzed from scratch (an empty table gets no statistics, so it
    is looked at again next time)."""
    if engine.dialect.name != "sqlite":
        return []
    async with engine.connect() as connection:
        await connection.exec_driver_sql(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
        tables = [
            name
            for (name,) in await connection.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        has_stats = await connection.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'"
        )
        known = set()
        if has_stats.first():
            known = {name for (name,) in await connection.exec_driver_sql("SELECT DISTINCT tbl FROM sqlite_stat1")}
        await connection.commit()
        fresh = [name for name in tables if name not in known]
        for name in fresh:
            async with connection.begin():
                await connection.exec_driver_sql(f'ANALYZE "{name}"')
        async with connection.begin():
            # 0x10000: look at every table, not only those this connection's queries used (SQLite
            # 3.46+; older versions ignore the bit, and a pooled connection has used them all).
            await connection.exec_driver_sql("PRAGMA optimize=0x10002")
        return fresh


async def check_writable(engine: AsyncEngine, url: str) -> None:
    """Fail at start, in words, when the database cannot be written: a RuntimeError naming
    `[database] url`, where (the file, or PostgreSQL's host:port — never the password) and why."""
    if engine.dialect.name == "sqlite":
        path = url.split("///", 1)[-1].split("?", 1)[0]
        if path and ":memory:" not in path:
            _check_sqlite_path(Path(path))
        where = f"SQLite file {path}"
    else:
        u = engine.url
        where = f"PostgreSQL server at {u.host or 'localhost'}:{u.port or 5432} (database {u.database!r})"
    try:
        async with engine.connect() as connection:
            transaction = await connection.begin()
            try:
                if engine.dialect.name == "sqlite":
                    # BEGIN IMMEDIATE already took the write lock; one real write to the file, undone.
                    await connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS qunzhu_probe (x INTEGER)")
                    await connection.exec_driver_sql("INSERT INTO qunzhu_probe (x) VALUES (1)")
                else:
                    # A temporary table needs no CREATE right on the schema, yet a read-only server
                    # (hot standby, default_transaction_read_only) refuses it.
                    await connection.exec_driver_sql("CREATE TEMPORARY TABLE qunzhu_probe (x INTEGER) ON COMMIT DROP")
                    await connection.exec_driver_sql("INSERT INTO qunzhu_probe (x) VALUES (1)")
            finally:
                await transaction.rollback()
    except Exception as exc:  # driver errors differ by database; all mean the same to the operator
        reason = getattr(exc, "orig", None) or exc
        text = str(reason).strip() or type(reason).__name__
        if isinstance(reason, OSError) and engine.dialect.name != "sqlite":
            text = f"unreachable: {text}"
        if engine.dialect.name == "sqlite" and path and ":memory:" not in path:
            text = _sqlite_reason(Path(path), text)
        raise RuntimeError(_without_password(f"[database] url: cannot write to the {where}: {text}")) from None


# The same shape bot/redact.py masks (storage imports nothing of bot/); what prints the error redacts
# the rest (configured secrets, token shapes).
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)([^@\s/]+)(@)", re.IGNORECASE)


def _without_password(text: str) -> str:
    return _URL_PASSWORD.sub(lambda m: m.group(1) + "***" + m.group(3), text)


def _check_sqlite_path(path: Path) -> None:
    """The operating system's own words for what stops us creating and writing the file and its
    -wal/-shm/-journal companions (SQLite's 'unable to open database file' says none of it)."""
    folder = path.parent

    def fail(what: str, exc: OSError) -> None:
        reason = exc.strerror or str(exc)
        hint = ""
        if exc.errno in (errno.EROFS,):
            hint = " (the file system is mounted read-only)"
        elif exc.errno in (errno.EPERM, errno.EACCES):
            hint = " (check the owner, mode and `lsattr` immutable flag)"
        elif exc.errno == errno.ENOSPC:
            hint = " (the disk is full)"
        raise RuntimeError(f"[database] url: cannot write the SQLite file {path}: {what}: {reason}{hint}") from None

    for parent in [folder, *folder.parents]:
        if parent.exists() and not parent.is_dir():
            raise RuntimeError(f"[database] url: cannot write the SQLite file {path}: {parent} is a file, not a folder")
        if parent.exists():
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"cannot create the folder {folder}", exc)
    if path.is_dir():
        raise RuntimeError(f"[database] url: cannot write the SQLite file {path}: it is a folder")
    existed = path.exists()
    try:
        with open(path, "ab"):
            pass
    except OSError as exc:
        fail("cannot open it for writing" if existed else f"cannot create it in the folder {folder}", exc)
    probe = folder / f".{path.name}.qunzhu-probe-{os.getpid()}"
    try:
        with open(probe, "wb") as f:  # SQLite writes its journal and WAL files beside the database
            f.write(b"\0" * 4096)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        fail(f"cannot write files in the folder {folder}", exc)
    finally:
        try:
            probe.unlink()
        except OSError:
            pass


def _sqlite_reason(path: Path, text: str) -> str:
    if "readonly" in text or "read-only" in text:
        return f"{text} (the file or its folder is read-only for this process)"
    if "disk" in text and "full" in text:
        return f"{text} (the disk is full)"
    return text


async def current_heads(engine: AsyncEngine) -> set[str]:
    """The revisions the database is at (alembic's version table; empty for a new database)."""
    from sqlalchemy import inspect, text

    def read(connection) -> set[str]:
        if not inspect(connection).has_table(VERSION_TABLE):
            return set()
        return {row[0] for row in connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))}

    async with engine.connect() as connection:
        return await connection.run_sync(read)


VERSION_TABLE = "alembic_version"  # alembic's default name (storage/migrations/env.py keeps it)


@cache
def script_heads() -> frozenset[str]:
    """The heads of the migration scripts — revisions no other script builds on —, read from the
    files' `revision` and `down_revision` assignments without importing alembic (once a process:
    the scripts ship with the code)."""
    revisions: set[str] = set()
    below: set[str] = set()
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else (
                node.target if isinstance(node, ast.AnnAssign) else None)
            if not isinstance(target, ast.Name) or node.value is None:
                continue
            if target.id == "revision":
                revisions.add(ast.literal_eval(node.value))
            elif target.id == "down_revision":
                down = ast.literal_eval(node.value)
                below.update([down] if isinstance(down, str) else down or ())
    return frozenset(revisions - below)


async def ping(engine: AsyncEngine) -> None:
    """SELECT 1: raises when the database does not answer."""
    from sqlalchemy import text

    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
