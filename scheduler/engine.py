"""The column engine: finds due column slots and campaign steps in the database, claims each post
with a unique (source, chat, slot) row committed before sending, and fans out concurrently through
each platform's own paced send path.

Exactly-once, as far as a chat platform allows (see the README's columns section):
claimed → sending → sent | failed | unknown. A row is inserted `claimed` (ON CONFLICT DO NOTHING:
one instance wins each group); `sending` is a compare-and-set committed at the moment the request
leaves (the adapter awaits `bot.wire.mark()` after its rate limiter's wait); a send the platform
may have got (`ActionUncertain`) is `unknown` at once; so
- a crash before `sending` (a post still waiting in the limiter included): the claim expires after
  [columns] claim_lease_seconds and any instance takes it over (again by compare-and-set) and
  posts it, if still within the grace window;
- a crash between `sending` and `sent`: nobody can know whether the platform got it; after
  [columns] stale_send_minutes the row becomes `unknown` and the admins are told. It is never
  re-sent (a duplicate morning post in 300 groups is worse than one missing one, and the admins
  can post by hand). Only the sends in flight at the moment of the crash can end up like this.
Cancelling a tick (graceful stop) lets the sends already started finish and record their state.
No platform call is made while a write transaction is open: claims commit before the fan-out,
each `sending` flip commits before its request, and notes go after their key is committed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
import weakref
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from bot import wire
from bot.events import ChatRef, UserRef
from bot.i18n import t
from bot.platform import ActionFailed, ActionUncertain, Capability, CapabilityMissing
from handlers.columns import texts  # noqa: F401  (registers the texts)
from handlers.columns.settings import CampaignDef, ColumnDef, parse_hhmm
from scheduler import notes, sources
from scheduler.sources import Content, ContentProblem
from storage import columns_repo as repo
from storage import core_repo
from storage.models import Chat

if TYPE_CHECKING:
    from bot.ports import AppServices
    from bot.config import GroupSettings
    from storage.columns_models import ColumnPost, ColumnState

log = logging.getLogger(__name__)
UTC = timezone.utc
FINAL = ("sent", "failed", "skipped", "unknown")


def slot_key(slot_at: datetime) -> str:
    return slot_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


@lru_cache(maxsize=1024)
def _triggers(cron: str | None, times: tuple[str, ...], days: str | None, tz: str) -> tuple[CronTrigger, ...]:
    if cron:
        return (CronTrigger.from_crontab(cron, timezone=tz),)
    out = []
    for item in times:
        h, m = parse_hhmm(item)
        out.append(CronTrigger(hour=h, minute=m, day_of_week=days if days else None, timezone=tz))
    return tuple(out)


def triggers_of(spec: ColumnDef, tz: str) -> tuple[CronTrigger, ...]:
    return _triggers(spec.cron, tuple(spec.times), spec.days, tz)


def fire_times(spec: ColumnDef, tz: str, start: datetime, end: datetime) -> list[datetime]:
    """UTC fire times t with start < t <= end."""
    out: set[datetime] = set()
    for trigger in triggers_of(spec, tz):
        cursor = start
        while True:
            fire = trigger.get_next_fire_time(None, cursor)
            if fire is None:
                break
            fire = fire.astimezone(UTC)
            if fire > end:
                break
            if fire > start:
                out.add(fire)
            cursor = fire + timedelta(seconds=1)
    return sorted(out)


def next_fire(spec: ColumnDef, tz: str, after: datetime) -> datetime | None:
    fires = [f for f in (tr.get_next_fire_time(None, after + timedelta(seconds=1)) for tr in triggers_of(spec, tz)) if f]
    return min(f.astimezone(UTC) for f in fires) if fires else None


def describe_schedule(spec: ColumnDef, lang: str) -> str:
    if spec.cron:
        return f"cron {spec.cron}"
    days = f" ({spec.days})" if spec.days else ""
    return ("每天 " if lang == "zh-CN" else "daily ") + ", ".join(spec.times) + days


@dataclass
class Column:
    name: str
    spec: ColumnDef
    origin: str  # "config" | "admin"
    state: "ColumnState | None" = None

    @property
    def title(self) -> str:
        return self.spec.title or self.name

    @property
    def paused(self) -> bool:
        return bool(self.state and self.state.paused) or not self.spec.enabled

    @property
    def first_seen(self) -> datetime | None:
        return self.state.first_seen_at if self.state else None


@dataclass
class Target:
    chat: Chat
    settings: GroupSettings
    tz: str
    paused: bool = False

    @property
    def ref(self) -> ChatRef:
        return ChatRef(self.chat.platform, self.chat.external_id, self.chat.title)

    @property
    def name(self) -> str:
        return self.chat.title or self.chat.external_id


@dataclass
class Job:
    post_id: int
    target: Target
    content: Content


@dataclass
class FanoutReport:
    sent: int = 0
    failed: list[tuple[Target, str]] = field(default_factory=list)
    # Groups whose platform cannot send photos: the text went out without the image.
    without_image: list[Target] = field(default_factory=list)
    # Sends that may or may not have arrived (a timeout after the request left): recorded unknown.
    unknown: list[Target] = field(default_factory=list)


class _NotOurs(Exception):
    """Raised from the about-to-send hook when this instance no longer owns the claim."""



_ENGINES: "weakref.WeakKeyDictionary[Any, ColumnEngine]" = weakref.WeakKeyDictionary()


def engine_for(app: "AppServices") -> "ColumnEngine":
    engine = _ENGINES.get(app)
    if engine is None:
        engine = _ENGINES[app] = ColumnEngine(app)
    return engine


class ColumnEngine:
    def __init__(self, app: "AppServices"):
        self.app = app
        self.owner = f"{socket.gethostname()[:24]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._inflight: set[asyncio.Task] = set()
        self._logged: set[str] = set()
        self.next_wakeup: datetime | None = None

    @property
    def cfg(self):
        return self.app.config.columns

    def _log_once(self, key: str, message: str, *args) -> None:
        if key not in self._logged:
            self._logged.add(key)
            log.warning(message, *args)

    # --- what exists -----------------------------------------------------------------------
    async def columns(self, session=None) -> list[Column]:
        """Config columns and columns made by /column new, with their run-time state."""
        if session is None:
            async with self.app.sessions() as own, own.begin():
                return await self.columns(own)
        now = self.app.clock.now()
        states = await repo.ensure_states(session, list(self.cfg.column), now)
        out = [Column(name, spec, "config", states.get(name)) for name, spec in self.cfg.column.items()]
        for name, state in sorted(states.items()):
            if state.definition and name not in self.cfg.column:
                try:
                    spec = ColumnDef.model_validate(state.definition)
                except ValueError as exc:
                    self._log_once(f"def:{name}", "stored column %s is invalid: %s", name, exc)
                    continue
                out.append(Column(name, spec, "admin", state))
        return out

    async def column(self, name: str, session=None) -> Column | None:
        return next((c for c in await self.columns(session) if c.name == name), None)

    def _settings(self, key: str, stored: dict | None, cache: dict) -> "GroupSettings":
        """Group settings, validated once per distinct (config override, stored override)."""
        import json

        memo = cache.setdefault("settings", {})
        ident = (key if key in self.app.config.groups else "", json.dumps(stored, sort_keys=True, default=str) if stored else "")
        if ident not in memo:
            memo[ident] = self.app.config.group_settings(key, stored)
        return memo[ident]

    async def _chats(self, session, cache: dict) -> tuple[dict[str, Chat], dict[int, dict]]:
        """Every known chat by key, and the stored settings overrides by chat id (two queries)."""
        if "chats" not in cache:
            chats = {chat.key: chat for chat in await core_repo.list_chats(session)}
            cache["chats"] = chats
            cache["stored"] = await repo.stored_overrides_all(session)
        return cache["chats"], cache["stored"]

    async def targets(self, column: Column, *, cache: dict | None = None) -> list[Target]:
        """The groups a column posts to (platform enabled here), with their settings and time zone."""
        cache = {} if cache is None else cache
        if ("targets", column.name) in cache:
            return cache[("targets", column.name)]
        now = self.app.clock.now()
        keys = list(dict.fromkeys(column.spec.groups))
        async with self.app.sessions() as session, session.begin():
            chats, stored = await self._chats(session, cache)
            if column.spec.tags:
                # Groups named in the config get a chat row so a tag can target them before they speak.
                for key in self.app.config.groups:
                    platform, _, chat_id = key.partition(":")
                    if platform in self.app.platforms and key not in chats:
                        chats[key] = await core_repo.ensure_chat(session, ChatRef(platform, chat_id), now)
                wanted = set(column.spec.tags)
                for key, chat in chats.items():
                    if key not in keys and wanted & set(self._settings(key, stored.get(chat.id), cache).columns.tags):
                        keys.append(key)
            if "pauses" not in cache:
                cache["pauses"] = await repo.group_pauses(session)
            out: list[Target] = []
            for key in keys:
                platform, _, chat_id = key.partition(":")
                if platform not in self.app.platforms:
                    self._log_once(f"platform:{column.name}:{platform}", "column %s targets %s but platform %s is not enabled", column.name, key, platform)
                    continue
                chat = chats.get(key)
                if chat is None:
                    chat = chats[key] = await core_repo.ensure_chat(session, ChatRef(platform, chat_id), now)
                settings = self._settings(key, stored.get(chat.id), cache)
                paused = (not settings.columns.enabled) or (column.name, chat.id) in cache["pauses"]
                out.append(Target(chat, settings, column.spec.timezone or settings.timezone, paused))
        cache[("targets", column.name)] = out
        return out

    # --- the tick --------------------------------------------------------------------------
    async def tick(self) -> None:
        now = self.app.clock.now()
        cache: dict = {}
        columns = await self.columns()
        for column in columns:
            try:
                await self._run_column(column, now, cache)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("column %s failed this tick", column.name)
        try:
            await self._run_campaigns(now)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("campaigns failed this tick")
        try:
            await self._report_interrupted(now)
            await self._look_ahead(columns, now, cache)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("columns housekeeping failed this tick")
        await self._arm_wakeup(columns, now, cache)

    def _grace(self, minutes: int | None) -> timedelta:
        return timedelta(minutes=self.cfg.grace_minutes if minutes is None else minutes)

    async def _run_column(self, column: Column, now: datetime, cache: dict) -> None:
        grace = self._grace(column.spec.grace_minutes)
        start = now - max(grace, timedelta(hours=24))
        targets = await self.targets(column, cache=cache)
        by_tz: dict[str, list[Target]] = {}
        for target in targets:
            by_tz.setdefault(target.tz, []).append(target)
        for tz, group in by_tz.items():
            for slot_at in fire_times(column.spec, tz, start, now):
                await self._run_slot(column, slot_at, group, now, grace)

    async def _run_slot(self, column: Column, slot_at: datetime, targets: list[Target], now: datetime, grace: timedelta) -> None:
        slot = slot_key(slot_at)
        lease = timedelta(seconds=self.cfg.claim_lease_seconds)
        async with self.app.sessions() as session:
            rows = {r.chat_id: r for r in await repo.posts_of_slot(session, column.name, slot)}
        fresh = [t for t in targets if t.chat.id not in rows]
        expired = [t for t in targets if t.chat.id in rows and rows[t.chat.id].status == "claimed" and rows[t.chat.id].claimed_at < now - lease]
        if not fresh and not expired:
            return
        paused = [t for t in fresh if t.paused or column.paused]
        fresh = [t for t in fresh if not (t.paused or column.paused)]
        if paused:
            async with self.app.sessions() as session, session.begin():
                await repo.insert_posts(session, column.name, slot, slot_at, [t.chat.id for t in paused], status="skipped", owner=None, now=now, detail="paused")
        if now - slot_at > grace:
            await self._skip_late(column, slot_at, fresh, expired, rows, now)
            return
        shared: dict[str, Any] = {}
        contents: dict[int, Content] = {}
        problems: dict[str, list[tuple[Target, ContentProblem]]] = {}
        for target in fresh + expired:
            try:
                contents[target.chat.id] = await self._content(column, target, slot_at, shared)
            except ContentProblem as problem:
                problems.setdefault(problem.kind, []).append((target, problem))
        for kind, items in problems.items():
            if kind == "nothing_new":
                async with self.app.sessions() as session, session.begin():
                    await repo.insert_posts(session, column.name, slot, slot_at, [t.chat.id for t, _ in items], status="skipped", owner=None, now=now, detail=items[0][1].detail)
                continue
            await self._notify_column(
                column, [t for t, _ in items], f"problem|{column.name}|{slot}|{kind}",
                f"columns.problem.{kind}", title=column.title, slot=self._slot_text(slot_at, items[0][0]),
                detail=items[0][1].detail, count=len(items),
            )
        jobs: list[Job] = []
        async with self.app.sessions() as session, session.begin():
            claim = [t for t in fresh if t.chat.id in contents]
            by_chat = {t.chat.id: t for t in claim}
            for post_id, chat_id in await repo.insert_posts(session, column.name, slot, slot_at, list(by_chat), status="claimed", owner=self.owner, now=now):
                jobs.append(Job(post_id, by_chat[chat_id], contents[chat_id]))
            for target in expired:
                if target.chat.id in contents and await repo.take_over(session, rows[target.chat.id], self.owner, now):
                    jobs.append(Job(rows[target.chat.id].id, target, contents[target.chat.id]))
        if jobs:
            report = await self.fan_out(jobs)
            if report.failed:
                await self._notify_failed(column.title, column, slot_at, report.failed)
            if report.unknown:
                await self._notify_unknown(column.name, column.title, slot, self._slot_text(slot_at, report.unknown[0]),
                                           report.unknown, "columns.note.uncertain")
            if report.without_image:
                await self._notify_admins_of(
                    report.without_image, f"noimage|{column.name}|{slot}", "columns.note.without_image",
                    listed="groups", title=column.title, slot=self._slot_text(slot_at, report.without_image[0]),
                )

    async def _skip_late(self, column: Column, slot_at: datetime, fresh: list[Target], expired: list[Target], rows: dict, now: datetime) -> None:
        slot = slot_key(slot_at)
        horizon = column.first_seen
        quiet = [t for t in fresh if (horizon and slot_at < horizon) or slot_at < t.chat.created_at]
        loud = [t for t in fresh if t not in quiet]
        noted: list[Target] = []
        async with self.app.sessions() as session, session.begin():
            await repo.insert_posts(session, column.name, slot, slot_at, [t.chat.id for t in quiet], status="skipped", owner=None, now=now, detail="before the column or group was known")
            inserted = await repo.insert_posts(session, column.name, slot, slot_at, [t.chat.id for t in loud], status="skipped", owner=None, now=now, detail="missed: beyond the grace window")
            ids = {chat_id for _, chat_id in inserted}
            noted += [t for t in loud if t.chat.id in ids]
            for target in expired:
                if await repo.skip_claim(session, rows[target.chat.id], now, "claimed but not sent within the grace window"):
                    noted.append(target)
        if noted:
            grace = int(self._grace(column.spec.grace_minutes).total_seconds() // 60)
            await self._notify_column(
                column, noted, f"skipped|{column.name}|{slot}|{now:%Y%m%d%H%M%S}", "columns.note.skipped",
                listed="groups", title=column.title, slot=self._slot_text(slot_at, noted[0]), grace=grace,
            )

    # --- content ---------------------------------------------------------------------------
    def _custom_template(self, column: Column) -> str | None:
        if column.state and column.state.template:
            return column.state.template
        if column.spec.template:
            return column.spec.template
        if column.spec.template_file:
            path = self.app.config.resolve_path(column.spec.template_file)
            try:
                return path.read_text(encoding="utf-8")
            except OSError as exc:
                raise ContentProblem("template", f"template_file {path} cannot be read: {exc.strerror}") from None
        return None

    async def _content(self, column: Column, target: Target, slot_at: datetime, shared: dict[str, Any], *, preview: bool = False, session=None) -> Content:
        spec = column.spec
        lang = target.settings.language
        local = slot_at.astimezone(ZoneInfo(target.tz))
        values: dict[str, Any] = {
            "title": column.title,
            "name": column.name,
            "group": target.name,
            "date": local.date().isoformat(),
            "time": local.strftime("%H:%M"),
            "date_text": sources.date_text(local.date(), lang),
            "weekday": sources.WEEKDAYS.get(lang, sources.WEEKDAYS["zh-CN"])[local.weekday()],
            "language": lang,
        }
        image: bytes | None = None
        custom = self._custom_template(column)
        if spec.source == "morning":
            memo_key = ("morning", local.isoformat(), lang)
            if memo_key not in shared:
                shared[memo_key] = sources.morning_values(local, lang, spec.lines)
            values.update(shared[memo_key])
        elif spec.source == "evening":
            if session is not None:
                values.update(await sources.evening_values(session, target.chat.id, local.date()))
            else:
                async with self.app.sessions() as own:
                    values.update(await sources.evening_values(own, target.chat.id, local.date()))
        elif spec.source == "calendar":
            path = self.app.config.resolve_path(spec.path or "")
            entry = sources.calendar_entry(path, local)
            if entry is None:
                raise ContentProblem("missing_entry", sources.expected_entry_hint(path, local))
            values["text"] = entry.text
            if entry.image_path is not None:
                image = sources.load_image(entry.image_path)
        elif spec.source == "queue":
            if preview:
                pending = await repo.pending_items(session, column.name, limit=1)
                item_text = pending[0].text if pending else None
            else:
                if "item" not in shared:
                    async with self.app.sessions() as session, session.begin():
                        item = await repo.item_for_slot(session, column.name, slot_key(slot_at), self.app.clock.now())
                    shared["item"] = item.text if item else None
                item_text = shared["item"]
            if item_text is None:
                raise ContentProblem("empty_queue", f"/column add {column.name} …")
            values["text"] = item_text
        elif spec.source == "feed":
            if "feed" not in shared:
                try:
                    shared["feed"] = await sources.fetch_feed(spec.url or "", self.cfg.feed_timeout_seconds)
                except ContentProblem as problem:
                    shared["feed"] = problem
            feed = shared["feed"]
            if isinstance(feed, ContentProblem):
                raise feed
            since = None
            if not preview:
                earlier = fire_times(spec, target.tz, slot_at - timedelta(days=35), slot_at - timedelta(seconds=1))
                since = earlier[-1] if earlier else None
            items = sources.feed_digest_items(feed, since, spec.max_items)
            if not items:
                raise ContentProblem("nothing_new", f"{spec.url}: nothing new since the last post")
            values.update(items=items, feed_title=feed.title)
        text = sources.render_template(sources.template_for(spec.source, lang, custom), values, f"column {column.name}")
        return Content(text, image)

    # --- sending ---------------------------------------------------------------------------
    async def fan_out(self, jobs: list[Job]) -> FanoutReport:
        """Send every job, `fanout_concurrency` at a time; each platform paces its own sends.
        Cancelling this lets the sends already started finish and record their outcome."""
        report = FanoutReport()
        semaphore = asyncio.Semaphore(self.cfg.fanout_concurrency)

        async def one(job: Job) -> None:
            async with semaphore:
                task = asyncio.ensure_future(self._deliver(job, report))
                self._inflight.add(task)
                task.add_done_callback(self._inflight.discard)
                await asyncio.shield(task)

        await asyncio.gather(*(one(job) for job in jobs))
        return report

    async def _deliver(self, job: Job, report: FanoutReport) -> None:
        """One post: `claimed → sending` is committed at the moment the request leaves (the adapter
        awaits `bot.wire.mark()` after its rate limiter's wait), so a post still queued in the
        limiter when the process dies stays `claimed` and is taken over later; then `sent`,
        `failed`, or — when the request may have arrived (ActionUncertain) — `unknown`."""
        platform = self.app.platforms[job.target.chat.platform]

        async def about_to_send() -> None:
            async with self.app.sessions() as session, session.begin():
                ours = await repo.start_sending(session, job.post_id, self.owner, self.app.clock.now())
            if not ours:
                raise _NotOurs()  # taken over by another instance meanwhile: this request must not leave

        token = wire.about_to_send.set(about_to_send)  # every adapter awaits wire.mark() as the request leaves
        try:
            message_id = await self.send(job.target, job.content)
            if job.content.image is not None and not platform.can(Capability.SEND_PHOTO):
                report.without_image.append(job.target)
        except _NotOurs:
            return
        except ActionUncertain as exc:  # the request left and may have arrived: never sent again
            detail = f"uncertain: {exc.detail or exc}"[:500]
            log.warning("column post to %s may or may not have arrived: %s", job.target.chat.key, detail)
            async with self.app.sessions() as session, session.begin():
                await repo.finish(session, job.post_id, "unknown", self.app.clock.now(), detail=detail)
            report.unknown.append(job.target)
            return
        except Exception as exc:  # the platform refused or failed: recorded and reported, never retried blindly
            reason = exc.reason if isinstance(exc, ActionFailed) else type(exc).__name__
            detail = f"{reason}: {exc}"[:500]
            if not isinstance(exc, (ActionFailed, CapabilityMissing)):
                log.exception("sending a column post to %s failed", job.target.chat.key)
            async with self.app.sessions() as session, session.begin():
                await repo.finish(session, job.post_id, "failed", self.app.clock.now(), detail=detail)
            report.failed.append((job.target, detail))
            return
        finally:
            wire.about_to_send.reset(token)
        async with self.app.sessions() as session, session.begin():
            await repo.finish(session, job.post_id, "sent", self.app.clock.now(), message_id=message_id)
        report.sent += 1

    async def send(self, target: Target, content: Content) -> str:
        platform = self.app.platforms[target.chat.platform]
        ref = target.ref
        if content.image is not None and platform.can(Capability.SEND_PHOTO):
            if len(content.text) <= 1000:
                return (await platform.send_photo(ref, content.image, caption=content.text)).message_id
            await platform.send_photo(ref, content.image)
        return (await platform.send(ref, content.text)).message_id

    async def wait_idle(self) -> None:
        """Wait for sends started by a cancelled tick to finish (shutdown, tests)."""
        while self._inflight:
            await asyncio.gather(*list(self._inflight), return_exceptions=True)

    # --- campaigns -------------------------------------------------------------------------
    def steps_of(self, spec: CampaignDef) -> list[sources.Step]:
        if spec.file:
            return sources.parse_steps_file(self.app.config.resolve_path(spec.file))
        steps = [
            sources.Step(s.day, f"{parse_hhmm(s.time)[0]:02d}:{parse_hhmm(s.time)[1]:02d}", s.text.strip(),
                         self.app.config.resolve_path(s.image) if s.image else None)
            for s in spec.steps
        ]
        return sorted(steps, key=lambda s: s.offset)

    @staticmethod
    def step_due(start: date, step: sources.Step, tz: str) -> datetime:
        h, m = (int(x) for x in step.time.split(":"))
        local = datetime.combine(start + timedelta(days=step.day - 1), time(h, m), tzinfo=ZoneInfo(tz))
        return local.astimezone(UTC)

    async def _run_campaigns(self, now: datetime) -> None:
        async with self.app.sessions() as session:
            runs = await repo.active_runs(session)
        lease = timedelta(seconds=self.cfg.claim_lease_seconds)
        for run in runs:
            async with self.app.sessions() as session:
                chat = await session.get(Chat, run.chat_id)
                stored = await core_repo.stored_overrides(session, run.chat_id)
                rows = {r.slot: r for r in await repo.posts_of(session, f"campaign:{run.id}")}
            if chat is None or chat.platform not in self.app.platforms:
                continue
            settings = self.app.config.group_settings(chat.key, stored)
            target = Target(chat, settings, run.timezone)
            spec = self.cfg.campaign.get(run.campaign)
            if spec is None:
                async with self.app.sessions() as session, session.begin():
                    await repo.set_run_status(session, run.id, "stopped", now)
                await self._notify_group(target, f"campaign-gone|{run.id}", "columns.campaign.removed", name=run.campaign)
                continue
            try:
                steps = self.steps_of(spec)
            except ContentProblem as problem:
                await self._notify_group(target, f"steps|{run.id}|{problem.detail}", "columns.problem.steps", title=spec.title or run.campaign, slot="—", detail=problem.detail, count=1)
                continue
            grace = self._grace(spec.grace_minutes)
            source = f"campaign:{run.id}"
            title = spec.title or run.campaign
            jobs: list[Job] = []
            late: list[tuple[int, datetime]] = []
            for index, step in enumerate(steps, 1):
                due = self.step_due(run.start_date, step, run.timezone)
                slot = f"{slot_key(due)}#{index}"
                row = rows.get(slot)
                expired = row is not None and row.status == "claimed" and row.claimed_at < now - lease
                if (row is not None and not expired) or due > now:
                    continue
                if due < run.started_at - timedelta(minutes=1):
                    async with self.app.sessions() as session, session.begin():
                        await repo.insert_posts(session, source, slot, due, [chat.id], status="skipped", owner=None, now=now, detail="before the campaign started")
                    continue
                if now - due > grace:
                    async with self.app.sessions() as session, session.begin():
                        if expired:
                            done = await repo.skip_claim(session, row, now, "claimed but not sent within the grace window")
                        else:
                            done = bool(await repo.insert_posts(session, source, slot, due, [chat.id], status="skipped", owner=None, now=now, detail="missed: beyond the grace window"))
                    if done:
                        late.append((index, due))
                    continue
                try:
                    values = {"group": target.name, "campaign": title, "day": step.day, "time": step.time, "text": step.text,
                              "date": due.astimezone(ZoneInfo(run.timezone)).date().isoformat()}
                    text = sources.render_template(step.text, values, f"campaign {run.campaign}, Day {step.day} {step.time}") if step.text else ""
                    image = sources.load_image(step.image_path) if step.image_path else None
                except ContentProblem as problem:
                    await self._notify_group(target, f"problem|{source}|{slot}", f"columns.problem.{problem.kind}", title=title,
                                             slot=t(settings.language, "columns.step", day=step.day, time=step.time), detail=problem.detail, count=1)
                    continue
                async with self.app.sessions() as session, session.begin():
                    if expired:
                        if await repo.take_over(session, row, self.owner, now):
                            jobs.append(Job(row.id, target, Content(text, image)))
                    else:
                        for post_id, _ in await repo.insert_posts(session, source, slot, due, [chat.id], status="claimed", owner=self.owner, now=now):
                            jobs.append(Job(post_id, target, Content(text, image)))
            if jobs:
                report = await self.fan_out(jobs)
                if report.failed:
                    await self._notify_group(target, f"failed|{source}|{jobs[0].post_id}", "columns.campaign.failed", name=title, detail=report.failed[0][1])
                if report.unknown:
                    await self._notify_unknown(source, title, f"post{jobs[0].post_id}", "—", report.unknown, "columns.note.uncertain")
                if report.without_image:
                    await self._notify_group(target, f"noimage|{source}|{jobs[0].post_id}", "columns.note.without_image",
                                             listed="groups", title=title, slot="—")
            if late:
                steps_text = ", ".join(t(settings.language, "columns.step", day=steps[i - 1].day, time=steps[i - 1].time) for i, _ in late)
                await self._notify_group(target, f"late|{source}|{late[0][1]:%Y%m%d%H%M}|{now:%Y%m%d%H%M%S}", "columns.campaign.skipped",
                                         name=title, steps=steps_text, grace=int(grace.total_seconds() // 60))
            async with self.app.sessions() as session, session.begin():
                done_rows = [r for r in await repo.posts_of(session, source) if r.status in FINAL]
                if len(done_rows) >= len(steps) and await repo.set_run_status(session, run.id, "finished", now, only_from=("active",)):
                    finished = True
                else:
                    finished = False
            if finished:
                sent = sum(1 for r in done_rows if r.status == "sent")
                await self._notify_group(target, f"finished|{run.id}", "columns.campaign.finished", name=title, sent=sent, total=len(steps))

    async def next_campaign_step(self, run, now: datetime, session=None) -> tuple[datetime, sources.Step] | None:
        spec = self.cfg.campaign.get(run.campaign)
        if spec is None:
            return None
        try:
            steps = self.steps_of(spec)
        except ContentProblem:
            return None
        if session is None:
            async with self.app.sessions() as own:
                done = {r.slot for r in await repo.posts_of(own, f"campaign:{run.id}")}
        else:
            done = {r.slot for r in await repo.posts_of(session, f"campaign:{run.id}")}
        for index, step in enumerate(steps, 1):
            due = self.step_due(run.start_date, step, run.timezone)
            if f"{slot_key(due)}#{index}" not in done and due >= now - self._grace(spec.grace_minutes):
                return due, step
        return None

    # --- crash aftermath, look-ahead, wake-ups ---------------------------------------------------
    async def _report_interrupted(self, now: datetime) -> None:
        cutoff = now - timedelta(minutes=self.cfg.stale_send_minutes)
        async with self.app.sessions() as session:
            stale = await repo.stale_sending(session, cutoff)
        if not stale:
            return
        marked: dict[tuple[str, str], list[ColumnPost]] = {}
        async with self.app.sessions() as session, session.begin():
            for post in stale:
                if await repo.mark_unknown(session, post, now):
                    marked.setdefault((post.source, post.slot), []).append(post)
        for (source, slot), posts in marked.items():
            async with self.app.sessions() as session:
                chats = [await session.get(Chat, p.chat_id) for p in posts]
                targets = []
                for chat in chats:
                    if chat is None or chat.platform not in self.app.platforms:
                        continue
                    settings = self.app.config.group_settings(chat.key, await core_repo.stored_overrides(session, chat.id))
                    targets.append(Target(chat, settings, settings.timezone))
            if not targets:
                continue
            column = next((c for c in await self.columns() if c.name == source), None)
            title = column.title if column else source
            await self._notify_unknown(source, title, slot, self._slot_text(posts[0].slot_at, targets[0]), targets, "columns.note.unknown")

    async def _look_ahead(self, columns: list[Column], now: datetime, cache: dict) -> None:
        """A calendar entry missing for a slot in the next `lookahead_hours` is reported now."""
        for column in columns:
            if column.spec.source != "calendar" or column.paused or column.spec.lookahead_hours <= 0:
                continue
            targets = [target for target in await self.targets(column, cache=cache) if not target.paused]
            path = self.app.config.resolve_path(column.spec.path or "")
            for tz in sorted({target.tz for target in targets}):
                group = [target for target in targets if target.tz == tz]
                for slot_at in fire_times(column.spec, tz, now, now + timedelta(hours=column.spec.lookahead_hours)):
                    local = slot_at.astimezone(ZoneInfo(tz))
                    if sources.calendar_entry(path, local) is None:
                        await self._notify_column(
                            column, group, f"ahead|{column.name}|{slot_key(slot_at)}", "columns.note.missing_ahead",
                            title=column.title, slot=self._slot_text(slot_at, group[0]), hint=sources.expected_entry_hint(path, local),
                        )

    async def _arm_wakeup(self, columns: list[Column], now: datetime, cache: dict) -> None:
        """APScheduler wakes the engine at the next slot exactly (the interval tick is the backstop)."""
        candidates: list[datetime] = []
        try:
            for column in columns:
                if column.paused:
                    continue
                for tz in {t.tz for t in await self.targets(column, cache=cache)}:
                    fire = next_fire(column.spec, tz, now)
                    if fire:
                        candidates.append(fire)
            async with self.app.sessions() as session:
                runs = await repo.active_runs(session)
            for run in runs:
                step = await self.next_campaign_step(run, now)
                if step and step[0] > now:
                    candidates.append(step[0])
        except Exception:
            log.exception("computing the next column wake-up failed")
            return
        self.next_wakeup = min(candidates) if candidates else None
        if self.next_wakeup is not None:
            from scheduler.core import wake_at

            wake_at(self.app, self.next_wakeup)

    # --- telling the admins ---------------------------------------------------------------------
    def _slot_text(self, slot_at: datetime, target: Target) -> str:
        local = slot_at.astimezone(ZoneInfo(target.tz))
        return f"{local:%Y-%m-%d %H:%M} ({target.tz})"

    @staticmethod
    def _line(target: Target, detail: str | None = None) -> str:
        name = target.name
        if target.chat.title and target.chat.title != target.chat.external_id:
            name += f" ({target.chat.external_id})"
        return f"• {name}" + (f": {detail}" if detail else "")

    async def _first(self, key: str) -> bool:
        async with self.app.sessions() as session, session.begin():
            return await repo.first_notice(session, key, self.app.clock.now())

    async def _notify_column(self, column: Column, targets: list[Target], key: str, text_key: str, **values) -> None:
        await self._notify_admins_of(targets, key, text_key, **values)

    async def _notify_failed(self, title: str, column: Column, slot_at: datetime, failed: list[tuple[Target, str]]) -> None:
        targets = [t for t, _ in failed]
        await self._notify_admins_of(
            targets, f"failed|{column.name}|{slot_key(slot_at)}|{self.app.clock.now():%Y%m%d%H%M%S}", "columns.note.failed",
            listed="details", details_of=dict((t.chat.id, d) for t, d in failed),
            title=title, slot=self._slot_text(slot_at, targets[0]),
        )

    async def _notify_unknown(self, source: str, title: str, slot: str, slot_text: str, targets: list[Target], text_key: str) -> None:
        await self._notify_admins_of(
            targets, f"unknown|{source}|{slot}|{self.app.clock.now():%Y%m%d%H%M%S}", text_key,
            listed="groups", title=title, slot=slot_text,
        )

    async def _notify_group(self, target: Target, key: str, text_key: str, **values) -> None:
        await self._notify_admins_of([target], key, text_key, **values)

    def _texts(self, platform, lang: str, text_key: str, targets: list[Target], listed: str | None,
               details_of: dict[int, str] | None, values: dict) -> list[str]:
        """The note for these groups: with `listed` (the template's placeholder for the group list),
        a header and one line per group, split to fit the platform's message size."""
        if not listed:
            limit, unit = notes.text_budget(platform)
            return notes.split_lines(t(lang, text_key, **values), [], limit, unit)
        header = t(lang, text_key, **{**values, "count": len(targets), listed: ""}).rstrip()
        lines = [self._line(target, (details_of or {}).get(target.chat.id)) for target in targets]
        limit, unit = notes.text_budget(platform)
        return notes.split_lines(header, lines, limit, unit)

    async def _notify_admins_of(self, targets: list[Target], key: str, text_key: str, *, listed: str | None = None,
                                details_of: dict[int, str] | None = None, **values) -> None:
        """Say it once (the key is claimed in the database first — and committed — before any
        platform call) to the admins of these groups: each admin by DM once, however many groups
        they run. With `listed`, the note names every group (each admin: the groups they run),
        split over several messages when long. Where no admin of any group can be reached by DM, it
        is said in the groups themselves: a listed note in each group (naming that group), any
        other note in the first group."""
        if not targets or not await self._first(key):
            return
        lang = targets[0].settings.language
        audience: dict[tuple[str, str], list[Target]] = {}
        for target in targets:
            platform = self.app.platforms.get(target.chat.platform)
            if platform is None or not platform.can(Capability.DM):
                continue
            ids = set(target.settings.admins)
            if platform.can(Capability.ADMIN_LIST):
                try:
                    ids |= await platform.admin_ids(target.ref)
                except (ActionFailed, CapabilityMissing):
                    pass
                except Exception:
                    log.exception("reading the admins of %s failed", target.chat.key)
            ids.discard(target.chat.external_id)  # Telegram lists the group itself (anonymous admins)
            for admin_id in ids:
                audience.setdefault((target.chat.platform, admin_id), []).append(target)
        told: set[int] = set()
        for (platform_name, admin_id), theirs in sorted(audience.items()):
            platform = self.app.platforms[platform_name]
            try:
                for text in self._texts(platform, lang, text_key, theirs, listed, details_of, values):
                    await platform.dm(UserRef(platform_name, admin_id), text)
            except (ActionFailed, CapabilityMissing):
                continue
            except Exception:
                log.exception("DM to admin %s failed", admin_id)
                continue
            told.update(target.chat.id for target in theirs)
        untold = [target for target in targets if target.chat.id not in told and target.chat.platform in self.app.platforms]
        if not listed:
            untold = untold[:1] if not told else []
        for target in untold:
            platform = self.app.platforms[target.chat.platform]
            try:
                for text in self._texts(platform, lang, text_key, [target], listed, details_of, values):
                    await platform.send(target.ref, text)
            except Exception:
                log.exception("could not tell the admins of %s (%s)", target.chat.key, text_key)

    # --- preview (admin command) --------------------------------------------------------------
    async def preview(self, column: Column, target: Target, session) -> Content:
        """Render the column's next slot for this group now (queue: the next item, not taken;
        feed: the latest items), without claiming or sending anything."""
        now = self.app.clock.now()
        slot_at = next_fire(column.spec, target.tz, now - timedelta(seconds=1)) or now
        if slot_at - now > timedelta(days=7):
            slot_at = now
        return await self._content(column, target, slot_at, {}, preview=True, session=session)
