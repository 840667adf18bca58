"""Admin notes that list groups: every group is named, over as many messages as the platform's
message size needs (Telegram: 4,096 characters; WeCom: 2,048 bytes).

A platform may say its own limit with `max_text` (an int) and `max_text_unit` ("chars" or
"bytes"); otherwise WeCom is 2,048 bytes and everything else 4,096 characters. Characters are
counted as UTF-16 code units (what Telegram counts), so an emoji counts twice and the result is
never over the limit whichever way the platform counts.
"""

from __future__ import annotations

from typing import Any

DEFAULT_LIMITS = {"wecom": (2048, "bytes")}
DEFAULT_LIMIT = (4096, "chars")
MARGIN = 32  # room for what an adapter may add (a mention, a prefix)


def text_budget(platform: Any) -> tuple[int, str]:
    """(limit, unit) of one message on this platform, with a small margin taken off."""
    name = getattr(platform, "name", "")
    limit, unit = DEFAULT_LIMITS.get(name, DEFAULT_LIMIT)
    limit = int(getattr(platform, "max_text", None) or limit)
    unit = getattr(platform, "max_text_unit", None) or unit
    return max(limit - MARGIN, 64), unit


def measure(text: str, unit: str) -> int:
    if unit == "bytes":
        return len(text.encode("utf-8"))
    return len(text.encode("utf-16-le")) // 2


def _cut(text: str, limit: int, unit: str) -> str:
    """`text` shortened (with an ellipsis) to fit `limit`."""
    if measure(text, unit) <= limit:
        return text
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if measure(text[:mid] + "…", unit) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + "…"


def split_lines(header: str, lines: list[str], limit: int, unit: str = "chars") -> list[str]:
    """The header and every line, in as few messages as fit `limit` each. With more than one
    message, each header gets " (i/n)"; a line that alone is too long is shortened, never dropped."""
    if not lines:
        return [_cut(header, limit, unit)]
    whole = header + "\n" + "\n".join(lines)
    if measure(whole, unit) <= limit:
        return [whole]
    suffix_room = measure(" (999/999)", unit)
    head = _cut(header, max(limit // 2, limit - suffix_room - 1 - 64), unit)
    room = limit - measure(head, unit) - suffix_room
    chunks: list[list[str]] = [[]]
    used = 0
    for line in lines:
        line = _cut(line, room - 1, unit)
        size = measure(line, unit) + 1  # the newline before it
        if chunks[-1] and used + size > room:
            chunks.append([])
            used = 0
        chunks[-1].append(line)
        used += size
    total = len(chunks)
    return [f"{head} ({i}/{total})\n" + "\n".join(chunk) for i, chunk in enumerate(chunks, 1)]
