"""Column posts through the real Telegram adapter (python-telegram-bot) against the fake Bot API
over HTTP: a send that times out after the request left is recorded `unknown` and never repeated,
and the admins are told."""

from __future__ import annotations

import asyncio

from bot.clock import FakeClock
from storage import columns_repo
from tests.columns.helpers import utc
from tests.support.telegram_harness import running_telegram_app

SLOT = utc(2026, 3, 2, 0, 0)  # 08:00 in Shanghai
ADMIN = "5001"
MARK = "早上好"


def telegram_columns_config(groups: list[str], **telegram) -> dict:
    return {
        "defaults": {"admins": [ADMIN]},
        "telegram": telegram,
        "columns": {"column": {"zaobao": {"title": "早报", "source": "morning", "times": ["08:00"], "groups": groups}}},
    }


def dm_texts(fake, user: str = ADMIN) -> list[str]:
    return [c.params["text"] for c in fake.calls_to("sendMessage") if c.params["chat_id"] == user]


async def test_a_slow_telegram_gets_the_post_once_and_it_is_recorded_unknown(db_url, tmp_path):
    slow_group, fine_group = "-1003000000001", "-1003000000002"
    config = telegram_columns_config([f"telegram:{slow_group}", f"telegram:{fine_group}"], request_timeout=1)
    clock = FakeClock(utc(2026, 3, 1, 23, 59))
    async with running_telegram_app(db_url, str(tmp_path), config, clock=clock) as h:
        h.fake.slow("sendMessage", 2.0, when=lambda p: p.get("chat_id") == slow_group)
        clock.set(SLOT)
        await h.tick()
        await asyncio.sleep(1.5)  # the fake finishes the slow request (Telegram got it after all)
        clock.set(utc(2026, 3, 2, 0, 15))  # later ticks, past the claim lease and stale_send_minutes
        await h.tick()
        await h.tick()
        to_slow = [c for c in h.fake.calls_to("sendMessage") if c.params["chat_id"] == slow_group]
        to_fine = [c for c in h.fake.calls_to("sendMessage") if c.params["chat_id"] == fine_group]
        async with h.app.sessions() as session:
            rows = {r.chat_id: r.status for r in await columns_repo.posts_of(session, "zaobao")}
        notes = [text for text in dm_texts(h.fake) if "可能收到也可能没收到" in text]
    assert len(to_slow) == 1, "the post that timed out was sent again"
    assert MARK in to_slow[0].params["text"] and len(h.fake.texts(int(slow_group))) == 1
    assert len(to_fine) == 1 and MARK in to_fine[0].params["text"]
    assert sorted(rows.values()) == ["sent", "unknown"]
    assert len(notes) == 1 and slow_group in notes[0] and fine_group not in notes[0]
