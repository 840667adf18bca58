"""No platform call while the engine holds a database write transaction: every send, DM and admin
lookup of a tick (a fan-out with a refused send and an uncertain one, the notes about them, and a
note about a slot skipped past its grace) finds no write transaction open — on SQLite another
writer could start, on PostgreSQL no session holds a transaction id."""

from __future__ import annotations

import sqlite3

from bot.app import App
from bot.clock import FakeClock
from bot.platform import ActionFailed, ActionUncertain
from bot.platforms.console import ConsolePlatform
from storage import columns_repo
from tests.columns.helpers import dms, utc
from tests.support.harness import make_config, running_app


async def test_the_engine_calls_the_platform_only_outside_write_transactions(db_url, tmp_path):
    groups = [f"console:g{i}" for i in range(12)]
    config = {"columns": {"fanout_concurrency": 1, "column": {
        "zaobao": {"source": "morning", "times": ["08:00"], "groups": groups},
        "early": {"source": "morning", "times": ["07:20"], "groups": groups},
    }}}
    clock = FakeClock(utc(2026, 3, 1, 23, 0))  # 07:00 in Shanghai: both columns and all groups known
    async with running_app(db_url, str(tmp_path), config, clock=clock):
        pass
    violations: list[str] = []
    calls: list[str] = []

    pg = None
    if db_url.startswith("postgresql"):
        import asyncpg

        pg = await asyncpg.connect(db_url.replace("postgresql+asyncpg://", "postgresql://"))

    async def probe(what: str) -> None:
        """SQLite: can another writer start? PostgreSQL: does any session hold a transaction that wrote?"""
        calls.append(what)
        if pg is not None:
            writing = await pg.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
            )
            if writing:
                violations.append(f"{what}: {writing} write transaction(s) open")
            return
        conn = sqlite3.connect(db_url.split(":///", 1)[1], timeout=0)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.rollback()
        except sqlite3.OperationalError as exc:
            violations.append(f"{what}: {exc}")
        finally:
            conn.close()

    clock.set(utc(2026, 3, 2, 0, 0))  # 08:00: zaobao is due, early's 07:20 is past its 30-minute grace
    app = App(make_config(db_url, str(tmp_path), config), clock=clock, run_scheduler=False)
    console = app.platforms["console"] = ConsolePlatform(app.config.console, app)
    send, dm, admin_ids = console.send, console.dm, console.admin_ids

    async def guarded_send(chat, text, **kw):
        await probe(f"send {chat.id}")
        if chat.id == "g3":
            raise ActionUncertain("timed out after the request left")
        if chat.id == "g5":
            raise ActionFailed("no_rights", "not allowed to post")
        return await send(chat, text, **kw)

    async def guarded_dm(user, text, **kw):
        await probe(f"dm {user.id}")
        return await dm(user, text, **kw)

    async def guarded_admin_ids(chat):
        await probe(f"admin_ids {chat.id}")
        return await admin_ids(chat)

    console.send, console.dm, console.admin_ids = guarded_send, guarded_dm, guarded_admin_ids
    try:
        async with app:  # the start-up tick does it all
            await app.tick()
            async with app.sessions() as session:
                statuses = sorted(r.status for r in await columns_repo.posts_of(session, "zaobao") if r.slot == "2026-03-02T00:00Z")
            # the probe itself: it does see a write transaction left open
            async with app.sessions() as session, session.begin():
                await columns_repo.first_notice(session, "probe-check", clock.now())
                await probe("inside a write transaction")
            assert len(violations) == 1 and violations.pop().startswith("inside")
    finally:
        if pg is not None:
            await pg.close()
    notes = dms(console)
    assert violations == []
    assert sum(c.startswith("send") for c in calls) == 12 and sum(c.startswith("dm") for c in calls) >= 3
    assert statuses == ["failed"] + ["sent"] * 10 + ["unknown"]
    assert any("可能收到也可能没收到" in n and "g3" in n for n in notes)
    assert any("发送失败" in n and "g5" in n for n in notes)
    assert any("本期跳过" in n for n in notes)
