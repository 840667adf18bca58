"""`qunzhu export`, `qunzhu forget` and `qunzhu chart`: the operator's data tools.

  qunzhu export -c FILE --group KEY --what members|ledger|audit|answers [-o FILE]
  qunzhu forget -c FILE --user ID [--group KEY]        (without --group: every group)
  qunzhu chart  -c FILE (--group KEY | --all) --what activity|retention -o PNG [--days N]

CSV files are UTF-8 with a byte-order mark, so Excel opens Chinese text correctly. Messages are in
the language of [defaults] (zh-CN or en); the cells a group's members and admins would read (rule
names, questionnaire answers, ledger reasons) are in that group's language."""

from __future__ import annotations

import asyncio
import csv
import json
import re
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.i18n import register as register_texts, t

WHAT_EXPORT = ("members", "ledger", "audit", "answers")

register_texts(
    {
        "stats.cli.no_group": {
            "zh-CN": "数据库中没有群 {key}（--group 的格式是 平台:群ID，例如 telegram:-1001234567890）。已知的群：{known}",
            "en": "no group {key} in the database (--group is PLATFORM:CHAT_ID, e.g. telegram:-1001234567890). Known groups: {known}",
        },
        "stats.cli.no_table": {
            "zh-CN": "无法导出 {what}：数据库里没有{feature}的数据表（{table}）。请先启用该功能并运行 qunzhu db upgrade。",
            "en": "cannot export {what}: the database has no {feature} table ({table}). Enable that feature and run qunzhu db upgrade first.",
        },
        "stats.cli.feature.ledger": {"zh-CN": "积分流水", "en": "points ledger"},
        "stats.cli.feature.answers": {"zh-CN": "入群问卷答案", "en": "questionnaire answers"},
        "stats.cli.exported": {
            "zh-CN": "已导出 {n} 行 {what} → {path}（UTF-8 带 BOM，时间为 {tz} 时区）",
            "en": "exported {n} rows of {what} → {path} (UTF-8 with BOM; times in {tz})",
        },
        "stats.cli.forgot": {"zh-CN": "{group}：已删除用户 {user} 的数据：", "en": "{group}: erased the data of user {user}:"},
        "stats.cli.forgot_line": {"zh-CN": "  {table}：{n} 行", "en": "  {table}: {n} rows"},
        "stats.cli.nothing": {
            "zh-CN": "在{where}中没有找到用户 {user} 的任何数据（用户 ID 是平台上的数字/账号 ID，不是昵称）。",
            "en": "found no data about user {user} in {where} (the user id is the platform's id, not a display name).",
        },
        "stats.cli.all_groups": {"zh-CN": "所有群", "en": "any group"},
        "stats.cli.aggregates_kept": {
            "zh-CN": "（每日汇总数字不含个人身份，保留不变。）",
            "en": "(Daily aggregate figures carry no identity and are kept.)",
        },
        "stats.cli.chart_written": {
            "zh-CN": "已生成图表 {what}（{groups}）→ {path}，{width}×{height} 像素",
            "en": "wrote the {what} chart ({groups}) → {path}, {width}×{height} pixels",
        },
        "stats.cli.all_label": {"zh-CN": "全部 {n} 个群", "en": "all {n} groups"},
        "stats.cli.no_groups": {"zh-CN": "数据库里还没有任何群。", "en": "the database has no groups yet."},
    }
)


def register(sub) -> None:
    """Called by bot.cli with its subparsers."""
    p = sub.add_parser("export", help="write a group's members, points ledger, audit log or questionnaire answers as CSV")
    p.add_argument("-c", "--config", required=True, metavar="FILE", help="the TOML config file")
    p.add_argument("--group", required=True, metavar="KEY", help="PLATFORM:CHAT_ID, e.g. telegram:-1001234567890")
    p.add_argument("--what", required=True, choices=WHAT_EXPORT, help="what to export")
    p.add_argument("-o", "--output", metavar="FILE", help="the CSV file (default: WHAT-PLATFORM-CHAT.csv here)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("forget", help="erase one member's data on request (privacy) and print what was removed")
    p.add_argument("-c", "--config", required=True, metavar="FILE", help="the TOML config file")
    p.add_argument("--user", required=True, metavar="ID", help="the member's platform user id (or PLATFORM:ID)")
    p.add_argument("--group", metavar="KEY", help="only this group (default: every group)")
    p.set_defaults(func=cmd_forget)

    p = sub.add_parser("chart", help="draw a group's activity or retention chart as a PNG")
    p.add_argument("-c", "--config", required=True, metavar="FILE", help="the TOML config file")
    scope = p.add_mutually_exclusive_group(required=True)
    scope.add_argument("--group", metavar="KEY", help="PLATFORM:CHAT_ID")
    scope.add_argument("--all", action="store_true", help="all groups together")
    p.add_argument("--what", required=True, choices=("activity", "retention"))
    p.add_argument("-o", "--output", required=True, metavar="PNG")
    p.add_argument("--days", type=int, default=30, help="activity: days shown; retention: join window is max(DAYS, 90) (default 30)")
    p.add_argument("--lang", choices=("zh-CN", "en"), help="label language (default: the group's)")
    p.add_argument("--until", type=date.fromisoformat, metavar="YYYY-MM-DD", help="the last day drawn (default: today)")
    p.set_defaults(func=cmd_chart)


# --- plumbing ------------------------------------------------------------------------------------
def _load(path: str):
    from bot.cli import _load as load

    return load(path)


class Fail(Exception):
    pass


def _run(config, work) -> int:
    from storage.db import create_engine, session_factory, upgrade

    async def go():
        engine = create_engine(config.database_url)
        try:
            await upgrade(engine)
            sessions = session_factory(engine)
            async with sessions() as session:
                async with session.begin():
                    return await work(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(go())
    except Fail as exc:
        print(str(exc), file=sys.stderr)
        return 2


async def _chat(session, config, key: str):
    from storage import core_repo, stats_repo

    chat = await stats_repo.find_chat(session, key)
    if chat is None:
        known = ", ".join(c.key for c in await core_repo.list_chats(session)) or "—"
        raise Fail(t(config.defaults.language, "stats.cli.no_group", key=key, known=known))
    return chat


async def _group_settings(session, config, chat):
    from storage import core_repo

    return config.group_settings(chat.key, await core_repo.stored_overrides(session, chat.id))


def _fmt_time(value: Any, tz: ZoneInfo) -> Any:
    from bot.clock import as_utc

    if isinstance(value, datetime):
        return as_utc(value).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if value is None:
        return ""
    return value


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


# --- export --------------------------------------------------------------------------------------
async def export_group(session, config, key: str, what: str, output: Path | None) -> tuple[Path, int, str]:
    """Write one export; returns (path, data rows, time zone)."""
    from storage import stats_repo

    chat = await _chat(session, config, key)
    settings = await _group_settings(session, config, chat)
    tz = ZoneInfo(settings.timezone)
    path = output or default_path(what, chat.platform, chat.external_id)
    lang = config.defaults.language
    group_lang = settings.language
    if what == "members":
        header, rows = await _members(session, chat.id, tz, settings)
    elif what == "audit":
        header, rows = await _audit(session, chat.id, tz, group_lang)
    else:
        table = stats_repo.feature_table(what)
        present = await stats_repo.existing_tables(session)
        if table is None or table.name not in present:
            name = table.name if table is not None else {"ledger": "points_ledger", "answers": "onboarding_answers"}[what]
            raise Fail(t(lang, "stats.cli.no_table", what=what, feature=t(lang, f"stats.cli.feature.{what}"), table=name))
        columns, dict_rows = await stats_repo.feature_rows(session, table, chat.id)
        header, rows = _shown(what, columns, dict_rows, tz, settings)
    write_csv(path, header, rows)
    return path, len(rows), settings.timezone


def default_path(what: str, platform: str, chat_id: str) -> Path:
    """WHAT-PLATFORM-CHAT.csv in the current folder, as --help says (unsafe characters as _)."""
    safe = lambda part: re.sub(r"[^A-Za-z0-9_.-]+", "_", part)  # noqa: E731
    return Path(f"{what}-{safe(platform)}-{safe(chat_id)}.csv")


def _shown(what: str, columns: list[str], dict_rows: list[dict[str, Any]], tz: ZoneInfo, settings) -> tuple[list[str], list[list[Any]]]:
    """A feature table's rows with what a member saw: the answer's label, the ledger reason in the
    group's language. The stored value follows in a column of its own, for analysis."""
    lang = settings.language
    if what == "answers" and "value" in columns and "question_id" in columns:
        from handlers.onboarding.router import shown_answer

        for r in dict_rows:
            r["stored_value"] = r["value"]
            r["value"] = shown_answer(settings.onboarding, r["question_id"], r["value"], lang)
        columns = [*columns, "stored_value"]
    elif what == "ledger" and "reason" in columns:
        from handlers.points.texts import ledger_reason

        for r in dict_rows:
            r["stored_reason"] = r["reason"]
            r["reason"] = ledger_reason(lang, r["reason"])
        columns = [*columns, "stored_reason"]
    return columns, [[_fmt_time(r.get(c), tz) for c in columns] for r in dict_rows]


async def _members(session, chat_id: int, tz: ZoneInfo, settings) -> tuple[list[str], list[list[Any]]]:
    from storage import stats_repo

    members = await stats_repo.member_rows(session, chat_id)
    tags = await stats_repo.tags_by_member(session, chat_id)
    totals = await stats_repo.message_totals(session, chat_id)
    present = await stats_repo.existing_tables(session)
    # Points balance and questionnaire answers, when those features' tables exist.
    balances = await stats_repo.balances_by_member(session, chat_id, present)
    answers, questions = await stats_repo.answers_by_member(session, chat_id, present)
    from handlers.onboarding.router import shown_answer

    lang = settings.language
    admins = set(settings.admins)
    zone = str(tz.key)
    header = [
        "user_id", "display_name", "username", "role", "status",
        f"joined_at ({zone})", f"left_at ({zone})", f"last_seen_at ({zone})",
        "tags", "messages", "active_days", "last_active_day",
    ]
    if balances is not None:
        header.append("points")
    header += [f"answer:{q}" for q in questions]
    rows = []
    for m in members:
        messages, active_days, last_day = totals.get(m.id, (0, 0, None))
        row = [
            m.user_id, m.display_name or "", m.username or "", _role(m, admins), m.status,
            _fmt_time(m.joined_at, tz), _fmt_time(m.left_at, tz), _fmt_time(m.last_seen_at, tz),
            ";".join(tags.get(m.id, [])), messages, active_days, _fmt_time(last_day, tz),
        ]
        if balances is not None:
            row.append(balances.get(m.id, 0))
        mine = answers.get(m.id, {})
        row += [shown_answer(settings.onboarding, q, mine[q], lang) if q in mine else "" for q in questions]
        rows.append(row)
    return header, rows


def _role(member, admins: set[str]) -> str:
    """owner | admin | member: as the platform's admin list said when the member was last seen
    (bot.dispatch keeps members.role), and the group's configured `admins` are admins too."""
    if member.role == "member" and member.user_id in admins:
        return "admin"
    return member.role


async def _audit(session, chat_id: int, tz: ZoneInfo, lang: str) -> tuple[list[str], list[list[Any]]]:
    from handlers.rules.texts import rule_name
    from storage import stats_repo

    zone = str(tz.key)
    header = ["id", f"at ({zone})", "actor", "action", "target_user_id", "rule", "evidence", "details",
              f"undone_at ({zone})", "undone_by", "rule_id"]
    rows = [
        [
            e.id, _fmt_time(e.at, tz), e.actor, e.action, e.target_user_id or "", rule_name(lang, e.rule, e.details) if e.rule else "",
            e.evidence or "", _fmt_time(e.details or {}, tz), _fmt_time(e.undone_at, tz), e.undone_by or "", e.rule or "",
        ]
        for e in await stats_repo.audit_rows(session, chat_id)
    ]
    return header, rows


def cmd_export(args) -> int:
    config = _load(args.config)

    async def work(session):
        path, n, zone = await export_group(session, config, args.group, args.what, Path(args.output) if args.output else None)
        print(t(config.defaults.language, "stats.cli.exported", n=n, what=args.what, path=path, tz=zone))
        return 0

    return _run(config, work)


# --- forget --------------------------------------------------------------------------------------
async def forget(session, config, user: str, group: str | None, now: datetime) -> dict[str, dict[str, int]]:
    """Erase `user` in one group or all; returns {group key: {table: rows}} for groups with data."""
    from storage import core_repo, stats_repo

    platform = None
    if ":" in user:
        platform, _, user = user.partition(":")
    chats = [await _chat(session, config, group)] if group else await core_repo.list_chats(session, platform)
    report: dict[str, dict[str, int]] = {}
    for chat in chats:
        if platform and chat.platform != platform:
            continue
        removed = await stats_repo.forget_member(session, chat.id, user)
        if removed:
            report[chat.key] = removed
            # The erasure itself is audited, without naming whom it was about.
            await core_repo.audit(session, chat_id=chat.id, at=now, actor="cli", action="forget", details={"removed": removed})
    return report


def cmd_forget(args) -> int:
    from bot.clock import Clock

    config = _load(args.config)
    lang = config.defaults.language

    async def work(session):
        report = await forget(session, config, args.user, args.group, Clock().now())
        if not report:
            print(t(lang, "stats.cli.nothing", user=args.user, where=args.group or t(lang, "stats.cli.all_groups")))
            return 1
        for key, removed in report.items():
            print(t(lang, "stats.cli.forgot", group=key, user=args.user))
            for table, n in removed.items():
                print(t(lang, "stats.cli.forgot_line", table=table, n=n))
        print(t(lang, "stats.cli.aggregates_kept"))
        return 0

    return _run(config, work)


# --- chart ---------------------------------------------------------------------------------------
async def chart(session, config, *, group: str | None, what: str, days: int, lang: str | None, today: date | None = None) -> tuple[bytes, str]:
    """Render the chart; returns (PNG bytes, a label for the groups drawn)."""
    from bot.clock import Clock
    from handlers.stats import charts
    from storage import core_repo, stats_repo

    if group:
        chat = await _chat(session, config, group)
        chats = [chat]
        settings = await _group_settings(session, config, chat)
        label = chat.key
    else:
        chats = await core_repo.list_chats(session)
        if not chats:
            raise Fail(t(config.defaults.language, "stats.cli.no_groups"))
        settings = config.defaults
        label = t(lang or settings.language, "stats.cli.all_label", n=len(chats))
    title = chats[0].title or chats[0].key if group else None
    names = {"group": title, "group_key": chats[0].key if group else "", "all_groups": len(chats)}
    tz = ZoneInfo(settings.timezone)
    today = today or Clock().now().astimezone(tz).date()
    font = str(config.resolve_path(settings.stats.chart_font)) if settings.stats.chart_font else None
    language = lang or settings.language
    ids = [c.id for c in chats]
    if what == "activity":
        start = today - timedelta(days=days - 1)
        series = await stats_repo.daily_series(session, ids, start, today, ("messages", "active", "joins", "leaves"))
        png = charts.activity_png(series, start, **names, language=language, chart_font=font)
    else:
        since = today - timedelta(days=max(days, 90))
        size, points = await stats_repo.retention_curve(session, ids, tz, since, today)
        png = charts.retention_png(points, size, since, **names, language=language, chart_font=font)
    return png, label


def cmd_chart(args) -> int:
    config = _load(args.config)
    if args.days < 1 or args.days > 3650:
        print(f"--days: must be between 1 and 3650 (got {args.days})", file=sys.stderr)
        return 2

    async def work(session):
        png, label = await chart(session, config, group=args.group, what=args.what, days=args.days, lang=args.lang, today=args.until)
        path = Path(args.output)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png)
        from PIL import Image

        with Image.open(path) as image:
            width, height = image.size
        print(t(config.defaults.language, "stats.cli.chart_written", what=args.what, groups=label, path=path, width=width, height=height))
        return 0

    return _run(config, work)


