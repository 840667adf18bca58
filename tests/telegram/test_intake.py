"""The Telegram intake (bot/platforms/telegram_intake.py) through the real adapter against the fake Bot API:
real payloads, unparseable updates, fetch failures, webhook answers, a send that times out after it left."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from bot.dispatch import Router
from bot.events import (
    ButtonPressed,
    CommandInvoked,
    JoinRequested,
    MemberJoined,
    MemberLeft,
    MessageEdited,
    MessageReceived,
)
from storage.models import InboxEntry, OutboxAction
from tests.support.sqlite_lock import HeldLock
from tests.support.telegram_harness import WEBHOOK_SECRET, running_telegram_app

PAYLOADS = Path(__file__).parent / "payloads"
UNPARSEABLE = {
    "chat_member_restricted_old_fields", "message_group_user_without_is_bot", "message_private_photo_old_format",
    "message_private_poll_without_persistent_id", "message_supergroup_sticker", "poll_without_persistent_id",
    "my_chat_member_supergroup_admin_without_story_rights",
}


def tiny_router() -> Router:
    r = Router("tiny", 50)
    r.events = []  # type: ignore[attr-defined]

    @r.on(MessageReceived, MessageEdited, CommandInvoked, MemberJoined, MemberLeft, JoinRequested, ButtonPressed)
    async def record(ctx):
        r.events.append(ctx.event)  # type: ignore[attr-defined]

    @r.command("echo", description={"zh-CN": "复述", "en": "Say it back"})
    async def echo(ctx):
        await ctx.reply("echo: " + " ".join(ctx.event.args))

    return r


def payloads() -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(PAYLOADS.glob("*.json"))}


def errors(caplog) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR]


async def inbox(app) -> list[InboxEntry]:
    async with app.sessions() as session:
        return list(await session.scalars(select(InboxEntry).order_by(InboxEntry.id)))


async def post_raw(url: str, body: bytes, secret: str = WEBHOOK_SECRET) -> int:
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data=body, headers={"X-Telegram-Bot-Api-Secret-Token": secret,
                                                       "Content-Type": "application/json"}) as resp:
            await resp.read()
            return resp.status


def test_the_corpus_has_real_and_broken_payloads():
    corpus = payloads()
    assert len(corpus) >= 15
    assert UNPARSEABLE <= set(corpus)
    readme = (PAYLOADS / "README.md").read_text(encoding="utf-8")
    assert all(f"{name}.json" in readme for name in corpus), "every payload says where it came from"


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_every_real_payload_between_two_good_updates(db_url, tmp_path, mode, caplog):
    caplog.set_level(logging.WARNING)
    tiny = tiny_router()
    async with running_telegram_app(db_url, str(tmp_path), mode=mode, routers=[tiny]) as h:
        await h.command("alice", "/echo first")
        expected = ["echo: first"]
        for name, payload in payloads().items():
            update = dict(payload, update_id=h.fake.next_update_id())  # ids the fake's offset accepts
            await h.deliver(update)  # raises if the webhook answered anything but 200, or it stalls
            await h.command("alice", f"/echo after {name}")
            expected.append(f"echo: after {name}")
        assert h.bot_texts() == expected, "the bot kept serving after every payload"
        assert h.platform.unparseable_updates == len(UNPARSEABLE)
        assert sum(h.platform.unparseable_by_kind.values()) == len(UNPARSEABLE)
        rows = await inbox(h.app)
        assert len(rows) == 1 + 2 * len(payloads()) and all(r.done_at is not None for r in rows)
        # What the broken ones still tell is judged: the spam of a sender without is_bot arrives.
        salvaged = [e for e in tiny.events if isinstance(e, MessageReceived) and e.chat.id == "-1001500000001"
                    and e.message_id == "900"]
        assert len(salvaged) == 1 and salvaged[0].text == "buy cheap followers now @cheapfollowers"
        assert salvaged[0].user.id == "5000003" and salvaged[0].user.username == "cheapfollowers"
        assert errors(caplog) == []
    warnings = [r.getMessage() for r in caplog.records if "cannot be read by python-telegram-bot" in r.getMessage()]
    assert len(warnings) == len(UNPARSEABLE), "each unparseable update is logged once"
    assert any("is_bot" in w for w in warnings) and any("persistent_id" in w for w in warnings)
    assert all(h.fake.token not in r.getMessage() for r in caplog.records)


async def test_polling_an_unparseable_update_no_hot_loop_and_the_offset_moves_on(sqlite_url, tmp_path, caplog):
    tiny = tiny_router()
    config = {"telegram": {"poll_timeout": 0}}  # the worst case: getUpdates answers at once
    async with running_telegram_app(sqlite_url, str(tmp_path), config, routers=[tiny]) as h:
        bad = dict(payloads()["message_group_user_without_is_bot"], update_id=h.fake.next_update_id())
        good_before = h.fake.command_update(h.chat, h.user("alice"), "/echo before")
        bad["update_id"] = h.fake.next_update_id()
        good_after = h.fake.command_update(h.chat, h.user("alice"), "/echo after")
        polls = h.fake.polls
        waiters = [h.platform.expect(u["update_id"]) for u in (good_before, bad, good_after)]
        await h.fake.push_raw(good_before, bad, good_after)
        await asyncio.wait_for(asyncio.gather(*waiters), 10)
        await asyncio.sleep(3)
        assert h.fake.polls - polls < 20, "getUpdates in a hot loop"
        assert h.bot_texts() == ["echo: before", "echo: after"]
        offsets = [int(p.get("offset") or 0) for p in h.fake.get_updates_params()]
        assert max(offsets) > bad["update_id"] and h.fake.pending_updates == 0
        assert h.platform.unparseable_updates == 1
        assert errors(caplog) == []


async def test_failing_getupdates_backs_off_and_recovers(sqlite_url, tmp_path):
    tiny = tiny_router()
    async with running_telegram_app(sqlite_url, str(tmp_path), {"telegram": {"poll_timeout": 0}}, routers=[tiny]) as h:
        polls = h.fake.polls
        h.fake.fail("getUpdates", 409, description="Conflict: terminated by other getUpdates request", times=1000)
        await asyncio.sleep(3)
        assert h.fake.polls - polls <= 6, "a 409 must be followed by a growing wait"
        h.fake.failures.clear()
        await h.command("alice", "/echo back")
        assert h.bot_texts() == ["echo: back"]


async def test_polling_waits_while_the_backlog_is_full_and_goes_on_as_it_drains(sqlite_url, tmp_path):
    """Handling is behind (here: each update waits for a gate before its transaction): once 100 updates
    are fetched and not handled, getUpdates is not called again until some are; then the rest come."""
    gate = asyncio.Event()
    slow = tiny_router()

    async def held(_app, _event):
        await gate.wait()
        return {}

    slow.preparers.append(held)
    config = {"telegram": {"poll_timeout": 0, "concurrent_updates": 2}}  # backlog: max(100, 8 × 2)
    async with running_telegram_app(sqlite_url, str(tmp_path), config, routers=[slow]) as h:
        chats = [h.fake.group(-1001900000000 - i, f"Busy {i}") for i in range(5)]
        await h.fake.push(*[h.fake.text_update(chats[i % 5], h.user(f"u{i % 7}"), f"m{i}") for i in range(250)])
        for _ in range(100):
            await asyncio.sleep(0.05)
            if len(await inbox(h.app)) >= 100:
                break
        polls = h.fake.polls
        await asyncio.sleep(1.0)
        assert len(await inbox(h.app)) == 100, "fetched past the backlog"
        assert h.fake.polls == polls, "getUpdates went on with the backlog full"
        gate.set()
        for _ in range(400):
            await asyncio.sleep(0.05)
            if len(slow.events) == 250:  # type: ignore[attr-defined]
                break
        assert sorted(e.text for e in slow.events) == sorted(f"m{i}" for i in range(250))  # type: ignore[attr-defined]


LOCKED_FAST = {"database": {"busy_timeout_seconds": 0.2}}


async def test_when_the_inbox_cannot_store_the_offset_stays(sqlite_url, tmp_path):
    """The database is locked by another connection: the update cannot be stored, so the offset does
    not move past it (Telegram keeps it), the loop backs off, and it is handled once the lock goes."""
    tiny = tiny_router()
    config = {"telegram": {"poll_timeout": 0}, **LOCKED_FAST}
    async with running_telegram_app(sqlite_url, str(tmp_path), config, routers=[tiny]) as h:
        update = h.fake.command_update(h.chat, h.user("alice"), "/echo stored late")
        with HeldLock(sqlite_url.split("///", 1)[1]) as lock:
            seen = len(h.fake.get_updates_params())
            handled = asyncio.create_task(h.deliver(update))
            await asyncio.sleep(2.0)
            during = h.fake.get_updates_params()[seen:]
            assert not handled.done() and h.bot_texts() == []
            lock.release()
        await asyncio.wait_for(handled, 20)
        assert 2 <= len(during) < 20, f"{len(during)} getUpdates in 2 s: it came back for the update, backing off"
        assert all(int(p.get("offset") or 0) <= update["update_id"] for p in during), "the offset moved past an update not stored"
        assert h.bot_texts() == ["echo: stored late"]


async def test_webhook_answers(db_url, tmp_path, caplog):
    tiny = tiny_router()
    async with running_telegram_app(db_url, str(tmp_path), mode="webhook", routers=[tiny]) as h:
        assert h.fake.webhook is not None and h.fake.webhook["secret_token"] == WEBHOOK_SECRET
        url = h.webhook_url
        # Not an update at all: 200 (Telegram would redeliver a 4xx forever), counted, nothing stored.
        assert await post_raw(url, b"this is not json") == 200
        assert await post_raw(url, b"[1, 2]") == 200
        assert await post_raw(url, b'{"update_id": "7"}') == 200
        assert h.platform.intake.malformed_bodies == 3
        # A wrong secret: 403, and nothing is stored.
        assert await h.post_webhook(h.fake.command_update(h.chat, h.user("mallory"), "/echo forged"), secret="x") == 403
        assert await inbox(h.app) == []
        # Unparseable: 200, skipped, counted once even when Telegram redelivers it.
        bad = dict(payloads()["chat_member_restricted_old_fields"], update_id=h.fake.next_update_id())
        await h.deliver(bad)
        assert await h.post_webhook(bad) == 200
        assert h.platform.unparseable_updates == 1
        # A redelivery of a good update is handled once.
        update = h.fake.command_update(h.chat, h.user("alice"), "/echo once")
        await h.deliver(update)
        assert await h.post_webhook(update) == 200
        assert await h.deliver(update) == []
        assert h.bot_texts() == ["echo: once"]
        assert len([e for e in tiny.events if isinstance(e, CommandInvoked)]) == 1
        assert len(await inbox(h.app)) == 2
        assert errors(caplog) == []


async def test_webhook_answers_503_when_the_update_cannot_be_stored(sqlite_url, tmp_path):
    async with running_telegram_app(sqlite_url, str(tmp_path), LOCKED_FAST, mode="webhook", routers=[tiny_router()]) as h:
        update = h.fake.command_update(h.chat, h.user("alice"), "/echo later")
        with HeldLock(sqlite_url.split("///", 1)[1]):
            assert await h.post_webhook(update) == 503
        await h.deliver(update)  # Telegram retries
        assert h.bot_texts() == ["echo: later"]


async def test_a_send_that_times_out_after_it_left_is_not_repeated(db_url, tmp_path):
    tiny = tiny_router()
    async with running_telegram_app(db_url, str(tmp_path), {"telegram": {"request_timeout": 1}}, routers=[tiny]) as h:
        h.fake.delay("sendMessage", 2.0)
        await h.command("alice", "/echo slow")
        await asyncio.sleep(2.5)  # time for any (wrong) retry to arrive
        replies = [c for c in h.fake.calls_to("sendMessage") if c.params["text"] == "echo: slow"]
        assert len(replies) == 1, "sendMessage was repeated"
        # Not repeated, so the admins are asked to check (in the group here: no admin has a DM open).
        notes = [t for t in h.bot_texts() if t != "echo: slow"]
        assert h.bot_texts().count("echo: slow") == 1 and len(notes) == 1 and "1" in notes[0], h.bot_texts()
        async with h.app.sessions() as session:
            rows = list(await session.scalars(select(OutboxAction).where(OutboxAction.method == "send")))
        assert [r.state for r in rows] == ["uncertain"]


async def test_a_send_that_never_left_is_retried(sqlite_url, tmp_path):
    """A connection refused / connect timeout is safe to repeat: here a 5xx answer (the server answered,
    so it did not carry it out) and then success."""
    tiny = tiny_router()
    async with running_telegram_app(sqlite_url, str(tmp_path), routers=[tiny]) as h:
        h.fake.fail("sendMessage", 500)
        await h.command("alice", "/echo again")
        assert [c.status for c in h.fake.calls_to("sendMessage")] == [500, 200]
        async with h.app.sessions() as session:
            rows = list(await session.scalars(select(OutboxAction).where(OutboxAction.method == "send")))
        assert [r.state for r in rows] == ["done"]


def test_which_network_errors_may_have_delivered_a_send():
    import httpx
    from telegram.error import NetworkError, TimedOut

    from bot.platforms.telegram import _may_have_arrived

    def wrapped(outer, inner):
        try:
            try:
                raise inner
            except Exception as err:
                raise outer from err
        except Exception as exc:
            return exc

    assert not _may_have_arrived(wrapped(TimedOut(), httpx.ConnectTimeout("x")))
    assert not _may_have_arrived(wrapped(NetworkError("httpx.ConnectError: refused"), httpx.ConnectError("refused")))
    assert not _may_have_arrived(wrapped(TimedOut("Pool timeout"), httpx.PoolTimeout("x")))
    assert _may_have_arrived(wrapped(TimedOut(), httpx.ReadTimeout("x")))
    assert _may_have_arrived(wrapped(TimedOut(), httpx.WriteTimeout("x")))
    assert _may_have_arrived(wrapped(NetworkError("httpx.ReadError"), httpx.ReadError("reset")))
    assert _may_have_arrived(wrapped(NetworkError("httpx.RemoteProtocolError"), httpx.RemoteProtocolError("gone")))
    assert not _may_have_arrived(NetworkError("Bad Gateway"))  # a 502 answer


async def test_updates_of_one_chat_keep_their_order_while_chats_run_concurrently(pg_url, tmp_path):
    """(On PostgreSQL: SQLite's BEGIN IMMEDIATE lets only one transaction write at a time.)"""
    r = Router("order", 50)
    seen: list[tuple[str, str]] = []
    running = {"now": 0, "max": 0}

    @r.message()
    async def slow(ctx):
        running["now"] += 1
        running["max"] = max(running["max"], running["now"])
        await asyncio.sleep(0.05)
        seen.append((ctx.chat.id, ctx.event.text))
        running["now"] -= 1

    async with running_telegram_app(pg_url, str(tmp_path), routers=[r]) as h:
        chats = [h.group(-1002000000000 - i, f"Group {i}") for i in range(4)]
        updates = [h.fake.text_update(chat, h.user("alice"), f"m{n}") for n in range(5) for chat in chats]
        waiters = [h.platform.expect(u["update_id"]) for u in updates]
        await h.fake.push_raw(*updates)
        await asyncio.wait_for(asyncio.gather(*waiters), 20)
        for chat in chats:
            assert [t for c, t in seen if c == str(chat["id"])] == [f"m{n}" for n in range(5)]
        assert running["max"] > 1, "different chats were handled one at a time"


async def test_the_rules_judge_what_is_salvaged_from_an_unparseable_message(sqlite_url, tmp_path):
    async with running_telegram_app(sqlite_url, str(tmp_path), {"defaults": {"language": "en"}}) as h:
        spammer = h.user("spammer", username="deals_spammer")
        for text in ("hi all", "nice group", "good morning"):
            await h.send_text(spammer, text)
            h.app.clock.advance(minutes=1)
        update = h.fake.text_update(h.chat, spammer, "加我薇信 abc12345 日赚500，车队接料")
        update["message"]["from"] = {k: v for k, v in spammer.items() if k != "is_bot"}  # PTB cannot read it
        results = await h.deliver(update)
        assert h.platform.unparseable_updates == 1
        assert results and "rules.judge" in results[0].handled_by
        assert str(update["message"]["message_id"]) in [c.params["message_id"] for c in h.calls("deleteMessage")]


async def test_stop_lets_the_update_in_hand_finish(sqlite_url, tmp_path):
    r = Router("slow", 50)
    started, finished = asyncio.Event(), []

    @r.message()
    async def slow(ctx):
        started.set()
        await asyncio.sleep(1.0)
        finished.append(ctx.event.text)

    async with running_telegram_app(sqlite_url, str(tmp_path), routers=[r]) as h:
        await h.fake.push_raw(h.fake.text_update(h.chat, h.user("alice"), "in hand"))
        await asyncio.wait_for(started.wait(), 10)
        app = h.app
        polls = h.fake.polls
    # (the harness stopped the app here)
    assert finished == ["in hand"]
    assert h.fake.polls == polls, "no getUpdates after stop began"
    from bot.app import App  # the database is closed with the app: read it through a fresh one
    fresh = App(app.config, routers=[], run_scheduler=False)
    try:
        assert [r.done_at is not None for r in await inbox(fresh)] == [True]
    finally:
        await fresh.engine.dispose()
