from sqlalchemy import func, select

from bot.dispatch import Router
from bot.events import MessageReceived
from storage import core_repo
from storage.models import AuditEntry, DailyCounter
from tests.support.harness import running_app


def routers_recording(order: list[str]):
    high, middle, low = Router("high", priority=100), Router("middle", priority=50), Router("low", priority=10)

    @low.message()
    async def low_handler(ctx):
        order.append("low")

    @high.message()
    async def high_handler(ctx):
        order.append("high")
        if ctx.text == "stop":
            ctx.stop()

    @middle.message()
    async def middle_handler(ctx):
        order.append("middle")

    return [low, middle, high]  # registration order is not the running order


async def test_routers_run_by_priority_and_stop_propagation(sqlite_url, tmp_path):
    order: list[str] = []
    async with running_app(sqlite_url, str(tmp_path), routers=routers_recording(order)) as (app, console):
        _, result = await console.say("alice", "hello")
        assert order == ["high", "middle", "low"]
        order.clear()
        _, result = await console.say("alice", "stop")
        assert order == ["high"]
        assert result.stopped_by == "high"


async def test_a_failing_handler_rolls_back_only_its_writes_and_the_bot_keeps_serving(db_url, tmp_path):
    broken, fine = Router("broken", priority=100), Router("fine", priority=10)

    @broken.message()
    async def writes_then_fails(ctx):
        await ctx.audit("broken-write", evidence=ctx.text)
        if ctx.text == "boom":
            raise RuntimeError("handler bug")

    @fine.message()
    async def writes(ctx):
        await ctx.audit("fine-write", evidence=ctx.text)

    async with running_app(db_url, str(tmp_path), routers=[broken, fine]) as (app, console):
        _, result = await console.say("alice", "boom")
        assert [name for name, _ in result.errors] == ["broken.writes_then_fails"]
        _, result = await console.say("alice", "after")
        assert result.errors == []
        async with app.sessions() as session:
            rows = (await session.execute(select(AuditEntry.action, AuditEntry.evidence).order_by(AuditEntry.id))).all()
        assert rows == [("fine-write", "boom"), ("broken-write", "after"), ("fine-write", "after")]


async def test_each_event_gets_its_own_session_and_members_are_tracked(db_url, tmp_path):
    seen_sessions = []
    probe = Router("probe")

    @probe.message()
    async def remember(ctx):
        seen_sessions.append(ctx.session)
        assert ctx.member_row.user_id == ctx.user.id
        assert ctx.chat_row.external_id == "lobby"

    async with running_app(db_url, str(tmp_path), routers=[probe]) as (app, console):
        await console.say("alice", "one")
        await console.say("bob", "two")
        await console.leave("bob")
        assert len(seen_sessions) == 2 and seen_sessions[0] is not seen_sessions[1]
        from storage import core_repo

        async with app.sessions() as session:
            chat = await core_repo.get_chat(session, "console", "lobby")
            alice = await core_repo.get_member(session, chat.id, "alice")
            bob = await core_repo.get_member(session, chat.id, "bob")
        assert alice.status == "active" and bob.status == "left" and bob.left_at is not None


async def test_redelivered_events_are_handled_once(db_url, tmp_path):
    calls = []
    probe = Router("probe")

    @probe.message()
    async def count(ctx):
        calls.append(ctx.text)

    async with running_app(db_url, str(tmp_path), routers=[probe]) as (app, console):
        chat, user = console.default_chat, console.user("alice")
        event = MessageReceived(chat, user, app.clock.now(), message_id="m1", text="hi", dedupe_key="console:m1")
        first = await app.dispatch(event)
        second = await app.dispatch(event)
        assert calls == ["hi"] and not first.duplicate and second.duplicate


async def test_admin_only_commands_refuse_members(sqlite_url, tmp_path):
    secret = Router("secret")

    @secret.command("purge", description={"zh-CN": "清理", "en": "Purge"}, admin_only=True)
    async def purge(ctx):
        await ctx.reply("purged")

    async with running_app(sqlite_url, str(tmp_path), {"defaults": {"language": "en"}}, routers=[secret]) as (app, console):
        await console.say("alice", "/purge")
        assert console.bot_messages()[-1].text == "Only admins can use /purge."
        await console.say("admin", "/purge")
        assert console.bot_messages()[-1].text == "purged"


async def test_concurrent_events_of_different_chats_all_land(db_url, tmp_path):
    import asyncio

    probe = Router("probe")

    @probe.message()
    async def note(ctx):
        await ctx.audit("seen", evidence=ctx.text)

    async with running_app(db_url, str(tmp_path), routers=[probe]) as (app, console):
        await asyncio.gather(*(console.say(f"u{i}", f"m{i}", chat_id=f"g{i % 5}") for i in range(40)))
        async with app.sessions() as session:
            count = await session.scalar(select(func.count()).select_from(AuditEntry))
        assert count == 40


async def test_group_only_routers_never_see_one_to_one_chats(sqlite_url, tmp_path):
    seen: list[tuple[str, str]] = []
    group_only, everywhere = Router("group_only", private_chats=False), Router("everywhere")

    @group_only.message()
    async def group_handler(ctx):
        seen.append(("group_only", ctx.text))

    @everywhere.message()
    async def any_handler(ctx):
        seen.append(("everywhere", ctx.text))

    async with running_app(sqlite_url, str(tmp_path), routers=[group_only, everywhere]) as (app, console):
        from bot.events import ChatRef

        dm = ChatRef("console", "alice", "alice", private=True)
        await app.dispatch(MessageReceived(dm, console.user("alice"), app.clock.now(), message_id="d1", text="in a DM"))
        await console.say("alice", "in the group")
        assert seen == [("everywhere", "in a DM"), ("group_only", "in the group"), ("everywhere", "in the group")]


async def test_a_failing_handler_does_not_double_what_the_others_did(db_url, tmp_path):
    """No savepoint per handler: the event is rolled back and run again without the failing one, so
    the other handler's reply and figure come once, and the failing one's reply never."""
    first, broken = Router("first", priority=100), Router("broken", priority=10)

    @first.message()
    async def replies_and_counts(ctx):
        await ctx.reply(f"seen {ctx.text}")
        await ctx.count("seen")

    @broken.message()
    async def replies_then_fails(ctx):
        await ctx.reply("never sent")
        raise RuntimeError("handler bug")

    async with running_app(db_url, str(tmp_path), routers=[first, broken]) as (app, console):
        _, result = await console.say("alice", "one")
        assert [name for name, _ in result.errors] == ["broken.replies_then_fails"]
        assert result.handled_by == ["first.replies_and_counts"]
        assert [m.text for m in console.bot_messages()] == ["seen one"]
        await app.flush_figures()
        async with app.sessions() as session:
            seen = await session.scalar(select(func.sum(DailyCounter.value)).where(DailyCounter.metric == "seen"))
        assert seen == 1


async def test_settings_changed_elsewhere_are_used_from_the_next_message(db_url, tmp_path):
    """The group's settings are kept in memory between events and read again when their stored
    version changes — here written as the CLI or a second instance would, not through this app."""
    echo = Router("echo")

    @echo.message()
    async def say_language(ctx):
        await ctx.reply(ctx.lang)

    async with running_app(db_url, str(tmp_path), {"defaults": {"language": "zh-CN"}}, routers=[echo]) as (app, console):
        await console.say("alice", "one")
        await console.say("alice", "two")
        assert [m.text for m in console.bot_messages()] == ["zh-CN", "zh-CN"]
        app.clock.advance(seconds=1)
        async with app.sessions() as session, session.begin():
            chat = await core_repo.get_chat(session, "console", console.default_chat.id)
            await core_repo.set_override(session, chat.id, "language", "en", "cli", app.clock.now())
        await console.say("alice", "three")
        assert console.bot_messages()[-1].text == "en"
