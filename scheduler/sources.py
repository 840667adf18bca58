"""Content sources of columns and campaigns: content calendars, queues, RSS/Atom feeds, and the
morning/evening generators. Each gives a Content or raises ContentProblem (said to the admins;
nothing is posted empty or half-rendered)."""

from __future__ import annotations

import calendar as _calendar
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from scheduler.templates import TemplateProblem, render

# --- results ---------------------------------------------------------------------------------


@dataclass
class Content:
    text: str
    image: bytes | None = None
    image_name: str | None = None


class ContentProblem(Exception):
    """kind: template | missing_entry | feed | empty_queue | nothing_new | steps."""

    def __init__(self, kind: str, detail: str):
        self.kind = kind
        self.detail = detail
        super().__init__(f"{kind}: {detail}")


def render_template(source: str, values: dict[str, Any], where: str) -> str:
    try:
        text = render(source, values)
    except TemplateProblem as exc:
        raise ContentProblem("template", f"{where}: {exc}") from None
    if not text.strip():
        raise ContentProblem("template", f"{where}: the template rendered an empty text")
    return text


# --- built-in templates ----------------------------------------------------------------------

DEFAULT_TEMPLATES: dict[str, dict[str, str]] = {
    "morning": {
        "zh-CN": (
            "☀️ {{ title }}｜早上好！今天是 {{ date_text }}，{{ weekday }}\n"
            "🗓 农历{{ lunar.year_ganzhi }}年（{{ lunar.zodiac }}年）{{ lunar.month }}月{{ lunar.day }}"
            "{% if jieqi %}，今日{{ jieqi }}{% endif %}"
            "{% if festivals %}，{{ festivals | join('、') }}{% endif %}\n"
            "{% if not jieqi and next_jieqi %}🌱 距{{ next_jieqi.name }}还有 {{ next_jieqi.days }} 天\n{% endif %}"
            "📖 每日一句：{{ line }}"
        ),
        "en": (
            "☀️ {{ title }} | Good morning! Today is {{ weekday }}, {{ date_text }}.\n"
            "🗓 Chinese calendar: {{ lunar.year_ganzhi }} year ({{ lunar.zodiac_en }}), "
            "month {{ lunar.month_number }} day {{ lunar.day_number }} ({{ lunar.month }}月{{ lunar.day }})"
            "{% if jieqi %}; solar term today: {{ jieqi }} ({{ jieqi_en }}){% endif %}"
            "{% if festivals %}; {{ festivals | join(', ') }}{% endif %}\n"
            "{% if not jieqi and next_jieqi %}🌱 {{ next_jieqi.days }} day{{ 's' if next_jieqi.days != 1 else '' }} to {{ next_jieqi.name }} ({{ next_jieqi.name_en }})\n{% endif %}"
            "📖 Line of the day: {{ line }}"
        ),
    },
    "evening": {
        "zh-CN": (
            "🌙 {{ title }}｜{{ group }} 今日小结（{{ date }}）\n"
            "💬 消息 {{ messages }} 条｜👥 活跃 {{ active }} 人\n"
            "🆕 新成员 {{ newcomers }} 人｜✅ 打卡 {{ checkins }} 人次\n"
            "{% if top %}🏆 今日活跃榜：{% for m in top %}{{ loop.index }}. {{ m.name }}（{{ m.messages }} 条）{% if not loop.last %}  {% endif %}{% endfor %}\n{% endif %}"
            "{% if violations %}⚠️ 今日处理违规 {{ violations }} 次，请大家遵守群规{% else %}🌿 今日无违规，感谢大家共同维护{% endif %}\n"
            "晚安，明天见！"
        ),
        "en": (
            "🌙 {{ title }} | {{ group }}, today ({{ date }})\n"
            "💬 {{ messages }} messages | 👥 {{ active }} active members\n"
            "🆕 {{ newcomers }} newcomers | ✅ {{ checkins }} check-ins\n"
            "{% if top %}🏆 Most active: {% for m in top %}{{ loop.index }}. {{ m.name }} ({{ m.messages }}){% if not loop.last %}  {% endif %}{% endfor %}\n{% endif %}"
            "{% if violations %}⚠️ {{ violations }} rule violations handled today — please keep to the rules{% else %}🌿 No rule violations today — thank you all{% endif %}\n"
            "Good night, see you tomorrow!"
        ),
    },
    "feed": {
        "zh-CN": (
            "📰 {{ title }}{% if feed_title %}｜{{ feed_title }}{% endif %}\n"
            "{% for item in items %}{{ loop.index }}. {{ item.title }}\n   {{ item.link }}\n{% endfor %}"
        ),
        "en": (
            "📰 {{ title }}{% if feed_title %} | {{ feed_title }}{% endif %}\n"
            "{% for item in items %}{{ loop.index }}. {{ item.title }}\n   {{ item.link }}\n{% endfor %}"
        ),
    },
    "calendar": {"zh-CN": "{{ text }}", "en": "{{ text }}"},
    "queue": {"zh-CN": "{{ text }}", "en": "{{ text }}"},
    "campaign": {"zh-CN": "{{ text }}", "en": "{{ text }}"},
}

# Lines of the day: classical Chinese and public-domain English sayings.
DEFAULT_LINES: dict[str, list[str]] = {
    "zh-CN": [
        "学而时习之，不亦说乎？——《论语》",
        "千里之行，始于足下。——《老子》",
        "不积跬步，无以至千里；不积小流，无以成江海。——《荀子》",
        "天行健，君子以自强不息。——《周易》",
        "锲而不舍，金石可镂。——《荀子》",
        "三人行，必有我师焉。——《论语》",
        "业精于勤，荒于嬉；行成于思，毁于随。——韩愈",
        "博观而约取，厚积而薄发。——苏轼",
        "路漫漫其修远兮，吾将上下而求索。——屈原",
        "纸上得来终觉浅，绝知此事要躬行。——陆游",
        "知之者不如好之者，好之者不如乐之者。——《论语》",
        "合抱之木，生于毫末；九层之台，起于累土。——《老子》",
    ],
    "en": [
        "Well done is better than well said. — Benjamin Franklin",
        "A journey of a thousand miles begins with a single step. — Laozi",
        "Lost time is never found again. — Benjamin Franklin",
        "Energy and persistence conquer all things. — Benjamin Franklin",
        "Knowing is not enough; we must apply. — Johann Wolfgang von Goethe",
        "Act well your part; there all the honour lies. — Alexander Pope",
        "Learning without thought is labour lost. — Confucius",
        "Little strokes fell great oaks. — Benjamin Franklin",
    ],
}

WEEKDAYS = {
    "zh-CN": ["星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"],
    "en": list(_calendar.day_name),
}

ZODIAC_EN = {
    "鼠": "Rat", "牛": "Ox", "虎": "Tiger", "兔": "Rabbit", "龙": "Dragon", "蛇": "Snake",
    "马": "Horse", "羊": "Goat", "猴": "Monkey", "鸡": "Rooster", "狗": "Dog", "猪": "Pig",
}

JIEQI_EN = {
    "立春": "Start of Spring", "雨水": "Rain Water", "惊蛰": "Awakening of Insects", "春分": "Spring Equinox",
    "清明": "Pure Brightness", "谷雨": "Grain Rain", "立夏": "Start of Summer", "小满": "Grain Buds",
    "芒种": "Grain in Ear", "夏至": "Summer Solstice", "小暑": "Minor Heat", "大暑": "Major Heat",
    "立秋": "Start of Autumn", "处暑": "End of Heat", "白露": "White Dew", "秋分": "Autumn Equinox",
    "寒露": "Cold Dew", "霜降": "Frost's Descent", "立冬": "Start of Winter", "小雪": "Minor Snow",
    "大雪": "Major Snow", "冬至": "Winter Solstice", "小寒": "Minor Cold", "大寒": "Major Cold",
    # lunar_python's names of the terms around the year boundary
    "DONG_ZHI": "Winter Solstice", "XIAO_HAN": "Minor Cold", "DA_HAN": "Major Cold",
    "LI_CHUN": "Start of Spring", "YU_SHUI": "Rain Water", "JING_ZHE": "Awakening of Insects",
}

_JIEQI_ALIASES = {
    "DONG_ZHI": "冬至", "XIAO_HAN": "小寒", "DA_HAN": "大寒", "LI_CHUN": "立春", "YU_SHUI": "雨水", "JING_ZHE": "惊蛰",
}


def template_for(kind: str, lang: str, custom: str | None) -> str:
    return custom if custom else DEFAULT_TEMPLATES[kind].get(lang) or DEFAULT_TEMPLATES[kind]["zh-CN"]


# --- generators --------------------------------------------------------------------------------


def lunar_facts(day: date) -> dict[str, Any]:
    """The Chinese calendar facts of a Gregorian date (lunar_python)."""
    from lunar_python import Solar

    solar = Solar.fromYmd(day.year, day.month, day.day)
    lunar = solar.getLunar()
    jieqi = _JIEQI_ALIASES.get(lunar.getJieQi(), lunar.getJieQi())
    nxt = lunar.getNextJieQi(True)
    next_name = _JIEQI_ALIASES.get(nxt.getName(), nxt.getName())
    next_solar = nxt.getSolar()
    next_day = date(next_solar.getYear(), next_solar.getMonth(), next_solar.getDay())
    festivals = list(lunar.getFestivals()) + list(solar.getFestivals())
    month = lunar.getMonth()
    return {
        "lunar": {
            "year_ganzhi": lunar.getYearInGanZhi(),
            "zodiac": lunar.getYearShengXiao(),
            "zodiac_en": ZODIAC_EN.get(lunar.getYearShengXiao(), ""),
            "month": lunar.getMonthInChinese(),  # lunar_python already writes a leap month as 闰六
            "day": lunar.getDayInChinese(),
            "month_number": abs(month),
            "day_number": lunar.getDay(),
            "leap_month": month < 0,
            "text": f"{lunar.getYearInGanZhi()}年{lunar.getMonthInChinese()}月{lunar.getDayInChinese()}",
        },
        "jieqi": jieqi,
        "jieqi_en": JIEQI_EN.get(jieqi, ""),
        "next_jieqi": {"name": next_name, "name_en": JIEQI_EN.get(next_name, ""), "date": next_day.isoformat(), "days": (next_day - day).days}
        if next_day > day
        else None,
        "festivals": festivals,
    }


def date_text(day: date, lang: str) -> str:
    if lang == "en":
        return f"{day.day} {_calendar.month_name[day.month]} {day.year}"
    return f"{day.year}年{day.month}月{day.day}日"


def line_of_the_day(day: date, lang: str, lines: list[str]) -> str:
    pool = lines or DEFAULT_LINES.get(lang) or DEFAULT_LINES["zh-CN"]
    return pool[day.toordinal() % len(pool)]


def morning_values(local: datetime, lang: str, lines: list[str]) -> dict[str, Any]:
    day = local.date()
    values = lunar_facts(day)
    values.update(
        date=day.isoformat(),
        date_text=date_text(day, lang),
        weekday=WEEKDAYS.get(lang, WEEKDAYS["zh-CN"])[day.weekday()],
        time=local.strftime("%H:%M"),
        line=line_of_the_day(day, lang, lines),
    )
    return values


async def evening_values(session, chat_id: int, day: date, top_n: int = 3) -> dict[str, Any]:
    from storage import core_repo, metrics

    totals: dict[str, int] = {}
    for row in await metrics.counters(session, chat_id, day, day):
        totals[row.metric] = totals.get(row.metric, 0) + int(row.value)
    top = await metrics.top_contributors(session, chat_id, day, day, limit=top_n)
    names: dict[int, str] = {}
    if top:
        names = await core_repo.display_names(session, [m for m, _ in top])
    return {
        "date": day.isoformat(),
        "messages": totals.get("messages", 0),
        "active": await metrics.active_members(session, chat_id, day, day),
        "newcomers": totals.get("joins", 0),
        "leaves": totals.get("leaves", 0),
        "checkins": totals.get("checkins", 0),
        "violations": totals.get("violations", 0),
        "points_issued": totals.get("points_issued", 0),
        "top": [{"name": names.get(mid, str(mid)), "messages": n} for mid, n in top],
    }


# --- content calendars -------------------------------------------------------------------------

_IMAGE_MD = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")
# An undated entry, used for a slot that has no dated one (a recurring post): '## default' / '## 默认'
# in one file, default.md in a folder.
_DEFAULT_HEADING = re.compile(r"^##\s+(?:default|默认)\s*$", re.MULTILINE | re.IGNORECASE)
DEFAULT_STEMS = ("default", "默认")
_HEADING = re.compile(r"^##\s+(\d{4}-\d{2}-\d{2})(?:[ T]+(\d{1,2}:\d{2}))?\s*$", re.MULTILINE)
_IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".gif", ".webp")


@dataclass
class Entry:
    text: str
    image_path: Path | None = None
    where: str = ""


def _split_image(text: str, base: Path) -> tuple[str, Path | None]:
    match = _IMAGE_MD.search(text)
    if not match:
        return text.strip(), None
    path = Path(match.group(1))
    path = path if path.is_absolute() else base / path
    text = (text[: match.start()] + text[match.end():]).strip()
    return text, path


def calendar_entry(path: Path, local: datetime) -> Entry | None:
    """The entry for a slot at local time `local`: in a folder, YYYY-MM-DD-HHMM.md before
    YYYY-MM-DD.md (with an optional YYYY-MM-DD.png/.jpg beside it); in one file, the section
    '## YYYY-MM-DD HH:MM' before '## YYYY-MM-DD'; then the undated entry (default.md, or the section
    '## default' / '## 默认'), if there is one. None when there is none."""
    day = local.strftime("%Y-%m-%d")
    hhmm = local.strftime("%H%M")
    if path.is_dir():
        for stem in (f"{day}-{hhmm}", day, *DEFAULT_STEMS):
            md = path / f"{stem}.md"
            if md.is_file():
                text, image = _split_image(md.read_text(encoding="utf-8"), path)
                if image is None:
                    image = next((path / f"{stem}{ext}" for ext in _IMAGE_EXTS if (path / f"{stem}{ext}").is_file()), None)
                if not text and image is None:
                    return None
                return Entry(text, image, str(md))
        return None
    if not path.is_file():
        return None
    source = path.read_text(encoding="utf-8")
    sections: dict[tuple[str, str | None], str] = {}
    starts = sorted([(m.start(), m.end(), m) for m in _HEADING.finditer(source)]
                    + [(m.start(), m.end(), None) for m in _DEFAULT_HEADING.finditer(source)], key=lambda x: x[0])
    heads = [start for start, _, _ in starts]
    for start, end_of_heading, match in starts:
        end = min((h for h in heads if h > start), default=len(source))
        if match is None:
            sections.setdefault(("default", None), source[end_of_heading:end])
            continue
        time = match.group(2)
        if time:
            h, m = time.split(":")
            time = f"{int(h):02d}{m}"
        sections[(match.group(1), time)] = source[end_of_heading:end]
    body = sections.get((day, hhmm), sections.get((day, None)))
    heading = f"## {day}"
    if body is None:
        body, heading = sections.get(("default", None)), "## default"
    if body is None:
        return None
    text, image = _split_image(body, path.parent)
    if not text and image is None:
        return None
    return Entry(text, image, f"{path} ({heading})")


def expected_entry_hint(path: Path, local: datetime) -> str:
    day = local.strftime("%Y-%m-%d")
    if path.is_dir() or not path.suffix:
        return str(path / f"{day}.md")
    return f"{path}: ## {day}"


def load_image(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ContentProblem("missing_entry", f"image {path} cannot be read: {exc.strerror}") from None


# --- feeds -----------------------------------------------------------------------------------


@dataclass
class Feed:
    title: str
    items: list[dict[str, Any]] = field(default_factory=list)


async def fetch_feed(url: str, timeout: float) -> Feed:
    """GET and parse an RSS/Atom feed; any network or format failure is a ContentProblem."""
    import aiohttp
    import feedparser

    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http:
            async with http.get(url, headers={"User-Agent": "Qunzhu/0.1 (+columns)"}) as response:
                if response.status != 200:
                    raise ContentProblem("feed", f"{url} answered HTTP {response.status}")
                body = await response.read()
    except ContentProblem:
        raise
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise ContentProblem("feed", f"{url} could not be fetched: {type(exc).__name__}: {exc}") from None
    parsed = feedparser.parse(body)
    if parsed.bozo and not parsed.entries:
        raise ContentProblem("feed", f"{url} is not a valid RSS/Atom feed ({parsed.get('bozo_exception')})")
    items = []
    for entry in parsed.entries:
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        published = datetime(*stamp[:6], tzinfo=timezone.utc) if stamp else None
        items.append(
            {
                "title": (entry.get("title") or "").strip() or entry.get("link", ""),
                "link": entry.get("link", ""),
                "summary": re.sub(r"<[^>]+>", "", entry.get("summary", "") or "").strip(),
                "published": published,
            }
        )
    return Feed(parsed.feed.get("title", ""), items)


def feed_digest_items(feed: Feed, since: datetime | None, max_items: int) -> list[dict[str, Any]]:
    """Items published after `since` (all, if the feed has no dates), newest first, at most max_items."""
    dated = [i for i in feed.items if i["published"] is not None]
    if since is not None and dated:
        items = [i for i in dated if i["published"] > since]
        items.sort(key=lambda i: i["published"], reverse=True)
    else:
        items = list(feed.items)
    return items[:max_items]


# --- campaign step files -------------------------------------------------------------------------

_STEP_HEADING = re.compile(r"^##\s*(?:day\s*(\d+)|第\s*(\d+)\s*天)\s+(\d{1,2}:\d{2})\s*$", re.MULTILINE | re.IGNORECASE)


@dataclass
class Step:
    day: int
    time: str  # HH:MM
    text: str
    image_path: Path | None = None

    @property
    def offset(self) -> timedelta:
        h, m = (int(x) for x in self.time.split(":"))
        return timedelta(days=self.day - 1, hours=h, minutes=m)


def parse_steps_file(path: Path) -> list[Step]:
    """'## Day 1 09:00' (or '## 第1天 09:00') headings, each followed by the step's text; an image
    is a Markdown image line ![](file) in the step."""
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ContentProblem("steps", f"{path} cannot be read: {exc.strerror}") from None
    matches = list(_STEP_HEADING.finditer(source))
    if not matches:
        raise ContentProblem("steps", f"{path} has no step headings such as '## Day 1 09:00' or '## 第1天 09:00'")
    steps = []
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(source)
        day = int(match.group(1) or match.group(2))
        h, m = (int(x) for x in match.group(3).split(":"))
        if day < 1 or h > 23 or m > 59:
            line = source.count("\n", 0, match.start()) + 1
            raise ContentProblem("steps", f"{path} line {line}: '{match.group(0).strip()}' is not a valid day/time")
        text, image = _split_image(source[match.end():end], path.parent)
        if not text and image is None:
            line = source.count("\n", 0, match.start()) + 1
            raise ContentProblem("steps", f"{path} line {line}: the step '{match.group(0).strip()}' is empty")
        steps.append(Step(day, f"{h:02d}:{m:02d}", text, image))
    steps.sort(key=lambda s: s.offset)
    return steps
