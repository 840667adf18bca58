"""Shared bits of the columns tests: configs, clocks and reading what the console groups got."""

from __future__ import annotations

from datetime import datetime, timezone

from bot.platforms.console import ConsolePlatform

UTC = timezone.utc


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def column_config(name: str = "zaobao", **spec) -> dict:
    base = {"source": "morning", "times": ["08:00"], "groups": ["console:lobby"]}
    base.update(spec)
    return {"columns": {"column": {name: base}}}


def posts(console: ConsolePlatform, chat_id: str = "lobby", contains: str = "") -> list[str]:
    return [m.text for m in console.bot_messages(chat_id) if contains in m.text]


def dms(console: ConsolePlatform, user: str = "admin", contains: str = "") -> list[str]:
    return [m.text for m in console.dms(user) if contains in m.text]
