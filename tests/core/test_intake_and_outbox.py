"""Durable intake and actions after commit, with the database failing in between.

The updates go through the real intake (`app.intake.receive` / `handle`) as a platform adapter
sends them; the database is a real SQLite file locked by a second connection (what a backup tool,
`sqlite3` in a shell or another process does), and the platform is the console."""

from __future__ import annotations

import asyncio
import sqlite3

from sqlalchemy import select

from bot.actions import Action, encode
from bot.events import CommandInvoked, MessageReceived
from storage import intake_repo
from storage.models import InboxEntry, OutboxAction
from storage.points_models import LedgerEntry
from tests.support.harness import running_app
from tests.support.sqlite_lock import HeldLock

FAST_RETRY = {"database": {"busy_timeout_seconds": 0.2, "retry_initial_seconds": 0.05, "retry_max_seconds": 0.2},
              "defaults": {"language": "en", "admins": ["boss"]}}


def _command(console, name: str, command: str, message_id: str) -> CommandInvoked:
    return CommandInvoked(console.default_chat,
                          console.user(name), console.sink.clock.now(), message_id=message_id,
                          name=command.lstrip("/"), text=command)


def _message(console, name: str, text: str, message_id: str) -> MessageReceived:
    chat = console.default_chat
    return MessageReceived(chat, console.user(name), console.sink.clock.now(), message_id=message_id, text=text)


async def _receive(app, key: str, event) -> object:
    item = await app.intake.receive("console", key, {"update": key})
    assert item is not None
    return item


async def test_a_locked_database_holds_the_update_and_it_is_handled_once_after(tmp_path):
    path = tmp_path / "qunzhu.db"
    async with running_app(f"sqlite+aiosqlite:///{path}", str(tmp_path), FAST_RETRY) as (app, console):
        checkin = _command(console, "alice", "/checkin", "101")
        chatter = _message(console, "bob", "good morning everyone, the meeting moved to 3pm", "102")
        items = [await _receive(app, "u1", checkin), await _receive(app, "u2", chatter)]
        before = len(console.bot_messages())
        with HeldLock(str(path)) as lock:
            tasks = [asyncio.create_task(app.intake.handle(items[0], [checkin])),
                     asyncio.create_task(app.intake.handle(items[1], [chatter]))]
            await asyncio.sleep(1.5)  # many retries meanwhile
            assert not any(t.done() for t in tasks)
            said = [m.text for m in console.bot_messages()[before:]]
            # Nothing the handlers would say went out; only the admins' note about the outage.
            assert not any("check" in t.lower() and "in" in t.lower() and "+" in t for t in said)
            told = [m.text for m in console.dms("boss")] + said
            assert any("cannot be written" in t for t in told), told
            lock.release()
            await asyncio.wait_for(asyncio.gather(*tasks), 10)
        replies = [m.text for m in console.bot_messages()[before:] if m.reply_to == "101"]
        assert len(replies) == 1, replies  # one check-in reply, not one per retry
        assert not [m for m in console.bot_messages()[before:] if m.reply_to == "102"]  # chatter: no reply
        assert not console.messages.get("102") or not console.messages["102"].deleted
        assert any("is back" in m.text for m in console.dms("boss")) or any(
            "is back" in m.text for m in console.bot_messages())
        async with app.sessions() as session:
            ledger = list(await session.scalars(select(LedgerEntry)))
            inbox = list(await session.scalars(select(InboxEntry)))
        assert len([row for row in ledger if row.source == "checkin"]) == 1
        assert all(row.done_at is not None for row in inbox)


async def test_repeated_retries_of_one_message_are_not_repeats(tmp_path):
    """The retries of one message must not count for the flood/repeat tracker (only a commit does)."""
    path = tmp_path / "qunzhu.db"
    config = {**FAST_RETRY, "defaults": {**FAST_RETRY["defaults"], "rules": {"repeat_count": 2}}}
    async with running_app(f"sqlite+aiosqlite:///{path}", str(tmp_path), config) as (app, console):
        await console.join("carol")
        chatter = _message(console, "carol", "the venue is on the second floor, room 204", "201")
        item = await _receive(app, "u3", chatter)
        with HeldLock(str(path)) as lock:
            task = asyncio.create_task(app.intake.handle(item, [chatter]))
            await asyncio.sleep(1.0)
            lock.release()
            results = await asyncio.wait_for(task, 10)
        assert results[0].errors == []
        assert console.is_present("carol")
        assert not any("carol" in m.text and "repeat" in m.text.lower() for m in console.bot_messages())


async def test_a_redelivered_update_is_stored_once(tmp_path):
    async with running_app(f"sqlite+aiosqlite:///{tmp_path / 'q.db'}", str(tmp_path), FAST_RETRY) as (app, _console):
        first = await app.intake.receive("console", "same", {"n": 1})
        again = await app.intake.receive("console", "same", {"n": 1})
        assert first is not None and again is None
        assert [i.key for i in await app.intake.pending("console")] == ["same"]
        await app.intake.handle(first, [])
        assert await app.intake.pending("console") == []


async def test_a_restart_sends_what_was_committed_but_not_sent_and_never_resends_what_was_sending(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'q.db'}"
    async with running_app(url, str(tmp_path), FAST_RETRY) as (app, console):
        chat = console.default_chat
        await console.say("alice", "hello")  # the chat exists in the database
        now = app.clock.now()
        rows = []
        for state, text in (("queued", "committed, never sent"), ("sending", "was on its way at the crash")):
            action = Action("console", "send", chat, {"chat": chat, "text": text, "reply_to": None, "buttons": None, "thread_id": None})
            rows.append({"platform": "console", "chat_key": chat.key, "method": "send", "args": encode(action.args),
                         "state": state, "follow_up": None, "follow_up_args": {}, "created_at": now, "updated_at": now})
        async with app.sessions() as session, session.begin():
            await intake_repo.queue_actions(session, rows)
    # A new process on the same database.
    async with running_app(url, str(tmp_path), FAST_RETRY) as (app, console):
        texts = [m.text for m in console.bot_messages()]
        assert texts.count("committed, never sent") == 1
        assert "was on its way at the crash" not in texts
        assert any("interrupted while being sent" in m.text for m in console.dms("boss")) or any(
            "interrupted while being sent" in t for t in texts)
        async with app.sessions() as session:
            states = {r.args["text"]: r.state for r in await session.scalars(select(OutboxAction))}
        assert states == {"committed, never sent": "done", "was on its way at the crash": "uncertain"}


async def test_a_failing_handler_sends_nothing_of_its_own(tmp_path):
    from bot.dispatch import Router

    router = Router("faulty")

    @router.message()
    async def says_then_fails(ctx):
        await ctx.reply("half-done work")
        raise RuntimeError("boom")

    async with running_app(f"sqlite+aiosqlite:///{tmp_path / 'q.db'}", str(tmp_path), FAST_RETRY,
                           routers=[router]) as (_app, console):
        _message_id, result = await console.say("alice", "anything")
        assert result.errors
        assert "half-done work" not in [m.text for m in console.bot_messages()]


async def test_a_removal_interrupted_by_a_crash_is_done_once_and_not_to_a_member_who_came_back(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'q.db'}"
    async with running_app(url, str(tmp_path), FAST_RETRY) as (app, console):
        chat = console.default_chat
        await console.join("spammer")
        await console.join("forgiven")
        queued_at = app.clock.now()
        rows = []
        for name in ("spammer", "forgiven"):
            args = {"chat": chat, "user": console.user(name)}
            rows.append({"platform": "console", "chat_key": chat.key, "method": "kick", "args": encode(args),
                         "state": "queued", "follow_up": None, "follow_up_args": {}, "created_at": queued_at,
                         "updated_at": queued_at})
        async with app.sessions() as session, session.begin():
            await intake_repo.queue_actions(session, rows)
        # "forgiven" left and was let back in after the kick was queued (the process died before it).
        app.clock.advance(minutes=1)
        await console.leave("forgiven")
        app.clock.advance(minutes=1)
        await console.join("forgiven")
    async with running_app(url, str(tmp_path), FAST_RETRY) as (app, console):
        async with app.sessions() as session:
            states = {r.args["user"]["$user"][1]: (r.state, r.result or "") for r in await session.scalars(select(OutboxAction))}
        # The spammer's removal was carried out by the new process (the console, which keeps no members
        # across processes, answers that they are not there); the forgiven member's was not attempted.
        assert states["spammer"][0] in ("done", "failed") and "joined again" not in states["spammer"][1]
        assert states["forgiven"][0] == "failed" and "joined again" in states["forgiven"][1]


# --- a full disk and a read-only database, while the bot runs ----------------------------------

import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402

import pytest  # noqa: E402


async def _hold_then_recover(app, console, break_it, mend_it) -> None:
    """A /checkin and an ordinary message arrive; the database breaks before they are handled; after
    it is mended, exactly one check-in reply, no punishment, and the admins heard of both ends."""
    checkin = _command(console, "alice", "/checkin", "301")
    chatter = _message(console, "bob", "the slides are in the shared folder", "302")
    items = [await _receive(app, "d1", checkin), await _receive(app, "d2", chatter)]
    before = len(console.bot_messages())
    break_it()
    try:
        tasks = [asyncio.create_task(app.intake.handle(items[0], [checkin])),
                 asyncio.create_task(app.intake.handle(items[1], [chatter]))]
        await asyncio.sleep(1.5)
        assert not any(t.done() for t in tasks), "the updates are held, not dropped"
        told = [m.text for m in console.dms("boss")] + [m.text for m in console.bot_messages()[before:]]
        assert any("cannot be written" in t for t in told), told
    finally:
        mend_it()
    await asyncio.wait_for(asyncio.gather(*tasks), 15)
    replies = [m for m in console.bot_messages()[before:] if m.reply_to == "301"]
    assert len(replies) == 1, [m.text for m in replies]
    assert not [m for m in console.bot_messages()[before:] if m.reply_to == "302"]
    told = [m.text for m in console.dms("boss")] + [m.text for m in console.bot_messages()]
    assert any("is back" in t for t in told)
    async with app.sessions() as session:
        assert len([r for r in await session.scalars(select(LedgerEntry)) if r.source == "checkin"]) == 1
        assert all(r.done_at is not None for r in await session.scalars(select(InboxEntry)))


async def test_a_full_disk_holds_the_updates_and_they_are_handled_once_after(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        path = mount / "qunzhu.db"
        filler = mount / "filler"
        async with running_app(f"sqlite+aiosqlite:///{path}", str(tmp_path), FAST_RETRY) as (app, console):
            await console.say("alice", "hello")

            def fill() -> None:
                # The write-ahead log is reused in place after a checkpoint: empty it, so the next
                # write needs new space, then take all the space there is.
                connection = sqlite3.connect(path)
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                connection.close()
                # Unbuffered: a partial last write must not fail again when the file is closed.
                with open(filler, "wb", buffering=0) as out:
                    try:
                        while True:
                            out.write(b"\0" * 65536)
                    except OSError:
                        pass

            await _hold_then_recover(app, console, fill, lambda: filler.unlink())
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


async def test_a_read_only_database_holds_the_updates_and_they_are_handled_once_after(tmp_path):
    if not shutil.which("chattr"):
        pytest.skip("no chattr: nothing makes a file read-only for root here")
    path = tmp_path / "qunzhu.db"
    async with running_app(f"sqlite+aiosqlite:///{path}", str(tmp_path), FAST_RETRY) as (app, console):
        await console.say("alice", "hello")
        files = [p for p in (path, tmp_path / "qunzhu.db-wal", tmp_path / "qunzhu.db-shm") if p.exists()]
        if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
            pytest.skip("this file system does not take the immutable flag")
        subprocess.run(["chattr", "-i", str(path)], check=True)

        def freeze() -> None:
            connection = sqlite3.connect(path)
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            connection.close()
            for p in files:
                subprocess.run(["chattr", "+i", str(p)], check=True)

        def thaw() -> None:
            for p in files:
                subprocess.run(["chattr", "-i", str(p)], check=True)

        # New connections see the flag (an open one may keep writing through its descriptor).
        await app.engine.dispose()
        try:
            await _hold_then_recover(app, console, freeze, thaw)
        finally:
            thaw()
