"""The inline SQLite driver (storage/sqlite_inline.py) waits for another process's write lock on the
event loop, not in it: the loop goes on answering while a write waits, and the write fails with
the usual "database is locked" only after the busy timeout."""

import asyncio
import contextlib
import sys
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from storage.db import create_engine, upgrade

HOLDER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("held", flush=True)
sys.stdin.readline()
db.execute("ROLLBACK")
"""


async def _hold_lock(path):
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLDER, str(path), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    assert await asyncio.wait_for(holder.stdout.readline(), 10) == b"held\n"
    return holder


async def _release(holder):
    holder.stdin.write(b"\n")
    await holder.stdin.drain()
    await asyncio.wait_for(holder.wait(), 10)


@contextlib.asynccontextmanager
async def _loop_gaps():
    """The gaps between 10 ms heartbeats on the event loop while the block runs (a frozen loop
    shows as one long gap)."""
    gaps: list[float] = []
    stop = asyncio.Event()

    async def beat() -> None:
        last = time.monotonic()
        while not stop.is_set():
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(beat())
    try:
        yield gaps
    finally:
        stop.set()
        await task


async def _write(engine) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("INSERT INTO seen_events (key, at) VALUES ('k', '2026-01-01 00:00:00.000000')"))


async def test_a_lock_held_by_another_process_does_not_freeze_the_loop(tmp_path):
    path = tmp_path / "qunzhu.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}", busy_timeout=30)
    assert engine.dialect.driver == "qunzhu_inline"
    try:
        await upgrade(engine)
        holder = await _hold_lock(path)
        async with _loop_gaps() as gaps:
            write = asyncio.create_task(_write(engine))
            await asyncio.sleep(1.0)
            assert not write.done()  # waiting for the lock…
            assert len(gaps) > 20 and max(gaps) < 0.5  # …while the loop goes on
            await _release(holder)
            await asyncio.wait_for(write, 10)
        async with engine.connect() as connection:
            assert await connection.scalar(text("SELECT count(*) FROM seen_events")) == 1
    finally:
        await engine.dispose()


@pytest.mark.parametrize("driver", ["inline", "aiosqlite"])
async def test_a_write_waits_the_busy_timeout_then_fails_as_locked(tmp_path, driver):
    path = tmp_path / "qunzhu.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}", busy_timeout=0.5, sqlite_driver=driver)
    try:
        await upgrade(engine)
        holder = await _hold_lock(path)
        async with _loop_gaps() as gaps:
            started = time.monotonic()
            with pytest.raises(OperationalError, match="database is locked"):
                await _write(engine)
            assert time.monotonic() - started >= 0.45
        assert max(gaps) < 0.4
        await _release(holder)
        await _write(engine)
    finally:
        await engine.dispose()


def test_an_unknown_driver_names_the_config_key():
    with pytest.raises(ValueError, match=r"\[database\] sqlite_driver"):
        create_engine("sqlite+aiosqlite:///x.db", sqlite_driver="pysqlite")


async def test_writers_of_this_process_queue_for_the_lock_and_a_nested_one_fails_as_locked(tmp_path):
    """Two write transactions of one process: the second waits (on the loop) until the first
    commits, then runs; a write opened while this task already holds one (a bug) fails after the
    busy timeout as "database is locked" instead of hanging."""
    from storage.db import session_factory

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'qunzhu.db'}", busy_timeout=0.5)
    sessions = session_factory(engine)
    try:
        await upgrade(engine)
        first_open, first_may_commit = asyncio.Event(), asyncio.Event()

        async def first() -> None:
            async with sessions() as session, session.begin():
                await session.execute(text("INSERT INTO seen_events (key, at) VALUES ('a', '2026-01-01 00:00:00')"))
                first_open.set()
                await first_may_commit.wait()

        async def second() -> None:
            async with sessions() as session, session.begin():
                await session.execute(text("INSERT INTO seen_events (key, at) VALUES ('b', '2026-01-01 00:00:00')"))

        one = asyncio.create_task(first())
        await first_open.wait()
        two = asyncio.create_task(second())
        await asyncio.sleep(0.2)
        assert not two.done()  # queued behind the first writer
        first_may_commit.set()
        await asyncio.wait_for(asyncio.gather(one, two), 5)

        async with sessions() as outer, outer.begin():
            await outer.execute(text("INSERT INTO seen_events (key, at) VALUES ('c', '2026-01-01 00:00:00')"))
            with pytest.raises(OperationalError, match="database is locked"):
                await asyncio.wait_for(second(), 5)
        async with engine.connect() as connection:
            assert await connection.scalar(text("SELECT count(*) FROM seen_events")) == 3
    finally:
        await engine.dispose()
