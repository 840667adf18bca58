"""What kill -9 can lose is bounded as docs/delivery.md says: the batched figures since the last tick
(here: the daily message count of the second run), never the points written with each message, and
nothing is counted twice."""

from __future__ import annotations

import signal

from tests.support.bot_process import BotProcess, telegram_config
from tests.support.fake_telegram import FakeTelegram
from tests.telegram.test_kill import _query

# No tick after start-up while the test runs: figures are only written at a graceful stop.
SLOW_TICKS = "\n[scheduler]\ntick_seconds = 3600\n"


async def _run_batch(fake, config, tmp_path, name, chat, first: int, n: int, *, kill: bool) -> None:
    db = tmp_path / "bot.db"
    bot = await BotProcess.start(config, tmp_path, name)
    try:
        await bot.wait_until(lambda: fake.calls_to("getUpdates"), 60, "the first getUpdates")
        updates = [fake.text_update(chat, fake.user(f"member{i}"), f"message number {i} for the figures")
                   for i in range(first, first + n)]
        await fake.push_raw(*updates)
        await bot.wait_until(lambda: _query(db, "select count(done_at) from inbox")[0][0] == first + n, 60,
                             f"{first + n} updates handled")
        await bot.stop(signal.SIGKILL if kill else signal.SIGTERM)
    finally:
        await bot.kill()
    if not kill:
        assert bot.returncode == 0, bot.errors()


async def test_kill_9_loses_only_the_unwritten_figures_never_points(tmp_path):
    async with FakeTelegram() as fake:
        config = telegram_config(tmp_path, fake, extra=SLOW_TICKS)
        db = tmp_path / "bot.db"
        chat = fake.group()
        await _run_batch(fake, config, tmp_path, "first", chat, 0, 5, kill=False)
        assert _query(db, "select sum(value) from daily_counters where metric = 'messages'")[0][0] == 5
        await _run_batch(fake, config, tmp_path, "second", chat, 5, 5, kill=True)

        messages = _query(db, "select sum(value) from daily_counters where metric = 'messages'")[0][0]
        assert messages == 5, "the second run's counts were in memory at the kill (and never doubled)"
        activity = _query(db, "select count(*), sum(amount) from points_ledger where source = 'activity'")[0]
        assert activity == (10, 10), "every message's point was written with the message"
        totals = _query(db, "select sum(balance), sum(earned) from points_member_totals")[0]
        assert totals == (10, 10), "the running totals agree with the ledger"
        assert _query(db, "select count(*), count(done_at) from inbox")[0] == (10, 10)
