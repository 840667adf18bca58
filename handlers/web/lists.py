"""What the console's lists share: 50 rows a page, the page asked for, the pager's links (the other
query parameters kept), members' names, and times shown in the group's time zone."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.clock import as_utc

PAGE_SIZE = 50
PAGE_MAX = 1_000_000  # past any group's last page (the last is shown instead), within any database's integers


@dataclass(frozen=True)
class Pages:
    page: int
    pages: int
    total: int
    prev: str | None
    next: str | None

    @property
    def offset(self) -> int:
        return (self.page - 1) * PAGE_SIZE


def page_asked(request: web.Request) -> int | None:
    """`?page=N` (1 when absent); None when it is not a page number (the page says so)."""
    raw = request.query.get("page", "").strip()
    if not raw:
        return 1
    if not raw.isdigit() or int(raw) < 1:
        return None
    return min(int(raw), PAGE_MAX)


def pages(request: web.Request, page: int, total: int, keep: dict[str, str] | None = None) -> Pages:
    """The pager of a list of `total` rows, `page` kept within it; its links keep `keep` (default: the
    request's other query parameters)."""
    count = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(page, 1), count)
    query = {k: v for k, v in (request.query if keep is None else keep).items() if k != "page" and v != ""}

    def link(n: int) -> str:
        return "?" + urlencode({**query, **({"page": n} if n > 1 else {})})

    return Pages(page, count, total, link(page - 1) if page > 1 else None, link(page + 1) if page < count else None)


def member_name(member) -> str:
    """A stored member as the lists show them: the display name, else @username, else the id."""
    return member.display_name or (f"@{member.username}" if member.username else member.user_id)


def local_time(at: datetime | None, tz: str | ZoneInfo, empty: str = "") -> str:
    """`at` in the group's time zone, to the minute."""
    if at is None:
        return empty
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    return as_utc(at).astimezone(zone).strftime("%Y-%m-%d %H:%M")
