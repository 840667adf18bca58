"""Carrying out a penalty on a platform: delete, warn, mute, kick, ban, with the next best action
when the platform lacks a capability (the admins are told), the public notice, the audit rows,
the strike on the member's ladder and the optional points deduction."""

from __future__ import annotations

import functools
import importlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from bot.actions import follow_up
from bot.events import ChatRef, UserRef
from bot.platform import Capability
from handlers.rules import texts  # noqa: F401  (registers the texts)
from handlers.rules.settings import parse_duration
from storage import core_repo, rules_repo

log = logging.getLogger(__name__)



@functools.cache
def _jinja():
    """Only a group with its own notice template needs jinja2 (a few MB): imported then."""
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(autoescape=False)

# Actions with a notice of their own when an admin took them (rules.admin_notice.*).
ADMIN_NOTICES = ("mute", "kick", "ban", "kick_requested")


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
    await ctx.notify_admins(text)


async def apply_penalty(ctx, target: UserRef, action: str, *, rule: str, category: str, evidence: str,
                        actor: str = "bot", message_id: str | None = None, details: dict | None = None,
                        strike: bool = True, notice: bool = True, reason: str = "",
                        sender_chat: ChatRef | None = None, automatic: bool = False) -> Outcome:
    """Do `action` (warn | delete | mute:D | kick | ban | report) to `target`, with fallbacks.
    Audits every step. Returns what was decided; the platform carries it out after commit, and a
    refusal (missing right, member gone) is handled by the follow-ups below: the admins are told,
    the audit and the strike are corrected, and the notice says what was really done.

    `sender_chat`: the message was posted in the name of a channel. A channel cannot be muted or
    removed like a member (restrictChatMember takes people, not chats): every penalty past the
    deletion keeps that channel from posting in the group (banChatSenderChat), where the platform can.

    `automatic`: decided on the model's evidence alone; the notice says so (and that admins review it)."""
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
            delete_entry = await ctx.audit("delete", target=target, rule=rule, evidence=evidence, actor=actor,
                                           details={"message_id": message_id, "category": category})
            await platform.delete(ctx.chat, message_id, then="rules.deleted", then_args={
                "please_delete": ctx.t("rules.please_delete", member=member, message_id=message_id, rule=rule_name),
                "audit_id": delete_entry.id})
        else:
            await _tell_admins(ctx, ctx.t("rules.please_delete", member=member, message_id=message_id, rule=rule_name))
            outcome.notes.append("no DELETE: admins asked to delete")

    # 2. The penalty itself, with the next best action when the platform cannot. The platform calls
    # are queued as `calls` and made after commit; the last one carries the follow-up.
    done = action
    until = None
    calls: list[tuple[str, tuple]] = []
    if sender_chat is not None and action not in ("warn", "delete", "report"):
        if ctx.can(Capability.BAN_SENDER_CHAT):
            done = "ban"
            calls = [("ban_sender_chat", (ctx.chat, sender_chat))]
            details["sender_chat"] = {"id": sender_chat.id, "title": sender_chat.title}
        else:
            done = "kick_requested"
    elif action.startswith("mute:"):
        until = ctx.now + parse_duration(action[5:])
        if ctx.can(Capability.RESTRICT):
            calls = [("restrict", (ctx.chat, target, until))]
        else:
            done = "warn"
            if ctx.chat.kind == "group":  # a Telegram basic group: the cure is an upgrade, said once
                await ctx.tell_admins_once("upgrade_supergroup", ctx.t("core.upgrade_supergroup", chat=ctx.chat.title or ctx.chat.id))
                outcome.notes.append("no RESTRICT in a basic group: warned")
            else:
                await fallback(penalty_text(ctx, action), "RESTRICT", penalty_text(ctx, "warn"))
    elif action == "kick":
        if ctx.can(Capability.KICK):
            calls = [("kick", (ctx.chat, target))]
        elif ctx.can(Capability.BAN) and ctx.can(Capability.UNBAN):
            calls = [("ban", (ctx.chat, target)), ("unban", (ctx.chat, target))]
        else:
            done = "kick_requested"
    elif action == "ban":
        if ctx.can(Capability.BAN):
            calls = [("ban", (ctx.chat, target))]
        elif ctx.can(Capability.KICK):
            done = "kick"
            calls = [("kick", (ctx.chat, target))]
            await fallback(penalty_text(ctx, "ban"), "BAN", penalty_text(ctx, "kick"))
        else:
            done = "kick_requested"
    outcome.action = done

    details.update({"wanted": action, "done": done, "notes": outcome.notes, "category": category})
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

    # 5. The public notice (以儆效尤): posted once the penalty went through; if the platform refused
    # it, the notice says what was done instead (a warning, or a removal requested from the admins).
    notice_text = fallback_text = None
    if notice and (done in ("warn", "kick", "ban", "kick_requested") or done.startswith("mute:")):
        async def notice_for(what: str) -> str:
            shown = penalty_text(ctx, what) if what != "warn" or message_id else ctx.t("rules.penalty.warn_only")
            return await render_notice(ctx, member=member, rule=rule_name, category=category, penalty=shown,
                                       evidence=evidence, reason=reason,
                                       strikes=0 if what in ("kick", "ban", "kick_requested") else strikes,
                                       action=what if what != "warn" or message_id else "warn_only",
                                       automatic=automatic)
        notice_text = await notice_for(done)
        if calls:
            fallback_text = await notice_for("warn" if done.startswith("mute:") else "kick_requested")
    notice_args = {"delete_after": rs.notice_delete_after, "thread_id": ctx.thread_id}
    if calls:
        *first, (last_method, last_args) = calls
        for method, args in first:
            await getattr(platform, method)(*args)
        await getattr(platform, last_method)(*last_args, then="rules.penalty", then_args={
            **notice_args, "notice": notice_text, "fallback_notice": fallback_text, "audit_id": outcome.audit_id,
            "member": member, "rule": rule_name, "evidence": evidence[:300], "wanted": action,
            "fallback": "warn" if done.startswith("mute:") else "kick_requested",
            "action_text": penalty_text(ctx, done) if done != "kick_requested" else done,
        })
    elif notice_text is not None:
        await post_notice(ctx, notice_text, notice_args)
    return outcome


async def post_notice(scope, text: str, args: dict) -> None:
    then = "rules.notice_posted" if args.get("delete_after") else None
    await scope.send(text, thread_id=args.get("thread_id"), then=then, then_args={"delete_after": args.get("delete_after")})


@follow_up("rules.deleted")
async def _deleted(scope, outcome, args) -> None:
    if outcome.ok or outcome.reason == "not_found":
        return
    await scope.notify_admins(args["please_delete"])
    await core_repo.amend_audit(scope.session, args["audit_id"], note=f"delete failed: {outcome.reason}: {outcome.detail}")


@follow_up("rules.penalty")
async def _penalty_carried_out(scope, outcome, args) -> None:
    if outcome.ok:
        if args.get("notice"):
            await post_notice(scope, args["notice"], args)
        return
    fallback = args["fallback"]
    log.warning("rules: %s in %s failed: %s %s", args["wanted"], scope.chat.key, outcome.reason, outcome.detail)
    await scope.notify_admins(scope.t("rules.action_failed", member=args["member"], action=args["action_text"],
                                      reason=outcome.detail or outcome.reason, right=outcome.right or "-"))
    await core_repo.amend_audit(scope.session, args["audit_id"], action=fallback,
                                note=f"{args['wanted']} failed: {outcome.reason}: {outcome.detail}")
    await rules_repo.set_strike_action(scope.session, args["audit_id"], fallback)
    if fallback == "kick_requested":
        await scope.notify_admins(scope.t("rules.please_remove", member=args["member"], rule=args["rule"],
                                          evidence=args["evidence"], audit_id=args["audit_id"]))
    if args.get("fallback_notice"):
        await post_notice(scope, args["fallback_notice"], args)


@follow_up("rules.notice_posted")
async def _notice_posted(scope, outcome, args) -> None:
    """Remember the notice so the tick deletes it after `notice_delete_after` seconds."""
    if outcome.ok and outcome.message_id and args.get("delete_after"):
        await rules_repo.add_notice(scope.session, chat_id=scope.chat_row.id, platform=scope.chat.platform,
                                    external_chat_id=scope.chat.id, message_id=outcome.message_id,
                                    delete_at=scope.now + timedelta(seconds=args["delete_after"]))


async def render_notice(ctx, *, member: str, rule: str, category: str, penalty: str, evidence: str, strikes: int,
                        reason: str = "", action: str = "", automatic: bool = False) -> str:
    """The public notice. An admin's own decision (category "admin") is announced as such — "removed
    by an admin" — not as a broken rule; a custom notice_template gets `category` to tell them apart."""
    rs = ctx.settings.rules
    next_step = ""
    if strikes:
        step = min(strikes, len(rs.ladder) - 1)
        next_step = penalty_text(ctx, rs.ladder[step])
    if rs.notice_template:
        try:
            return _jinja().from_string(rs.notice_template).render(
                member=member, rule=rule, category=category, penalty=penalty, evidence=evidence[:200],
                strikes=strikes, window_days=rs.ladder_window_days, next_penalty=next_step, reason=reason,
                group=ctx.chat.title or ctx.chat.id, automatic=automatic,
            )
        except Exception as exc:  # a broken template must not lose the notice
            log.warning("rules notice template failed in %s: %s", ctx.chat.key, exc)
            await _tell_admins(ctx, ctx.t("rules.template_failed", error=f"{type(exc).__name__}: {exc}"[:200]))
    if category == "admin":
        kind = action.split(":")[0] if action else "other"
        key = f"rules.admin_notice.{kind}" if kind in ADMIN_NOTICES else "rules.admin_notice.other"
        duration = fmt_duration(parse_duration(action[5:]), ctx.lang) if kind == "mute" else ""
        text = ctx.t(key, member=member, penalty=penalty, duration=duration,
                     reason=ctx.t("rules.reason", reason=reason) if reason else "")
        if strikes:
            text += ctx.t("rules.notice_strikes", window=rs.ladder_window_days, count=strikes, next=next_step)
        return text
    text = ctx.t("rules.notice", member=member, rule=rule, penalty=penalty,
                 reason=ctx.t("rules.reason", reason=reason) if reason and reason != rule else "")
    if strikes:
        text += ctx.t("rules.notice_strikes", window=rs.ladder_window_days, count=strikes, next=next_step)
    if automatic:
        text += ctx.t("rules.notice_automatic")
    return text


async def _member_row(ctx, user: UserRef):
    if ctx.member_row is not None and ctx.member_row.user_id == user.id:
        return ctx.member_row
    return await core_repo.get_member(ctx.session, ctx.chat_row.id, user.id)
