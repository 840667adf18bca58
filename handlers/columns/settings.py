"""Columns: group-level switches ([defaults.columns]) and the column definitions ([columns]).

A column is a named post on a schedule: `[columns.column.NAME]` with a schedule (`cron` or
`times`), targets (`groups` and/or `tags`) and a content `source`. A campaign is a timeline of
steps at offsets from a start date: `[columns.campaign.NAME]` with a steps `file` or inline
`steps`. See the columns section of the README and config.example.toml.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_NAME = re.compile(r"^[\w\-]{1,48}$")

Source = Literal["calendar", "queue", "feed", "morning", "evening"]
SOURCES: tuple[str, ...] = ("calendar", "queue", "feed", "morning", "evening")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


def parse_hhmm(value: str) -> tuple[int, int]:
    match = _TIME.match(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a time of day 'HH:MM' (e.g. '08:00')")
    return int(match.group(1)), int(match.group(2))


def check_timezone(value: str | None) -> str | None:
    if value is None:
        return None
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as 'Asia/Shanghai')") from None
    return value


def check_template(value: str | None) -> str | None:
    if value is None:
        return None
    from scheduler.templates import compile_template, TemplateProblem

    try:
        compile_template(value)
    except TemplateProblem as exc:
        raise ValueError(f"template does not compile: {exc}") from None
    return value


class ColumnsSettings(_Strict):
    """Per group ([defaults.columns], [groups."…".columns])."""

    enabled: bool = True
    # Tags of this group; a column with `tags = [...]` posts to every group sharing one.
    tags: list[str] = Field(default_factory=list)


class ColumnDef(_Strict):
    """One column. Exactly one of `cron` / `times`."""

    title: str | None = None  # shown in posts and lists; default: the column's name
    source: Source
    # Schedule: a crontab line (minute hour day month weekday), e.g. "0 20 * * wed" …
    cron: str | None = None
    # … or daily times, optionally on some weekdays only ("mon-fri", "sat,sun").
    times: list[str] = Field(default_factory=list)
    days: str | None = None
    # Default: each target group's own time zone.
    timezone: str | None = None
    # Targets: chat keys "PLATFORM:CHAT_ID" and/or group tags ([groups."…".columns] tags).
    groups: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    enabled: bool = True
    # calendar: a folder of YYYY-MM-DD[-HHMM].md files, or one .md file with "## YYYY-MM-DD" entries.
    path: str | None = None
    # feed: an RSS/Atom URL, and how many items a digest shows at most.
    url: str | None = None
    max_items: int = Field(default=5, ge=1, le=30)
    # Template (Jinja2, sandboxed) inline or from a file; default: a built-in one per source.
    template: str | None = None
    template_file: str | None = None
    # morning: lines of the day (one is picked per date); default: a built-in list.
    lines: list[str] = Field(default_factory=list)
    # Override of [columns] grace_minutes for this column.
    grace_minutes: int | None = Field(default=None, ge=0)
    # calendar: how far ahead a missing entry is reported to the admins.
    lookahead_hours: int = Field(default=24, ge=0)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return check_timezone(value)

    @field_validator("template")
    @classmethod
    def _tpl(cls, value: str | None) -> str | None:
        return check_template(value)

    @field_validator("times")
    @classmethod
    def _times(cls, value: list[str]) -> list[str]:
        for item in value:
            parse_hhmm(item)
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value, timezone="UTC")
        except ValueError as exc:
            raise ValueError(f"not a crontab line 'minute hour day month weekday' ({exc})") from None
        return value

    @field_validator("days")
    @classmethod
    def _days(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger(day_of_week=value, timezone="UTC")
        except ValueError as exc:
            raise ValueError(f"weekdays such as 'mon-fri' or 'sat,sun' ({exc})") from None
        return value

    @field_validator("groups")
    @classmethod
    def _groups(cls, value: list[str]) -> list[str]:
        for key in value:
            if ":" not in key:
                raise ValueError(f"group key {key!r} must be 'PLATFORM:CHAT_ID', e.g. 'telegram:-1001234567890'")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "ColumnDef":
        if bool(self.cron) == bool(self.times):
            raise ValueError("give exactly one of cron (e.g. '0 8 * * *') or times (e.g. ['08:00'])")
        if self.days and not self.times:
            raise ValueError("days: only with times (put weekdays into the cron line instead)")
        if not self.groups and not self.tags:
            raise ValueError("targets no group: set groups = ['PLATFORM:CHAT_ID', …] and/or tags = [...]")
        if self.source == "calendar" and not self.path:
            raise ValueError("path: required for source = 'calendar' (a folder or a .md file)")
        if self.source == "feed" and not self.url:
            raise ValueError("url: required for source = 'feed' (an RSS or Atom URL)")
        if self.url and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url: must start with http:// or https:// (got {self.url!r})")
        if self.template and self.template_file:
            raise ValueError("give template or template_file, not both")
        return self


class StepDef(_Strict):
    day: int = Field(ge=1)  # Day 1 is the start date
    time: str  # HH:MM, local time of the group (or the campaign's time zone)
    text: str = ""
    image: str | None = None  # a file path, relative to the data folder

    @field_validator("time")
    @classmethod
    def _time(cls, value: str) -> str:
        parse_hhmm(value)
        return value

    @model_validator(mode="after")
    def _content(self) -> "StepDef":
        if not self.text.strip() and not self.image:
            raise ValueError("a step needs text or an image")
        return self


class CampaignDef(_Strict):
    title: str | None = None
    # A Markdown file of steps ("## Day 1 09:00" / "## 第1天 09:00" headings) …
    file: str | None = None
    # … or the steps inline.
    steps: list[StepDef] = Field(default_factory=list)
    timezone: str | None = None  # default: the group's
    grace_minutes: int | None = Field(default=None, ge=0)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return check_timezone(value)

    @model_validator(mode="after")
    def _source(self) -> "CampaignDef":
        if bool(self.file) == bool(self.steps):
            raise ValueError("give exactly one of file (a Markdown steps file) or steps = [...]")
        return self


class ColumnsGlobal(_Strict):
    """The top-level [columns] section."""

    # A slot missed while the bot was down is posted late within this window, skipped after it.
    grace_minutes: int = Field(default=30, ge=0)
    # A claimed slot nobody started sending is taken over by another instance after this long.
    claim_lease_seconds: int = Field(default=120, ge=5)
    # A slot whose send was interrupted (crash) is reported to the admins after this long, never re-sent.
    stale_send_minutes: int = Field(default=10, ge=1)
    # How many groups a fan-out sends to at once (each platform still paces its own sends).
    fanout_concurrency: int = Field(default=32, ge=1, le=256)
    # Seconds a feed fetch may take.
    feed_timeout_seconds: float = Field(default=20.0, gt=0)
    # Platform user keys ("telegram:123456") who may pause/resume a column for all groups at once.
    operators: list[str] = Field(default_factory=list)
    column: dict[str, ColumnDef] = Field(default_factory=dict)
    campaign: dict[str, CampaignDef] = Field(default_factory=dict)

    @field_validator("column", "campaign")
    @classmethod
    def _names(cls, value: dict) -> dict:
        for name in value:
            if not _NAME.match(name):
                raise ValueError(f"name {name!r}: use letters, digits, '_' or '-' (up to 48), no spaces")
        return value
