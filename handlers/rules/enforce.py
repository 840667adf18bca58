"""Carrying out a penalty on a platform: delete, warn, mute, kick, ban, with the next best action
when the platform lacks a capability (the admins are told), the public notice, the audit rows,
the strike on the member's ladder and the optional points deduction."""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from jinja2.sandbox import SandboxedEnvironment

from bot.events import UserRef
from bot.platform import ActionFailed, Capability, CapabilityMissing
from handlers.rules import texts  # noqa: F401  (registers the texts)
from handlers.rules.settings import parse_duration
from storage import rules_repo

log = logging.getLogger(__name__)

_JINJA = SandboxedEnvironment(autoescape=False)


def fmt_duration(delta: timedelta, lang: str) -> str:
    seconds = int(delta.total_seconds())
    for unit, size, zh, en in (("d", 86400, "天", "day"), ("h", 3600, "小时", "hour"),
                               ("m", 60, "分钟", "minute"), ("s", 1, "秒", "second")):
        if seconds % size == 0 and seconds >= size:
            n = seconds // size
            return f"{n} {zh}" if lang == "zh-CN" else f"{n} {en}{'s' if n != 1 else ''}"
    return f"{seconds}s"


def penalty_text(ctx, action: str) -> str:
    if action.startswith("mute:"):
        return ctx.t("rules.penalty.mute", duration=fmt_duration(parse_duration(action[5:]), ctx.lang))
    return ctx.t(f"rules.penalty.{action}")


def rule_text(ctx, category: str) -> str:
    try:
        return ctx.t(f"rules.cat.{category}")
    except KeyError:
        return category


def points_service():
    """handlers.points.service when the points feature ships it, else None."""
    try:
        return importlib.import_module("handlers.points.service")
    except ModuleNotFoundError as exc:
        if exc.name not in ("handlers.points.service", "handlers.points"):
            raise
        return None


@dataclass
class Outcome:
    action: str  # what was really done
    audit_id: int | None = None
    notes: list[str] = field(default_factory=list)
    notice_id: str | None = None


async def _tell_admins(ctx, text: str) -> None:
    try:
        await ctx.notify_admins(text)
    except (ActionFailed, CapabilityMissing):
        log.exception("could not notify the admins of %s", ctx.chat.key)


async def apply_penalty(ctx, target: UserRef, action: str, *, rule: str, category: str, evidence: str,
                        actor: str = "bot", message_id: str | None = None, details: dict | None = None,
                        strike: bool = True, notice: bool = True, reason: str = "") -> Outcome:
    """Do `action` (warn | delete | mute:D | kick | ban | report) to `target`, with fallbacks.
    Audits every step. Returns what was done."""
    rs = ctx.settings.rules
    member = ctx.mention(target)
    rule_name = reason if category == "admin" and reason else rule_text(ctx, category)
    details = dict(details or {})
    platform = ctx.platform
    outcome = Outcome(action)

    async def fallback(wanted: str, capability: str, done: str) -> None:
        await _tell_admins(ctx, ctx.t("rules.fallback", platform=platform.name, wanted=wanted, capability=capability,
                                      done=done, member=member, rule=rule_name, evidence=evidence[:200]))
        outcome.notes.append(f"no {capability}: {done}")

    # 1. The offending message goes (not for a mere report).
    delete_entry = None
    if message_id and action != "report":
        if ctx.can(Capability.DELETE):
            try:
                await platform.delete(ctx.chat, message_id)
                delete_entry = await ctx.audit("delete", target=target, rule=rule, evidence=evidence, actor=actor,
                                details={"message_id": message_id, "category": category})
            except ActionFailed as exc:
                if exc.reason != "not_found":
                    await _tell_admins(ctx, ctx.t("rules.please_delete", member=member, message_id=message_id, rule=rule_name))
                    outcome.notes.append(f"delete failed: {exc}")
        else:
            await _tell_admins(ctx, ctx.t("rules.please_delete", member=member, message_id=message_id, rule=rule_name))
            outcome.notes.append("no DELETE: admins asked to delete")

    # 2. The penalty itself, with the next best action when the platform cannot.
    done = action
    until = None
    try:
        if action.startswith("mute:"):
            until = ctx.now + parse_duration(action[5:])
            if ctx.can(Capability.RESTRICT):
                await platform.restrict(ctx.chat, target, until)
            else:
                done = "warn"
                await fallback(penalty_text(ctx, action), "RESTRICT", penalty_text(ctx, "warn"))
        elif action == "kick":
            if ctx.can(Capability.KICK):
                await platform.kick(ctx.chat, target)
            elif ctx.can(Capability.BAN) and ctx.can(Capability.UNBAN):
                await platform.ban(ctx.chat, target)
                await platform.unban(ctx.chat, target)
            else:
                done = "kick_requested"
        elif action == "ban":
            if ctx.can(Capability.BAN):
                await platform.ban(ctx.chat, target)
            elif ctx.can(Capability.KICK):
                done = "kick"
                await platform.kick(ctx.chat, target)
                await fallback(penalty_text(ctx, "ban"), "BAN", penalty_text(ctx, "kick"))
            else:
                done = "kick_requested"
    except ActionFailed as exc:
        log.warning("rules: %s of %s in %s failed: %s", action, target.id, ctx.chat.key, exc)
        await _tell_admins(ctx, ctx.t("rules.action_failed", member=member, action=penalty_text(ctx, action) if action != "kick_requested" else action,
                                      reason=exc.detail or exc.reason, right=exc.right or "-"))
        outcome.notes.append(f"{action} failed: {exc}")
        done = "warn" if action.startswith("mute:") else "kick_requested" if action in ("kick", "ban") else done
    outcome.action = done

    details.update({"wanted": action, "done": done, "notes": outcome.notes})
    if until is not None and done == action:
        details["until"] = until.isoformat()
    if message_id:
        details.setdefault("message_id", message_id)
    audit_action = done.split(":")[0] if done != "kick_requested" else "kick_requested"
    if audit_action == "delete" and delete_entry is not None:
        outcome.audit_id = delete_entry.id
    else:
        entry = await ctx.audit(audit_action, target=target, rule=rule, evidence=evidence, actor=actor, details=details)
        outcome.audit_id = entry.id
    if done == "kick_requested":
        await _tell_admins(ctx, ctx.t("rules.please_remove", member=member, rule=rule_name, evidence=evidence[:300],
                                      audit_id=outcome.audit_id))
    if done == "report":
        await _tell_admins(ctx, ctx.t("rules.flagged", member=member, message_id=message_id or "-", rule=rule_name,
                                      evidence=evidence[:300]))

    # 3. The strike on the ladder.
    strikes = 0
    if strike:
        await rules_repo.add_strike(ctx.session, chat_id=ctx.chat_row.id, user_id=target.id, at=ctx.now, rule=rule,
                                    category=category, action=done, audit_id=outcome.audit_id)
        strikes = len(await rules_repo.active_strikes(ctx.session, ctx.chat_row.id, target.id,
                                                      ctx.now - timedelta(days=rs.ladder_window_days)))

    # 4. Points deduction (optional, needs the points feature).
    if rs.penalty_points and strike:
        service = points_service()
        if service is not None and hasattr(service, "award"):
            member_row = await _member_row(ctx, target)
            if member_row is not None:
                await service.award(ctx.session, chat_id=ctx.chat_row.id, member_id=member_row.id,
                                    amount=-rs.penalty_points, reason=ctx.t("rules.points_reason", rule=rule_name),
                                    source="rules", key=f"rules:{outcome.audit_id or ctx.now.isoformat()}:{target.id}",
                                    now=ctx.now)

    # 5. The public notice (以儆效尤).
    if notice and (done in ("warn", "kick", "ban", "kick_requested") or done.startswith("mute:")):
        shown = penalty_text(ctx, done) if done != "warn" or message_id else ctx.t("rules.penalty.warn_only")
        text = await render_notice(ctx, member=member, rule=rule_name, category=category,
                                   penalty=shown, evidence=evidence, reason=reason,
                                   strikes=0 if done in ("kick", "ban", "kick_requested") else strikes)
        sent = await ctx.send(text)
        outcome.notice_id = sent.message_id
        if rs.notice_delete_after and sent.message_id:
            await rules_repo.add_notice(ctx.session, chat_id=ctx.chat_row.id, platform=ctx.chat.platform,
                                        external_chat_id=ctx.chat.id, message_id=sent.message_id,
                                        delete_at=ctx.now + timedelta(seconds=rs.notice_delete_after))
    return outcome


async def render_notice(ctx, *, member: str, rule: str, category: str, penalty: str, evidence: str, strikes: int,
                        reason: str = "") -> str:
    rs = ctx.settings.rules
    next_step = ""
    if strikes:
        step = min(strikes, len(rs.ladder) - 1)
        next_step = penalty_text(ctx, rs.ladder[step])
    if rs.notice_template:
        try:
            return _JINJA.from_string(rs.notice_template).render(
                member=member, rule=rule, category=category, penalty=penalty, evidence=evidence[:200],
                strikes=strikes, window_days=rs.ladder_window_days, next_penalty=next_step, reason=reason,
                group=ctx.chat.title or ctx.chat.id,
            )
        except Exception as exc:  # a broken template must not lose the notice
            log.warning("rules notice template failed in %s: %s", ctx.chat.key, exc)
            await _tell_admins(ctx, ctx.t("rules.template_failed", error=f"{type(exc).__name__}: {exc}"[:200]))
    text = ctx.t("rules.notice", member=member, rule=rule, penalty=penalty,
                 reason=ctx.t("rules.reason", reason=reason) if reason and reason != rule else "")
    if strikes:
        text += ctx.t("rules.notice_strikes", window=rs.ladder_window_days, count=strikes, next=next_step)
    return text


async def _member_row(ctx, user: UserRef):
    from storage import core_repo

    if ctx.member_row is not None and ctx.member_row.user_id == user.id:
        return ctx.member_row
    return await core_repo.get_member(ctx.session, ctx.chat_row.id, user.id)
