"""`qunzhu run` killed with SIGKILL in the middle of a batch, then started again on the same SQLite file:
every update is handled exactly once overall, and every reply is posted once — or, when its sendMessage
was on the wire at the kill, recorded `uncertain` (never sent twice)."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import time

from tests.support.bot_process import BotProcess, telegram_config
from tests.support.fake_telegram import FakeTelegram

N = 8


def _query(db, sql, args=()):
    for _ in range(50):
        try:
            with sqlite3.connect(db, timeout=5) as conn:
                return conn.execute(sql, args).fetchall()
        except sqlite3.OperationalError:
            time.sleep(0.1)
    raise AssertionError(f"the database stayed locked: {sql}")


async def test_kill_9_mid_batch_then_restart_handles_every_update_once(tmp_path):
    async with FakeTelegram() as fake:
        config = telegram_config(tmp_path, fake)
        db = tmp_path / "bot.db"
        fake.delay("sendMessage", 0.6)  # each reply takes a while: the batch is still being handled at the kill
        bot = await BotProcess.start(config, tmp_path, "first")
        try:
            await bot.wait_until(lambda: fake.calls_to("getUpdates"), 60, "the first getUpdates")
            chat = fake.group()
            updates = [fake.command_update(chat, fake.user(f"member{i}"), "/help") for i in range(N)]
            polls = fake.polls
            await fake.push_raw(*updates)
            await bot.wait_until(lambda: fake.polls > polls, 30, "the getUpdates that returns the batch")
            await bot.wait_until(lambda: len(fake.calls_to("sendMessage")) >= 3, 60, "the third reply")
            await bot.stop(signal.SIGKILL)
        finally:
            await bot.kill()
        at_kill = len(fake.calls_to("sendMessage"))
        assert at_kill < N, "everything was handled before the kill; the test proves nothing"
        assert _query(db, "select count(*) from inbox where done_at is null")[0][0] > 0

        bot = await BotProcess.start(config, tmp_path, "second")
        try:
            def settled() -> bool:
                done = _query(db, "select count(*) from inbox where done_at is not null")[0][0]
                open_rows = _query(db, "select count(*) from outbox where state in ('queued', 'sending')")[0][0]
                return done == N and open_rows == 0
            await bot.wait_until(settled, 90, "every update handled after the restart")
            await asyncio.sleep(1.0)  # a wrong second send would arrive now
            await bot.stop()
        finally:
            await bot.kill()
        err = bot.errors()
        assert bot.returncode == 0, err
        assert "Traceback" not in err, err

        assert _query(db, "select count(*), count(done_at) from inbox")[0] == (N, N)
        rows = _query(db, "select args, state from outbox where method = 'send'")
        states: dict[str, list[str]] = {}
        for args, state in rows:
            states.setdefault(str(json.loads(args).get("reply_to")), []).append(state)
        replies: dict[str, int] = {}
        for call in fake.calls_to("sendMessage"):
            reply = call.params.get("reply_parameters") or {}
            replies[str(reply.get("message_id"))] = replies.get(str(reply.get("message_id")), 0) + 1
        for update in updates:
            mid = str(update["message"]["message_id"])
            assert len(states.get(mid, [])) == 1, f"update {update['update_id']}: one reply queued, got {states.get(mid)}"
            state, sent = states[mid][0], replies.get(mid, 0)
            assert sent <= 1, f"the reply to {mid} was sent {sent} times"
            assert state in ("done", "uncertain"), state
            if sent == 0:
                assert state == "uncertain", f"the reply to {mid} is missing and not recorded uncertain"
        assert sum(replies.get(str(u["message"]["message_id"]), 0) for u in updates) >= N - 1
