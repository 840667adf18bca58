"""Restarts (the questionnaire and its deadline survive in the database), strict mode after a
raid, questions by direct message and join requests."""

from __future__ import annotations

from contextlib import asynccontextmanager

from sqlalchemy import select

from bot.app import App
from bot.clock import FakeClock
from bot.platforms.console import ConsolePlatform
from storage.onboarding_models import OnboardingRun
from tests.onboarding.helpers import bot_texts, config, figure, question_for, run_of, step_of, tags
from tests.support.harness import START, make_config, running_app


@asynccontextmanager
async def bot_on(world: ConsolePlatform | None, db_url: str, data_dir: str, cfg: dict, clock: FakeClock):
    """Start an App whose console group is `world` (the group outlives the bot, as a real one
    does): same members, same messages and buttons."""
    app = App(make_config(db_url, data_dir, cfg), clock=clock, run_scheduler=False)
    console = ConsolePlatform(app.config.console, app)
    if world is not None:
        console.chats, console.messages, console._ids = world.chats, world.messages, world._ids
    app.platforms["console"] = console
    await app.start()
    try:
        yield app, console
    finally:
        await app.stop()


def removal_notices(console: ConsolePlatform, name: str) -> list[str]:
    return [t for t in bot_texts(console) if f"@{name}" in t and "did not answer the entry questions" in t]


async def test_a_restart_resumes_the_questionnaire_and_enforces_a_missed_deadline_once(sqlite_url, tmp_path):
    clock = FakeClock(START)
    cfg = config("en")
    async with bot_on(None, sqlite_url, str(tmp_path), cfg, clock) as (app, console):
        await console.join("bob")
        await console.press("bob", question_for(console, "bob").id, 0)
        await console.say("bob", "Lisbon")
        await console.join("carol")  # stays silent
        world = console
    assert step_of(question_for(world, "bob")) == 3

    # Back up two minutes later: bob carries on with the buttons he already has.
    clock.advance(minutes=2)
    async with bot_on(world, sqlite_url, str(tmp_path), cfg, clock) as (app, console):
        assert console.is_present("carol") and removal_notices(console, "carol") == []
        for _ in range(3):
            await console.press("bob", question_for(console, "bob").id, 0)
        await console.say("bob", "3")
        assert not console.is_muted("bob") and await tags(app, "bob") == ["A"]
        assert (await run_of(app, "bob")).status == "done"

    # Down while carol's deadline passes: it is enforced at start, once.
    clock.advance(minutes=15)
    async with bot_on(world, sqlite_url, str(tmp_path), cfg, clock) as (app, console):
        assert not console.is_present("carol")
        assert len(removal_notices(console, "carol")) == 1
        await app.tick()
        assert len(removal_notices(console, "carol")) == 1
    async with bot_on(world, sqlite_url, str(tmp_path), cfg, clock) as (app, console):
        assert len(removal_notices(console, "carol")) == 1
        assert await figure(app, "removed_timeout") == 1
        assert console.is_present("bob")


async def test_200_joins_are_all_questioned_and_strict_mode_switches_on_and_off(db_url, tmp_path):
    cfg = config("en", anti_raid={"joins": 10, "seconds": 60, "calm_minutes": 10})
    async with running_app(db_url, str(tmp_path), cfg) as (app, console):
        await console.join("early", invited_by="admin")  # before the raid an admin's word is enough
        assert not console.is_muted("early")
        names = [f"u{i:03d}" for i in range(200)]
        for name in names:
            app.clock.advance(seconds=0.02)
            await console.join(name)
        assert all(console.is_muted(n) for n in names)
        alerts = [m.text for m in console.dms("admin") if "strict mode is on" in m.text]
        assert len(alerts) == 1
        assert sum("strict mode is on" in t for t in bot_texts(console)) == 1

        # Strict mode from the 11th join within a minute ("early" + u000…u009): the newcomers get the
        # first question together at the next tick, 50 names a message, instead of one message each.
        await app.tick()
        for name in names:
            assert step_of(question_for(console, name)) == 1
        questions = [m for m in console.bot_messages() if "(1/6)" in m.text]
        assert len(questions) == 9 + 4
        async with app.sessions() as session:
            runs = list(await session.scalars(select(OnboardingRun).where(OnboardingRun.status == "pending")))
        assert len(runs) == 200 and sum(r.strict for r in runs) == 191

        # Only newcomers' presses count on the shared question; one of them carries on alone.
        shared = question_for(console, "u150")
        await console.press("early", shared.id, 0)
        assert "for newcomers" in console.transcript[-1]
        await console.press("u150", shared.id, 0)
        assert step_of(question_for(console, "u150")) == 2 and not console.messages[shared.id].deleted
        await console.say("u150", "Oslo")
        for choice in (0, 0, 0, 0):
            await console.press("u150", question_for(console, "u150").id, choice)
        assert not console.is_muted("u150") and await tags(app, "u150") == ["A"]

        # In strict mode even an admin's invitation goes through the questions.
        await console.join("friend", invited_by="admin")
        assert console.is_muted("friend")
        await app.tick()
        assert step_of(question_for(console, "friend")) == 1

        # Nobody else answers; ten minutes later they are removed, and the group has calmed down.
        app.clock.advance(minutes=11)
        await app.tick()
        silent = [n for n in names if n != "u150"]
        assert not any(console.is_present(n) for n in silent) and console.is_present("u150")
        notices = [t for t in bot_texts(console) if "did not answer the entry questions" in t]
        assert sum(t.count("@u") for t in notices) == 199 and len(notices) == 5  # 200 names, 40 a notice
        assert await figure(app, "removed_timeout") == 200
        assert all(m.deleted for m in questions if "strict mode" in m.text)  # shared questions tidied away
        assert any("calmed down" in m.text for m in console.dms("admin"))
        await console.join("later", invited_by="admin")
        assert not console.is_muted("later")


async def test_questions_by_direct_message_with_a_fallback_to_the_group(sqlite_url, tmp_path):
    async with running_app(sqlite_url, str(tmp_path), config("en", ask_in="dm"), dm_blocked={"carol"}) as (app, console):
        await console.join("bob")
        assert console.is_muted("bob")
        first = console.dms("bob")[-1]
        assert "Before you join" in first.text and first.buttons
        await console.press("bob", first.id, 0)
        assert "(2/6)" in console.dms("bob")[-1].text
        await console.say("bob", "Tokyo", chat_id="dm:bob")
        for _ in range(3):
            await console.press("bob", console.dms("bob")[-1].id, 2)
        await console.press("bob", console.dms("bob")[-1].id, 0)  # years: skip
        assert not console.is_muted("bob") and await tags(app, "bob") == ["D"]
        assert "Welcome to Qunzhu console group, @bob" in bot_texts(console)[-1]

        await console.join("carol")  # cannot be messaged: asked in the group
        assert console.is_muted("carol") and step_of(question_for(console, "carol")) == 1
        assert (await run_of(app, "carol")).via == "group"


async def test_join_requests_are_questioned_then_approved_or_declined(sqlite_url, tmp_path):
    async with running_app(sqlite_url, str(tmp_path), config("zh-CN")) as (app, console):
        await console.request_join("bob")
        first = console.dms("bob")[-1]
        assert "加入「Qunzhu console group」前" in first.text
        await console.press("bob", first.id, 0)
        await console.say("bob", "杭州", chat_id="dm:bob")
        for _ in range(3):
            await console.press("bob", console.dms("bob")[-1].id, 0)
        await console.say("bob", "2", chat_id="dm:bob")
        assert console.is_present("bob") and not console.member("bob").pending_request
        assert await tags(app, "bob") == ["A"]
        assert "欢迎 @bob 加入" in bot_texts(console)[-1]

        await console.request_join("carol")
        app.clock.advance(minutes=11)
        await app.tick()
        carol = console.member("carol")
        assert not carol.present and not carol.pending_request
        assert "入群申请已被拒绝" in console.dms("carol")[-1].text
        assert (await run_of(app, "carol")).status == "declined"
        assert not any("@carol" in t for t in bot_texts(console))  # no public notice for a request


async def test_raid_only_groups_question_newcomers_only_in_strict_mode(sqlite_url, tmp_path):
    cfg = config("zh-CN", question="raid_only", anti_raid={"joins": 2, "seconds": 60})
    async with running_app(sqlite_url, str(tmp_path), cfg) as (app, console):
        await console.join("ann")
        await console.join("ben")
        assert not console.is_muted("ann") and not console.is_muted("ben")
        assert "欢迎 @ben 加入" in bot_texts(console)[-1]
        await console.join("cat")  # the third join within a minute
        assert console.is_muted("cat") and "严格模式" in bot_texts(console)[-1]
        await app.tick()
        shared = question_for(console, "cat")
        assert "严格模式" in shared.text and step_of(shared) == 1
        await console.press("ann", shared.id, 0)
        assert "这是给新成员的问题" in console.transcript[-1]
