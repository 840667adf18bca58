"""kill -9 in the middle of a paced fan-out to 300 Telegram groups (the real adapter against the
fake Bot API over HTTP), then a restart on the same database: every group that never got the post
gets it, no group gets it twice, the only `unknown` rows are the requests in flight at the kill,
and the admins' note names every one of them."""

from __future__ import annotations

import asyncio
import collections
import os
import re
import signal
import sys
from pathlib import Path

from bot.app import App
from bot.clock import FakeClock
from storage import columns_repo
from storage.models import Chat
from tests.columns.helpers import utc
from tests.columns.telegram_fanout_child import ADMIN, CONCURRENCY, GROUPS, group_ids, kill_config
from tests.support.fake_telegram import FakeTelegram
from tests.support.harness import make_config

ROOT = Path(__file__).resolve().parents[2]
MARK = "早上好"
SLOT = "2026-03-02T00:00Z"


def posts_seen(fake: FakeTelegram) -> collections.Counter:
    """Column posts the fake received (whatever happened to the answer), by group."""
    groups = set(group_ids())
    return collections.Counter(
        c.params["chat_id"] for c in fake.calls_to("sendMessage")
        if c.params.get("chat_id") in groups and MARK in c.params.get("text", "")
    )


async def rows_by_group(app: App) -> dict[str, str]:
    async with app.sessions() as session:
        chats = {c.id: c.external_id for c in (await session.execute(Chat.__table__.select())).all()}
        return {chats[r.chat_id]: r.status for r in await columns_repo.posts_of(session, "zaobao") if r.slot == SLOT}


async def test_kill_mid_telegram_fanout_then_restart(db_url, tmp_path):
    fake = await FakeTelegram().start()
    fake.slow("sendMessage", 0.05)  # each request spends a moment in flight
    try:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-u", "-m", "tests.columns.telegram_fanout_child", db_url, str(tmp_path),
            fake.base_url, fake.base_file_url, fake.token,
            cwd=ROOT, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            async with asyncio.timeout(60):
                while sum(posts_seen(fake).values()) < 100:
                    assert child.returncode is None, "the child died by itself"
                    await asyncio.sleep(0.005)
            os.kill(child.pid, signal.SIGKILL)
            await child.wait()
        finally:
            if child.returncode is None:
                child.kill()
                await child.wait()
        await asyncio.sleep(0.2)  # requests the fake was still answering are stored
        before = posts_seen(fake)
        assert 100 <= sum(before.values()) < GROUPS - 50, "not killed mid fan-out"
        assert max(before.values()) == 1

        config = kill_config(fake.base_url, fake.base_file_url, fake.token)
        clock = FakeClock(utc(2026, 3, 2, 0, 12))  # past the claim lease and stale_send_minutes, within grace
        app = App(make_config(db_url, str(tmp_path), config), clock=clock, run_scheduler=False)
        app.build_platforms()
        at_kill = await rows_by_group(app)  # what the kill left, before anything runs
        fake.slow("sendMessage", 0)
        await app.start()  # start-up tick: takes over the claims, reports the interrupted sends
        try:
            await app.tick()
            after = await rows_by_group(app)
        finally:
            await app.stop()
        total = posts_seen(fake)
        notes = [c.params["text"] for c in fake.calls_to("sendMessage") if c.params.get("chat_id") == ADMIN]
    finally:
        await fake.stop()
    # Only requests that left are `sending`: the groups still waiting in the rate limiter are `claimed`.
    sending = {g for g, status in at_kill.items() if status == "sending"}
    sent_at_kill = {g for g, status in at_kill.items() if status == "sent"}
    assert sent_at_kill <= set(before) <= sent_at_kill | sending
    assert len(sending) <= CONCURRENCY and {"claimed"} <= set(at_kill.values())
    # A row turns `sending` only as its request leaves (after the limiter's wait): at most the one
    # send between that commit and its first byte can be `sending` without the fake having it.
    # (Flipped before the limiter, as it was, about half of them had never left.)
    assert len(sending - set(before)) <= 1
    unknown = {g for g, status in after.items() if status == "unknown"}
    assert set(after) == set(group_ids()) and set(after.values()) <= {"sent", "unknown"}
    assert max(total.values()) == 1, {g: n for g, n in total.items() if n > 1}  # nobody got it twice
    assert {g for g in group_ids() if total[g] == 0} <= unknown  # every other group got it
    assert unknown == sending and 0 < len(unknown) <= CONCURRENCY  # only the requests in flight at the kill
    # what the fake saw before the restart: the rows then `sent`, plus some of the `unknown` ones
    assert set(before) - unknown <= {g for g, s in after.items() if s == "sent"}
    assert all(total[g] == before[g] for g in unknown)  # never re-sent
    named = {m for text in notes if "可能收到也可能没收到" in text for m in re.findall(r"^• (-\d+)", text, re.MULTILINE)}
    assert named == unknown
