"""Durable intake: an update is stored before the platform is told it arrived, and handled from there.

An adapter, for each raw update it receives:

    entry = await app.intake.receive("telegram", str(update_id), raw_json_dict)
    if entry is None: ...                 # received before (a redelivery): acknowledge, do nothing
    # now acknowledge it to the platform (advance the getUpdates offset, answer the webhook / callback)
    events = translate(entry.payload)     # an unparseable update: log it, count it, events = []
    await app.intake.handle(entry, events)

`receive` raises IntakeUnavailable when the database cannot store the update: the adapter must then
NOT acknowledge it (keep the getUpdates offset, answer the webhook 503) so the platform sends it again.
`handle` dispatches the events in order; the last one marks the inbox row done in its own transaction
(an update with no events is marked done on its own). When the database fails (locked, full,
read-only, unreachable) the event is retried with backoff until it succeeds — never dropped; the
admins of the chat are told once when the outage starts and once when it is over. Events of an
update already partly handled are de-duplicated, so a retry never runs one twice.

`pending(platform)` lists what a previous run received and did not finish; an adapter handles those
at start, before it fetches anything new. Guarantee: every stored update is handled at least once and
its effects are committed exactly once (the inbox row and the event's writes share a transaction).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot import metrics
from bot.dispatch import DispatchResult, IntakeMark
from bot.events import ChatRef, Event
from bot.i18n import t
from bot.platform import ActionFailed, CapabilityMissing
from storage import intake_repo

if TYPE_CHECKING:
    from bot.ports import AppServices

log = logging.getLogger(__name__)

# Errors that mean "the database cannot do it now", as opposed to a bug in a handler.
# (PoolTimeout: no pooled connection came free in time.)
DATABASE_ERRORS = (OperationalError, DBAPIError, PoolTimeout, OSError)


# Seconds a failure to store an update keeps the intake "in an outage" for /readyz without a new one.
STORE_FAILURE_MEMORY = 60.0


class IntakeUnavailable(Exception):
    """The update could not be stored; do not acknowledge it to the platform."""


@dataclass(frozen=True)
class InboxItem:
    id: int
    platform: str
    key: str
    payload: dict[str, Any]


class Intake:
    def __init__(self, app: "AppServices"):
        self.app = app
        self.initial_backoff = app.config.database.retry_initial_seconds
        self.max_backoff = app.config.database.retry_max_seconds
        self._outage_since: float | None = None
        self._outage_chats: dict[str, ChatRef] = {}
        self._held = 0
        self._store_failing: str | None = None  # why the last receive could not store, until one can
        self._store_failed_at = 0.0
        self._outage_reason: str | None = None
        self.stopping = False

    @property
    def outage(self) -> str | None:
        """Why the database is failing the intake now (storing or handling), or None (for /readyz)."""
        if self._outage_since is not None:
            return self._outage_reason or "failing"
        # A platform redelivers what could not be stored (getUpdates within 30 s); with nothing
        # redelivered for a while (WeCom gives up after 3 tries) a stale failure no longer counts.
        if self._store_failing is not None and time.monotonic() - self._store_failed_at < STORE_FAILURE_MEMORY:
            return self._store_failing
        return None

    # --- in ----------------------------------------------------------------------------------
    async def receive(self, platform: str, key: str, payload: dict[str, Any]) -> InboxItem | None:
        return (await self.receive_many(platform, [(key, payload)]))[0]

    async def receive_many(self, platform: str, updates: list[tuple[str, dict[str, Any]]]) -> list[InboxItem | None]:
        """Store a batch of (key, payload) in one transaction (a getUpdates answer): all or none.
        None in place of an update received before."""
        texts = [(key, json.dumps(payload, ensure_ascii=False, separators=(",", ":"))) for key, payload in updates]
        now = self.app.clock.now()
        try:
            async with self.app.sessions() as session, session.begin():
                ids = await intake_repo.store_updates(session, platform, texts, now)
        except DATABASE_ERRORS as exc:
            # Once when storing starts failing (the platform redelivers; every retry would be a line).
            keys = ", ".join(key for key, _ in updates[:3]) + (" …" if len(updates) > 3 else "")
            log.log(logging.WARNING if self._store_failing is None else logging.DEBUG,
                    "intake: cannot store %s update %s (%s); it is not acknowledged", platform, keys, _short(exc))
            metrics.INTAKE_UNAVAILABLE.labels(platform=platform).inc()
            self._store_failing, self._store_failed_at = _public_reason(exc), time.monotonic()
            raise IntakeUnavailable(_short(exc)) from None
        if self._store_failing is not None:
            log.warning("intake: updates can be stored again")
            self._store_failing = None
        items: list[InboxItem | None] = []
        for (key, payload), entry_id in zip(updates, ids):
            if entry_id is None:
                items.append(None)
                continue
            metrics.UPDATES_RECEIVED.labels(platform=platform).inc()
            items.append(InboxItem(entry_id, platform, key, payload))
        return items

    async def pending(self, platform: str) -> list[InboxItem]:
        async with self.app.sessions() as session:
            rows = await intake_repo.pending_updates(session, platform)
        return [InboxItem(r.id, r.platform, r.key, json.loads(r.payload)) for r in rows]

    # --- handling ----------------------------------------------------------------------------
    async def handle(self, item: InboxItem, events: list[Event]) -> list[DispatchResult]:
        if not events:
            await self._retrying(item, None, lambda: self._mark_done(item.id))
            metrics.UPDATES_HANDLED.labels(platform=item.platform).inc()
            return []
        results = []
        for index, event in enumerate(events):
            mark = IntakeMark(item.id, index, len(events))
            results.append(await self._retrying(item, event, lambda e=event, m=mark: self.app.dispatch(e, intake=m)))
        metrics.UPDATES_HANDLED.labels(platform=item.platform).inc()
        return results

    async def _mark_done(self, entry_id: int) -> None:
        async with self.app.sessions() as session, session.begin():
            await intake_repo.mark_done(session, entry_id, self.app.clock.now())

    async def _retrying(self, item: InboxItem, event: Event | None, attempt) -> Any:
        delay = self.initial_backoff
        tries = 0
        while True:
            try:
                result = await attempt()
            except DATABASE_ERRORS as exc:
                tries += 1
                metrics.UPDATES_FAILED.labels(platform=item.platform).inc()
                if self.stopping:
                    raise
                await self._outage(event, exc, tries, item)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff)
                continue
            if self._outage_since is not None:
                await self._recovered()
            return result

    async def _outage(self, event: Event | None, exc: BaseException, tries: int, item: InboxItem) -> None:
        reason = _short(exc)
        first = self._outage_since is None
        self._outage_reason = _public_reason(exc)
        if first:
            self._outage_since = time.monotonic()
            log.warning("intake: the database is failing (%s); %s update %s is held and retried", reason, item.platform, item.key)
        elif tries % 10 == 0:
            log.warning("intake: still failing after %d tries (%s)", tries, reason)
        self._held += 1 if tries == 1 else 0
        if event is not None and event.chat.key not in self._outage_chats and not event.chat.private:
            self._outage_chats[event.chat.key] = event.chat
            await self._tell(event.chat, "core.db_down", reason=_public_reason(exc))

    async def _recovered(self) -> None:
        seconds = int(time.monotonic() - (self._outage_since or time.monotonic()))
        chats, count = list(self._outage_chats.values()), self._held
        self._outage_since, self._outage_chats, self._held = None, {}, 0
        log.warning("intake: the database is back after %d s; %d held updates handled", seconds, count)
        for chat in chats:
            await self._tell(chat, "core.db_back", count=count, seconds=seconds)

    async def _tell(self, chat: ChatRef, key: str, **values: Any) -> None:
        """Straight to the platform: the database is what is failing (settings from the file only)."""
        settings = self.app.config.group_settings(chat.key, None)
        try:
            await self.app.notify_admins(chat, t(settings.language, key, **values), settings)
        except (ActionFailed, CapabilityMissing) as exc:
            log.warning("intake: could not tell the admins of %s: %s", chat.key, exc)
        except Exception:
            log.exception("intake: telling the admins of %s failed", chat.key)


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


def _public_reason(exc: BaseException) -> str:
    """What the admins may read: the kind of failure, never a URL or a path."""
    text = _short(exc).lower()
    for marker, said in (("locked", "database is locked"), ("full", "disk full"), ("readonly", "read-only"),
                         ("read-only", "read-only"), ("connect", "connection refused"), ("permission", "permission denied")):
        if marker in text:
            return said
    return type(getattr(exc, "orig", None) or exc).__name__
