"""Platform actions queued while a transaction is open and carried out after it commits.

Handlers never call a platform inside their transaction. `scope.platform` is an `ActionQueue`: reads
(`can`, `mention`, `admin_ids`, `download` …) go to the real adapter, writes (`send`, `delete`,
`restrict`, `ban` …) are queued. Whoever owns the transaction (the dispatcher for an event, a ticker for
due work) writes the queue to the `outbox` table in that same transaction and, once it has committed,
carries the actions out in order (`Actions.carry_out`). A transaction that fails or is retried sends
nothing: its queue is dropped with it.

What each action guarantees:
- idempotent ones (delete, restrict, ban, kick, unban, approve/decline, answer a button, edit) are
  retried by the adapter on network errors and re-run after a crash: at least once, harmless twice;
- sends (send, send_photo, dm, notify_admins) have no idempotency key on Telegram or WeCom: the row
  becomes `sending` right before the request leaves (`bot.wire`), after the rate limiter's wait; a
  crash before that re-sends it after restart (it never left), a crash or timeout after it makes it
  `uncertain` and it is never sent again: at most once, and the admins hear of the uncertain ones.

A handler that needs the result (the id of a posted question, a DM that was refused) names a
follow-up: `await ctx.send(text, then="onboarding.question_posted", then_args={"run": run.id})`. The
follow-up runs after the action in a short transaction of its own, with the outcome, and may queue
further actions. Follow-ups are registered by name (`@follow_up("…")`) so they survive a restart.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot import metrics, wire
from bot.events import ChatRef, UserRef
from bot.platform import ActionFailed, ActionUncertain, Button, Capability, CapabilityMissing, SentMessage

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.context import GroupScope
    from bot.ports import AppServices

    # (app, session, chat, the follow-up's own Actions) → the group's scope, or None when it is not stored
    ScopeLoader = Callable[[AppServices, AsyncSession, ChatRef, "Actions"], Awaitable[GroupScope | None]]

log = logging.getLogger(__name__)

# No idempotency key: sent at most once. Every other method is safe to repeat (the adapter retries
# it, a restart re-runs it).
ONCE = frozenset({"send", "send_photo", "dm", "notify_admins"})

CAPABILITY = {
    "send": Capability.SEND, "send_photo": Capability.SEND_PHOTO, "edit": Capability.EDIT,
    "delete": Capability.DELETE, "delete_many": Capability.DELETE, "restrict": Capability.RESTRICT,
    "unrestrict": Capability.RESTRICT, "kick": Capability.KICK, "ban": Capability.BAN, "unban": Capability.UNBAN,
    "dm": Capability.DM, "approve_join": Capability.JOIN_REQUESTS, "decline_join": Capability.JOIN_REQUESTS,
    "ban_sender_chat": Capability.BAN_SENDER_CHAT, "unban_sender_chat": Capability.BAN_SENDER_CHAT,
}

REMOVALS = frozenset({"kick", "ban"})
# A group's admins hear of sends that may not have arrived at most this often.
UNCERTAIN_NOTE_EVERY = timedelta(minutes=10)

# A row left `queued` or `sending` this long by a process that is not carrying it out is recovered.
RECOVER_AFTER = timedelta(seconds=120)


@dataclass(frozen=True)
class Outcome:
    """What became of one action, as its follow-up sees it."""

    ok: bool
    message_id: str | None = None
    reason: str | None = None  # ActionFailed.reason ('no_rights', 'not_found', 'dm_blocked', 'uncertain' …)
    detail: str = ""
    right: str | None = None
    admins_told: bool = False  # the adapter already told the admins about a missing right

    @property
    def uncertain(self) -> bool:
        return self.reason == "uncertain"


FollowUpFn = Callable[[Any, Outcome, dict[str, Any]], Awaitable[None]]
FOLLOW_UPS: dict[str, FollowUpFn] = {}


def follow_up(name: str):
    """Register `async def fn(scope, outcome, args)`; `scope` is a GroupScope of the action's chat
    with an open transaction; actions it queues are carried out after that transaction commits."""

    def register(fn: FollowUpFn) -> FollowUpFn:
        FOLLOW_UPS[name] = fn
        return fn

    return register


# --- arguments as JSON -------------------------------------------------------------------------
def encode(value: Any) -> Any:
    if isinstance(value, ChatRef):
        return {"$chat": [value.platform, value.id, value.title, value.private, value.kind]}
    if isinstance(value, UserRef):
        return {"$user": [value.platform, value.id, value.name, value.username, value.is_bot]}
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, bytes):
        return {"$b64": base64.b64encode(value).decode()}
    if isinstance(value, Button):
        return {"$button": [value.text, value.data]}
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    return value


def decode(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1:
            (tag, inner), = value.items()
            if tag == "$chat":
                platform, id_, title, private, kind = inner
                return ChatRef(platform, id_, title, private=private, kind=kind)
            if tag == "$user":
                platform, id_, name, username, is_bot = inner
                return UserRef(platform, id_, name=name, username=username, is_bot=is_bot)
            if tag == "$dt":
                return datetime.fromisoformat(inner)
            if tag == "$b64":
                return base64.b64decode(inner)
            if tag == "$button":
                return Button(*inner)
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


@dataclass
class Action:
    platform: str
    method: str
    chat: ChatRef | None  # the chat it acts in (a DM's group, for follow-ups and notes)
    args: dict[str, Any]
    follow_up: str | None = None
    follow_up_args: dict[str, Any] = field(default_factory=dict)
    id: int | None = None  # the outbox row, once written

    @property
    def once(self) -> bool:
        return self.method in ONCE


class ActionQueue:
    """Looks like the chat's Platform to handlers: reads pass through, writes are queued on `actions`.
    Each write takes `then=` / `then_args=` (a follow-up) besides the adapter's own arguments, and
    raises CapabilityMissing at once when the platform cannot do it in that chat."""

    def __init__(self, actions: "Actions", platform):
        self._actions = actions
        self._platform = platform

    def __getattr__(self, name: str) -> Any:
        return getattr(self._platform, name)

    def _queue(self, method: str, where: ChatRef | None, then: str | None, then_args: dict | None, /, **args: Any) -> None:
        capability = CAPABILITY.get(method)
        if capability is not None:
            able = self._platform.can_in(where, capability) if where is not None else self._platform.can(capability)
            if not able:
                raise CapabilityMissing(self._platform.name, capability)
        if then is not None and then not in FOLLOW_UPS:
            raise KeyError(f"unknown follow-up {then!r}")
        self._actions.items.append(Action(self._platform.name, method, where, args, then, dict(then_args or {})))

    async def send(self, chat: ChatRef, text: str, *, reply_to: str | None = None, buttons=None,
                   thread_id: str | None = None, then: str | None = None, then_args: dict | None = None) -> SentMessage:
        self._queue("send", chat, then, then_args, chat=chat, text=text, reply_to=reply_to, buttons=buttons, thread_id=thread_id)
        return SentMessage(chat, "")

    async def send_photo(self, chat: ChatRef, photo: bytes, caption: str = "", *, thread_id: str | None = None,
                         then: str | None = None, then_args: dict | None = None) -> SentMessage:
        self._queue("send_photo", chat, then, then_args, chat=chat, photo=photo, caption=caption, thread_id=thread_id)
        return SentMessage(chat, "")

    async def dm(self, user: UserRef, text: str, *, buttons=None, chat: ChatRef | None = None,
                 then: str | None = None, then_args: dict | None = None) -> SentMessage:
        """`chat`: the group the DM is about (for its follow-up and for notes about it)."""
        self._queue("dm", chat, then, then_args, user=user, text=text, buttons=buttons)
        return SentMessage(None, "")

    async def edit(self, chat: ChatRef, message_id: str, text: str, *, buttons=None, then=None, then_args=None) -> None:
        self._queue("edit", chat, then, then_args, chat=chat, message_id=message_id, text=text, buttons=buttons)

    async def delete(self, chat: ChatRef, message_id: str, *, then=None, then_args=None) -> None:
        self._queue("delete", chat, then, then_args, chat=chat, message_id=message_id)

    async def delete_many(self, chat: ChatRef, message_ids: list[str], *, then=None, then_args=None) -> None:
        if len(message_ids) == 1:
            self._queue("delete", chat, then, then_args, chat=chat, message_id=message_ids[0])
        elif message_ids:
            self._queue("delete_many", chat, then, then_args, chat=chat, message_ids=list(message_ids))

    async def restrict(self, chat: ChatRef, user: UserRef, until: datetime | None, *, then=None, then_args=None) -> None:
        self._queue("restrict", chat, then, then_args, chat=chat, user=user, until=until)

    async def unrestrict(self, chat: ChatRef, user: UserRef, *, then=None, then_args=None) -> None:
        self._queue("unrestrict", chat, then, then_args, chat=chat, user=user)

    async def kick(self, chat: ChatRef, user: UserRef, *, then=None, then_args=None) -> None:
        self._queue("kick", chat, then, then_args, chat=chat, user=user)

    async def ban(self, chat: ChatRef, user: UserRef, until: datetime | None = None, *, revoke_messages: bool = False,
                  then=None, then_args=None) -> None:
        self._queue("ban", chat, then, then_args, chat=chat, user=user, until=until, revoke_messages=revoke_messages)

    async def unban(self, chat: ChatRef, user: UserRef, *, then=None, then_args=None) -> None:
        self._queue("unban", chat, then, then_args, chat=chat, user=user)

    async def ban_sender_chat(self, chat: ChatRef, sender_chat: ChatRef, *, then=None, then_args=None) -> None:
        self._queue("ban_sender_chat", chat, then, then_args, chat=chat, sender_chat=sender_chat)

    async def unban_sender_chat(self, chat: ChatRef, sender_chat: ChatRef, *, then=None, then_args=None) -> None:
        self._queue("unban_sender_chat", chat, then, then_args, chat=chat, sender_chat=sender_chat)

    async def answer_button(self, callback_id: str, text: str | None = None, *, alert: bool = False,
                            chat: ChatRef | None = None, then=None, then_args=None) -> None:
        self._queue("answer_button", chat, then, then_args, callback_id=callback_id, text=text, alert=alert)

    async def approve_join(self, chat: ChatRef, user: UserRef, *, then=None, then_args=None) -> None:
        self._queue("approve_join", chat, then, then_args, chat=chat, user=user)

    async def decline_join(self, chat: ChatRef, user: UserRef, *, then=None, then_args=None) -> None:
        self._queue("decline_join", chat, then, then_args, chat=chat, user=user)


class Actions:
    """The actions of one transaction, in the order they were queued."""

    def __init__(self, app: "AppServices", depth: int = 0):
        self.app = app
        self.items: list[Action] = []
        self.depth = depth  # follow-ups of follow-ups stop somewhere
        self._queues: dict[str, ActionQueue] = {}
        self._after: list[Callable[[], Any]] = []  # in-memory steps once the transaction committed (metrics)
        self._undo: list[Callable[[], Any]] = []  # in-memory steps if it rolled back instead

    def platform(self, name: str) -> ActionQueue:
        queue = self._queues.get(name)
        if queue is None:
            queue = self._queues[name] = ActionQueue(self, self.app.platforms[name])
        return queue

    def notify_admins(self, chat: ChatRef, text: str, admins: list[str], *, then: str | None = None,
                      then_args: dict | None = None) -> None:
        """DM the group's admins (or say it in the group when no DM arrives), after commit."""
        self.items.append(Action(chat.platform, "notify_admins", chat, {"chat": chat, "text": text, "admins": sorted(admins)},
                                 then, dict(then_args or {})))

    def after(self, chat: ChatRef, then: str, then_args: dict | None = None) -> None:
        """Run follow-up `then` once every action queued so far has been carried out (and their
        follow-ups have run): e.g. one notice naming only the removals that went through."""
        if then not in FOLLOW_UPS:
            raise KeyError(f"unknown follow-up {then!r}")
        self.items.append(Action(chat.platform, "noop", chat, {}, then, dict(then_args or {})))

    def after_commit(self, fn: Callable[[], Any]) -> None:
        """Run `fn()` (no I/O: a metric, an in-memory note) when `carry_out` starts, i.e. once the
        transaction has committed; a rolled-back transaction (a handler failed) drops it."""
        self._after.append(fn)

    def if_rolled_back(self, fn: Callable[[], Any]) -> None:
        """Run `fn()` (no I/O) if the transaction does not commit (`rolled_back` is called)."""
        self._undo.append(fn)

    def rolled_back(self) -> None:
        undo, self._undo, self._after, self.items = self._undo, [], [], []
        for fn in undo:
            fn()

    async def persist(self, session: "AsyncSession") -> None:
        """Write the queue to the outbox in the caller's (still open) transaction."""
        if not self.items:
            return
        from storage import intake_repo

        now = self.app.clock.now()
        ids = await intake_repo.queue_actions(session, [
            {"platform": a.platform, "chat_key": a.chat.key if a.chat else f"{a.platform}:-", "method": a.method,
             "args": encode(a.args), "state": "queued", "follow_up": a.follow_up, "follow_up_args": a.follow_up_args,
             "created_at": now, "updated_at": now}
            for a in self.items
        ])
        for action, action_id in zip(self.items, ids):
            action.id = action_id
        # Ours until carried out: recovery leaves them alone (and a rolled-back transaction's ids
        # never become rows, so holding them does no harm).
        self.app.outbox.own(ids)

    async def carry_out(self) -> list[Outcome]:
        """After commit: each action in order, its state recorded, its follow-up run."""
        after, self._after, self._undo = self._after, [], []
        for fn in after:
            try:
                fn()
            except Exception:
                log.exception("after-commit step failed")
        outcomes = []
        for action in self.items:
            outcomes.append(await self.app.outbox.perform(action, depth=self.depth))
        self.items = []
        return outcomes


class Outbox:
    """Carries out committed actions (see the module docstring) and recovers what a crash left."""

    def __init__(self, app: "AppServices", scope_for: "ScopeLoader"):
        self.app = app
        self.scope_for = scope_for  # bot.stored_scope.stored_group: where a follow-up runs
        self._in_flight: set[int] = set()  # rows this process has queued and not yet carried out
        self._uncertain_told: dict[str, datetime] = {}  # chat key → when its admins last heard

    def own(self, ids: list[int]) -> None:
        self._in_flight.update(ids)

    async def perform(self, action: Action, *, depth: int = 0) -> Outcome:
        if action.id is not None:
            self._in_flight.add(action.id)
        try:
            outcome = await self._call(action)
            if action.method != "noop":
                metrics.ACTIONS.labels(platform=action.platform, method=action.method,
                                       outcome="done" if outcome.ok else ("uncertain" if outcome.uncertain else "failed")).inc()
            await self._settle(action, outcome, depth)
            if outcome.uncertain and action.chat is not None:
                await self._tell_uncertain(action.chat.key)
            return outcome
        finally:
            if action.id is not None:
                self._in_flight.discard(action.id)

    async def _call(self, action: Action) -> Outcome:
        app = self.app
        platform = app.platforms.get(action.platform)
        if platform is None:
            return Outcome(False, reason="other", detail=f"platform {action.platform} is not running")
        args = dict(action.args)
        token = None
        if action.once and action.id is not None:
            token = wire.about_to_send.set(self._mark_sending_hook(action.id))
        try:
            if action.method == "noop":
                return Outcome(True)
            if action.method == "notify_admins":
                await app.notify_admins(args["chat"], args["text"], set(args["admins"]))
                return Outcome(True)
            result = await getattr(platform, action.method)(**args)
        except ActionUncertain as exc:
            log.warning("%s in %s may or may not have arrived: %s", action.method, action.chat.key if action.chat else "-", exc.detail)
            return Outcome(False, reason="uncertain", detail=exc.detail)
        except ActionFailed as exc:
            return Outcome(False, reason=exc.reason, detail=exc.detail, right=exc.right,
                           admins_told=bool(getattr(exc, "admins_told", False)))
        except CapabilityMissing as exc:
            return Outcome(False, reason="capability", detail=str(exc))
        except Exception as exc:  # an adapter bug must not lose the rest of the queue
            log.exception("%s on %s failed", action.method, action.platform)
            return Outcome(False, reason="other", detail=type(exc).__name__)
        finally:
            if token is not None:
                wire.about_to_send.reset(token)
        message_id = result.message_id if isinstance(result, SentMessage) else None
        return Outcome(True, message_id=message_id or None)

    async def _tell_uncertain(self, chat_key: str) -> None:
        """A send timed out after it left: not repeated, so the admins are asked to check."""
        now = self.app.clock.now()
        last = self._uncertain_told.get(chat_key)
        if last is not None and now - last < UNCERTAIN_NOTE_EVERY:
            return
        self._uncertain_told[chat_key] = now
        try:
            await self.app.report_uncertain(chat_key, 1)
        except Exception:
            log.exception("telling the admins of %s about an uncertain send failed", chat_key)

    def _mark_sending_hook(self, action_id: int):
        async def mark_sending() -> None:
            from storage import intake_repo

            async with self.app.sessions() as session, session.begin():
                await intake_repo.set_action_state(session, action_id, "sending", self.app.clock.now(), only_from="queued")

        return mark_sending

    async def _settle(self, action: Action, outcome: Outcome, depth: int) -> None:
        if action.id is None and action.follow_up is None:
            return
        from storage import intake_repo

        state = "done" if outcome.ok else ("uncertain" if outcome.uncertain else "failed")
        result = outcome.message_id if outcome.ok else f"{outcome.reason}: {outcome.detail}"
        follow = FOLLOW_UPS.get(action.follow_up) if action.follow_up else None
        if action.follow_up and follow is None:
            log.error("follow-up %s of %s is not registered", action.follow_up, action.method)
        more = Actions(self.app, depth + 1)
        try:
            async with self.app.sessions() as session, session.begin():
                if action.id is not None:
                    await intake_repo.set_action_state(session, action.id, state, self.app.clock.now(), result)
                if follow is not None and action.chat is not None and depth < 4:
                    scope = await self.scope_for(self.app, session, action.chat, more)
                    if scope is not None:
                        await follow(scope, outcome, decode(action.follow_up_args))
                        await more.persist(session)
        except Exception:
            # The action happened; only its record or follow-up is lost. A recovered row is re-run
            # only if idempotent (see recover), so nothing is sent twice.
            log.exception("recording %s (%s) failed", action.method, state)
            return
        await more.carry_out()

    async def _came_back(self, action: Action, queued_at: datetime) -> bool:
        """A removal left by a crash is carried out only if the member has not joined again since:
        a kick re-run hours later must not remove someone the admins let back in."""
        from storage import core_repo

        chat, user = action.args.get("chat"), action.args.get("user")
        if not isinstance(chat, ChatRef) or not isinstance(user, UserRef):
            return False
        async with self.app.sessions() as session:
            row = await core_repo.get_chat(session, chat.platform, chat.id)
            member = await core_repo.get_member(session, row.id, user.id) if row is not None else None
        return member is not None and member.status == "active" and member.joined_at is not None and member.joined_at > queued_at

    async def recover(self) -> int:
        """Carry out what a previous run (or a process that died) left: `queued` rows run now (they
        never left); `sending` rows become `uncertain` and the admins of those chats are told."""
        from storage import intake_repo

        cutoff = self.app.clock.now() - RECOVER_AFTER
        async with self.app.sessions() as session:
            rows = [r for r in await intake_repo.unfinished_actions(session)
                    if r.id not in self._in_flight and (r.updated_at <= cutoff or not self.app.started)]
        uncertain: dict[str, list[str]] = {}
        done = 0
        for row in rows:
            chat = decode(row.args).get("chat") if isinstance(row.args, dict) else None
            if row.state == "sending":
                async with self.app.sessions() as session, session.begin():
                    if await intake_repo.set_action_state(session, row.id, "uncertain", self.app.clock.now(),
                                                          "interrupted while sending", only_from="sending"):
                        uncertain.setdefault(row.chat_key, []).append(row.method)
                continue
            action = Action(row.platform, row.method, chat if isinstance(chat, ChatRef) else None, decode(row.args),
                            row.follow_up, dict(row.follow_up_args or {}), id=row.id)
            if row.method in REMOVALS and await self._came_back(action, row.created_at):
                async with self.app.sessions() as session, session.begin():
                    await intake_repo.set_action_state(session, row.id, "failed", self.app.clock.now(),
                                                       "skipped: the member joined again after it was queued")
                continue
            await self.perform(action)
            done += 1
        for chat_key, methods in uncertain.items():
            await self.app.report_uncertain(chat_key, len(methods))
        return done

