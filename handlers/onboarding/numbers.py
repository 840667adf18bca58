"""Numbers as members type them: 3, 3.5, 1,200, ３, 3年, 3 years, 三年, 十二, 两百, 一百零五, 三年半, 约3年."""

from __future__ import annotations

import re
import unicodedata

_DIGITS = {"零": 0, "〇": 0, "一": 1, "壹": 1, "二": 2, "贰": 2, "两": 2, "俩": 2, "三": 3, "叁": 3, "四": 4, "肆": 4,
           "五": 5, "伍": 5, "六": 6, "陆": 6, "七": 7, "柒": 7, "八": 8, "捌": 8, "九": 9, "玖": 9}
_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000, "万": 10000}
_CN = "".join(_DIGITS) + "".join(_UNITS)

# "about", before the number; unit words after it (any letters or CJK characters, up to three words).
_ABOUT = r"(?:约|大约|大概|差不多|将近|快|about|around|approx\.?|approximately|roughly|~|≈)?"
_NUMBER = re.compile(
    rf"^{_ABOUT}\s*(?P<num>[+-]?\d+(?:\.\d+)?|[{_CN}]+(?:点[{''.join(_DIGITS)}]+)?)\s*"
    r"(?P<unit>(?:[^\W\d_]+\s*){0,3}?)\s*(?P<half>半)?\s*(?:左右|多)?\s*$",
    re.IGNORECASE,
)


def chinese_int(text: str) -> int | None:
    """三 → 3, 十二 → 12, 二十 → 20, 一百零五 → 105, 两千三百 → 2300; None for what is not one."""
    if not text:
        return None
    total = section = current = 0
    for ch in text:
        if ch in _DIGITS:
            current = current * 10 + _DIGITS[ch] if current and text.find("十") < 0 and not any(u in text for u in "百千万拾佰仟") else _DIGITS[ch]
        elif ch in _UNITS:
            unit = _UNITS[ch]
            if unit == 10000:
                total += (section + current) * unit
                section = current = 0
            else:
                section += (current or 1) * unit
                current = 0
        else:
            return None
    return total + section + current


def parse_number(text: str) -> float | None:
    """The number in a typed answer, its unit words stripped; None when there is none (or several)."""
    cleaned = unicodedata.normalize("NFKC", text).strip()
    cleaned = re.sub(r"(?<=\d)[,，](?=\d{3}\b)", "", cleaned)
    if re.fullmatch(r"半(?:[^\W\d_]{0,2})", cleaned):  # 半年, 半个月
        return 0.5
    match = _NUMBER.match(cleaned)
    if not match:
        return None
    num = match.group("num")
    if num[0] in "+-" or num[0].isdigit():
        value = float(num)
    else:
        whole, _, decimals = num.partition("点")
        n = chinese_int(whole)
        if n is None:
            return None
        value = float(n)
        if decimals:
            value = float(f"{n}." + "".join(str(_DIGITS[c]) for c in decimals))
    unit = (match.group("unit") or "").strip()
    if re.search(r"\d", unit):
        return None
    if match.group("half") or unit.endswith("半"):
        value += 0.5
    if unit[:1] in ("万", "千", "百") and num[0].isdigit():  # 3万 = 30000
        value *= _UNITS[unit[0]]
    return value
