"""Queries of the stats feature, and its few writes (the router's counting, the snapshots of closed
days, the privacy purge and `forget`). Every figure comes from the daily aggregates (daily_counters,
daily_member_activity) and the members' current state; nothing here reads message history.

Retention, per member (joined_at = when the bot saw them join; jd = that local day):
  present at day N  = still in the group N days after joining (left_at is empty or later);
  retained at day N = present at day N and posted on some local day in [jd + max(0, N-6), jd + N]
                      (the week up to day N; for N = 7 that is days 1-7 after the join day).
A figure for day N is known once the local day jd + N is over.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, String, Table, bindparam, delete, func, inspect, or_, select, text, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage import metrics
from storage.db import dialect_name, insert_ignore
from storage.models import AuditEntry, Base, Chat, DailyCounter, DailyMemberActivity, Member, MemberTag
from storage.stats_models import StatsSnapshot

# Metric bumped by the stats router the first time a member posts on a local day, so daily active
# members are read from daily_counters instead of counting daily_member_activity rows.
ACTIVE = "active"

# Who came in and who was removed, one metric each (the daily_counters key stays ""):
ONBOARDED = "onboarded"                # answered the questionnaire
ADMITTED_BY_ADMIN = "admitted_by_admin"  # let in by an admin with /skip
REMOVED_TIMEOUT = "removed_timeout"    # did not finish the questionnaire in time (join request declined too)
REMOVED_REFUSED = "removed_refused"    # did not accept the rules (join request declined too)
REMOVED_BY_RULES = "removed_by_rules"  # removed (kick or ban) by the automatic rules
REMOVED_BY_ADMIN = "removed_by_admin"  # removed by an admin's /kick or /ban
ADMISSIONS = (ONBOARDED, ADMITTED_BY_ADMIN, REMOVED_TIMEOUT, REMOVED_REFUSED, REMOVED_BY_RULES, REMOVED_BY_ADMIN)

# Figures stored before these metrics existed: everything went under "removed" and "onboarded",
# told apart by the key. They are read as the metric they meant, so old days keep their figures:
# onboarding's timeout and refusal and the rules wrote their keys since the first release, and
# "onboarded" with "admin_skip" was /skip. No release wrote "removed" without a key; should such a
# row exist (made by hand), it is read as the questionnaire timeout, what "未完成问卷被移出" said.
# Admin removals were not counted before, so old days show none.
LEGACY_METRICS = {
    ("removed", ""): REMOVED_TIMEOUT,
    ("removed", "onboarding_timeout"): REMOVED_TIMEOUT,
    ("removed", "onboarding_refused"): REMOVED_REFUSED,
    ("removed", "rules"): REMOVED_BY_RULES,
    ("onboarded", "admin_skip"): ADMITTED_BY_ADMIN,
}


def current_metric(metric: str, key: str) -> str:
    """The metric a stored (metric, key) counts, old rows included (see LEGACY_METRICS)."""
    return LEGACY_METRICS.get((metric, key or ""), metric)


# --- writes made by the router ------------------------------------------------------------------
async def write_member_days(session: AsyncSession, figures: dict) -> None:
    """Batched messages per member and local day (bot.tally), (chat id, day, member id) → messages;
    a member's first row of a day also counts them 'active' that day."""
    active: dict = {}
    members = await metrics.existing(session, Member.id, {member_id for _, _, member_id in figures})
    for (chat_id, day, member_id), n in figures.items():
        if member_id not in members:
            continue  # forgotten (privacy) or gone with their group since
        first = await session.execute(
            insert_ignore(
                session,
                DailyMemberActivity,
                {"chat_id": chat_id, "day": day, "member_id": member_id, "messages": n},
                ["chat_id", "day", "member_id"],
            )
        )
        if first.rowcount:
            active[(chat_id, day, ACTIVE, "")] = active.get((chat_id, day, ACTIVE, ""), 0) + 1
        else:
            await metrics.member_active(session, chat_id, day, member_id, n)
    await metrics.write_daily(session, active)


# --- helpers -----------------------------------------------------------------------------------
def local_midnight_utc(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(timezone.utc)


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _raw(session: AsyncSession, column):
    """On SQLite, fetch a date/time column as its stored ISO text (parsed below with the fast
    fromisoformat) instead of through SQLAlchemy's slower per-row type processing."""
    dialect = dialect_name(session)
    return type_coerce(column, String()) if dialect == "sqlite" else column


def _as_datetime(value) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def _chat_filter(column, chat_ids: list[int]):
    return column == chat_ids[0] if len(chat_ids) == 1 else column.in_(chat_ids)


# --- the /stats summary -------------------------------------------------------------------------
@dataclass
class Contributor:
    member_id: int
    user_id: str
    name: str
    messages: int


@dataclass
class Cohort:
    week_start: date
    size: int
    present: dict[int, int | None] = field(default_factory=dict)  # N → members present at day N (None: not yet known)
    retained: dict[int, int | None] = field(default_factory=dict)  # N → present and active at day N


@dataclass
class Summary:
    start: date
    end: date
    days: int
    members_now: int
    totals: dict[str, int]  # metric → sum over the period (unsplit metrics and split ones summed)
    violations: dict[str, int]  # rule → count
    active_avg: float
    active_peak: int
    active_distinct: int
    top: list[Contributor]
    tags: list[tuple[str, int]]
    cohorts: list[Cohort]

    @property
    def messages_per_day(self) -> float:
        return self.totals.get("messages", 0) / self.days


async def period_totals(session: AsyncSession, chat_ids: list[int], start: date, end: date) -> dict[tuple[str, str], int]:
    query = (
        select(DailyCounter.metric, DailyCounter.key, func.sum(DailyCounter.value))
        .where(_chat_filter(DailyCounter.chat_id, chat_ids), DailyCounter.day >= start, DailyCounter.day <= end)
        .group_by(DailyCounter.metric, DailyCounter.key)
    )
    return {(metric, key): int(total or 0) for metric, key, total in (await session.execute(query)).all()}


async def daily_series(
    session: AsyncSession, chat_ids: list[int], start: date, end: date, metrics_wanted: tuple[str, ...]
) -> dict[str, list[int]]:
    """metric → one value per day from start to end (0 where nothing was counted)."""
    days = (end - start).days + 1
    out = {m: [0] * days for m in metrics_wanted}
    query = (
        select(DailyCounter.day, DailyCounter.metric, func.sum(DailyCounter.value))
        .where(
            _chat_filter(DailyCounter.chat_id, chat_ids),
            DailyCounter.day >= start,
            DailyCounter.day <= end,
            DailyCounter.metric.in_(metrics_wanted),
        )
        .group_by(DailyCounter.day, DailyCounter.metric)
    )
    for day, metric, total in (await session.execute(query)).all():
        out[metric][(day - start).days] = int(total or 0)
    return out


async def members_now(session: AsyncSession, chat_ids: list[int]) -> int:
    query = select(func.count()).select_from(Member).where(_chat_filter(Member.chat_id, chat_ids), Member.status == "active")
    return int(await session.scalar(query) or 0)


async def tag_distribution(session: AsyncSession, chat_ids: list[int]) -> list[tuple[str, int]]:
    """(tag, members still in the group with it), most common first."""
    n = func.count().label("n")
    query = (
        select(MemberTag.tag, n)
        .join(Member, Member.id == MemberTag.member_id)
        .where(_chat_filter(Member.chat_id, chat_ids), Member.status == "active")
        .group_by(MemberTag.tag)
        .order_by(n.desc(), MemberTag.tag)
    )
    return [(tag, int(count)) for tag, count in (await session.execute(query)).all()]


async def top_contributors(session: AsyncSession, chat_id: int, start: date, end: date, limit: int) -> list[Contributor]:
    return await _named(session, await metrics.top_contributors(session, chat_id, start, end, limit))


async def _named(session: AsyncSession, ranked: list[tuple[int, int]]) -> list[Contributor]:
    if not ranked:
        return []
    rows = {m.id: m for m in await session.scalars(select(Member).where(Member.id.in_([mid for mid, _ in ranked])))}
    out = []
    for member_id, messages in ranked:
        m = rows.get(member_id)
        if m is None:
            continue
        name = m.display_name or (f"@{m.username}" if m.username else m.user_id)
        out.append(Contributor(member_id, m.user_id, name, messages))
    return out


async def _cohort_members(session: AsyncSession, chat_ids: list[int], since: datetime, until: datetime):
    query = select(Member.id, _raw(session, Member.joined_at), _raw(session, Member.left_at)).where(
        _chat_filter(Member.chat_id, chat_ids), Member.joined_at >= since, Member.joined_at < until
    )
    return [(mid, _as_datetime(joined), _as_datetime(left)) for mid, joined, left in (await session.execute(query)).all()]


async def _activity_days(
    session: AsyncSession, chat_ids: list[int], since: datetime, until: datetime, start: date, end: date
) -> dict[int, set[date]]:
    """Active days (start..end) of the members who joined in [since, until): driven from the members'
    join index and the (member_id, day) activity index, so only the cohort's rows are read."""
    days: dict[int, set[date]] = defaultdict(set)
    query = (
        select(DailyMemberActivity.member_id, _raw(session, DailyMemberActivity.day))
        .join(Member, Member.id == DailyMemberActivity.member_id)
        .where(
            _chat_filter(Member.chat_id, chat_ids),
            Member.joined_at >= since,
            Member.joined_at < until,
            DailyMemberActivity.day >= start,
            DailyMemberActivity.day <= end,
        )
    )
    for member_id, day in (await session.execute(query)).all():
        days[member_id].add(_as_date(day))
    return days


def _present(joined_at: datetime, left_at: datetime | None, n: int) -> bool:
    return left_at is None or left_at > joined_at + timedelta(days=n)


def _active(join_day: date, active_days: set[date], n: int) -> bool:
    lo = join_day + timedelta(days=max(0, n - 6))
    hi = join_day + timedelta(days=n)
    return any(lo <= d <= hi for d in active_days)


async def weekly_cohorts(
    session: AsyncSession, chat_ids: list[int], tz: ZoneInfo, today: date, weeks: int, checkpoints: tuple[int, ...] = (7, 30)
) -> list[Cohort]:
    """The last `weeks` complete local weeks (Monday-Sunday) of joiners, most recent first."""
    last = week_start(today) - timedelta(days=7)
    first = last - timedelta(days=7 * (weeks - 1))
    since, until = local_midnight_utc(first, tz), local_midnight_utc(last + timedelta(days=7), tz)
    rows = await _cohort_members(session, chat_ids, since, until)
    # Only the days each checkpoint looks at: [first + N-6, last + 6 + N] for each N.
    activity: dict[int, set[date]] = defaultdict(set)
    for n in checkpoints:
        lo, hi = first + timedelta(days=max(0, n - 6)), min(today, last + timedelta(days=6 + n))
        if lo <= hi:
            for member_id, active_days in (await _activity_days(session, chat_ids, since, until, lo, hi)).items():
                activity[member_id] |= active_days
    by_week: dict[date, list] = defaultdict(list)
    for row in rows:
        by_week[week_start(row[1].astimezone(tz).date())].append(row)
    cohorts = []
    for i in range(weeks):
        ws = last - timedelta(days=7 * i)
        members = by_week.get(ws, [])
        cohort = Cohort(ws, len(members))
        for n in checkpoints:
            if today <= ws + timedelta(days=6 + n):  # the last joiner's day N is not over yet
                cohort.present[n] = cohort.retained[n] = None
                continue
            present = retained = 0
            for member_id, joined_at, left_at in members:
                if _present(joined_at, left_at, n):
                    present += 1
                    if _active(joined_at.astimezone(tz).date(), activity.get(member_id, set()), n):
                        retained += 1
            cohort.present[n], cohort.retained[n] = present, retained
        cohorts.append(cohort)
    return cohorts


async def retention_curve(
    session: AsyncSession, chat_ids: list[int], tz: ZoneInfo, since: date, today: date, max_day: int = 30
) -> tuple[int, list[tuple[int, int, float, float]]]:
    """Members who joined on local days since..today-1: (cohort size, [(day N, members who reached N,
    share present, share retained)]) for N = 0..max_day, over the members whose day N is over."""
    lo, hi = local_midnight_utc(since, tz), local_midnight_utc(today, tz)
    rows = await _cohort_members(session, chat_ids, lo, hi)
    activity = await _activity_days(session, chat_ids, lo, hi, since, today)
    points = []
    for n in range(max_day + 1):
        reached = present = retained = 0
        for member_id, joined_at, left_at in rows:
            jd = joined_at.astimezone(tz).date()
            if jd + timedelta(days=n) >= today:
                continue
            reached += 1
            if _present(joined_at, left_at, n):
                present += 1
                if _active(jd, activity.get(member_id, set()), n):
                    retained += 1
        if reached:
            points.append((n, reached, present / reached, retained / reached))
    return len(rows), points


# --- snapshots of closed days ----------------------------------------------------------------
# How many of the window's biggest posters a snapshot keeps: enough that today's messages can only
# reorder them, not bring in someone from below (checked; if not, the full query runs).
WINDOW_KEEP = 50


async def _snapshot(session: AsyncSession, chat_id: int, day: date, kind: str) -> Any:
    return await session.scalar(
        select(StatsSnapshot.payload).where(StatsSnapshot.chat_id == chat_id, StatsSnapshot.day == day, StatsSnapshot.kind == kind)
    )


async def _store_snapshot(session: AsyncSession, chat_id: int, day: date, kind: str, payload: Any, now: datetime) -> None:
    await session.execute(
        delete(StatsSnapshot).where(StatsSnapshot.chat_id == chat_id, StatsSnapshot.kind == kind, StatsSnapshot.day != day)
    )
    await session.execute(
        insert_ignore(
            session,
            StatsSnapshot,
            {"chat_id": chat_id, "day": day, "kind": kind, "payload": payload, "computed_at": now},
            ["chat_id", "day", "kind"],
        )
    )


async def _window_history(session: AsyncSession, chat_id: int, start: date, end: date) -> dict[str, Any]:
    """The biggest posters of start..end (closed days) and how many members posted at all."""
    if end < start:
        return {"top": [], "distinct": 0}
    total = func.sum(DailyMemberActivity.messages).label("total")
    grouped = (
        select(DailyMemberActivity.member_id, total)
        .where(DailyMemberActivity.chat_id == chat_id, DailyMemberActivity.day >= start, DailyMemberActivity.day <= end)
        .group_by(DailyMemberActivity.member_id)
        .subquery()
    )
    query = (
        select(grouped.c.member_id, grouped.c.total, func.count().over())
        .order_by(grouped.c.total.desc(), grouped.c.member_id)
        .limit(WINDOW_KEEP)
    )
    rows = (await session.execute(query)).all()
    return {"top": [[int(m), int(t)] for m, t, _ in rows], "distinct": int(rows[0][2]) if rows else 0}


async def _window_figures(
    session: AsyncSession, chat_id: int, start: date, today: date, top_n: int, now: datetime
) -> tuple[list[tuple[int, int]], int]:
    """(top contributors as (member id, messages), distinct posters) for start..today: the closed
    days from a snapshot, today's rows live."""
    kind = f"window:{(today - start).days + 1}"
    history = await _snapshot(session, chat_id, today, kind)
    if history is None:
        history = await _window_history(session, chat_id, start, today - timedelta(days=1))
        await _store_snapshot(session, chat_id, today, kind, history, now)
    today_rows = dict(
        (await session.execute(
            select(DailyMemberActivity.member_id, DailyMemberActivity.messages).where(
                DailyMemberActivity.chat_id == chat_id, DailyMemberActivity.day == today
            )
        )).all()
    )
    # What today's posters wrote on the closed days: a join from today's rows into the
    # (member_id, day) index (no long IN list, whose prepared plan PostgreSQL may get wrong).
    ids = list(today_rows)
    earlier: dict[int, int] = {}
    if ids and start < today and dialect_name(session) == "sqlite":
        # SQLite's planner, without ANALYZE statistics, would scan the whole window; CROSS JOIN
        # makes today's rows the outer loop, as intended.
        query = text(
            "SELECT p.member_id, sum(p.messages) FROM daily_member_activity AS t "
            "CROSS JOIN daily_member_activity AS p ON p.member_id = t.member_id "
            "WHERE t.chat_id = :chat AND t.day = :today AND p.chat_id = :chat AND p.day >= :start AND p.day < :today "
            "GROUP BY p.member_id"
        ).bindparams(bindparam("today", type_=Date()), bindparam("start", type_=Date()))
        rows = await session.execute(query, {"chat": chat_id, "today": today, "start": start})
        earlier = {int(m): int(n or 0) for m, n in rows.all()}
    elif ids and start < today:
        past = aliased(DailyMemberActivity)
        now_rows = aliased(DailyMemberActivity)
        query = (
            select(past.member_id, func.sum(past.messages))
            .join(now_rows, now_rows.member_id == past.member_id)
            .where(
                now_rows.chat_id == chat_id,
                now_rows.day == today,
                past.chat_id == chat_id,
                past.day >= start,
                past.day < today,
            )
            .group_by(past.member_id)
        )
        earlier = {m: int(n or 0) for m, n in (await session.execute(query)).all()}
    distinct = history["distinct"] + sum(1 for m in ids if m not in earlier)
    candidates = {m: t for m, t in history["top"]}
    for m, n in today_rows.items():
        candidates[m] = earlier.get(m, 0) + int(n)
    ranked = sorted(candidates.items(), key=lambda kv: (-kv[1], kv[0]))[:top_n]
    complete = history["distinct"] <= len(history["top"])
    floor = history["top"][-1][1] if history["top"] else 0
    if complete or (len(ranked) == top_n and ranked[-1][1] > floor):
        return ranked, distinct
    # Someone below the snapshot's list could tie or pass: ask the aggregates directly.
    return await metrics.top_contributors(session, chat_id, start, today, top_n), distinct


def _cohorts_payload(cohorts: list[Cohort]) -> list[dict[str, Any]]:
    return [
        {
            "week": c.week_start.isoformat(),
            "size": c.size,
            "present": {str(k): v for k, v in c.present.items()},
            "retained": {str(k): v for k, v in c.retained.items()},
        }
        for c in cohorts
    ]


async def _cohorts_cached(
    session: AsyncSession, chat_id: int, tz: ZoneInfo, today: date, weeks: int, now: datetime
) -> list[Cohort]:
    """Retention figures only use closed days (a figure is known once day N is over), so one
    computation per group and local day serves every /stats of that day."""
    kind = f"cohorts:{weeks}"
    payload = await _snapshot(session, chat_id, today, kind)
    if payload is None:
        payload = _cohorts_payload(await weekly_cohorts(session, [chat_id], tz, today, weeks))
        await _store_snapshot(session, chat_id, today, kind, payload, now)
    return [
        Cohort(
            date.fromisoformat(c["week"]),
            c["size"],
            {int(k): v for k, v in c["present"].items()},
            {int(k): v for k, v in c["retained"].items()},
        )
        for c in payload
    ]


async def has_activity_since(session: AsyncSession, chat_id: int, day: date) -> bool:
    query = select(DailyCounter.day).where(DailyCounter.chat_id == chat_id, DailyCounter.day >= day).limit(1)
    return (await session.scalar(query)) is not None


async def missing_snapshots(
    session: AsyncSession, chat_id: int, *, tz: ZoneInfo, today: date, days: int, weeks: int
) -> dict[str, Any]:
    """Today's snapshots for a /stats of `days` days that are not made yet, computed: kind → payload.
    Reads only (the scheduler's warm-up runs it in a read-only transaction, see storage.db.read_only,
    and stores the result with store_snapshots in a short write transaction)."""
    missing: dict[str, Any] = {}
    kind = f"window:{days}"
    if await _snapshot(session, chat_id, today, kind) is None:
        missing[kind] = await _window_history(session, chat_id, today - timedelta(days=days - 1), today - timedelta(days=1))
    kind = f"cohorts:{weeks}"
    if await _snapshot(session, chat_id, today, kind) is None:
        missing[kind] = _cohorts_payload(await weekly_cohorts(session, [chat_id], tz, today, weeks))
    return missing


async def store_snapshots(session: AsyncSession, chat_id: int, today: date, payloads: dict[str, Any], now: datetime) -> int:
    """Store what missing_snapshots computed; returns how many were stored. A window whose top
    posters are not all members any more is dropped: one was forgotten (forget_member) after it was
    read, and a snapshot must not bring back who they were; the next warm-up computes it again."""
    stored = 0
    for kind, payload in payloads.items():
        if kind.startswith("window:") and payload["top"]:
            ids = [member_id for member_id, _ in payload["top"]]
            present = await session.scalar(select(func.count()).select_from(Member).where(Member.id.in_(ids)))
            if present != len(ids):
                continue
        await _store_snapshot(session, chat_id, today, kind, payload, now)
        stored += 1
    return stored


async def forget_snapshots(session: AsyncSession, chat_id: int) -> None:
    await session.execute(delete(StatsSnapshot).where(StatsSnapshot.chat_id == chat_id))


async def summary(
    session: AsyncSession,
    chat_id: int,
    *,
    tz: ZoneInfo,
    today: date,
    days: int,
    top_n: int = 5,
    retention_weeks: int = 4,
    now: datetime | None = None,
) -> Summary:
    now = now or datetime.now(timezone.utc)
    start, end = today - timedelta(days=days - 1), today
    totals_split = await period_totals(session, [chat_id], start, end)
    totals: dict[str, int] = defaultdict(int)
    violations: dict[str, int] = {}
    for (metric, key), value in totals_split.items():
        totals[current_metric(metric, key)] += value
        if metric == "violations":
            violations[key or "?"] = violations.get(key or "?", 0) + value
    series = await daily_series(session, [chat_id], start, end, (ACTIVE,))
    ranked, distinct = await _window_figures(session, chat_id, start, today, top_n, now)
    return Summary(
        start=start,
        end=end,
        days=days,
        members_now=await members_now(session, [chat_id]),
        totals=dict(totals),
        violations=dict(sorted(violations.items(), key=lambda kv: (-kv[1], kv[0]))),
        active_avg=sum(series[ACTIVE]) / days,
        active_peak=max(series[ACTIVE], default=0),
        active_distinct=distinct,
        top=await _named(session, ranked),
        tags=await tag_distribution(session, [chat_id]),
        cohorts=await _cohorts_cached(session, chat_id, tz, today, retention_weeks, now),
    )


# --- privacy ------------------------------------------------------------------------------------
async def evidence_due(session: AsyncSession, chat_id: int, before: datetime) -> list[int]:
    """Ids of the audit entries of a chat still keeping evidence from before `before` (a read)."""
    query = select(AuditEntry.id).where(AuditEntry.chat_id == chat_id, AuditEntry.at < before, AuditEntry.evidence.is_not(None))
    return list(await session.scalars(query.order_by(AuditEntry.id)))


async def blank_evidence(session: AsyncSession, entry_ids: list[int]) -> int:
    """Blank the message texts kept as audit evidence of these entries; returns how many."""
    result = await session.execute(
        update(AuditEntry)
        .where(AuditEntry.id.in_(entry_ids), AuditEntry.evidence.is_not(None))
        .values(evidence=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def _tables_referencing_members() -> list[Table]:
    import storage.all_models  # noqa: F401  (every feature's tables)

    out = []
    for table in Base.metadata.sorted_tables:
        if table.name == "members":
            continue
        if any(fk.column.table.name == "members" for fk in table.foreign_keys):
            out.append(table)
    return out


def _tables_keyed_by_user() -> list[Table]:
    """Feature tables that name a member by (chat_id, user_id) instead of a members.id key."""
    import storage.all_models  # noqa: F401

    skip = {"members", "audit_log"}
    return [
        t
        for t in Base.metadata.sorted_tables
        if t.name not in skip
        and "user_id" in t.c
        and "chat_id" in t.c
        and any(fk.column.table.name == "chats" for fk in t.c.chat_id.foreign_keys)
    ]


async def existing_tables(session: AsyncSession) -> set[str]:
    conn = await session.connection()
    return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def forget_member(session: AsyncSession, chat_id: int, user_id: str) -> dict[str, int] | None:
    """Erase one member's data in one chat. Returns rows removed per table (None: not a member).
    Aggregates (daily_counters) carry no identity and stay."""
    member = await session.scalar(select(Member).where(Member.chat_id == chat_id, Member.user_id == user_id))
    present = await existing_tables(session)
    await forget_snapshots(session, chat_id)  # they may be named in today's top contributors
    removed: dict[str, int] = {}
    # Tables naming the member by user id (no foreign key to cascade from).
    for table in _tables_keyed_by_user():
        if table.name not in present:
            continue
        result = await session.execute(delete(table).where(table.c.chat_id == chat_id, table.c.user_id == user_id))
        if result.rowcount:
            removed[table.name] = result.rowcount
    # Audit entries about them: keep that something happened (action, rule, time) but drop who and
    # the evidence.
    result = await session.execute(
        update(AuditEntry)
        .where(AuditEntry.chat_id == chat_id, AuditEntry.target_user_id == user_id)
        .values(target_user_id=None, evidence=None, details={"forgotten": True})
        .execution_options(synchronize_session=False)
    )
    if result.rowcount:
        removed["audit_log (anonymised)"] = result.rowcount
    if member is None:
        return removed or None
    # Everything keyed on the member row, deepest first (it would cascade; deleting it here counts it).
    for table in reversed(_tables_referencing_members()):
        if table.name not in present:
            continue
        fk_cols = [fk.parent for fk in table.foreign_keys if fk.column.table.name == "members"]
        result = await session.execute(delete(table).where(or_(*[c == member.id for c in fk_cols])))
        if result.rowcount:
            removed[table.name] = removed.get(table.name, 0) + result.rowcount
    await session.execute(delete(Member).where(Member.id == member.id))
    removed["members"] = 1
    return removed


# --- exports ------------------------------------------------------------------------------------
async def member_rows(session: AsyncSession, chat_id: int) -> list[Member]:
    return list(await session.scalars(select(Member).where(Member.chat_id == chat_id).order_by(Member.id)))


async def tags_by_member(session: AsyncSession, chat_id: int) -> dict[int, list[str]]:
    query = (
        select(MemberTag.member_id, MemberTag.tag)
        .join(Member, Member.id == MemberTag.member_id)
        .where(Member.chat_id == chat_id)
        .order_by(MemberTag.member_id, MemberTag.tag)
    )
    out: dict[int, list[str]] = defaultdict(list)
    for member_id, tag in (await session.execute(query)).all():
        out[member_id].append(tag)
    return out


async def message_totals(session: AsyncSession, chat_id: int) -> dict[int, tuple[int, int, date]]:
    """member id → (messages, active days, last active day), from the daily activity table."""
    query = (
        select(
            DailyMemberActivity.member_id,
            func.sum(DailyMemberActivity.messages),
            func.count(),
            func.max(DailyMemberActivity.day),
        )
        .where(DailyMemberActivity.chat_id == chat_id)
        .group_by(DailyMemberActivity.member_id)
    )
    return {mid: (int(n or 0), int(d), last) for mid, n, d, last in (await session.execute(query)).all()}


async def audit_rows(session: AsyncSession, chat_id: int) -> list[AuditEntry]:
    return list(await session.scalars(select(AuditEntry).where(AuditEntry.chat_id == chat_id).order_by(AuditEntry.id)))


def feature_table(kind: str) -> Table | None:
    """The points ledger ('ledger') or the questionnaire answers ('answers') table, if a feature
    declares one (found by name, so this works whatever those features call their columns)."""
    import storage.all_models  # noqa: F401

    needle = {"ledger": "ledger", "answers": "answer"}[kind]
    candidates = [t for t in Base.metadata.sorted_tables if needle in t.name]
    return candidates[0] if candidates else None


async def feature_rows(session: AsyncSession, table: Table, chat_id: int) -> tuple[list[str], list[dict[str, Any]]]:
    """All columns of `table` for one chat, plus the member's user id and name when keyed by member."""
    member_fk = next((fk.parent for fk in table.foreign_keys if fk.column.table.name == "members"), None)
    columns = [c.name for c in table.c]
    if member_fk is not None:
        query = (
            select(table, Member.user_id.label("member_user_id"), Member.display_name.label("member_name"))
            .join(Member, Member.id == member_fk)
            .where(Member.chat_id == chat_id)
        )
        columns += ["member_user_id", "member_name"]
    elif "chat_id" in table.c:
        query = select(table).where(table.c.chat_id == chat_id)
    else:
        raise LookupError(f"table {table.name} has neither chat_id nor a member key")
    order = [table.c[c] for c in ("id", "at", "created_at") if c in table.c][:1]
    if order:
        query = query.order_by(*order)
    rows = [dict(row._mapping) for row in (await session.execute(query)).all()]
    return columns, rows


async def find_chat(session: AsyncSession, key: str) -> Chat | None:
    platform, _, external = key.partition(":")
    return await session.scalar(select(Chat).where(Chat.platform == platform, Chat.external_id == external))


async def balances_by_member(session: AsyncSession, chat_id: int, present: set[str]) -> dict[int, int] | None:
    """Points balance per member id; None when the points feature's ledger table is absent."""
    ledger = feature_table("ledger")
    if ledger is None or ledger.name not in present or not {"member_id", "amount", "chat_id"} <= set(ledger.c.keys()):
        return None
    query = select(ledger.c.member_id, func.sum(ledger.c.amount)).where(ledger.c.chat_id == chat_id).group_by(ledger.c.member_id)
    return {mid: int(total or 0) for mid, total in (await session.execute(query)).all()}


async def answers_by_member(session: AsyncSession, chat_id: int, present: set[str]) -> tuple[dict[int, dict[str, str]], list[str]]:
    """Questionnaire answers per member id and the question ids in order, when onboarding's table exists."""
    table = feature_table("answers")
    if table is None or table.name not in present or not {"member_id", "question_id", "value"} <= set(table.c.keys()):
        return {}, []
    order = [table.c.answered_at] if "answered_at" in table.c else []
    query = (
        select(table.c.member_id, table.c.question_id, table.c.value)
        .join(Member, Member.id == table.c.member_id)
        .where(Member.chat_id == chat_id)
        .order_by(*order, table.c.member_id)
    )
    answers: dict[int, dict[str, str]] = {}
    questions: list[str] = []
    for member_id, qid, value in (await session.execute(query)).all():
        answers.setdefault(member_id, {})[qid] = value
        if qid not in questions:
            questions.append(qid)
    return answers, questions
