"""Shared pieces of the onboarding tests: the example questionnaire from config.example.toml and
small readers of what the console group shows."""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.config import deep_merge
from bot.platforms.console import ConsoleMessage, ConsolePlatform
from storage import core_repo, metrics, onboarding_repo

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE: dict[str, Any] = tomllib.loads((ROOT / "config.example.toml").read_text("utf-8"))["defaults"]["onboarding"]
QUESTION_MARK = re.compile(r"[（(](\d+)/(\d+)[）)]")


def config(lang: str = "zh-CN", **onboarding: Any) -> dict[str, Any]:
    return {"defaults": {"language": lang, "onboarding": deep_merge(EXAMPLE, onboarding)}}


def question_for(console: ConsolePlatform, name: str, chat_id: str | None = None) -> ConsoleMessage:
    """The newest question in the group addressed to `name` (not deleted)."""
    for message in reversed(console.bot_messages(chat_id)):
        if f"@{name}" in message.text and QUESTION_MARK.search(message.text):
            return message
    raise AssertionError(f"no question for {name}; bot said: {[m.text for m in console.bot_messages(chat_id)][-5:]}")


def step_of(message: ConsoleMessage) -> int:
    match = QUESTION_MARK.search(message.text)
    assert match, message.text
    return int(match.group(1))


async def chat_and_member(app, name: str, chat_id: str = "lobby"):
    async with app.sessions() as session:
        chat = await core_repo.get_chat(session, "console", chat_id)
        member = await core_repo.get_member(session, chat.id, name)
        return chat, member


async def run_of(app, name: str, chat_id: str = "lobby"):
    _, member = await chat_and_member(app, name, chat_id)
    async with app.sessions() as session:
        return await onboarding_repo.get_run(session, member.id)


async def tags(app, name: str, chat_id: str = "lobby") -> list[str]:
    _, member = await chat_and_member(app, name, chat_id)
    async with app.sessions() as session:
        return await core_repo.tags_of(session, member.id)


async def answers(app, name: str, chat_id: str = "lobby") -> dict[str, str]:
    _, member = await chat_and_member(app, name, chat_id)
    async with app.sessions() as session:
        return await onboarding_repo.answers_of(session, member.id)


async def figure(app, metric: str, key: str = "", chat_id: str = "lobby") -> int:
    await app.flush_figures()  # figures are batched in memory until a tick
    async with app.sessions() as session:
        chat = await core_repo.get_chat(session, "console", chat_id)
        today = app.clock.now().date()
        rows = await metrics.counters(session, chat.id, today - timedelta(days=1), today + timedelta(days=1), metric)
        return sum(r.value for r in rows if r.key == key)


def bot_texts(console: ConsolePlatform, chat_id: str | None = None) -> list[str]:
    return [m.text for m in console.bot_messages(chat_id)]
