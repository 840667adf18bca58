"""Figures (daily counters, members' activity, last seen) are batched in memory and written at each
tick, at shutdown and before /stats reads them: counted once per committed event, never double."""

from datetime import timedelta

from sqlalchemy import func, select

from storage.models import DailyCounter, DailyMemberActivity, Member
from tests.support.harness import running_app

EN = {"defaults": {"language": "en"}}


async def _messages(app) -> int:
    async with app.sessions() as session:
        return int(await session.scalar(
            select(func.coalesce(func.sum(DailyCounter.value), 0)).where(DailyCounter.metric == "messages")))


async def test_figures_wait_for_the_tick_and_are_written_once(db_url, tmp_path):
    async with running_app(db_url, str(tmp_path), EN) as (app, console):
        await console.join("alice")
        start = await _messages(app)
        for text in ("one", "two", "three"):
            await console.say("alice", f"message {text} for the figures")
        assert await _messages(app) == start  # in memory: no statement per message
        await app.tick()
        assert await _messages(app) == start + 3
        await app.tick()
        assert await _messages(app) == start + 3  # written once, not again at the next tick
        async with app.sessions() as session:
            activity = await session.scalar(select(func.sum(DailyMemberActivity.messages)))
            alice = await session.scalar(select(Member).where(Member.user_id == "alice"))
        assert activity == 3
        app.clock.advance(minutes=5)
        await console.say("alice", "a later message moves last seen")
        await app.tick()
        async with app.sessions() as session:
            seen = await session.scalar(select(Member.last_seen_at).where(Member.id == alice.id))
        assert seen == app.clock.now() and seen - alice.last_seen_at >= timedelta(minutes=5)


async def test_shutdown_writes_the_figures_and_stats_sees_them_at_once(db_url, tmp_path):
    async with running_app(db_url, str(tmp_path), EN) as (app, console):
        await console.join("admin")
        await console.join("bob")
        await console.say("bob", "hello everyone, nice to meet you")
        start = await _messages(app)
    async with running_app(db_url, str(tmp_path), EN) as (app, console):
        assert await _messages(app) >= 1 and start == 0  # written when the first app stopped
        await console.say("bob", "another message before the admin asks")
        await console.say("admin", "/stats 7d")
        # /stats writes the batch before it reads: the message just said is in.
        assert "Messages: 2 in all" in console.bot_messages()[-1].text


async def test_a_member_forgotten_before_the_figures_are_written_does_not_hold_them_back(db_url, tmp_path):
    """`qunzhu forget` deletes a member whose figures are still in memory: the batch is written
    without them (no foreign-key failure at every tick), the others' figures are all there."""
    from storage import core_repo, stats_repo

    async with running_app(db_url, str(tmp_path), EN) as (app, console):
        for name in ("alice", "bob"):
            await console.say(name, f"a message from {name} before the forget")
        async with app.sessions() as session, session.begin():
            chat = await core_repo.get_chat(session, "console", console.default_chat.id)
            await stats_repo.forget_member(session, chat.id, "alice")
        await app.tick()
        assert len(app.tally) == 0
        async with app.sessions() as session:
            rows = (await session.execute(select(DailyMemberActivity.member_id, DailyMemberActivity.messages))).all()
            bob = await core_repo.get_member(session, chat.id, "bob")
        assert rows == [(bob.id, 1)]
        assert await _messages(app) == 2  # the group's own count is anonymous and stays
