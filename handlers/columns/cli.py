"""`qunzhu columns check -c FILE [--days 7]`: before a column goes live, list each column's next
run times and find what would stop a post — a template that does not render, a calendar entry
missing in the coming days, a template file or campaign steps file that cannot be read.
Exits 1 when something needs fixing. Needs no database and sends nothing."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo


def _sample_values(source: str, local: datetime, lang: str, lines: list[str]) -> dict:
    from scheduler import sources

    values = {
        "title": "…", "name": "…", "group": "Test group", "date": local.date().isoformat(), "time": local.strftime("%H:%M"),
        "date_text": sources.date_text(local.date(), lang), "weekday": sources.WEEKDAYS[lang][local.weekday()], "language": lang,
        "text": "…",
    }
    if source == "morning":
        values.update(sources.morning_values(local, lang, lines))
    elif source == "evening":
        values.update(date=local.date().isoformat(), messages=12, active=5, newcomers=1, leaves=0, checkins=3, violations=0,
                      points_issued=30, top=[{"name": "alice", "messages": 6}])
    elif source == "feed":
        values.update(feed_title="Feed", items=[{"title": "Item", "link": "https://example.com/", "summary": "", "published": None}])
    return values


def check(config, days: int = 7) -> tuple[list[str], list[str]]:
    """(what is scheduled, problems): each problem names the config key at fault."""
    from scheduler import sources
    from scheduler.engine import fire_times
    from scheduler.sources import ContentProblem

    now = datetime.now(timezone.utc)
    horizon = now + timedelta(days=days)
    info: list[str] = []
    problems: list[str] = []
    lang = config.defaults.language
    for name, spec in config.columns.column.items():
        key = f"columns.column.{name}"
        tz = spec.timezone or config.defaults.timezone
        slots = fire_times(spec, tz, now, horizon)
        shown = ", ".join(f"{s.astimezone(ZoneInfo(tz)):%m-%d %H:%M}" for s in slots[:3]) or "none"
        info.append(f"column {name} ({spec.source}, {tz}): next {shown}" + (f" … ({len(slots)} in {days} days)" if len(slots) > 3 else ""))
        custom = spec.template
        if spec.template_file:
            try:
                custom = config.resolve_path(spec.template_file).read_text(encoding="utf-8")
            except OSError as exc:
                problems.append(f"{key}.template_file: {config.resolve_path(spec.template_file)}: {exc.strerror}")
                continue
        for slot in slots[:1] or [now]:
            local = slot.astimezone(ZoneInfo(tz))
            try:
                sources.render_template(sources.template_for(spec.source, lang, custom), _sample_values(spec.source, local, lang, spec.lines), f"column {name}")
            except ContentProblem as problem:
                problems.append(f"{key}.{'template_file' if spec.template_file else 'template'}: {problem.detail}")
        if spec.source == "calendar":
            path = config.resolve_path(spec.path or "")
            if not path.exists():
                problems.append(f"{key}.path: {path} does not exist")
                continue
            for slot in slots:
                local = slot.astimezone(ZoneInfo(tz))
                if sources.calendar_entry(path, local) is None:
                    problems.append(f"{key}.path: no entry for {local:%Y-%m-%d %H:%M}: add {sources.expected_entry_hint(path, local)}")
    for name, spec in config.columns.campaign.items():
        try:
            if spec.file:
                steps = sources.parse_steps_file(config.resolve_path(spec.file))
            else:
                steps = spec.steps
            info.append(f"campaign {name}: {len(steps)} steps, last on Day {max(s.day for s in steps)}")
        except ContentProblem as problem:
            problems.append(f"columns.campaign.{name}.{'file' if spec.file else 'steps'}: {problem.detail}")
    return info, problems


def check_config(config) -> list[str]:
    """For `qunzhu check-config`: what `qunzhu columns check` would find, as warnings."""
    return check(config)[1]


def cmd_check(args) -> int:
    from bot.cli import _load

    config = _load(args.config)
    if not config.columns.column and not config.columns.campaign:
        print("no columns or campaigns defined under [columns]")
        return 0
    info, problems = check(config, args.days)
    for line in info:
        print(line)
    for line in problems:
        print(f"  PROBLEM {line}")
    print("OK" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


def register(subparsers) -> None:
    p = subparsers.add_parser("columns", help="columns tools (check the definitions and content ahead)")
    sub = p.add_subparsers(dest="columns_command", metavar="ACTION", required=True)
    c = sub.add_parser("check", help="next run times, template and calendar problems of every column")
    c.add_argument("-c", "--config", required=True, metavar="FILE", help="the TOML config file")
    c.add_argument("--days", type=int, default=7, help="how many days ahead to look (default 7)")
    c.set_defaults(func=cmd_check)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: qunzhu columns check -c FILE")
