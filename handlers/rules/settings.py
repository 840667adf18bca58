"""Group settings of the rules feature ([defaults.rules] and [groups."…".rules] in the config)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CATEGORIES = (
    "link", "invite", "miniprogram", "contact", "qr", "ads", "fraud", "gambling", "porn", "violence",
    "politics", "sensitive", "insult", "custom", "flood", "repeat",
)

# The cross-validated precision the spam model's threshold is chosen for (`qunzhu rules-train`, the
# [learning] retrain). Chosen on the non-held-out rows of zh-tg-train.csv: out of fold on their
# mixed-chat part, rules OR model kept precision >= 0.99 from 0.996 up (at 0.995: 0.989), and 0.997
# leaves a little margin while adding 1.6 points of recall to the rules (0.998: 0.9 points).
DEFAULT_PRECISION = 0.997

_DURATION = re.compile(r"^(\d{1,5})([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(value: str) -> timedelta:
    """'30m', '1h', '1d', '2w' → timedelta; ValueError names the input."""
    m = _DURATION.match(value.strip().lower())
    if not m or int(m.group(1)) == 0:
        raise ValueError(f"{value!r} is not a duration (use e.g. 30m, 1h, 1d, 7d, 2w)")
    return timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])


def validate_step(step: str) -> str:
    """A penalty: warn | delete | mute:DURATION | kick | ban | report | ladder | off."""
    step = step.strip().lower()
    if step in ("warn", "delete", "kick", "ban", "report", "ladder", "off"):
        return step
    if step.startswith("mute:"):
        parse_duration(step[5:])
        return step
    raise ValueError(f"{step!r} is not a penalty (use warn, delete, mute:1d, kick, ban, report, ladder or off)")


# Nested quantifiers ((a+)+, (a*)*, (a|aa)+ …) can take exponential time on a crafted message.
_NESTED = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)\s*[+*{]")


class RulesSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)

    enabled: bool = True
    # The group's rules, shown by /rules and set by /setrules.
    text: str = ""
    # Load the word lists shipped in handlers/rules/data (weighted evidence, never sole grounds).
    shipped_lists: bool = True
    # Score at which a message is a violation (a link, an invite or a contact ID scores 1.0 alone).
    threshold: float = Field(default=1.0, gt=0)
    # Which links from established members are violations: "suspicious" (short links, invites,
    # mini-programs, Telegram links, blocked or known-bad domains, machine-made names such as
    # 776mz.com or cheap spam TLDs, disguised links such as 点com, and any link next to other ad
    # evidence) or "all" (the strict playbook: no links at all). Newcomers' links always count, and
    # a group with allowed_domains forbids every other site.
    links: Literal["suspicious", "all"] = "suspicious"
    allowed_domains: list[str] = Field(default_factory=list)
    blocked_domains: list[str] = Field(default_factory=list)
    words: list[str] = Field(default_factory=list)  # the group's own forbidden words (category custom)
    allowed_words: list[str] = Field(default_factory=list)  # shipped-list words this group tolerates
    regexes: list[str] = Field(default_factory=list)  # the group's own patterns (category custom)
    exempt: list[str] = Field(default_factory=list)  # user ids never judged (admins always are)
    disabled_categories: list[str] = Field(default_factory=list)
    # Action per category: "ladder" (the escalating penalties below) or a fixed penalty.
    actions: dict[str, str] = Field(default_factory=lambda: {"qr": "kick"})
    ladder: list[str] = Field(default_factory=lambda: ["warn", "mute:1d", "mute:7d", "mute:15d", "kick"])
    ladder_window_days: int = Field(default=30, ge=1)
    # Newcomers: within this many hours of joining and their first N messages.
    newcomer_hours: float = Field(default=24, ge=0)
    newcomer_messages: int = Field(default=3, ge=0)
    newcomer_factor: float = Field(default=0.6, gt=0, le=1)  # threshold multiplier for newcomers
    newcomer_link_action: str = "kick"  # a newcomer's link/invite/contact/QR: this instead of the ladder
    flood_messages: int = Field(default=8, ge=2)
    flood_seconds: int = Field(default=10, ge=1)
    repeat_count: int = Field(default=3, ge=2)  # the same text this many times …
    repeat_seconds: int = Field(default=600, ge=1)  # … within this window
    # Public notice (jinja2, sandboxed): member, rule, category, penalty, evidence, group.
    notice_template: str = ""
    notice_delete_after: int = Field(default=0, ge=0)  # seconds; 0 keeps notices
    # The spam model trained by `qunzhu rules-train` (handlers/rules/model.py; a path, relative to
    # the data dir). Its own path, not evidence added to the rules: a message the rules let through
    # is a violation when the model's probability passes its threshold. On its evidence alone the
    # penalty is at most `model_action` (delete + warn by default; never a mute or a removal), the
    # notice says it was automatic, and the decision goes on the admins' review list (/review).
    model: str = ""
    model_threshold: float | None = Field(default=None, gt=0, lt=1)  # None: the file's (cross-validated)
    model_action: Literal["warn", "delete", "report"] = "warn"
    # Near-duplicates of a message punished in any group of this instance are caught for this long.
    waves: bool = True
    wave_hours: float = Field(default=6, gt=0, le=168)
    # A newcomer whose display name carries a contact ID, an invite or an ad: "strict" (questioned
    # as in a raid, the admins told), "remove" (removed with a notice) or "off". A message that
    # points at the sender's name (看我名字 …) is always judged with the name added.
    display_names: Literal["strict", "remove", "off"] = "strict"
    # Keep the hashed grams (never the text) of judged messages, for the admins' labels to train on.
    learn: bool = True
    # Points integration (handlers.points.service): deduct on each violation; links from level N.
    penalty_points: int = Field(default=0, ge=0)
    links_from_level: int | None = Field(default=None, ge=1)

    @field_validator("ladder")
    @classmethod
    def _ladder(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("needs at least one step, e.g. ['warn', 'mute:1d', 'kick']")
        steps = [validate_step(v) for v in value]
        if any(s in ("ladder", "off") for s in steps):
            raise ValueError("a ladder step cannot be 'ladder' or 'off'")
        return steps

    @field_validator("actions")
    @classmethod
    def _actions(cls, value: dict[str, str]) -> dict[str, str]:
        out = {}
        for category, step in value.items():
            if category not in CATEGORIES:
                raise ValueError(f"unknown category {category!r} (one of {', '.join(CATEGORIES)})")
            out[category] = validate_step(step)
        return out

    @field_validator("newcomer_link_action")
    @classmethod
    def _newcomer_action(cls, value: str) -> str:
        return validate_step(value)

    @field_validator("disabled_categories")
    @classmethod
    def _categories(cls, value: list[str]) -> list[str]:
        for category in value:
            if category not in CATEGORIES:
                raise ValueError(f"unknown category {category!r} (one of {', '.join(CATEGORIES)})")
        return value

    @field_validator("regexes")
    @classmethod
    def _regexes(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"regex {pattern!r} does not compile: {exc}") from None
            if _NESTED.search(pattern):
                raise ValueError(f"regex {pattern!r} nests quantifiers (e.g. (a+)+), which can take exponential time")
        return value

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, values: Any) -> Any:
        if isinstance(values, dict) and ("classifier" in values or "classifier_weight" in values):
            raise ValueError("rules.classifier and rules.classifier_weight are gone: train a model with "
                             "`qunzhu rules-train` and set rules.model to its file")
        return values

    @field_validator("notice_template")
    @classmethod
    def _template(cls, value: str) -> str:
        if value:
            from jinja2 import TemplateSyntaxError
            from jinja2.sandbox import SandboxedEnvironment

            try:
                SandboxedEnvironment().from_string(value)
            except TemplateSyntaxError as exc:
                raise ValueError(f"notice_template: {exc.message} (line {exc.lineno})") from None
        return value

    def action_for(self, category: str) -> str:
        return self.actions.get(category, "ladder")


class LearningSettings(BaseModel):
    """[learning]: retraining the spam model from base data plus the admins' labels (instance-wide)."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    enabled: bool = False  # retrain on the schedule below (`qunzhu rules-train --from-db` any time)
    base_data: str = ""  # a labelled CSV (label,text) the model starts from, e.g. your own chat
    background_ham: list[str] = Field(default_factory=list)  # ordinary chat (.csv ham rows or .txt lines)
    output: str = "rules-model.json"  # the model file written (point rules.model at it)
    every_hours: float = Field(default=168, gt=0)
    min_new_labels: int = Field(default=1, ge=1)  # retrain only after this many new labels
    precision: float = Field(default=DEFAULT_PRECISION, gt=0.5, lt=1)  # the model's threshold is chosen for it
    forget_unlabelled_days: int = Field(default=30, ge=1)  # unlabelled samples kept this long
