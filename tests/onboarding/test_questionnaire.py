"""Onboarding on the console platform: the whole path of a newcomer, with the example
questionnaire of config.example.toml (consent, city, industry, budget, goal, years)."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select

from bot.platform import Capability
from storage.models import Member
from storage.onboarding_models import OnboardingAnswer
from tests.onboarding.helpers import (
    answers,
    bot_texts,
    chat_and_member,
    config,
    figure,
    question_for,
    run_of,
    step_of,
    tags,
)
from tests.support.harness import running_app

WORDS = {
    "zh-CN": {
        "welcome": "欢迎 @bob 加入", "value": "【群价值】", "rules": "【群规则】", "penalties": "【惩罚机制】",
        "vision": "【社群愿景】", "short": "太短了，至少 2 个字", "city_hint": "城市名不能包含数字或符号",
        "too_large": "不能大于 60", "not_number": "请填一个数字", "not_yours": "这是给新成员 bob 的问题",
        "removed": "未在 10 分钟内完成入群问答", "points": "获得 20 积分",
    },
    "en": {
        "welcome": "Welcome to Qunzhu console group, @bob", "value": "【What this group offers】", "rules": "【Rules】",
        "penalties": "【Penalties】", "vision": "【Our vision】", "short": "too short, at least 2 characters",
        "city_hint": "a city name has no digits or symbols", "too_large": "it must be at most 60",
        "not_number": "please give a number", "not_yours": "This question is for the newcomer bob",
        "removed": "did not answer the entry questions within 10 minutes", "points": "20 points",
    },
}


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_join_restricted_questions_answers_unrestricted_tags_welcome(db_url, tmp_path, lang):
    words = WORDS[lang]
    async with running_app(db_url, str(tmp_path), config(lang)) as (app, console):
        await console.join("bob")
        assert console.is_muted("bob")
        first = question_for(console, "bob")
        assert step_of(first) == 1 and first.buttons  # consent: agree / decline

        # Another member's press does nothing but a toast.
        await console.press("carol", first.id, 0)
        assert words["not_yours"] in console.transcript[-1]
        assert (await run_of(app, "bob")).step == 0 and not console.messages[first.id].deleted

        await console.press("bob", first.id, 0)  # agree
        city = question_for(console, "bob")
        assert step_of(city) == 2 and not console.is_muted("bob")  # typed answers need the floor

        await console.say("bob", "x")
        again = question_for(console, "bob")
        assert step_of(again) == 2 and words["short"] in again.text
        await console.say("bob", "上海123")
        again = question_for(console, "bob")
        assert step_of(again) == 2 and words["city_hint"] in again.text
        await console.say("bob", "上海")

        industry = question_for(console, "bob")
        assert step_of(industry) == 3 and console.is_muted("bob")
        await console.press("bob", industry.id, "onb:" + industry.buttons[0][1].data.split(":", 1)[1])  # education
        await console.press("bob", question_for(console, "bob").id, 0)  # budget: high
        await console.press("bob", question_for(console, "bob").id, 0)  # goal: buy
        years = question_for(console, "bob")
        assert step_of(years) == 6
        await console.say("bob", "ninety" if lang == "en" else "很多年")
        assert words["not_number"] in question_for(console, "bob").text
        await console.say("bob", "99")
        assert words["too_large"] in question_for(console, "bob").text
        await console.say("bob", "8")

        assert not console.is_muted("bob")
        welcome = bot_texts(console)[-1]
        for key in ("welcome", "value", "rules", "penalties", "vision", "points"):
            assert words[key] in welcome, key
        assert await tags(app, "bob") == ["A", "资深"]
        assert await answers(app, "bob") == {
            "rules": "yes", "city": "上海", "industry": "education", "budget": "high", "goal": "buy", "years": "8",
        }
        assert (await run_of(app, "bob")).status == "done"
        # The questions and answers were tidied away; only the welcome is left.
        assert [m for m in console.bot_messages() if "@bob" in m.text and "/6" in m.text] == []
        assert await figure(app, "onboarded") == 1
        _, said = await console.say("bob", "hello all")
        assert said is not None and said.stopped_by is None  # ordinary chat now


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_silence_is_removed_with_a_notice_after_the_timeout(db_url, tmp_path, lang):
    async with running_app(db_url, str(tmp_path), config(lang)) as (app, console):
        await console.join("bob")
        app.clock.advance(minutes=9)
        await app.tick()
        assert console.is_present("bob")
        app.clock.advance(minutes=2)
        await app.tick()
        assert not console.is_present("bob")
        notices = [t for t in bot_texts(console) if WORDS[lang]["removed"] in t]
        assert len(notices) == 1 and "@bob" in notices[0]
        await app.tick()
        assert len([t for t in bot_texts(console) if WORDS[lang]["removed"] in t]) == 1
        assert await figure(app, "removed_timeout") == 1
        assert (await run_of(app, "bob")).status == "removed"
        message_id, _ = await console.say("bob", "let me in")
        assert message_id is None
        # They may come back, and are asked again.
        await console.join("bob")
        assert console.is_muted("bob") and step_of(question_for(console, "bob")) == 1


async def test_declining_the_rules_removes_the_member(sqlite_url, tmp_path):
    async with running_app(sqlite_url, str(tmp_path), config("en")) as (app, console):
        await console.join("bob")
        await console.press("bob", question_for(console, "bob").id, 1)
        assert not console.is_present("bob")
        assert "@bob did not accept the group rules" in bot_texts(console)[-1]
        assert (await run_of(app, "bob")).status == "refused"


async def test_a_pending_members_other_messages_are_deleted_where_muting_is_impossible(sqlite_url, tmp_path):
    caps = Capability.all() & ~Capability.RESTRICT
    async with running_app(sqlite_url, str(tmp_path), config("en"), capabilities=caps) as (app, console):
        await console.join("bob")
        notes = [m.text for m in console.dms("admin")]
        assert any("cannot mute" in n for n in notes)
        message_id, _ = await console.say("bob", "buy followers, dm me")
        assert console.messages[message_id].deleted
        assert "please press one of the buttons" in question_for(console, "bob").text
        await console.join("dave")
        assert len([n for n in (m.text for m in console.dms("admin")) if "cannot mute" in n]) == 1  # told once


async def test_skip_ask_and_profile_for_admins(db_url, tmp_path):
    async with running_app(db_url, str(tmp_path), config("en")) as (app, console):
        await console.join("carol", invited_by="admin")  # trusted: no questions
        await console.join("bob")
        await console.say("carol", "/skip @bob")
        assert "Only admins" in bot_texts(console)[-1] and console.is_muted("bob")
        await console.say("admin", "/skip @bob")
        assert not console.is_muted("bob")
        assert "An admin let @bob in." in bot_texts(console)[-1]
        assert (await run_of(app, "bob")).status == "skipped"
        assert await figure(app, "admitted_by_admin") == 1

        await console.say("admin", "/ask bob")
        assert console.is_muted("bob") and step_of(question_for(console, "bob")) == 1
        await console.press("bob", question_for(console, "bob").id, 0)
        await console.say("bob", "Berlin")

        await console.say("admin", "/profile @bob")
        profile = console.dms("admin")[-1].text
        assert "@bob" in profile and "Berlin" in profile and "I have read and agree" in profile
        assert "question 3/6" in profile
        assert bot_texts(console)[-1] == "Sent to you by direct message."
        await console.say("admin", "/profile @nobody")
        assert bot_texts(console)[-1] == 'No member "@nobody" in this group.'


async def test_erasing_a_member_erases_their_answers(db_url, tmp_path):
    async with running_app(db_url, str(tmp_path), config("en")) as (app, console):
        await console.join("bob")
        await console.press("bob", question_for(console, "bob").id, 0)
        await console.say("bob", "Berlin")
        _, member = await chat_and_member(app, "bob")
        async with app.sessions() as session, session.begin():
            assert await session.scalar(select(func.count()).select_from(OnboardingAnswer)) == 2
            await session.execute(delete(Member).where(Member.id == member.id))
        async with app.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(OnboardingAnswer)) == 0
        await app.tick()  # the run went with the member: nothing left to enforce


async def test_admin_invites_are_trusted_and_returning_members_remembered(sqlite_url, tmp_path):
    async with running_app(sqlite_url, str(tmp_path), config("en")) as (app, console):
        await console.join("bob", invited_by="admin")
        assert not console.is_muted("bob") and "Welcome to Qunzhu console group, @bob" in bot_texts(console)[-1]
        await console.join("carol", invited_by="bob")  # a member's invitation is not enough
        assert console.is_muted("carol")
        await console.press("carol", question_for(console, "carol").id, 0)
        await console.say("carol", "Paris")
        for _ in range(3):
            await console.press("carol", question_for(console, "carol").id, 1)
        await console.press("carol", question_for(console, "carol").id, 0)  # years: skip
        assert not console.is_muted("carol") and await tags(app, "carol") == ["C"]
        await console.leave("carol")
        await console.join("carol")
        assert not console.is_muted("carol")


async def test_no_questions_means_no_questionnaire(sqlite_url, tmp_path):
    async with running_app(sqlite_url, str(tmp_path), {"defaults": {"language": "en"}}) as (app, console):
        await console.join("bob")
        assert not console.is_muted("bob") and bot_texts(console) == []
        await app.tick()
        assert console.is_present("bob")


async def test_where_removing_is_impossible_the_admins_are_asked_and_can_let_the_member_in(sqlite_url, tmp_path):
    caps = Capability.all() & ~(Capability.KICK | Capability.BAN)
    async with running_app(sqlite_url, str(tmp_path), config("en"), capabilities=caps) as (app, console):
        await console.join("bob")
        app.clock.advance(minutes=11)
        await app.tick()
        assert console.is_present("bob") and console.is_muted("bob")
        assert any("does not let the bot remove members" in m.text and "@bob" in m.text for m in console.dms("admin"))
        assert not any("did not answer" in t for t in bot_texts(console))  # no notice for a removal that did not happen
        assert await figure(app, "removed_timeout") == 0
        await console.say("admin", "/skip @bob")
        assert not console.is_muted("bob") and "An admin let @bob in." in bot_texts(console)[-1]


async def test_a_newcomer_is_never_left_muted_when_the_question_cannot_be_posted(sqlite_url, tmp_path):
    caps = Capability.all() & ~Capability.SEND
    async with running_app(sqlite_url, str(tmp_path), config("en"), capabilities=caps) as (app, console):
        await console.join("bob")
        assert console.is_present("bob") and not console.is_muted("bob")
        assert any("could not post the entry questions" in m.text and "@bob" in m.text for m in console.dms("admin"))
        app.clock.advance(minutes=11)
        await app.tick()
        assert console.is_present("bob")


async def test_without_buttons_choices_are_answered_by_number(sqlite_url, tmp_path):
    caps = Capability.all() & ~(Capability.BUTTONS | Capability.RESTRICT)
    async with running_app(sqlite_url, str(tmp_path), config("en"), capabilities=caps) as (app, console):
        await console.join("bob")
        first = question_for(console, "bob")
        assert first.buttons is None and "1. ✅ I have read and agree" in first.text
        await console.say("bob", "1")
        await console.say("bob", "Madrid")
        industry = question_for(console, "bob")
        assert "Reply with the number of your choice" in industry.text and "2. Education" in industry.text
        await console.say("bob", "9")
        assert "please reply with the number of a choice" in question_for(console, "bob").text
        await console.say("bob", "2")
        await console.say("bob", "under 10k")  # the label works too
        await console.say("bob", "1")
        await console.say("bob", "skip")
        assert await answers(app, "bob") == {"rules": "yes", "city": "Madrid", "industry": "education", "budget": "low", "goal": "buy"}
        assert await tags(app, "bob") == ["B"]
        assert bot_texts(console)[-1].startswith("🎉 Welcome")
