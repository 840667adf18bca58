"""Onboarding: newcomers are restricted and asked the group's questions one at a time (in the
group with buttons, or by direct message); on completion they are let in, tagged and welcomed;
on timeout they are removed with a public notice. Runs and deadlines live in the database
(storage/onboarding_repo.py); `enforce_deadlines` runs on every tick, also once at start."""

from __future__ import annotations

import importlib
import logging
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

import handlers.onboarding.texts  # noqa: F401  (registers the texts)
from bot import metrics
from bot.actions import Actions, follow_up
from bot.context import GroupScope
from bot.dispatch import Router
from bot.events import ChatRef, CommandInvoked, MessageReceived, UserRef
from bot.i18n import t
from bot.platform import Button, Buttons, Capability, CapabilityMissing
from handlers.onboarding.settings import OnboardingSettings, Question, Range, local
from handlers.onboarding.numbers import parse_number
from storage import core_repo, onboarding_repo, stats_repo
from storage.models import Chat, Member
from storage.onboarding_models import OnboardingRun

if TYPE_CHECKING:
    from bot.config import GroupSettings
    from bot.context import Context

log = logging.getLogger(__name__)

router = Router("onboarding", priority=90)
router.with_member(OnboardingRun, onboarding_repo.member_join)

PREFIX = "onb:"
SKIP_WORDS = {"跳过", "skip", "-", "无", "none", "略"}
LINK = re.compile(r"(https?://|www\.|\bt\.me/|\b[\w-]+\.(com|cn|net|org|io|me|top|xyz|vip|cc)\b)", re.I)


# --- where a run lives: its group, with that group's settings and language ------------------


@dataclass
class Scope(GroupScope):
    app: Any
    session: AsyncSession
    chat_row: Chat
    settings: GroupSettings
    actions: Actions

    @classmethod
    def of(cls, ctx: "Context | GroupScope") -> "Scope":
        return cls(ctx.app, ctx.session, ctx.chat_row, ctx.settings, ctx.actions)

    @classmethod
    async def load(cls, app, session: AsyncSession, chat_row: Chat, actions: Actions) -> "Scope":
        stored = await core_repo.stored_overrides(session, chat_row.id)
        return cls(app, session, chat_row, app.config.group_settings(chat_row.key, stored), actions)

    @property
    def s(self) -> OnboardingSettings:
        return self.settings.onboarding

    def user(self, member: Member) -> UserRef:
        return UserRef(self.chat_row.platform, member.user_id, name=member.display_name, username=member.username)

    def mention(self, member: Member) -> str:
        return self.platform.mention(self.user(member))

    @property
    def group_name(self) -> str:
        return self.chat_row.title or self.chat_row.external_id

    async def send(self, text: str, buttons: Buttons | None = None, *, then: str | None = None, then_args: dict | None = None):
        return await self.platform.send(self.chat, text, buttons=buttons, then=then, then_args=then_args)

    async def audit(self, action: str, member: Member, *, actor: str = "bot", rule: str | None = None, details=None) -> None:
        await core_repo.audit(
            self.session, chat_id=self.chat_row.id, at=self.now, actor=actor, action=action,
            target_user_id=member.user_id, rule=rule, details=details,
        )

    async def warn_once(self, key: str, text: str) -> None:
        """Tell the admins something about the bot's rights once per group, not at every join."""
        state = await onboarding_repo.chat_state(self.session, self.chat_row.id)
        if key in (state.warned or []):
            return
        state.warned = [*(state.warned or []), key]
        await self.notify_admins(text)


async def _scope_for_run(ctx: Context, run: OnboardingRun) -> Scope:
    if run.chat_id == ctx.chat_row.id:
        return Scope.of(ctx)
    chat_row = await ctx.session.get(Chat, run.chat_id)
    return await Scope.load(ctx.app, ctx.session, chat_row, ctx.actions)


def _minutes(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _is_private(chat: ChatRef, user: UserRef) -> bool:
    """A one-to-one chat with the bot (Telegram: the chat id is the user id; console: dm:<user>)."""
    return chat.id == user.id or chat.id == f"dm:{user.id}"


def _timeout(scope: Scope, strict: bool) -> float:
    s = scope.s
    return (s.anti_raid.timeout_minutes or s.timeout_minutes) if strict else s.timeout_minutes


def _typed(scope: Scope, question: Question) -> bool:
    """Answered by typing: text and number questions, and every question where there are no buttons."""
    return question.typed or not scope.can(Capability.BUTTONS)


# --- restriction ------------------------------------------------------------------------------


async def _set_restricted(scope: Scope, run: OnboardingRun, member: Member, want: bool) -> None:
    if run.restricted == want or run.join_request:
        return
    if not scope.can(Capability.RESTRICT):
        if want:
            key = "no_restrict" if scope.can(Capability.DELETE) else "no_restrict_no_delete"
            await scope.warn_once(key, scope.t(f"onboarding.warn.{key}", platform=scope.chat_row.platform))
        return
    then = {"then": "onboarding.restriction", "then_args": {"run": run.id, "want": want}}
    if want:
        await scope.platform.restrict(scope.chat, scope.user(member), None, **then)
    else:
        await scope.platform.unrestrict(scope.chat, scope.user(member), **then)
    run.restricted = want  # taken back by the follow-up if the platform refuses


@follow_up("onboarding.restriction")
async def _restriction_done(group, outcome, args) -> None:
    if outcome.ok:
        return
    scope = Scope.of(group)
    run = await onboarding_repo.get_run_by_id(scope.session, args["run"], lock=True)
    if run is not None and run.restricted == args["want"]:
        run.restricted = not args["want"]
    if outcome.reason == "no_rights":
        right = outcome.right or "can_restrict_members"
        if not outcome.admins_told:  # the adapter may have said it already
            await scope.warn_once(f"rights:{right}", scope.t("onboarding.warn.no_rights", right=right, action=scope.t("onboarding.action.restrict")))
    else:
        log.warning("could not %s in %s: %s %s", "restrict" if args["want"] else "unrestrict", scope.chat_row.key,
                    outcome.reason, outcome.detail)


# --- asking -------------------------------------------------------------------------------------


def _question_buttons(scope: Scope, run: OnboardingRun, question: Question) -> Buttons | None:
    if not scope.can(Capability.BUTTONS):
        return None
    base = f"{PREFIX}{run.id}:{run.step}:"
    rows: Buttons = []
    if question.kind == "choice":
        row: list[Button] = []
        for index, choice in enumerate(question.choices):
            row.append(Button(local(choice.label, scope.lang), base + str(index)))
            if len(row) == 2:
                rows.append(row)
                row = []
        if row:
            rows.append(row)
    elif question.kind == "consent":
        rows.append([Button(scope.t("onboarding.button_agree"), base + "y"), Button(scope.t("onboarding.button_decline"), base + "n")])
    if question.optional:
        rows.append([Button(scope.t("onboarding.button_skip"), base + "s")])
    return rows or None


def _question_text(scope: Scope, run: OnboardingRun, member: Member, question: Question, *, in_dm: bool) -> str:
    total = len(scope.s.questions)
    mention = "" if in_dm else scope.mention(member)
    text = scope.t("onboarding.question", mention=mention, n=run.step + 1, total=total, text=local(question.text, scope.lang)).strip()
    if _typed(scope, question) and not question.typed:
        options = question.choices if question.kind == "choice" else None
        labels = [local(c.label, scope.lang) for c in options] if options else [scope.t("onboarding.button_agree"), scope.t("onboarding.button_decline")]
        text += "\n" + scope.t("onboarding.hint_pick_number") + "\n" + "\n".join(f"{i}. {label}" for i, label in enumerate(labels, 1))
    elif question.kind == "number":
        text += "\n" + scope.t("onboarding.hint_number")
    elif question.kind == "text":
        text += "\n" + scope.t("onboarding.hint_type_optional" if question.optional else "onboarding.hint_type")
    return text


async def _ask(scope: Scope, run: OnboardingRun, member: Member, *, reason: str | None = None) -> None:
    """Post the current question (with the reason the last answer was refused, if any)."""
    questions = scope.s.questions
    if run.step >= len(questions):
        await _complete(scope, run, member)
        return
    question = questions[run.step]
    await _set_restricted(scope, run, member, want=run.via == "dm" or not _typed(scope, question))
    head = []
    if reason:
        head.append(scope.t("onboarding.invalid", mention="" if run.via == "dm" else scope.mention(member), reason=reason).strip())
    elif run.step == 0 and run.via == "dm":
        head.append(scope.t("onboarding.intro_dm", group=scope.group_name, minutes=_minutes(_timeout(scope, run.strict)), total=len(questions)))
    elif run.step == 0:
        head.append(scope.t("onboarding.intro", mention=scope.mention(member), minutes=_minutes(_timeout(scope, run.strict)), total=len(questions)))
    buttons = _question_buttons(scope, run, question)
    asked = {"run": run.id, "step": run.step, "reason": reason}
    run.question_message_id = None  # set by the follow-up once the question is out
    if run.via == "dm":
        body = _question_text(scope, run, member, question, in_dm=True)
        try:
            await scope.platform.dm(scope.user(member), "\n\n".join([*head, body]), buttons=buttons, chat=scope.chat,
                                    then="onboarding.asked_by_dm", then_args=asked)
            return
        except CapabilityMissing:
            if run.join_request:
                raise
            await _ask_in_group_instead(scope, run, member)
            return
    if run.via == "shared":
        run.via = "group"  # asked on their own from now on
    # The head (intro or reason) already names the member.
    body = _question_text(scope, run, member, question, in_dm=bool(head))
    try:
        await scope.send("\n\n".join([*head, body]), buttons, then="onboarding.asked_in_group", then_args=asked)
    except CapabilityMissing as exc:
        await _cannot_ask(scope, run, member, str(exc))


async def _cannot_ask(scope: Scope, run: OnboardingRun, member: Member, detail: str) -> None:
    """No way to ask: never leave a newcomer muted with no question. Let them in, tell the admins."""
    log.warning("cannot post the onboarding question in %s: %s", scope.chat_row.key, detail)
    await onboarding_repo.finish_run(scope.session, run, "skipped", scope.now)
    await _set_restricted(scope, run, member, want=False)
    await scope.notify_admins(scope.t("onboarding.warn.cannot_ask", mention=scope.mention(member), detail=detail))


async def _ask_in_group_instead(scope: Scope, run: OnboardingRun, member: Member, reason: str | None = None) -> None:
    log.debug("DM to %s failed; asking in the group", member.user_id)
    run.via = "group"
    await _ask(scope, run, member, reason=reason)


async def _still_asking(group, args) -> tuple[Scope, OnboardingRun, Member] | None:
    """The run a question was posted for, if it still waits on that question."""
    scope = Scope.of(group)
    run = await onboarding_repo.get_run_by_id(scope.session, args["run"], lock=True)
    if run is None or run.status != "pending" or run.step != args["step"]:
        return None
    member = await scope.session.get(Member, run.member_id)
    return (scope, run, member) if member is not None else None


@follow_up("onboarding.asked_by_dm")
async def _asked_by_dm(group, outcome, args) -> None:
    found = await _still_asking(group, args)
    if found is None:
        return
    scope, run, member = found
    if outcome.ok or outcome.uncertain:
        run.question_message_id = outcome.message_id
        return
    if run.join_request:
        # Cannot write to them before they are in: let them in; the questions come in the group.
        await onboarding_repo.finish_run(scope.session, run, "approved", scope.now)
        await scope.platform.approve_join(scope.chat, scope.user(member))
        return
    await _ask_in_group_instead(scope, run, member, reason=args.get("reason"))


@follow_up("onboarding.asked_in_group")
async def _asked_in_group(group, outcome, args) -> None:
    found = await _still_asking(group, args)
    if found is None:
        return
    scope, run, member = found
    if outcome.ok:
        run.question_message_id = outcome.message_id
        run.cleanup_ids = [*(run.cleanup_ids or []), outcome.message_id]
    elif not outcome.uncertain:
        await _cannot_ask(scope, run, member, f"{outcome.reason}: {outcome.detail}")


# --- answers ------------------------------------------------------------------------------------

_SKIPPED = object()


def _validate(scope: Scope, question: Question, text: str, has_media: bool) -> tuple[Any, str | None]:
    """(value, None) for a good answer, (_SKIPPED, None) for a skipped optional one, (None, reason)."""
    text = (text or "").strip()
    if has_media and not text:
        return None, scope.t("onboarding.reason.media")
    if question.optional and text.lower() in SKIP_WORDS:
        return _SKIPPED, None
    if not text:
        return None, scope.t("onboarding.reason.required")
    if not question.typed:
        # Choices typed by number (platforms without buttons) or by their label.
        if question.kind == "choice":
            options = [(c.value, local(c.label, scope.lang)) for c in question.choices]
        else:
            options = [("yes", scope.t("onboarding.button_agree")), ("no", scope.t("onboarding.button_decline"))]
        for number, (value, label) in enumerate(options, 1):
            if text == str(number) or text.lower() in (value.lower(), label.lower()):
                return value, None
        reason = "onboarding.reason.use_buttons" if scope.can(Capability.BUTTONS) else "onboarding.reason.pick"
        return None, scope.t(reason)
    if LINK.search(text):
        return None, scope.t("onboarding.reason.link")
    if question.kind == "number":
        number = parse_number(text)
        if number is None:
            return None, scope.t("onboarding.reason.not_number")
        if question.min_value is not None and number < question.min_value:
            return None, scope.t("onboarding.reason.too_small", min=f"{question.min_value:g}")
        if question.max_value is not None and number > question.max_value:
            return None, scope.t("onboarding.reason.too_large", max=f"{question.max_value:g}")
        return (str(int(number)) if number.is_integer() else f"{number:g}"), None
    if len(text) < question.min_length:
        return None, scope.t("onboarding.reason.too_short", min=question.min_length)
    if len(text) > question.max_length:
        return None, scope.t("onboarding.reason.too_long", max=question.max_length)
    if question.pattern and not re.fullmatch(question.pattern, text):
        return None, local(question.pattern_hint, scope.lang) or scope.t("onboarding.reason.pattern")
    return text, None


async def _accept(scope: Scope, run: OnboardingRun, member: Member, question: Question, value: Any) -> None:
    if value is _SKIPPED:
        await onboarding_repo.forget_answer(scope.session, member.id, question.id)
    elif question.kind == "consent" and value != "yes":
        await _refuse(scope, run, member)
        return
    else:
        await onboarding_repo.save_answer(scope.session, member.id, question.id, str(value), scope.now)
    if run.via == "group" and run.question_message_id and scope.s.cleanup and scope.can(Capability.DELETE):
        await _delete_quietly(scope, [run.question_message_id])
        run.cleanup_ids = [m for m in (run.cleanup_ids or []) if m != run.question_message_id]
    run.step += 1
    run.invalid_answers = 0
    if run.step >= len(scope.s.questions):
        await _complete(scope, run, member)
    else:
        await _ask(scope, run, member)


async def _delete_quietly(scope: Scope, message_ids: list[str]) -> None:
    """In batches where the platform has them; a message already gone is no error."""
    await scope.platform.delete_many(scope.chat, [m for m in message_ids if m])


# --- the ends: completion, refusal, timeout -----------------------------------------------------


def tags_for(settings: OnboardingSettings, answers: dict[str, str]) -> list[str]:
    """The tags the answers earn under the group's tag rules (in rule order, without repeats)."""
    tags: list[str] = []
    for rule in settings.tag_rules:
        matched = True
        for qid, accepted in rule.when.items():
            answer = answers.get(qid)
            if answer is None:
                matched = False
            elif isinstance(accepted, Range):
                try:
                    number = float(answer)
                except ValueError:
                    matched = False
                else:
                    matched = (accepted.min is None or number >= accepted.min) and (accepted.max is None or number <= accepted.max)
            else:
                matched = answer.strip().lower() in {a.strip().lower() for a in accepted}
            if not matched:
                break
        if matched:
            if rule.tag not in tags:
                tags.append(rule.tag)
            if rule.stop:
                break
    return tags


def welcome_text(scope: Scope, member: Member, tags: list[str], extra: list[str] | None = None) -> str:
    w = scope.s.welcome
    values = {
        "mention": scope.mention(member),
        "name": member.display_name or member.username or member.user_id,
        "group": scope.group_name,
        "tags": "、".join(tags) if scope.lang.startswith("zh") else ", ".join(tags),
    }
    lines = [local(w.title, scope.lang).format(**values)]
    for part in ("value", "rules", "penalties", "vision"):
        body = local(getattr(w, part), scope.lang).strip()
        if body:
            lines.append(f"【{scope.t('onboarding.part.' + part)}】{body.format(**values)}")
    if w.show_tags and tags:
        lines.append(scope.t("onboarding.your_tags", tags=values["tags"]))
    lines.extend(extra or [])
    return "\n".join(lines)


def _points_service():
    try:
        return importlib.import_module("handlers.points.service")
    except ModuleNotFoundError as exc:
        if exc.name in ("handlers.points.service",):
            return None
        raise


async def _award_points(scope: Scope, run: OnboardingRun, member: Member) -> list[str]:
    """Points for finishing and for the inviter, through the points feature when it is on."""
    s = scope.s
    if not scope.settings.points.enabled or not (s.points.completed or s.points.inviter):
        return []
    service = _points_service()
    if service is None or not hasattr(service, "award"):
        return []
    lines = []
    if s.points.completed:
        if await service.award(
            scope.session, chat_id=scope.chat_row.id, member_id=member.id, amount=s.points.completed,
            reason="onboarding", source="onboarding", key=f"onboarding:{member.id}", now=scope.now,
        ):
            await scope.count("points_issued", n=s.points.completed)
            lines.append(scope.t("onboarding.points_awarded", points=s.points.completed))
    if s.points.inviter and run.invited_by and run.invited_by != member.user_id:
        inviter = await core_repo.get_member(scope.session, scope.chat_row.id, run.invited_by)
        if inviter is not None and inviter.status == "active":
            if await service.award(
                scope.session, chat_id=scope.chat_row.id, member_id=inviter.id, amount=s.points.inviter,
                reason="invite", source="onboarding", key=f"onboarding-invite:{member.id}", now=scope.now,
            ):
                await scope.count("points_issued", n=s.points.inviter)
                lines.append(scope.t("onboarding.inviter_awarded", inviter=scope.mention(inviter), points=s.points.inviter))
    return lines


async def _complete(scope: Scope, run: OnboardingRun, member: Member, *, admin: UserRef | None = None) -> None:
    status = "skipped" if admin else "done"
    await onboarding_repo.finish_run(scope.session, run, status, scope.now)
    if run.join_request:
        await scope.platform.approve_join(scope.chat, scope.user(member))
        if run.via == "dm":
            await scope.platform.dm(scope.user(member), scope.t("onboarding.done_dm", group=scope.group_name))
    await _set_restricted(scope, run, member, want=False)
    if scope.s.cleanup and scope.can(Capability.DELETE):
        await _delete_quietly(scope, list(run.cleanup_ids or []))
    run.cleanup_ids = []
    answers = await onboarding_repo.answers_of(scope.session, member.id)
    tags = tags_for(scope.s, answers)
    await core_repo.remove_tags(scope.session, member.id, source="onboarding")
    await core_repo.add_tags(scope.session, member.id, tags, "onboarding", scope.now)
    extra = [] if admin else await _award_points(scope, run, member)
    lines = [scope.t("onboarding.skipped_by_admin", mention=scope.mention(member))] if admin else []
    await scope.send("\n".join([*lines, welcome_text(scope, member, tags, extra)]))
    await scope.count(stats_repo.ADMITTED_BY_ADMIN if admin else stats_repo.ONBOARDED)
    scope.after_commit(metrics.ONBOARDING.labels(outcome=status).inc)
    await scope.audit("onboarded", member, actor=admin.key if admin else "bot", details={"tags": tags, "status": status})


async def _remove(scope: Scope, member: Member, run: OnboardingRun, *, notice: str | None = None) -> str:
    """Remove a member who may come back: kick, or ban + unban where there is no kick. The removal
    is recorded now and carried out after commit (an idempotent action: a restart re-runs it, never
    a second time once done); the follow-up undoes the record if the platform refuses and posts
    `notice` if it went through. Returns "removed" or "failed" (the admins were asked)."""
    user = scope.user(member)
    then = {"then": "onboarding.removed", "then_args": {"member": member.id, "run": run.id, "notice": notice}}
    if scope.can(Capability.KICK):
        await scope.platform.kick(scope.chat, user, **then)
    elif scope.can(Capability.BAN) and scope.can(Capability.UNBAN):
        await scope.platform.ban(scope.chat, user)
        await scope.platform.unban(scope.chat, user, **then)
    else:
        await scope.notify_admins(scope.t("onboarding.cannot_remove", name=scope.mention(member), platform=scope.chat_row.platform))
        return "failed"
    await core_repo.mark_left(scope.session, member, scope.now, "removed")
    return "removed"


@follow_up("onboarding.removed")
async def _removed(group, outcome, args) -> None:
    scope = Scope.of(group)
    if outcome.ok:
        if args.get("notice"):
            await scope.send(args["notice"])
        return
    member = await scope.session.get(Member, args["member"])
    run = await onboarding_repo.get_run_by_id(scope.session, args["run"], lock=True)
    if member is None:
        return
    if outcome.reason == "not_found":  # they had left already
        await core_repo.mark_left(scope.session, member, member.left_at or scope.now, "left")
        if run is not None and run.status in ("removed", "refused"):
            run.status = "left"
        return
    # Still in the group: the record goes back, the admins are asked.
    member.status, member.left_at = "active", None
    await scope.audit("remove_failed", member, rule="onboarding", details={"reason": outcome.reason, "detail": outcome.detail})
    if outcome.reason == "no_rights":
        right = outcome.right or "can_restrict_members"
        if not outcome.admins_told:  # the adapter may have said it already
            await scope.warn_once(f"rights:{right}", scope.t("onboarding.warn.no_rights", right=right, action=scope.t("onboarding.action.remove")))
    else:
        log.warning("removing %s from %s failed: %s %s", member.user_id, scope.chat_row.key, outcome.reason, outcome.detail)
        await scope.notify_admins(scope.t("onboarding.cannot_remove", name=scope.mention(member), platform=scope.chat_row.platform))


async def _refuse(scope: Scope, run: OnboardingRun, member: Member) -> None:
    """The member did not accept the rules: removed (a join request declined)."""
    await onboarding_repo.finish_run(scope.session, run, "refused" if not run.join_request else "declined", scope.now)
    if scope.s.cleanup and scope.can(Capability.DELETE):
        await _delete_quietly(scope, list(run.cleanup_ids or []))
    run.cleanup_ids = []
    if run.join_request:
        await scope.platform.decline_join(scope.chat, scope.user(member))
        if scope.can(Capability.DM):
            await scope.platform.dm(scope.user(member), scope.t("onboarding.refused_dm"))
    else:
        await _remove(scope, member, run, notice=scope.t("onboarding.refused_notice", mention=scope.mention(member)))
    await scope.count(stats_repo.REMOVED_REFUSED)
    scope.after_commit(metrics.ONBOARDING.labels(outcome="refused").inc)
    await scope.audit("kick", member, rule="onboarding_refused")


# --- anti-raid -----------------------------------------------------------------------------------


async def _strict_mode(scope: Scope) -> bool:
    """Count this join; switch strict mode on above the limit. True while strict mode is on."""
    raid = scope.s.anti_raid
    if not raid.enabled:
        return False
    state = await onboarding_repo.chat_state(scope.session, scope.chat_row.id)
    joins = await onboarding_repo.joins_since(scope.session, scope.chat_row.id, scope.now - timedelta(seconds=raid.seconds))
    if joins > raid.joins:
        state.raid_until = scope.now + timedelta(minutes=raid.calm_minutes)
        state.raid_peak = max(state.raid_peak or 0, joins)
        if state.raid_since is None:
            state.raid_since = scope.now
            await scope.session.flush()
            await scope.count("raids")
            await core_repo.audit(
                scope.session, chat_id=scope.chat_row.id, at=scope.now, actor="bot", action="raid_on",
                details={"joins": joins, "seconds": raid.seconds},
            )
            await scope.notify_admins(scope.t("onboarding.raid_on_admins", group=scope.group_name, seconds=raid.seconds, joins=joins))
            await scope.send(scope.t("onboarding.raid_on_group"))
    return state.raid_since is not None


# --- events ----------------------------------------------------------------------------------------


def _enabled(ctx: Context) -> bool:
    s = ctx.settings.onboarding
    return s.enabled and bool(s.questions)


def _shares_first_question(scope: Scope) -> bool:
    first = scope.s.questions[0]
    return scope.s.anti_raid.shared_question and scope.can(Capability.BUTTONS) and not _typed(scope, first)


async def _begin(scope: Scope, member: Member, *, strict: bool, invited_by: str | None, join_request: bool = False) -> OnboardingRun:
    via = "dm" if (scope.s.ask_in == "dm" or join_request) and scope.can(Capability.DM) else "group"
    if strict and via == "group" and _shares_first_question(scope):
        # Muted now; the first question comes with the others' at the next tick.
        run = await onboarding_repo.start_run(
            scope.session, chat_id=scope.chat_row.id, member_id=member.id, now=scope.now,
            deadline=scope.now + timedelta(minutes=_timeout(scope, strict)), via="shared",
            strict=strict, invited_by=invited_by,
        )
        await _set_restricted(scope, run, member, want=True)
        return run
    run = await onboarding_repo.start_run(
        scope.session, chat_id=scope.chat_row.id, member_id=member.id, now=scope.now,
        deadline=scope.now + timedelta(minutes=_timeout(scope, strict)), via=via,
        join_request=join_request, strict=strict, invited_by=invited_by,
    )
    await _ask(scope, run, member)
    if run.status == "pending":
        # The clock starts when the question is out (a paced platform may have held it back).
        run.deadline_at = scope.app.clock.now() + timedelta(minutes=_timeout(scope, strict))
    return run


@router.member_joined()
async def on_join(ctx: Context) -> None:
    if ctx.user.is_bot or _is_private(ctx.chat, ctx.user):
        return
    s = ctx.settings.onboarding
    if not s.enabled:
        return
    if ctx.chat.kind == "contacts":
        # A customer added an employee (WeCom's new external contact): a welcome, no questions —
        # there is no group here they could be kept from posting in.
        await ctx.send(ctx.t("onboarding.contact_welcome"))
        return
    scope = Scope.of(ctx)
    member = ctx.member_row
    if not s.questions:
        if s.welcome.has_body and member is not None:
            await scope.send(welcome_text(scope, member, await core_repo.tags_of(ctx.session, member.id)))
        return
    # Strict in a raid, or for this newcomer alone (the rules found an ad in their display name).
    strict = await _strict_mode(scope) or bool(ctx.data.get("strict_onboarding"))
    run = await onboarding_repo.get_run(ctx.session, member.id, lock=True)
    if run is not None and run.status == "pending":
        # Joined while a run is open (a join request approved by hand, or the join redelivered):
        # continue where they are, same deadline.
        if run.join_request:
            run.join_request, run.via = False, "group" if s.ask_in == "group" else run.via
        await _ask(scope, run, member)
        return
    if run is not None and run.status in ("done", "skipped") and not strict:
        if run.join_request or s.remember_answers:
            return  # answered before (e.g. by DM before the request was approved)
    if s.question == "raid_only" and not strict:
        if s.welcome.has_body:
            await scope.send(welcome_text(scope, member, await core_repo.tags_of(ctx.session, member.id)))
        return
    event = ctx.event
    inviter = getattr(event, "invited_by", None)
    if not strict and s.trust_admin_invites and inviter is not None and inviter.id != ctx.user.id and await ctx.is_admin(inviter):
        await ctx.audit("onboarding_trusted", target=ctx.user, details={"invited_by": inviter.id})
        await scope.send(welcome_text(scope, member, await core_repo.tags_of(ctx.session, member.id)))
        return
    if await ctx.is_admin():
        return
    await _begin(scope, member, strict=strict, invited_by=inviter.id if inviter else None)


@router.join_requested()
async def on_join_request(ctx: Context) -> None:
    if not _enabled(ctx) or ctx.user.is_bot or not ctx.can(Capability.JOIN_REQUESTS):
        return
    if not ctx.can(Capability.DM):
        # No way to ask before they are in: let them in; the questions come in the group.
        await ctx.platform.approve_join(ctx.chat, ctx.user)
        return
    scope = Scope.of(ctx)
    member = await core_repo.ensure_member(ctx.session, ctx.chat_row.id, ctx.user, ctx.now, seen=False)
    if member.status != "active" or member.left_at is not None or member.joined_at == ctx.now:
        member.status, member.joined_at = "requested", None
    run = await onboarding_repo.get_run(ctx.session, member.id, lock=True)
    if run is not None and run.status == "pending":
        return
    try:
        await _begin(scope, member, strict=False, invited_by=None, join_request=True)
    except CapabilityMissing:
        # Cannot write to them before they are in: let them in and ask in the group
        # (a DM the platform refuses is handled by onboarding.asked_by_dm the same way).
        run = await onboarding_repo.get_run(ctx.session, member.id, lock=True)
        await onboarding_repo.finish_run(ctx.session, run, "approved", ctx.now)
        await ctx.platform.approve_join(ctx.chat, ctx.user)


@router.member_left()
async def on_leave(ctx: Context) -> None:
    if ctx.member_row is None:
        return
    run = await onboarding_repo.get_run(ctx.session, ctx.member_row.id, lock=True)
    if run is None or run.status != "pending":
        return
    scope = Scope.of(ctx)
    if scope.s.cleanup and scope.can(Capability.DELETE):
        await _delete_quietly(scope, list(run.cleanup_ids or []))
    run.cleanup_ids = []
    await onboarding_repo.finish_run(ctx.session, run, "left", ctx.now)


@router.message()
async def on_message(ctx: Context) -> None:
    event = ctx.event
    assert isinstance(event, MessageReceived)
    if ctx.user.is_bot:
        return
    if _is_private(ctx.chat, ctx.user):
        for run, member, chat_row in await onboarding_repo.pending_runs_of_user(ctx.session, ctx.chat.platform, ctx.user.id, via="dm"):
            scope = await Scope.load(ctx.app, ctx.session, chat_row, ctx.actions)
            question = scope.s.questions[run.step] if run.step < len(scope.s.questions) else None
            if question is None or not _typed(scope, question):
                continue
            await _answer_typed(scope, run, member, question, event, in_group=False)
            ctx.stop()
            return
        return
    if ctx.member_row is None:
        return
    if OnboardingRun in ctx.member_rows:  # read with the member: no statement for ordinary chat
        run = ctx.member_rows[OnboardingRun]
    else:
        run = await onboarding_repo.get_run(ctx.session, ctx.member_row.id)
    if run is None or run.status != "pending" or run.chat_id != ctx.chat_row.id:
        return
    await ctx.session.refresh(run, with_for_update=True)
    if run.status != "pending":
        return
    ctx.stop()  # a pending member's message is an answer or is removed, never ordinary chat
    scope = Scope.of(ctx)
    questions = scope.s.questions
    question = questions[run.step] if run.step < len(questions) else None
    if question is None:  # the questions were shortened meanwhile: they are through
        await _complete(scope, run, ctx.member_row)
        return
    if run.via == "group" and not run.join_request and _typed(scope, question):
        await _answer_typed(scope, run, ctx.member_row, question, event, in_group=True)
        return
    # Not the moment to type (buttons, or the questions are in the DM): the message goes.
    if scope.can(Capability.DELETE):
        await _delete_quietly(scope, [event.message_id])
    if run.via == "group" and question is not None and run.invalid_answers < 3:
        run.invalid_answers += 1
        await _ask(scope, run, ctx.member_row, reason=scope.t("onboarding.reason.use_buttons"))


async def _answer_typed(scope: Scope, run: OnboardingRun, member: Member, question: Question, event: MessageReceived, *, in_group: bool) -> None:
    value, reason = _validate(scope, question, event.text, bool(event.media))
    if in_group:
        if reason is not None and scope.can(Capability.DELETE):
            await _delete_quietly(scope, [event.message_id])
        elif reason is None:
            run.cleanup_ids = [*(run.cleanup_ids or []), event.message_id]
    if reason is not None:
        run.invalid_answers += 1
        if in_group and run.question_message_id and scope.s.cleanup and scope.can(Capability.DELETE):
            await _delete_quietly(scope, [run.question_message_id])
            run.cleanup_ids = [m for m in (run.cleanup_ids or []) if m != run.question_message_id]
        await _ask(scope, run, member, reason=reason)
        return
    await _accept(scope, run, member, question, value)


@router.button(PREFIX)
async def on_button(ctx: Context) -> None:
    event = ctx.event
    ctx.stop()
    platform = ctx.platform
    shared = event.data.startswith(PREFIX + "c:")
    try:
        if shared:
            # The shared first question of strict mode: the presser's own questionnaire.
            _, _, step, choice = event.data.split(":", 3)
            run = None
            if ctx.member_row is not None:
                run = await onboarding_repo.get_run(ctx.session, ctx.member_row.id, lock=True)
                if run is not None and (run.status != "pending" or run.via != "shared" or run.chat_id != ctx.chat_row.id):
                    run = None
        else:
            _, run_id, step, choice = event.data.split(":", 3)
            run = await onboarding_repo.get_run_by_id(ctx.session, int(run_id), lock=True)
    except ValueError:
        run = None

    async def toast(text: str, alert: bool = False) -> None:
        if event.callback_id:
            await platform.answer_button(event.callback_id, text, alert=alert, chat=ctx.chat)

    if shared and run is None:
        await toast(ctx.t("onboarding.toast_not_newcomer"), alert=True)
        return
    if run is None or run.status != "pending" or str(run.step) != step:
        await toast(ctx.t("onboarding.toast_expired"))
        return
    member = await ctx.session.get(Member, run.member_id)
    scope = await _scope_for_run(ctx, run)
    if member is None or member.user_id != ctx.user.id or scope.chat_row.platform != ctx.chat.platform:
        newcomer = member.display_name or member.username or member.user_id if member else "?"
        await toast(ctx.t("onboarding.toast_not_yours", name=newcomer), alert=True)
        return
    questions = scope.s.questions
    if run.step >= len(questions):
        await _complete(scope, run, member)
        return
    question = questions[run.step]
    if choice == "s" and question.optional:
        value: Any = _SKIPPED
        shown = scope.t("onboarding.skipped_answer")
    elif question.kind == "consent" and choice in ("y", "n"):
        value = "yes" if choice == "y" else "no"
        shown = scope.t("onboarding.button_agree" if choice == "y" else "onboarding.button_decline")
    elif question.kind == "choice" and choice.isdigit() and int(choice) < len(question.choices):
        picked = question.choices[int(choice)]
        value, shown = picked.value, local(picked.label, scope.lang)
    else:
        await toast(ctx.t("onboarding.toast_expired"))
        return
    await toast(scope.t("onboarding.toast_ok", answer=shown))
    if shared:
        run.via, run.question_message_id = "group", None  # the shared message stays for the others
    await _accept(scope, run, member, question, value)


# --- admin commands --------------------------------------------------------------------------------


async def _target(ctx: Context, command: str) -> Member | None:
    event = ctx.event
    assert isinstance(event, CommandInvoked)
    if event.reply_to_user is not None:
        member = await core_repo.get_member(ctx.session, ctx.chat_row.id, event.reply_to_user.id)
        who = event.reply_to_user.display
    elif event.args:
        who = event.args[0]
        member = await onboarding_repo.find_member(ctx.session, ctx.chat_row.id, who)
    else:
        await ctx.reply(ctx.t("onboarding.usage", command=command))
        return None
    if member is None:
        await ctx.reply(ctx.t("onboarding.unknown_member", who=who))
    return member


@router.command("skip", "放行", description={"zh-CN": "放行一位新成员，免答问题", "en": "Let a newcomer in without the questions"}, admin_only=True)
async def cmd_skip(ctx: Context) -> None:
    member = await _target(ctx, "skip")
    if member is None:
        return
    run = await onboarding_repo.get_run(ctx.session, member.id, lock=True)
    scope = Scope.of(ctx)
    # A member the bot failed to remove at the deadline (no right to) may still be let in.
    stuck = run is not None and run.status == "removed" and member.status == "active"
    if run is None or (run.status != "pending" and not stuck):
        await ctx.reply(ctx.t("onboarding.not_pending", name=scope.mention(member)))
        return
    if stuck:
        run.restricted = True
    await _complete(scope, run, member, admin=ctx.user)


@router.command("ask", "重问", description={"zh-CN": "让一位成员重新回答入群问题", "en": "Ask a member the entry questions again"}, admin_only=True)
async def cmd_ask(ctx: Context) -> None:
    if not ctx.settings.onboarding.questions:
        await ctx.reply(ctx.t("onboarding.no_questions"))
        return
    member = await _target(ctx, "ask")
    if member is None:
        return
    if member.status != "active":
        await ctx.reply(ctx.t("onboarding.unknown_member", who=ctx.event.args[0] if ctx.event.args else member.user_id))
        return
    scope = Scope.of(ctx)
    old = await onboarding_repo.get_run(ctx.session, member.id, lock=True)
    if old is not None and old.status == "pending" and scope.s.cleanup and scope.can(Capability.DELETE):
        await _delete_quietly(scope, list(old.cleanup_ids or []))
    await ctx.audit("onboarding_ask", target=scope.user(member), actor=ctx.user.key)
    await ctx.reply(ctx.t("onboarding.asked_again", name=scope.mention(member)))
    await _begin(scope, member, strict=False, invited_by=old.invited_by if old else None)


@router.command("profile", "资料", description={"zh-CN": "查看成员的入群回答和标签", "en": "Show a member's answers and tags"}, admin_only=True)
async def cmd_profile(ctx: Context) -> None:
    member = await _target(ctx, "profile")
    if member is None:
        return
    scope = Scope.of(ctx)
    s = scope.s
    run = await onboarding_repo.get_run(ctx.session, member.id)
    answers = await onboarding_repo.answers_of(ctx.session, member.id)
    tags = await core_repo.tags_of(ctx.session, member.id)
    none = ctx.t("onboarding.profile_none")
    if run is None:
        status = ctx.t("onboarding.status.none")
    elif run.status == "pending":
        local_deadline = run.deadline_at.astimezone(ZoneInfo(ctx.settings.timezone))
        status = ctx.t("onboarding.status.pending", step=run.step + 1, total=len(s.questions), deadline=f"{local_deadline:%H:%M}")
    else:
        status = ctx.t(f"onboarding.status.{run.status}")
    lines = [ctx.t("onboarding.profile_title", name=scope.mention(member)), ctx.t("onboarding.profile_status", status=status)]
    shown = set()
    colon = "：" if ctx.lang.startswith("zh") else ": "
    for question in s.questions:
        shown.add(question.id)
        value = answers.get(question.id)
        if value is not None:
            value = shown_answer(s, question.id, value, ctx.lang)
        lines.append(f"• {local(question.text, ctx.lang).splitlines()[0]}{colon}{value if value is not None else none}")
    for qid, value in answers.items():  # answers to questions the config no longer has
        if qid not in shown:
            lines.append(f"• {qid}{colon}{value}")
    lines.append(ctx.t("onboarding.profile_tags", tags=", ".join(tags) or none))
    await ctx.dm_or_reply("\n".join(lines), sent_note=ctx.t("onboarding.profile_sent"))


def shown_answer(s, question_id: str, value: str, lang: str) -> str:
    """A stored answer as the member saw it: a choice's label and the consent button's text in
    `lang`; typed answers as typed, and answers to questions the config no longer has as stored."""
    question = next((q for q in s.questions if q.id == question_id), None)
    if question is None or value is None:
        return value
    if question.kind == "choice":
        return next((local(c.label, lang) for c in question.choices if c.value == value), value)
    if question.kind == "consent":
        return t(lang, "onboarding.button_agree" if value == "yes" else "onboarding.button_decline")
    return value


# --- due work ---------------------------------------------------------------------------------------


@router.on_tick
async def enforce_deadlines(app) -> None:
    """Remove members whose time ran out (decline their join requests), once, with one notice per
    group; end strict mode where joins have calmed down."""
    now = app.clock.now()
    for _ in range(100):  # batches of DUE_BATCH, until none is left (or nothing more can be done)
        async with app.sessions() as session:
            due = await onboarding_repo.due_runs(session, now, limit=DUE_BATCH)
        by_chat: dict[int, list[int]] = defaultdict(list)
        for run, _member, chat_row in due:
            if chat_row.platform in app.platforms:
                by_chat[chat_row.id].append(run.id)
        done = 0
        for chat_id, run_ids in by_chat.items():
            try:
                done += await _expire_chat(app, chat_id, run_ids, now)
            except Exception:
                log.exception("enforcing onboarding deadlines in chat %s failed", chat_id)
        if len(due) < DUE_BATCH or done == 0:
            break
    try:
        await _post_shared_questions(app, now)
    except Exception:
        log.exception("posting the shared onboarding questions failed")
    async with app.work() as (session, actions):
        for state, chat_row in await onboarding_repo.raids_to_end(session, now):
            if chat_row.platform not in app.platforms or not await onboarding_repo.end_raid(session, chat_row.id, now):
                continue
            scope = await Scope.load(app, session, chat_row, actions)
            await scope.notify_admins(
                scope.t("onboarding.raid_off_admins", group=scope.group_name, seconds=scope.s.anti_raid.seconds, peak=state.raid_peak)
            )
            state.raid_peak = 0


DUE_BATCH = 500


async def _expire_chat(app, chat_id: int, run_ids: list[int], now: datetime) -> int:
    """Enforce the deadlines of these runs of one group; returns how many were ended."""
    ended = 0
    async with app.work() as (session, actions):
        chat_row = await session.get(Chat, chat_id)
        scope = await Scope.load(app, session, chat_row, actions)
        removed: list[str] = []
        for run_id in run_ids:
            run = await onboarding_repo.get_run_by_id(session, run_id, lock=True)
            if run is None or run.status != "pending" or run.deadline_at > now:
                continue
            if run.via == "shared" and run.question_message_id is None:
                continue  # not asked yet (the bot was down): the clock starts when the question is out
            status = "declined" if run.join_request else "removed"
            if not await onboarding_repo.claim_due(session, run_id, now, status):
                continue
            ended += 1
            await session.refresh(run)
            member = await session.get(Member, run.member_id)
            if scope.s.cleanup and scope.can(Capability.DELETE):
                await _delete_quietly(scope, list(run.cleanup_ids or []))
            run.cleanup_ids, run.question_message_id = [], None
            if run.join_request:
                await scope.platform.decline_join(scope.chat, scope.user(member))
                if scope.can(Capability.DM):
                    await scope.platform.dm(scope.user(member), scope.t("onboarding.declined_dm", minutes=_minutes(_timeout(scope, run.strict))))
                member.status = "declined"
            else:
                if await _remove(scope, member, run) != "removed":  # the admins were asked to do it
                    await scope.audit("remove_failed", member, rule="onboarding_timeout")
                    continue
                removed.append(run.id)
            await scope.count(stats_repo.REMOVED_TIMEOUT)
            scope.after_commit(metrics.ONBOARDING.labels(outcome="removed").inc)
            await scope.audit("kick" if not run.join_request else "decline_join", member, rule="onboarding_timeout")
        if removed and scope.s.announce_removals:
            # After the removals have been carried out: the notice names only those that went through.
            actions.after(scope.chat, "onboarding.removed_notice", {"runs": removed})
    return ended


@follow_up("onboarding.removed_notice")
async def _removed_notice(group, outcome, args) -> None:
    scope = Scope.of(group)
    names = []
    for run_id in args["runs"]:
        run = await onboarding_repo.get_run_by_id(scope.session, run_id)
        member = await scope.session.get(Member, run.member_id) if run is not None else None
        if run is not None and run.status == "removed" and member is not None and member.status == "removed":
            names.append(scope.mention(member))
    minutes = _minutes(scope.s.timeout_minutes)
    separator = "、" if scope.lang.startswith("zh") else ", "
    for start in range(0, len(names), 40):
        await scope.send(scope.t("onboarding.removed_notice", names=separator.join(names[start:start + 40]), minutes=minutes))


SHARED_NAMES = 50
SHARED_POSTING = "posting"  # question_message_id of shared runs whose question is on its way


@follow_up("onboarding.shared_posted")
async def _shared_posted(group, outcome, args) -> None:
    scope = Scope.of(group)
    message_id = outcome.message_id if outcome.ok else None
    for run_id in args["runs"]:
        run = await onboarding_repo.get_run_by_id(scope.session, run_id, lock=True)
        if run is not None and run.question_message_id == SHARED_POSTING:
            run.question_message_id = message_id  # None: asked again at the next tick
    if message_id:
        state = await onboarding_repo.chat_state(scope.session, scope.chat_row.id)
        state.shared_messages = [*(state.shared_messages or []), message_id]


async def _post_shared_questions(app, now: datetime) -> None:
    """Strict mode: one first question for every newcomer who joined since the last tick (up to 50
    names a message); and delete shared questions nobody is waiting on any more."""
    async with app.work() as (session, actions):
        waiting: dict[int, list[tuple[OnboardingRun, Member, Chat]]] = defaultdict(list)
        for run, member, chat_row in await onboarding_repo.unasked_shared_runs(session):
            if chat_row.platform in app.platforms:
                waiting[chat_row.id].append((run, member, chat_row))
        for rows in waiting.values():
            scope = await Scope.load(app, session, rows[0][2], actions)
            questions = scope.s.questions
            if not questions or not _shares_first_question(scope):
                for run, member, _ in rows:  # the settings changed meanwhile: ask them one by one
                    await _ask(scope, run, member)
                continue
            question = questions[0]
            state = await onboarding_repo.chat_state(session, scope.chat_row.id)
            for start in range(0, len(rows), SHARED_NAMES):
                chunk = rows[start:start + SHARED_NAMES]
                minutes = _minutes(_timeout(scope, True))
                separator = "、" if scope.lang.startswith("zh") else ", "
                head = scope.t("onboarding.intro_shared", mentions=separator.join(scope.mention(m) for _, m, _ in chunk),
                               minutes=minutes, total=len(questions))
                body = scope.t("onboarding.question", mention="", n=1, total=len(questions), text=local(question.text, scope.lang)).strip()
                probe = OnboardingRun(id=0, step=0)
                buttons = [
                    [Button(b.text, b.data.replace(f"{PREFIX}0:", f"{PREFIX}c:", 1)) for b in row]
                    for row in (_question_buttons(scope, probe, question) or [])
                ]
                deadline = app.clock.now() + timedelta(minutes=_timeout(scope, True))
                for run, _member, _ in chunk:
                    # Asked: the follow-up puts the real message id in place of this mark.
                    run.question_message_id, run.deadline_at = SHARED_POSTING, deadline
                await scope.send(f"{head}\n\n{body}", buttons, then="onboarding.shared_posted",
                                 then_args={"runs": [run.id for run, _, _ in chunk]})
                state.shared_open = True
    async with app.work() as (session, actions):
        for state, chat_row in await onboarding_repo.states_with_shared_messages(session):
            if chat_row.platform not in app.platforms:
                continue
            scope = await Scope.load(app, session, chat_row, actions)
            keep = []
            for message_id in state.shared_messages or []:
                if await onboarding_repo.shared_message_in_use(session, chat_row.id, message_id):
                    keep.append(message_id)
                elif scope.s.cleanup and scope.can(Capability.DELETE):
                    await _delete_quietly(scope, [message_id])
            state.shared_messages, state.shared_open = keep, bool(keep)
