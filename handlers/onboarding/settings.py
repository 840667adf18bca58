"""Group settings of the onboarding feature ([defaults.onboarding] and [groups."…".onboarding] in the config).

A questionnaire is an ordered list of questions. Texts the members see may be one string or a
table by language (`{ "zh-CN" = "…", en = "…" }`); the group's language picks one. With no
questions (the default) onboarding does nothing but post the welcome, if one is configured.
"""

from __future__ import annotations

import re
import string
from typing import Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# One text, or one text per language ("zh-CN", "en").
LocalText = Union[str, dict[str, str]]


def local(text: LocalText | None, lang: str) -> str:
    """The text in `lang`, else Chinese, else whatever language is there."""
    if text is None:
        return ""
    if isinstance(text, str):
        return text
    return text.get(lang) or text.get("zh-CN") or next(iter(text.values()), "")


def _check_local(value: LocalText | None, what: str) -> LocalText | None:
    if isinstance(value, dict):
        unknown = [lang for lang in value if lang not in ("zh-CN", "en")]
        if unknown:
            raise ValueError(f"{what}: unknown language {unknown[0]!r} (use 'zh-CN' or 'en')")
        if not any(v.strip() for v in value.values()):
            raise ValueError(f"{what}: empty text")
    return value


def _placeholders(text: LocalText | None) -> set[str]:
    texts = [text] if isinstance(text, str) else list((text or {}).values())
    names: set[str] = set()
    for t in texts:
        try:
            names |= {name for _, name, _, _ in string.Formatter().parse(t) if name is not None}
        except ValueError as exc:
            raise ValueError(f"bad braces in {t!r}: {exc} (write {{{{ and }}}} for literal braces)") from None
    return names


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class Choice(_Strict):
    """A button. `value` is what is stored and what tag rules match; `label` is what is shown."""

    value: str = Field(min_length=1, max_length=64)
    label: LocalText

    @field_validator("label")
    @classmethod
    def _label(cls, value: LocalText) -> LocalText:
        return _check_local(value, "label")


class Question(_Strict):
    # Stored with the answer and used by tag rules; keep it stable once members have answered.
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")
    text: LocalText
    # choice: buttons; text: free text; number: a number typed in; consent: the rules, accept or leave.
    kind: Literal["choice", "text", "number", "consent"] = "text"
    choices: list[Choice] = Field(default_factory=list)
    optional: bool = False
    # Free text: length limits (characters) and an optional regular expression the whole answer
    # must match, with the hint shown when it does not.
    min_length: int = Field(default=1, ge=0)
    max_length: int = Field(default=200, ge=1, le=2000)
    pattern: str | None = None
    pattern_hint: LocalText | None = None
    # Number: the allowed range (inclusive).
    min_value: float | None = None
    max_value: float | None = None

    @field_validator("text", "pattern_hint")
    @classmethod
    def _texts(cls, value: LocalText | None, info) -> LocalText | None:
        return _check_local(value, info.field_name)

    @field_validator("pattern")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "Question":
        if self.kind == "choice" and len(self.choices) < 2:
            raise ValueError(f"question {self.id!r}: a choice question needs at least 2 choices")
        if self.kind != "choice" and self.choices:
            raise ValueError(f"question {self.id!r}: choices are only for kind = \"choice\"")
        values = [c.value for c in self.choices]
        if len(set(values)) != len(values):
            raise ValueError(f"question {self.id!r}: two choices share one value")
        if self.min_length > self.max_length:
            raise ValueError(f"question {self.id!r}: min_length is larger than max_length")
        if self.min_value is not None and self.max_value is not None and self.min_value > self.max_value:
            raise ValueError(f"question {self.id!r}: min_value is larger than max_value")
        if self.kind == "consent" and self.optional:
            raise ValueError(f"question {self.id!r}: a consent question cannot be optional")
        return self

    @property
    def typed(self) -> bool:
        """Answered by typing (not by a button)."""
        return self.kind in ("text", "number")


class Range(_Strict):
    """Matches a number answer with min <= answer <= max."""

    min: float | None = None
    max: float | None = None


class TagRule(_Strict):
    """`tag` is given when every condition in `when` holds: question id → the accepted answers
    (choice values, or texts compared without case), or a {min, max} range for number questions.
    A condition on an unanswered (skipped) question never holds."""

    tag: str = Field(min_length=1, max_length=64)
    when: dict[str, Union[list[str], Range]] = Field(min_length=1)
    # Stop looking at the rules below once this one matched (for mutually exclusive classes).
    stop: bool = False


class Welcome(_Strict):
    """The welcome posted when a member is let in: a title, then the four parts of a group
    notice (群价值 + 群规则 + 惩罚机制 + 社群愿景). Placeholders: {mention}, {name}, {group}, {tags}.
    Empty parts are left out; with all of them empty nothing is posted."""

    title: LocalText = {"zh-CN": "欢迎 {mention} 加入{group}！", "en": "Welcome to {group}, {mention}!"}
    value: LocalText = ""
    rules: LocalText = ""
    penalties: LocalText = ""
    vision: LocalText = ""
    # Add a line with the tags the answers earned.
    show_tags: bool = False

    @model_validator(mode="after")
    def _placeholders_known(self) -> "Welcome":
        for part in ("title", "value", "rules", "penalties", "vision"):
            value = getattr(self, part)
            _check_local(value, part) if value else None
            unknown = _placeholders(value) - {"mention", "name", "group", "tags"}
            if unknown:
                raise ValueError(
                    f"{part}: unknown placeholder {{{sorted(unknown)[0]}}} (use {{mention}}, {{name}}, {{group}} or {{tags}})"
                )
        return self

    @property
    def has_body(self) -> bool:
        return any(local(getattr(self, p), "zh-CN").strip() for p in ("value", "rules", "penalties", "vision"))


class AntiRaid(_Strict):
    """More than `joins` joins within `seconds` seconds switch the group to strict mode: every
    newcomer is questioned (also those an admin added, and returning members), and the admins are
    told. Strict mode ends `calm_minutes` after the last join that kept the rate above the limit."""

    enabled: bool = True
    joins: int = Field(default=10, ge=1)
    seconds: int = Field(default=60, ge=1)
    calm_minutes: float = Field(default=10, gt=0)
    # Minutes to answer in strict mode (default: the normal timeout).
    timeout_minutes: float | None = Field(default=None, gt=0)
    # In strict mode newcomers in the group get the first question together: one message per
    # scheduler tick naming up to 50 of them (a raid would otherwise spend the group's message
    # budget, 20 a minute on Telegram, on questions to bots). Whoever answers carries on alone.
    # Only when the first question has buttons.
    shared_question: bool = True


class Points(_Strict):
    """Points given through the points feature (only when it is enabled in the group)."""

    # To the newcomer on completing the questionnaire.
    completed: int = Field(default=0, ge=0)
    # To the member who added them, when the platform says who did.
    inviter: int = Field(default=0, ge=0)


class OnboardingSettings(_Strict):
    enabled: bool = True
    questions: list[Question] = Field(default_factory=list)
    # Who is questioned: "all" newcomers, or only during a raid ("raid_only").
    question: Literal["all", "raid_only"] = "all"
    # Where questions are asked: in the group (buttons; the member types text answers in the
    # group), or by direct message, falling back to the group when the member cannot be messaged.
    ask_in: Literal["group", "dm"] = "group"
    # Minutes to finish the questionnaire; then the member is removed (a join request is declined).
    timeout_minutes: float = Field(default=10, gt=0)
    # Members an admin added themselves are let in without questions (except in strict mode).
    trust_admin_invites: bool = True
    # A member who finished the questionnaire once is not questioned again when they come back
    # (except in strict mode).
    remember_answers: bool = True
    # Delete the questions and the typed answers once the member is through, keeping the group tidy.
    cleanup: bool = True
    # Say in the group who was removed for not answering.
    announce_removals: bool = True
    tag_rules: list[TagRule] = Field(default_factory=list)
    welcome: Welcome = Field(default_factory=Welcome)
    anti_raid: AntiRaid = Field(default_factory=AntiRaid)
    points: Points = Field(default_factory=Points)

    @model_validator(mode="after")
    def _references(self) -> "OnboardingSettings":
        ids = [q.id for q in self.questions]
        seen: set[str] = set()
        for qid in ids:
            if qid in seen:
                raise ValueError(f"questions: two questions have the id {qid!r}")
            seen.add(qid)
        by_id = {q.id: q for q in self.questions}
        for n, rule in enumerate(self.tag_rules):
            for qid, accepted in rule.when.items():
                question = by_id.get(qid)
                if question is None:
                    raise ValueError(f"tag_rules[{n}] ({rule.tag}): no question has the id {qid!r}")
                if isinstance(accepted, Range):
                    if question.kind != "number":
                        raise ValueError(f"tag_rules[{n}] ({rule.tag}): a range needs a number question, {qid!r} is {question.kind}")
                elif question.kind == "choice":
                    values = {c.value for c in question.choices}
                    for value in accepted:
                        if value not in values:
                            raise ValueError(
                                f"tag_rules[{n}] ({rule.tag}): question {qid!r} has no choice {value!r} "
                                f"(choices: {', '.join(sorted(values))})"
                            )
        return self

    def question_by_id(self, qid: str) -> Question | None:
        return next((q for q in self.questions if q.id == qid), None)
