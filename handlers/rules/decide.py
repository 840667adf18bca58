"""From a verdict to a penalty: the per-category action, the newcomer rule and the ladder.
Shared by the bot and `qunzhu moderate`."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.rules.engine import Verdict

LINKISH = ("link", "invite", "miniprogram", "contact", "qr")


@dataclass(frozen=True)
class Decision:
    action: str  # allow | warn | delete | mute:DURATION | kick | ban | report
    source: str  # none | ladder | category | newcomer
    step: int | None = None  # 0-based ladder step, when source == "ladder"
    strike: bool = False  # counts on the member's ladder

    def as_dict(self) -> dict:
        return {"action": self.action, "source": self.source, "step": None if self.step is None else self.step + 1}


def decide(verdict: Verdict, settings, *, active_strikes: int = 0, newcomer: bool = False, category: str | None = None) -> Decision:
    """`active_strikes`: the member's strikes still inside the ladder window, before this one."""
    category = category or verdict.category
    if category is None or not verdict.violation:
        return Decision("allow", "none")
    if newcomer and category in LINKISH and settings.newcomer_link_action not in ("ladder", "off"):
        return Decision(settings.newcomer_link_action, "newcomer", strike=True)
    action = settings.action_for(category)
    if action == "off":
        return Decision("allow", "category")
    if action != "ladder":
        return Decision(action, "category", strike=action not in ("delete", "report"))
    step = min(active_strikes, len(settings.ladder) - 1)
    return Decision(settings.ladder[step], "ladder", step=step, strike=True)
