"""Questionnaire settings are checked at start with errors that name the key; points for
finishing and for the inviter go through the points feature."""

from __future__ import annotations

import importlib

import pytest

from bot.config import ConfigError, load_config, parse_config
from handlers.onboarding.router import tags_for
from handlers.onboarding.settings import OnboardingSettings
from tests.onboarding.helpers import EXAMPLE, ROOT, chat_and_member, config, question_for
from tests.support.harness import running_app


def test_the_example_config_has_a_complete_bilingual_questionnaire():
    settings = load_config(ROOT / "config.example.toml", env={}).defaults.onboarding
    assert [q.id for q in settings.questions] == ["rules", "city", "industry", "budget", "goal", "years"]
    assert {q.kind for q in settings.questions} == {"consent", "text", "choice", "number"}
    for q in settings.questions:
        assert isinstance(q.text, dict) and set(q.text) == {"zh-CN", "en"}, q.id
    assert [r.tag for r in settings.tag_rules] == ["资深", "A", "B", "C", "D"]
    assert all(getattr(settings.welcome, p) for p in ("value", "rules", "penalties", "vision"))


@pytest.mark.parametrize(
    "answers, expected",
    [
        ({"budget": "high", "goal": "buy"}, ["A"]),
        ({"budget": "low", "goal": "buy"}, ["B"]),
        ({"budget": "mid", "goal": "learn"}, ["C"]),
        ({"budget": "low", "goal": "network", "years": "5"}, ["资深", "D"]),
        ({"goal": "buy"}, []),  # budget skipped: no class
    ],
)
def test_abcd_classes_from_the_example_rules(answers, expected):
    assert tags_for(OnboardingSettings.model_validate(EXAMPLE), answers) == expected


@pytest.mark.parametrize(
    "onboarding, message",
    [
        ({"tag_rules": [{"tag": "A", "when": {"budget": ["rich"]}}]}, "tag_rules[0] (A): question 'budget' has no choice 'rich'"),
        ({"tag_rules": [{"tag": "X", "when": {"age": ["1"]}}]}, "no question has the id 'age'"),
        ({"questions": [{"id": "q", "text": "?", "kind": "choice", "choices": [{"value": "a", "label": "A"}]}]}, "at least 2 choices"),
        ({"questions": [{"id": "q", "text": "?", "pattern": "(["}]}, "onboarding.questions.0.pattern: not a valid regular expression"),
        ({"welcome": {"title": "Hi {who}"}}, "unknown placeholder {who}"),
        ({"timeout_minutes": 0}, "onboarding.timeout_minutes"),
        ({"questions": [{"id": "q", "text": {"fr": "?"}}]}, "unknown language 'fr'"),
    ],
)
def test_bad_questionnaires_are_refused_naming_the_key(onboarding, message):
    with pytest.raises(ConfigError) as err:
        parse_config({"defaults": {"onboarding": {"questions": EXAMPLE["questions"], **onboarding}}}, env={})
    assert message in str(err.value)


@pytest.mark.skipif(importlib.util.find_spec("handlers.points.service") is None, reason="points feature not present")
async def test_points_for_finishing_and_for_the_inviter(db_url, tmp_path):
    from handlers.points import service

    async with running_app(db_url, str(tmp_path), config("en")) as (app, console):
        await console.join("bob", invited_by="admin")
        await console.join("carol", invited_by="bob")
        chat, bob = await chat_and_member(app, "bob")
        async with app.sessions() as session:
            before = await service.balance(session, chat_id=chat.id, member_id=bob.id)
        issued_before = await points_issued(app, chat.id)
        await console.press("carol", question_for(console, "carol").id, 0)
        await console.say("carol", "Rome")
        for _ in range(4):
            await console.press("carol", question_for(console, "carol").id, 0)
        _, carol = await chat_and_member(app, "carol")
        async with app.sessions() as session:
            assert await service.balance(session, chat_id=chat.id, member_id=carol.id) == 20
            assert await service.balance(session, chat_id=chat.id, member_id=bob.id) == before + 10
        welcome = console.bot_messages()[-1].text
        assert "20 points for completing" in welcome and "Thanks to @bob" in welcome
        # the group's statistics count them as issued (/stats "points issued")
        assert await points_issued(app, chat.id) == issued_before + 30

        # Asked again and finished again: the same keys, no second award.
        await console.say("admin", "/ask carol")
        await console.press("carol", question_for(console, "carol").id, 0)
        await console.say("carol", "Rome")
        for _ in range(4):
            await console.press("carol", question_for(console, "carol").id, 0)
        async with app.sessions() as session:
            assert await service.balance(session, chat_id=chat.id, member_id=carol.id) == 20
            assert await service.balance(session, chat_id=chat.id, member_id=bob.id) == before + 10
        assert await points_issued(app, chat.id) == issued_before + 30


async def points_issued(app, chat_id: int) -> int:
    from datetime import timedelta

    from storage.metrics import counters

    today = app.clock.now().date()
    await app.flush_figures()  # figures are batched in memory until a tick
    async with app.sessions() as session:
        figures = await counters(session, chat_id, today - timedelta(days=2), today + timedelta(days=2), "points_issued")
    return sum(f.value for f in figures)


async def test_no_points_when_the_points_feature_is_off(sqlite_url, tmp_path):
    cfg = config("en")
    cfg["defaults"]["points"] = {"enabled": False}
    async with running_app(sqlite_url, str(tmp_path), cfg) as (app, console):
        await console.join("carol")
        await console.press("carol", question_for(console, "carol").id, 0)
        await console.say("carol", "Rome")
        for _ in range(4):
            await console.press("carol", question_for(console, "carol").id, 0)
        welcome = console.bot_messages()[-1].text
        assert welcome.startswith("🎉 Welcome") and "points" not in welcome
