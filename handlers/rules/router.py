"""Group rules: judge every message, punish on the group's ladder, announce it, let admins undo.

Priority 100: runs before every other feature; after removing a message it sets
ctx.data["violation"] and calls ctx.stop(), so points and stats do not reward it."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot import metrics
from bot.clock import as_utc
from bot.dispatch import Router
from bot.actions import follow_up
from bot.events import ChatRef, CommandInvoked, MessageEdited, MessageReceived, UserRef
from bot.platform import ActionFailed, Capability, CapabilityMissing
from handlers.rules import texts
from handlers.rules.texts import ACTION_NAMES
from handlers.rules import learning
from handlers.rules import model as spam_model
from handlers.rules.decide import Decision, decide
from handlers.rules.enforce import apply_penalty, points_service
from handlers.rules.engine import Hit, RuleEngine, Subject, decode_qr
from handlers.rules.normalize import normalize
from handlers.rules.settings import parse_duration
from storage import core_repo, rules_repo, stats_repo
from storage.rules_models import RulesMemberState

log = logging.getLogger(__name__)

router = Router("rules", priority=100, private_chats=False)
router.with_member(RulesMemberState, rules_repo.member_join)
router.figure(rules_repo.MESSAGES)(rules_repo.write_message_counts)

_HANDLE = re.compile(r"@([A-Za-z][A-Za-z0-9_]{3,31})")
# A message pointing at the sender's name, where the contact or the ad is (看我名字, 名字上, CC名 …).
_NAME_CUE = re.compile(r"[看瞧点戳]\s*(?:我|俺|偶)?的?\s*(?:名字|昵称|网名|用户名|id)|(?:名字|昵称|网名)(?:上|里)|cc名", re.I)


# --- flood and repeats: recent messages per member, in memory (short windows only) ---------------

class FloodTracker:
    """Per member, their recent messages as (POSIX seconds, fingerprint) pairs in a list, oldest
    first: a float and an int a message, and a list a member (a deque, datetimes and hex digests took
    four times the memory in groups with thousands of members)."""

    def __init__(self):
        self.recent: dict[tuple[str, str], list[tuple[float, int]]] = {}

    def add(self, chat: str, user: str, at: datetime, fingerprint: int, *, keep_seconds: int) -> list:
        q = self.recent.setdefault((chat, user), [])
        now = at.timestamp()
        q.append((now, fingerprint))
        drop = 0
        while drop < len(q) and now - q[drop][0] > keep_seconds:
            drop += 1
        drop = max(drop, len(q) - 200)
        if drop:
            del q[:drop]
        return q

    def with_message(self, chat: str, user: str, at: datetime, fingerprint: int, *, keep_seconds: int) -> list:
        """The window as it would be with this message, without storing it: the message counts only
        once its event commits (`add` after commit), so a retried event is not a repeat of itself."""
        now = at.timestamp()
        q = self.recent.get((chat, user), ())
        return [(t, f) for t, f in q if now - t <= keep_seconds][-199:] + [(now, fingerprint)]

    def forget(self, chat: str, user: str) -> None:
        self.recent.pop((chat, user), None)

    def prune(self, now: datetime, older_than_seconds: int) -> None:
        """Drop members whose last message is older than the longest window (bounded memory)."""
        at = now.timestamp()
        stale = [k for k, q in self.recent.items() if not q or at - q[-1][0] > older_than_seconds]
        for key in stale:
            del self.recent[key]


def _tracker(app) -> FloodTracker:
    tracker = getattr(app, "_rules_flood", None)
    if tracker is None:
        tracker = FloodTracker()
        app._rules_flood = tracker
    return tracker


def _flood_hits(ctx, text: str) -> list[Hit]:
    rs = ctx.settings.rules
    views = normalize(text) if text else None
    # In memory only, so the process's own str hash will do; 0 means no text to compare.
    fingerprint = (hash(views.squeezed) or 1) if views and views.squeezed else 0
    tracker, keep = _tracker(ctx.app), max(rs.flood_seconds, rs.repeat_seconds)
    chat_key, user_id, now = ctx.chat.key, ctx.user.id, ctx.now
    q = tracker.with_message(chat_key, user_id, now, fingerprint, keep_seconds=keep)
    ctx.after_commit(lambda: tracker.add(chat_key, user_id, now, fingerprint, keep_seconds=keep))
    hits = []
    at = now.timestamp()
    recent = [t for t, _ in q if at - t <= rs.flood_seconds]
    if len(recent) >= rs.flood_messages:
        hits.append(Hit("flood", "flood", 1.0, f"{len(recent)} messages in {rs.flood_seconds}s"))
    if fingerprint:
        same = [t for t, f in q if f == fingerprint and at - t <= rs.repeat_seconds]
        if len(same) >= rs.repeat_count:
            hits.append(Hit("repeat", "repeat", 1.0, f"same text {len(same)} times: {text[:60]}"))
    return hits


# --- judging messages ------------------------------------------------------------------------

async def _exempt(ctx, user: UserRef | None = None) -> bool:
    user = user or ctx.user
    if user.id in ctx.settings.rules.exempt or user.id == ctx.chat.id:  # the group itself: an anonymous admin
        return True
    return await ctx.is_admin(user)


@router.prepare
async def read_qr_codes(app, event) -> dict:
    """Before the event's transaction opens (a download must not hold the database's write lock):
    the texts of QR codes in the message's images."""
    if not isinstance(event, (MessageReceived, MessageEdited)) or not event.media or event.chat.private:
        return {}
    platform = app.platforms.get(event.chat.platform)
    if platform is None or not platform.can_in(event.chat, Capability.DOWNLOAD):
        return {}
    out: list[str] = []
    for media in event.media:
        if media.kind not in ("photo", "image", "document", "sticker") or not media.file_id:
            continue
        if media.kind == "document" and not (media.mime or "").startswith("image/"):
            continue
        try:
            data = await platform.download(media)
        except (ActionFailed, CapabilityMissing) as exc:
            log.warning("rules: cannot download %s in %s: %s", media.file_id, event.chat.key, exc)
            continue
        try:
            out += await asyncio.to_thread(decode_qr, data)  # CPU work off the event loop
        except ValueError as exc:
            log.warning("rules: skipped image %s in %s: %s", media.file_id, event.chat.key, exc)
        except Exception:  # zxing or pillow choking on a crafted file: log and go on
            log.exception("rules: QR decoding failed on %s in %s", media.file_id, event.chat.key)
    return {"qr_texts": out}


async def _links_allowed(ctx) -> bool:
    """Links are a right earned with points: rules.links_from_level when set, else the points
    feature's own right `links_allowed_from_level` ([defaults.points.rights])."""
    rs = ctx.settings.rules
    if ctx.member_row is None:
        return False
    service = points_service()
    if service is None:
        return False
    points = getattr(ctx.settings, "points", None)
    if points is None or not getattr(points, "enabled", True):
        return False
    if rs.links_from_level is not None:
        level = await service.level_of(ctx.session, chat_id=ctx.chat_row.id, member_id=ctx.member_row.id, settings=points)
        return level >= rs.links_from_level
    if hasattr(service, "has_right"):
        return await service.has_right(ctx.session, chat_id=ctx.chat_row.id, member_id=ctx.member_row.id,
                                       settings=points, right="links_allowed_from_level")
    return False


@router.message()
async def judge(ctx) -> None:
    await _judge(ctx, edited=False)


@router.on(MessageEdited)
async def judge_edit(ctx) -> None:
    """An edit is judged like a new message (without counting it for flood or repeats): a harmless
    message later edited into an ad is deleted and punished the same way."""
    await _judge(ctx, edited=True)


async def _judge(ctx, *, edited: bool) -> None:
    rs = ctx.settings.rules
    event: MessageReceived | MessageEdited = ctx.event
    if not rs.enabled or await _exempt(ctx):
        return
    state = ctx.member_rows.get(RulesMemberState)
    if state is None:
        state = await rules_repo.member_state(ctx.session, ctx.chat_row.id, ctx.user.id, ctx.now)
    figure = (ctx.chat_row.id, ctx.user.id)
    messages = state.messages + ctx.app.tally.pending(rules_repo.MESSAGES, figure) + (0 if edited else 1)
    if not edited:
        ctx.after_commit(lambda: ctx.app.tally.add(rules_repo.MESSAGES, figure))
    newcomer = (state.joined_at is not None and messages <= rs.newcomer_messages
                and (ctx.now - state.joined_at) <= timedelta(hours=rs.newcomer_hours))

    text = event.text or ""
    captions = [m.caption for m in event.media if m.caption and m.caption not in text]
    # Links the text hides (a word linked to an invite, URL buttons, caption entities) and members
    # named by id are judged like written ones.
    hidden = [link for link in event.links if link not in text]
    hidden += [f"@{u.username}" for u in event.mentioned if u.username and f"@{u.username}" not in text]
    full = "\n".join([text, *captions, *hidden]).strip()
    if ctx.user.name and _NAME_CUE.search(full):
        full = f"{full}\n{ctx.user.name}"  # "看我名字": the ad is in the sender's name, judged with the text
    handles = _HANDLE.findall(full)
    known = await rules_repo.known_usernames(ctx.session, ctx.chat_row.id, handles) if handles else set()
    subject = Subject(
        text=full,
        qr_texts=tuple(ctx.data.get("qr_texts", ())),
        card_kinds=tuple(m.kind for m in event.media),
        newcomer=newcomer,
        known_handles=frozenset(known),
    )
    engine = RuleEngine.for_settings(rs)
    verdict = engine.check(subject)
    if any(h.category == "link" for h in verdict.hits) and await _links_allowed(ctx):
        # The right to post links (a points level) only changes a verdict with a link in it: asked
        # then, not for every message (speed); the rest of the verdict is the same either way.
        verdict = engine.check(subject._replace(links_allowed=True))
    extra = [] if edited else [h for h in _flood_hits(ctx, full) if h.category not in rs.disabled_categories]
    verdict.lead_with(extra)
    views = normalize(full) if full else None  # the engine's own (normalize is cached)
    feats = None
    source = "rules"
    if not verdict.violation and views is not None:
        # What the rules let through: a wave seen in another group, then the model, each its own path.
        wave = learning.wave_of(ctx, views)
        if wave is not None:
            source = "wave"
            _add_hit(verdict, Hit("wave", wave.category, 1.0, ctx.t(
                "rules.wave_evidence", similarity=round(wave.similarity * 100), rule=wave.rule)))
        else:
            model = await learning.model_of(ctx)
            if model is not None:
                feats = spam_model.features(full, views)
                p = learning.model_verdict(ctx, model, views, feats)
                if p is not None:
                    source = "model"
                    _add_hit(verdict, Hit("model", "ads", 1.0, ctx.t("rules.model_evidence", p=round(p * 100))))
    if not verdict.violation:
        return

    primary = verdict.primary
    assert primary is not None
    if source == "model":
        # The model alone never mutes or removes anyone: at most delete + warn, reviewed by the admins.
        decision = Decision(rs.model_action, "model", strike=rs.model_action == "warn")
    else:
        strikes = await rules_repo.active_strikes(ctx.session, ctx.chat_row.id, ctx.user.id,
                                                  ctx.now - timedelta(days=rs.ladder_window_days))
        decision = decide(verdict, rs, active_strikes=len(strikes), newcomer=newcomer)
    ctx.data["violation"] = {"rule": primary.rule, "category": primary.category, "action": decision.action,
                             "score": verdict.score}
    ctx.after_commit(metrics.VERDICTS.labels(rule=primary.rule, action=decision.action).inc)
    if decision.action == "allow":
        return
    evidence = verdict.evidence() or full[:200]
    outcome = await apply_penalty(
        ctx, ctx.user, decision.action, rule=primary.rule, category=primary.category, evidence=evidence,
        message_id=event.message_id, strike=decision.strike, sender_chat=event.sender_chat,
        automatic=source == "model",
        details={"hits": [h.as_dict() for h in verdict.hits[:12]], "score": verdict.score, "source": decision.source,
                 "evidence_from": source, "step": decision.step, "newcomer": newcomer, "edited": edited,
                 "text": full[:500]},
    )
    ctx.data["violation"]["done"] = outcome.action
    ctx.data["violation"]["audit_id"] = outcome.audit_id
    if views is not None:
        await learning.remember_decision(ctx, feats or spam_model.features(full, views), outcome.audit_id, source)
        if source == "rules" and outcome.action != "report":
            learning.mark_wave(ctx, full, rule=primary.rule, category=primary.category)
    await ctx.count("violations", primary.category)
    if outcome.action in ("kick", "ban"):
        await ctx.count(stats_repo.REMOVED_BY_RULES)
        _tracker(ctx.app).forget(ctx.chat.key, ctx.user.id)
    ctx.stop()


def _add_hit(verdict, hit: Hit) -> None:
    """Evidence of its own path: enough for a violation at the group's threshold by itself."""
    verdict.lead_with([hit._replace(weight=max(verdict.threshold, hit.weight))])


@router.member_joined()
async def note_join(ctx) -> None:
    rs = ctx.settings.rules
    if not rs.enabled:
        return
    await rules_repo.note_join(ctx.session, ctx.chat_row.id, ctx.user.id, ctx.now)
    figure = (ctx.chat_row.id, ctx.user.id)
    ctx.after_commit(lambda: ctx.app.tally.discard(rules_repo.MESSAGES, figure))  # counted from zero again
    if rs.display_names != "off" and ctx.user.name and not ctx.user.is_bot and not await _exempt(ctx):
        await _judge_display_name(ctx)


# A display name is a few words: an ad or a contact in it, not a swear word or a long text.
NAME_CATEGORIES = frozenset({"link", "invite", "miniprogram", "contact", "qr", "ads", "fraud", "gambling", "porn"})


async def _judge_display_name(ctx) -> None:
    """A newcomer whose name carries a contact ID, an invite or an ad: removed, or questioned
    strictly by onboarding (ctx.data["strict_onboarding"]) with the admins told (rules.display_names)."""
    rs = ctx.settings.rules
    verdict = RuleEngine.for_settings(rs).check(Subject(text=ctx.user.name, newcomer=True))
    primary = verdict.primary
    if not verdict.violation or primary is None or primary.category not in NAME_CATEGORIES:
        return
    evidence = f"{ctx.user.name}: {verdict.evidence(120)}"
    if rs.display_names == "remove":
        outcome = await apply_penalty(ctx, ctx.user, "kick", rule="display_name", category=primary.category,
                                      evidence=evidence, reason=ctx.t("rules.display_name_reason"),
                                      details={"hits": [h.as_dict() for h in verdict.hits[:12]], "name": ctx.user.name})
        if outcome.action in ("kick", "ban"):
            await ctx.count(stats_repo.REMOVED_BY_RULES)
        ctx.stop()  # no questionnaire, no welcome for someone removed
        return
    ctx.data["strict_onboarding"] = "display_name"
    await ctx.audit("display_name_flagged", target=ctx.user, rule="display_name", evidence=evidence,
                    details={"category": primary.category})
    await ctx.notify_admins(ctx.t("rules.display_name_strict", member=ctx.mention(), evidence=evidence))


# --- due work: notices to delete ---------------------------------------------------------------

@router.on_tick
async def learn(app) -> None:
    await learning.tick(app)


@router.on_shutdown
async def stop_learning(app) -> None:
    task = app.__dict__.get("_rules_learning", {}).get("task")
    if task is not None and not task.done():
        task.cancel()  # the training thread finishes on its own; nothing is written half-way


@router.on_tick
async def delete_due_notices(app) -> None:
    now = app.clock.now()
    _tracker(app).prune(now, 24 * 3600)
    async with app.work() as (session, actions):
        for notice in await rules_repo.due_notices(session, now):
            if notice.platform in app.platforms and app.platforms[notice.platform].can(Capability.DELETE):
                await actions.platform(notice.platform).delete(ChatRef(notice.platform, notice.external_chat_id), notice.message_id)
            notice.done_at = now


# --- admin commands ------------------------------------------------------------------------------

async def _target(ctx, command: str, extra: str = "") -> tuple[UserRef | None, list[str]]:
    """The member a command is about (the replied-to member, or the first argument) and the rest."""
    event: CommandInvoked = ctx.event
    args = list(event.args)
    if event.reply_to_user is not None:
        return event.reply_to_user, args
    if not args:
        await ctx.reply(ctx.t("rules.usage_target", command=command, extra=extra))
        return None, args
    name = args.pop(0)
    member = await rules_repo.find_member(ctx.session, ctx.chat_row.id, name)
    if member is None:
        await ctx.reply(ctx.t("rules.unknown_member", name=name))
        return None, args
    return UserRef(ctx.chat.platform, member.user_id, name=member.display_name, username=member.username), args


async def _penalisable(ctx, target: UserRef) -> bool:
    if await ctx.is_admin(target):
        await ctx.reply(ctx.t("rules.not_admin_target", member=ctx.mention(target)))
        return False
    return True


def _reason(ctx, args: list[str]) -> str:
    return " ".join(args).strip()


def _replied(ctx) -> str | None:
    """The message an admin's command replies to: it goes with the penalty."""
    event: CommandInvoked = ctx.event
    return event.reply_to if event.reply_to_user is not None else None


def _evidence(ctx, reason: str, command: str) -> str:
    replied = _replied(ctx)
    quoted = _reported_text(ctx, replied) if replied else ""
    return " | ".join(part for part in (reason or command, quoted[:300]) if part)


ADMIN = {"admin_only": True}


async def _admin_penalty(ctx, action: str) -> None:
    """/warn, /kick and /ban go through the same enforcement as automatic decisions (notice, audit, ladder)."""
    target, args = await _target(ctx, action, ctx.t("rules.usage_reason"))
    if target is None or not await _penalisable(ctx, target):
        return
    reason = _reason(ctx, args)
    replied = _replied(ctx)
    # Banned for that message: the admins' word that it is spam (its text kept on the audit row, as
    # an automatic decision's is, so that an /undo or /unban can stop its wave).
    spam = _reported_text(ctx, replied) if action == "ban" and replied else ""
    outcome = await apply_penalty(ctx, target, action, rule="admin", category="admin",
                                  evidence=_evidence(ctx, reason, f"/{action}"), actor=ctx.user.key, reason=reason,
                                  message_id=replied, details={"text": spam[:500]} if spam else None)
    if outcome.action in ("kick", "ban"):  # not a removal the admins were asked to do by hand
        await ctx.count(stats_repo.REMOVED_BY_ADMIN)
    if spam:
        await _learn_spam(ctx, spam, outcome.audit_id)


async def _learn_spam(ctx, text: str, audit_id: int | None) -> bool:
    """An admin's spam label on a message: a spam sample, and its near-duplicates caught in every group."""
    if not text.strip() or audit_id is None:
        return False
    await learning.remember_decision(ctx, spam_model.features(text), audit_id, "admin", label="spam")
    learning.mark_wave(ctx, text, rule="spam", category="ads")
    return True


@router.command("spam", "垃圾", "广告", description=texts.COMMAND_DESCRIPTIONS["spam"], **ADMIN)
async def cmd_spam(ctx) -> None:
    """Reply to a message: delete it, punish its sender on the ladder, learn it as spam. `/spam ID`:
    confirm a decision from the review list (a spam sample)."""
    event: CommandInvoked = ctx.event
    if event.reply_to_user is None:
        audit_id = event.args[0].lstrip("#") if event.args else ""
        if not audit_id.isdigit():
            await ctx.reply(ctx.t("rules.spam_usage"))
            return
        entry = await core_repo.audit_entry(ctx.session, ctx.chat_row.id, int(audit_id))
        if entry is None or not await learning.label(ctx, [entry.id], "spam"):
            await ctx.reply(ctx.t("rules.spam_missing", audit_id=audit_id))
            return
        await ctx.reply(ctx.t("rules.spam_confirmed", audit_id=entry.id))
        return
    target = event.reply_to_user
    if not await _penalisable(ctx, target):
        return
    rs = ctx.settings.rules
    strikes = await rules_repo.active_strikes(ctx.session, ctx.chat_row.id, target.id,
                                              ctx.now - timedelta(days=rs.ladder_window_days))
    action = rs.ladder[min(len(strikes), len(rs.ladder) - 1)]
    text = _reported_text(ctx, event.reply_to)
    outcome = await apply_penalty(ctx, target, action, rule="spam", category="ads",
                                  evidence=" | ".join(part for part in ("/spam", text[:300]) if part),
                                  actor=ctx.user.key, message_id=event.reply_to,
                                  details={"source": "ladder", "step": min(len(strikes), len(rs.ladder) - 1),
                                           "text": text[:500]})
    if outcome.action in ("kick", "ban"):
        await ctx.count(stats_repo.REMOVED_BY_ADMIN)
    await ctx.count("violations", "ads")
    learned = await _learn_spam(ctx, text, outcome.audit_id)
    await ctx.reply(ctx.t("rules.spam_learned" if learned else "rules.spam_no_text", audit_id=outcome.audit_id))


# What /label takes for each label (the console's Spam / Not spam buttons send spam and ham).
LABEL_WORDS = {"spam": "spam", "垃圾": "spam", "广告": "spam", "ham": "ham", "正常": "ham", "误判": "ham"}


@router.command("label", "标记", description=texts.COMMAND_DESCRIPTIONS["label"], **ADMIN)
async def cmd_label(ctx) -> None:
    """`/label ID spam|ham`: what a decision was, for the learning loop. Not spam also stops its
    wave in the other groups (as an /undo does), without undoing the decision itself."""
    event: CommandInvoked = ctx.event
    audit_id = event.args[0].lstrip("#") if event.args else ""
    value = LABEL_WORDS.get(event.args[1].lower()) if len(event.args) > 1 else None
    if not audit_id.isdigit() or value is None:
        await ctx.reply(ctx.t("rules.label_usage"))
        return
    entry = await core_repo.audit_entry(ctx.session, ctx.chat_row.id, int(audit_id))
    if entry is None:
        await ctx.reply(ctx.t("rules.label_missing", audit_id=audit_id))
        return
    if not await learning.label(ctx, [entry.id], value):
        await ctx.reply(ctx.t("rules.label_no_sample", audit_id=entry.id))
        return
    if value == "ham":
        learning.forget_waves(ctx, [entry.details.get("text") or ""] if isinstance(entry.details, dict) else [])
    target = UserRef(ctx.chat.platform, entry.target_user_id) if entry.target_user_id else None
    await ctx.audit("label", target=target, actor=ctx.user.key, details={"audit_id": entry.id, "label": value})
    await ctx.reply(ctx.t(f"rules.labelled_{value}", audit_id=entry.id))


def _action_name(ctx, action: str) -> str:
    """An audit entry's action in the group's language (/modlog, /review, /undo)."""
    return ctx.t(f"rules.action.{action}") if action in ACTION_NAMES else action


def _local_time(ctx, at) -> str:
    return f"{as_utc(at).astimezone(ZoneInfo(ctx.settings.timezone)):%m-%d %H:%M}"  # the group's clock, like /history


@router.command("review", "复核", description=texts.COMMAND_DESCRIPTIONS["review"], **ADMIN)
async def cmd_review(ctx) -> None:
    """The automatic decisions made on the model's or a wave's evidence alone, not yet labelled."""
    entries = await rules_repo.to_review(ctx.session, ctx.chat_row.id, ctx.now - timedelta(days=30))
    if not entries:
        await ctx.reply(ctx.t("rules.review_empty"))
        return
    lines = [ctx.t("rules.review_header")]
    for e in entries:
        lines.append(ctx.t("rules.review_line", id=e.id, at=_local_time(ctx, e.at), action=_action_name(ctx, e.action),
                           target=e.target_user_id or "-",
                           evidence=(e.evidence or "")[:80]))
    await ctx.reply("\n".join(lines))


@router.command("warn", "警告", description=texts.COMMAND_DESCRIPTIONS["warn"], **ADMIN)
async def cmd_warn(ctx) -> None:
    await _admin_penalty(ctx, "warn")


@router.command("unwarn", "撤销警告", description=texts.COMMAND_DESCRIPTIONS["unwarn"], **ADMIN)
async def cmd_unwarn(ctx) -> None:
    target, _ = await _target(ctx, "unwarn")
    if target is None:
        return
    rs = ctx.settings.rules
    strikes = await rules_repo.active_strikes(ctx.session, ctx.chat_row.id, target.id,
                                              ctx.now - timedelta(days=rs.ladder_window_days))
    if not strikes:
        await ctx.reply(ctx.t("rules.no_strikes", member=ctx.mention(target)))
        return
    last = strikes[-1]
    await rules_repo.clear_strikes(ctx.session, [last.id], ctx.user.key, ctx.now)
    if last.audit_id:
        await core_repo.mark_undone(ctx.session, last.audit_id, ctx.user.key, ctx.now)
    await ctx.audit("unwarn", target=target, actor=ctx.user.key, details={"strike_id": last.id, "audit_id": last.audit_id})
    await ctx.reply(ctx.t("rules.unwarned", member=ctx.mention(target), count=len(strikes) - 1))


@router.command("pardon", "赦免", description=texts.COMMAND_DESCRIPTIONS["pardon"], **ADMIN)
async def cmd_pardon(ctx) -> None:
    target, _ = await _target(ctx, "pardon")
    if target is None:
        return
    strikes = await rules_repo.active_strikes(ctx.session, ctx.chat_row.id, target.id, ctx.now - timedelta(days=36500))
    n = await rules_repo.clear_strikes(ctx.session, [s.id for s in strikes], ctx.user.key, ctx.now)
    await ctx.audit("pardon", target=target, actor=ctx.user.key, details={"strikes": [s.id for s in strikes]})
    learned = await _learn_mistakes(ctx, [s.audit_id for s in strikes if s.audit_id is not None])
    await ctx.reply(ctx.t("rules.pardoned", member=ctx.mention(target), count=n) + (ctx.t("rules.learned_ham") if learned else ""))


async def _learn_mistakes(ctx, audit_ids: list[int], *, explicit: bool = False) -> int:
    """Decisions an admin took back: ham samples, and their waves stop (the audit keeps the text).
    Only `explicit` (/undo of that very decision) overrides an admin's own spam label; /pardon and
    /unban, which forgive a member, do not."""
    if not audit_ids:
        return 0
    entries = await core_repo.audit_entries_by_id(ctx.session, ctx.chat_row.id, audit_ids)
    learning.forget_waves(ctx, [e.details.get("text") or "" for e in entries if isinstance(e.details, dict)])
    return await learning.label(ctx, audit_ids, "ham", unlabelled_only=not explicit)


@router.command("mute", "禁言", description=texts.COMMAND_DESCRIPTIONS["mute"], **ADMIN)
async def cmd_mute(ctx) -> None:
    target, args = await _target(ctx, "mute", ctx.t("rules.usage_mute"))
    if target is None or not await _penalisable(ctx, target):
        return
    value = args.pop(0) if args else "1d"
    try:
        parse_duration(value)
    except ValueError:
        await ctx.reply(ctx.t("rules.bad_duration", value=value))
        return
    reason = _reason(ctx, args)
    await apply_penalty(ctx, target, f"mute:{value.lower()}", rule="admin", category="admin",
                        evidence=_evidence(ctx, reason, f"/mute {value}"), actor=ctx.user.key, reason=reason,
                        message_id=_replied(ctx))


@router.command("unmute", "解除禁言", description=texts.COMMAND_DESCRIPTIONS["unmute"], **ADMIN)
async def cmd_unmute(ctx) -> None:
    target, _ = await _target(ctx, "unmute")
    if target is None:
        return
    if not ctx.can(Capability.RESTRICT):
        await ctx.reply(ctx.t("rules.cannot", action="unmute"))
        return
    await ctx.platform.unrestrict(ctx.chat, target)
    await ctx.audit("unmute", target=target, actor=ctx.user.key)
    await ctx.reply(ctx.t("rules.unmuted", member=ctx.mention(target)))


@router.command("kick", "踢", "踢出", description=texts.COMMAND_DESCRIPTIONS["kick"], **ADMIN)
async def cmd_kick(ctx) -> None:
    await _admin_penalty(ctx, "kick")


@router.command("ban", "封禁", description=texts.COMMAND_DESCRIPTIONS["ban"], **ADMIN)
async def cmd_ban(ctx) -> None:
    await _admin_penalty(ctx, "ban")


@router.command("unban", "解封", description=texts.COMMAND_DESCRIPTIONS["unban"], **ADMIN)
async def cmd_unban(ctx) -> None:
    target, _ = await _target(ctx, "unban")
    if target is None:
        return
    if not ctx.can(Capability.UNBAN):
        await ctx.reply(ctx.t("rules.cannot", action="unban"))
        await ctx.notify_admins(ctx.t("rules.cannot", action="unban") + f" {ctx.mention(target)}")
        return
    await ctx.platform.unban(ctx.chat, target)
    await ctx.audit("unban", target=target, actor=ctx.user.key)
    learned = await _learn_mistakes(ctx, await rules_repo.removals_of(ctx.session, ctx.chat_row.id, target.id))
    await ctx.reply(ctx.t("rules.unbanned", member=ctx.mention(target)) + (ctx.t("rules.learned_ham") if learned else ""))


@router.command("rules", "群规", description=texts.COMMAND_DESCRIPTIONS["rules"])
async def cmd_rules(ctx) -> None:
    await ctx.reply(ctx.settings.rules.text or ctx.t("rules.default_text"))


@router.command("setrules", "设置群规", description=texts.COMMAND_DESCRIPTIONS["setrules"], **ADMIN)
async def cmd_setrules(ctx) -> None:
    event: CommandInvoked = ctx.event
    body = event.text.split(None, 1)[1].strip() if len(event.text.split(None, 1)) > 1 else ""
    if not body:
        await ctx.reply(ctx.t("rules.setrules_usage"))
        return
    await ctx.set_setting("rules.text", body)
    await ctx.audit("setrules", actor=ctx.user.key, evidence=body[:500])
    await ctx.reply(ctx.t("rules.setrules_done"))


_DOMAIN = re.compile(r"^(?:https?://)?(?:www\.)?([a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,24})/?$", re.IGNORECASE)


async def _add_to_list(ctx, key: str, value: str) -> None:
    current = list(getattr(ctx.settings.rules, key))
    if value not in current:
        current.append(value)
        await ctx.set_setting(f"rules.{key}", current)


@router.command("allow", "放行", description=texts.COMMAND_DESCRIPTIONS["allow"], **ADMIN)
async def cmd_allow(ctx) -> None:
    event: CommandInvoked = ctx.event
    if event.reply_to_user is not None or (event.args and event.args[0].startswith("@")):
        target, _ = await _target(ctx, "allow")
        if target is None:
            return
        await _add_to_list(ctx, "exempt", target.id)
        await ctx.audit("allow_member", target=target, actor=ctx.user.key)
        await ctx.reply(ctx.t("rules.allowed_member", member=ctx.mention(target)))
        return
    if not event.args:
        await ctx.reply(ctx.t("rules.allow_usage"))
        return
    value = " ".join(event.args).strip()
    m = _DOMAIN.match(value)
    if m:
        await _add_to_list(ctx, "allowed_domains", m.group(1).lower())
        await ctx.audit("allow_domain", actor=ctx.user.key, evidence=m.group(1).lower())
        await ctx.reply(ctx.t("rules.allowed_domain", value=m.group(1).lower()))
    else:
        await _add_to_list(ctx, "allowed_words", value)
        await ctx.audit("allow_word", actor=ctx.user.key, evidence=value)
        await ctx.reply(ctx.t("rules.allowed_word", value=value))


@router.command("block", "屏蔽", description=texts.COMMAND_DESCRIPTIONS["block"], **ADMIN)
async def cmd_block(ctx) -> None:
    event: CommandInvoked = ctx.event
    if not event.args:
        await ctx.reply(ctx.t("rules.block_usage"))
        return
    value = " ".join(event.args).strip()
    m = _DOMAIN.match(value)
    if m:
        await _add_to_list(ctx, "blocked_domains", m.group(1).lower())
        await ctx.audit("block_domain", actor=ctx.user.key, evidence=m.group(1).lower())
        await ctx.reply(ctx.t("rules.blocked_domain", value=m.group(1).lower()))
    else:
        await _add_to_list(ctx, "words", value)
        await ctx.audit("block_word", actor=ctx.user.key, evidence=value)
        await ctx.reply(ctx.t("rules.blocked_word", value=value))


@router.command("report", "举报", description=texts.COMMAND_DESCRIPTIONS["report"])
async def cmd_report(ctx) -> None:
    event: CommandInvoked = ctx.event
    if not event.reply_to or event.reply_to_user is None:
        await ctx.reply(ctx.t("rules.report_usage"))
        return
    link = message_link(ctx.chat, event.reply_to)
    reported = _reported_text(ctx, event.reply_to)
    await ctx.notify_admins(ctx.t(
        "rules.report_alert", reporter=ctx.mention(), member=ctx.mention(event.reply_to_user),
        message_id=event.reply_to, link=f" {link}" if link else "", group=ctx.chat.title or ctx.chat.id,
        text=reported[:300] or "-",
    ))
    await ctx.audit("report", target=event.reply_to_user, actor=ctx.user.key, evidence=reported[:500] or None,
                    details={"message_id": event.reply_to, "link": link})
    await ctx.reply(ctx.t("rules.report_thanks"))


def message_link(chat: ChatRef, message_id: str) -> str:
    """A link to a message where the platform has them (Telegram supergroups)."""
    if chat.platform == "telegram" and chat.id.startswith("-100"):
        return f"https://t.me/c/{chat.id[4:]}/{message_id}"
    return ""


def _reported_text(ctx, message_id: str) -> str:
    event = ctx.event
    if isinstance(event, CommandInvoked) and event.reply_to == message_id and event.reply_to_text:
        return event.reply_to_text  # the platform sent the replied message with the command
    messages = getattr(ctx.platform, "messages", None)  # the console keeps a transcript
    if isinstance(messages, dict) and message_id in messages:
        return getattr(messages[message_id], "text", "") or ""
    return ""


@router.command("undo", "撤销", description=texts.COMMAND_DESCRIPTIONS["undo"], **ADMIN)
async def cmd_undo(ctx) -> None:
    event: CommandInvoked = ctx.event
    if not event.args or not event.args[0].lstrip("#").isdigit():
        await ctx.reply(ctx.t("rules.undo_usage"))
        return
    audit_id = int(event.args[0].lstrip("#"))
    entry = await core_repo.audit_entry(ctx.session, ctx.chat_row.id, audit_id)
    if entry is None:
        await ctx.reply(ctx.t("rules.undo_missing", audit_id=audit_id))
        return
    if entry.undone_at is not None:
        await ctx.reply(ctx.t("rules.undo_already", audit_id=audit_id))
        return
    target = None
    if entry.target_user_id:
        row = await core_repo.get_member(ctx.session, ctx.chat_row.id, entry.target_user_id)
        target = UserRef(ctx.chat.platform, entry.target_user_id, name=row.display_name if row else None,
                         username=row.username if row else None)
    strikes = await rules_repo.strikes_of_audit(ctx.session, audit_id)
    await rules_repo.clear_strikes(ctx.session, [s.id for s in strikes], ctx.user.key, ctx.now)
    await core_repo.mark_undone(ctx.session, audit_id, ctx.user.key, ctx.now)
    learned = await _learn_mistakes(ctx, [audit_id], explicit=True)
    undo = await ctx.audit("undo", target=target, actor=ctx.user.key, details={"audit_id": audit_id, "action": entry.action, "notes": []})
    # A refusal to lift it is noted on the undo's audit row (see rules.lifted).
    lift = {"then": "rules.lifted", "then_args": {"audit_id": undo.id}}
    if entry.action == "mute" and target and ctx.can(Capability.RESTRICT):
        await ctx.platform.unrestrict(ctx.chat, target, **lift)
    elif entry.action in ("ban", "kick") and target and ctx.can(Capability.UNBAN):
        # After a kick too: where a kick is a ban lifted at once (Telegram) it is harmless, and where
        # the platform keeps the removed out (or the kick fell back to a ban) it lets them back.
        await ctx.platform.unban(ctx.chat, target, **lift)
    member = ctx.mention(target) if target else "-"
    action = _action_name(ctx, entry.action)
    text = ctx.t("rules.undo_done", audit_id=audit_id, action=action, member=member)
    if entry.action in ("ban", "kick", "kick_requested") and target:
        text += ctx.t("rules.may_rejoin", member=member)
    if learned:
        text += ctx.t("rules.learned_ham")
    await ctx.reply(text)


@follow_up("rules.lifted")
async def _lifted(scope, outcome, args) -> None:
    if not outcome.ok:
        await core_repo.amend_audit(scope.session, args["audit_id"], note=f"{outcome.reason}: {outcome.detail}")


@router.command("modlog", "处理记录", description=texts.COMMAND_DESCRIPTIONS["modlog"], **ADMIN)
async def cmd_modlog(ctx) -> None:
    entries = await core_repo.audit_entries(ctx.session, ctx.chat_row.id, limit=15)
    if not entries:
        await ctx.reply(ctx.t("rules.modlog_empty"))
        return
    lines = [ctx.t("rules.modlog_header")]
    for e in entries:
        mark = " ↩" if e.undone_at else ""
        rule = f" [{texts.rule_name(ctx.lang, e.rule, e.details)}]" if e.rule else ""
        lines.append(ctx.t("rules.modlog_line", id=e.id, at=_local_time(ctx, e.at), action=_action_name(ctx, e.action),
                           target=e.target_user_id or "", rule=rule, actor=e.actor, undone=mark))
    await ctx.reply("\n".join(lines))


@router.on_startup
async def _load_word_lists(app) -> None:
    # At start-up, not inside the first message's write transaction (it held SQLite's lock ~1.5 s).
    from handlers.rules.engine import load_word_lists

    await asyncio.to_thread(load_word_lists)


__all__ = ["router"]
