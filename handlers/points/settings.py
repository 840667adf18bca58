"""Group settings of the points feature ([defaults.points] and [groups."…".points] in the config)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class StreakBonus(_Strict):
    """From the `days`-th consecutive check-in on, each check-in earns `bonus` more."""

    days: int = Field(ge=2)
    bonus: int = Field(ge=0)


class LevelSpec(_Strict):
    """Level N (N = position in the list, from 1) is reached at `min_points` growth points."""

    min_points: int = Field(ge=0)
    title_zh: str
    title_en: str

    def title(self, lang: str) -> str:
        return self.title_zh if lang.startswith("zh") else self.title_en


def _default_levels() -> list[LevelSpec]:
    return [
        LevelSpec(min_points=0, title_zh="新人", title_en="Newcomer"),
        LevelSpec(min_points=50, title_zh="活跃成员", title_en="Regular"),
        LevelSpec(min_points=200, title_zh="骨干", title_en="Core member"),
        LevelSpec(min_points=600, title_zh="元老", title_en="Veteran"),
        LevelSpec(min_points=1500, title_zh="传奇", title_en="Legend"),
    ]


class PointsSettings(_Strict):
    model_config = ConfigDict(extra="forbid", validate_default=True)

    enabled: bool = True

    # Daily check-in (/checkin, /签到, /打卡, or the plain words below alone in a message).
    checkin_points: int = Field(default=10, ge=0)
    checkin_words: list[str] = Field(default_factory=lambda: ["签到", "打卡", "checkin", "check in"])
    # The highest matching bonus applies, e.g. 3 days → +5, 7 days → +10.
    streak_bonuses: list[StreakBonus] = Field(
        default_factory=lambda: [StreakBonus(days=3, bonus=5), StreakBonus(days=7, bonus=10), StreakBonus(days=30, bonus=30)]
    )

    # Activity: points for messages that got past the rules router.
    activity_points: int = Field(default=1, ge=0)
    activity_min_length: int = Field(default=5, ge=0)  # characters, spaces not counted
    activity_daily_cap: int = Field(default=20, ge=0)  # activity points per member per local day

    # Admin /award and /deduct: the most one command may give or take (0 = no limit).
    award_max: int = Field(default=1000, ge=0)

    # Growth levels. "earned" counts every row except shop and lottery spending, so redeeming a
    # reward never costs a level; "balance" uses the spendable balance.
    level_basis: Literal["earned", "balance"] = "earned"
    levels: list[LevelSpec] = Field(default_factory=_default_levels)
    announce_level_up: bool = True
    # Rights a level grants, honoured by other features: right name → lowest level that has it.
    # Known rights: links_allowed_from_level (rules: members of this level may post links),
    # no_checkin_reminder_cooldown_from_level (columns: reminders without cooldown).
    # Ask with handlers.points.service.has_right(session, chat_id=…, member_id=…, settings=…, right=…).
    rights: dict[str, int] = Field(
        default_factory=lambda: {"links_allowed_from_level": 3, "no_checkin_reminder_cooldown_from_level": 2}
    )

    # What /top shows without an argument: all-time, or the current week/month ("season").
    default_board: Literal["all", "week", "month"] = "all"
    board_size: int = Field(default=10, ge=1, le=50)
    history_size: int = Field(default=10, ge=1, le=50)

    # Lottery: the longest a draw may stay open, in hours.
    draw_max_hours: int = Field(default=24 * 30, ge=1)

    @field_validator("levels")
    @classmethod
    def _levels_ascend(cls, levels: list[LevelSpec]) -> list[LevelSpec]:
        if not levels:
            raise ValueError("points.levels needs at least one level (min_points = 0)")
        if levels[0].min_points != 0:
            raise ValueError("points.levels: the first level must have min_points = 0")
        for before, after in zip(levels, levels[1:]):
            if after.min_points <= before.min_points:
                raise ValueError(
                    f"points.levels: min_points must increase ({before.min_points} then {after.min_points})"
                )
        return levels

    @model_validator(mode="after")
    def _rights_in_range(self) -> "PointsSettings":
        for name, level in self.rights.items():
            if not 1 <= level <= len(self.levels) + 1:
                raise ValueError(f"points.rights.{name}: level {level} is not between 1 and {len(self.levels)}")
        return self

    def level_for(self, points: int) -> int:
        level = 1
        for number, spec in enumerate(self.levels, start=1):
            if points >= spec.min_points:
                level = number
        return level

    def streak_bonus(self, streak: int) -> int:
        return max((b.bonus for b in self.streak_bonuses if streak >= b.days), default=0)
