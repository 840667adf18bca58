"""Text normaliser: the views of a message the detectors read.

Spammers dodge filters with zero-width characters, full-width and mathematical letters (𝐇𝕌𝐗),
Cyrillic look-alikes, digits split by spaces or punctuation or written as ⓿➃肆 or emoji, traditional
characters and 點com. `normalize(text)` undoes those tricks and returns `Views`:

- `text`: invisible characters removed, NFKC, lower case, traditional → simplified (`canonical`)
- `squeezed`: `text` with look-alike letters mapped to Latin, rare variant hanzi written for a contact
  word mapped to it (訫 → 信, 嶶 → 微), and every separator, space, emoji and decoration removed
  ("加 V·信" → "加v信", "私/訫我" → "私信我")
- `digits`: a digit skeleton: digit-like characters become ASCII digits, separators inside a run of
  digits vanish, look-alike letters between digits count as digits, anything else breaks the run
  ("1З8 0O13-8000" → "13800138000"); of the stretches near digits only (`digit_stretches`: the
  same runs of digits as the whole `digit_skeleton`)

Every step is a translate table or a linear regex, so the work is linear in the message length.
`canonical` is idempotent and never raises (property-tested).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import opencc

_T2S = opencc.OpenCC("t2s")


def _traditional_chars() -> frozenset[str]:
    """The hanzi OpenCC's t2s changes (about 5,000 of 89,000; one conversion call, ~50 ms). Text
    without any of them is left as it is by t2s, so most messages skip the conversion (speed)."""
    ranges = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2A6DF), (0x2A700, 0x2EBEF),
              (0x2F800, 0x2FA1F))
    changed: set[str] = set()
    # A few thousand at a time: 89,000 one-character strings at once left ~13 MB of freed but
    # fragmented heap behind (resident memory).
    for start, stop in ranges:
        for first in range(start, stop + 1, 4096):
            chars = [chr(c) for c in range(first, min(first + 4096, stop + 1))]
            converted = _T2S.convert("\n".join(chars)).split("\n")
            if len(converted) != len(chars):  # a phrase rule joined lines: convert every message instead
                return frozenset(chr(c) for start, stop in ranges for c in range(start, stop + 1))
            changed.update(c for c, o in zip(chars, converted) if c != o)
    return frozenset(changed)


_TRADITIONAL = _traditional_chars()

# Invisible and decorating characters: zero-width, bidi controls, BOM, soft hyphen, variation
# selectors, tags, combining marks used as underlines/strike-throughs (链͟游͟), keycap enclosers.
_INVISIBLE_CHARS = (
    "\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5"
    "\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
    "\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
    "\U000e0000-\U000e0fff\U0001d173-\U0001d17a"
)
_INVISIBLE = re.compile(f"[{_INVISIBLE_CHARS}]")
# Surrogates (from broken decoders) cannot be encoded for OpenCC; they are dropped in the same pass
# as the invisible characters (speed: one scan instead of two).
_INVISIBLE_OR_SURROGATE = re.compile(f"[{_INVISIBLE_CHARS}\ud800-\udfff]")

# Letters that look like Latin ones (Cyrillic, Greek, others seen in spam) → Latin.
_LOOKALIKE_LATIN = {
    "а": "a", "в": "b", "с": "c", "е": "e", "ё": "e", "н": "h", "і": "i", "ј": "j", "к": "k", "м": "m",
    "о": "o", "р": "p", "ѕ": "s", "т": "t", "у": "y", "х": "x", "ԁ": "d", "ԛ": "q", "ԝ": "w", "һ": "h",
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "ω": "w", "ϲ": "c", "ϳ": "j", "ɡ": "g", "ı": "i", "ʏ": "y", "ᴠ": "v", "ᴡ": "w",
    "ⅴ": "v", "ⅹ": "x", "乂": "x", "ⅰ": "i", "ⅼ": "l", "ⅽ": "c", "ⅾ": "d", "ⅿ": "m",
}

# Hanzi outside everyday GB2312 that spammers write for the words of a contact cue (私訫我, 嶶信,
# 媺号). Only rare forms: the common homophones (威, 薇, 徽 …) stay as they are, since they are
# also ordinary words.
_VARIANTS = {
    "訫": "信", "嶶": "微", "徾": "微", "溦": "微", "媺": "微", "覹": "微",
}

# Characters that stand for digits in spam but that NFKC leaves alone or maps to letters.
_DIGIT_WORDS = {
    "〇": "0", "零": "0", "一": "1", "二": "2", "三": "3", "四": "4", "五": "5", "六": "6", "七": "7",
    "八": "8", "九": "9", "壹": "1", "贰": "2", "叁": "3", "肆": "4", "伍": "5", "陆": "6", "柒": "7",
    "捌": "8", "玖": "9", "幺": "1", "两": "2",
}
# Look-alikes that count as digits only between digits ("1З8", "0O1", "2⦿48").
_DIGIT_LOOKALIKES = {
    "o": "0", "з": "3", "б": "6", "⦿": "0", "⊙": "0", "○": "0", "◯": "0", "●": "0", "θ": "0",
    "l": "1", "|": "1", "ǀ": "1", "z": "2", "ʒ": "3", "s": "5", "g": "9", "q": "9", "b": "6",
}

_CJK_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2FA1F))

SEP = "_"  # class marker in the digit skeleton for a separator
BREAK = " "


def char_class(chars, negate: bool = False) -> str:
    """A regex character class of exactly `chars`, as ranges: `re.compile(char_class(s)).search(t)`
    answers "does t hold one of s" in one C-level scan, without a str object per character as
    set.isdisjoint(t) makes (speed). Slow for scattered classes with characters past U+FFFF."""
    cps = sorted(set(map(ord, chars)))
    out, i = [], 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        out.append(f"\\U{cps[i]:08x}" if i == j else f"\\U{cps[i]:08x}-\\U{cps[j]:08x}")
        i = j + 1
    return ("[^" if negate else "[") + "".join(out) + "]"


# A character t2s changes or one past U+FFFF: a bitmap class and one range, a fast scan (speed).
_TRADITIONAL_OR_ASTRAL = re.compile(char_class(c for c in _TRADITIONAL if c < "\U00010000")[:-1]
                                    + "\U00010000-\U0010ffff]")


def _has_traditional(text: str) -> bool:
    """Whether `text` holds a character t2s changes: one scan, looking on past each character beyond
    U+FFFF that is not one (most are emoji)."""
    m = _TRADITIONAL_OR_ASTRAL.search(text)
    while m and m.group() not in _TRADITIONAL:
        m = _TRADITIONAL_OR_ASTRAL.search(text, m.end())
    return m is not None


def _is_cjk(cp: int) -> bool:
    return any(lo <= cp <= hi for lo, hi in _CJK_RANGES)


class _LazyTable(dict):
    """A str.translate table computed per character on first sight, then served from C."""

    def __init__(self, fn):
        super().__init__()
        self._fn = fn

    def __missing__(self, cp: int):
        value = self._fn(chr(cp))
        self[cp] = value
        return value


def _squeeze_char(ch: str) -> str | None:
    if ch in _LOOKALIKE_LATIN:
        return _LOOKALIKE_LATIN[ch]
    if ch in _VARIANTS:
        return _VARIANTS[ch]
    cp = ord(ch)
    if 0x16A0 <= cp <= 0x16FF:  # runes are used as decorations (ᚰ ᛀ ᚠ)
        return None
    cat = unicodedata.category(ch)
    if cat[0] == "L" or cat == "Nd":
        return ch
    return None


def _digit_char(ch: str) -> str:
    if "0" <= ch <= "9":
        return ch
    if ch in _DIGIT_WORDS:
        return _DIGIT_WORDS[ch]
    if ch in _DIGIT_LOOKALIKES:
        return chr(0xE000 + int(_DIGIT_LOOKALIKES[ch]))  # resolved later, only between digits
    digit = unicodedata.digit(ch, None)
    if digit is not None:
        return str(digit)
    cp = ord(ch)
    cat = unicodedata.category(ch)
    if 0x16A0 <= cp <= 0x16FF or cat[0] in "PSZ" or ch in "\n\t\r":
        return SEP
    return BREAK


_SQUEEZE_TABLE = _LazyTable(_squeeze_char)
_DIGIT_TABLE = _LazyTable(_digit_char)

# Every character the digit skeleton reads as a digit (0-9, ⓿➃, 肆 …; no character past U+1FFFF has
# a digit value). Text without any has no digit in its skeleton: detectors test this first (speed).
DIGIT_LIKE = frozenset(
    "0123456789" + "".join(_DIGIT_WORDS)
    + "".join(c for c in map(chr, range(0x20000)) if unicodedata.digit(c, None) is not None)
)

# Written to start with a character and test what precedes it once it is read ("_(?<=[0-9]_)" for
# "(?<=[0-9])_"): the regex engine then skips to that character instead of trying every position (speed).
_SEP_BETWEEN = re.compile(r"_(?<=[0-9\ue000-\ue009]_)_*(?=[0-9\ue000-\ue009])")
_LOOKALIKE_IN_RUN = re.compile(r"[\ue000-\ue009](?<=[0-9].)[\ue000-\ue009]*(?=[0-9])")
ANY_DIGIT = re.compile("[0-9]")
_MARKER_DIGITS = {0xE000 + d: str(d) for d in range(10)}  # a look-alike's marker → its digit
_LEFTOVER = re.compile(r"[_\ue000-\ue009]+")


def _canon_once(text: str) -> str:
    """One pass over text already free of invisible characters (NFKC can yield new ones)."""
    if not unicodedata.is_normalized("NFKC", text):  # a quick check: most text already is (speed)
        text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    text = text.lower()
    if _has_traditional(text):
        text = _T2S.convert(text)
    return text


def _stable_chars() -> frozenset[str]:
    """Characters every canonical step leaves alone, none of them combining: a string made only of
    them is a fixed point, so a message whose first pass yields one needs no second pass (speed).
    Lower-case ASCII, everyday CJK, CJK and general punctuation, common symbols and emoji, and what
    else spam is written with: Latin-1 and Greek letters and signs, runes, phonetic letters, currency
    signs, maths operators (ᚰ, ᴥ, ≧, ₳)."""
    ranges = ((0x20, 0x7E), (0x3000, 0x303F), (0x4E00, 0x9FFF), (0x2010, 0x205E), (0x2190, 0x21FF),
              (0x2460, 0x27BF), (0x1F300, 0x1FAFF), (0xA0, 0xFF), (0x370, 0x3FF), (0x16A0, 0x16FF),
              (0x1D00, 0x1D7F), (0x20A0, 0x20CF), (0x2200, 0x22FF))
    nfkc, combining = unicodedata.normalize, unicodedata.combining
    out = {"\t", "\n", "\r"}
    for start, stop in ranges:
        for ch in map(chr, range(start, stop + 1)):
            if (ch not in _TRADITIONAL and ch.lower() == ch and not combining(ch) and nfkc("NFKC", ch) == ch
                    and not _INVISIBLE.match(ch)):
                out.add(ch)
    return frozenset(out)


def _canonical(text: str) -> tuple[str, bool]:
    """(canonical text, whether `text` had invisible characters)."""
    stripped, removed = _INVISIBLE_OR_SURROGATE.subn("", text)
    # Nothing removed: no invisible character (the common case, known without another scan).
    invisible = bool(removed) and _INVISIBLE.search(text) is not None
    if stripped.isascii():
        # NFKC and t2s leave ASCII alone, and the lower-cased result is a fixed point (speed).
        return stripped.lower(), invisible
    if _UNSTABLE.search(stripped) is None:
        return stripped, invisible  # made of stable characters only: a fixed point (speed)
    if _UNSTABLE_BEYOND_FULL_WIDTH.search(stripped) is None:
        # Stable characters, upper-case ASCII and full-width forms (most chat: ，！？Ａ１): NFKC is
        # replacing each full-width form, as none of them composes, and the result is a fixed point.
        # A replace per distinct form, not a translate of every character (speed).
        for form in set(_FULL_WIDTH_RX.findall(stripped)):
            stripped = stripped.replace(form, _FULL_WIDTH[form])
        return stripped.lower(), invisible
    text = stripped
    out = _canon_once(text)
    if out == text:
        return out, invisible  # nothing to change: already a fixed point
    for _ in range(4):  # a step can expose work for another (e.g. NFKC yielding a combining mark)
        if out.isascii() or _UNSTABLE.search(out) is None:
            break  # made of characters every step leaves alone: a fixed point
        again = _canon_once(out)
        if again == out:
            break
        out = again
    return out, invisible


# Characters NFKC maps to one ASCII character: the full-width forms and the ideographic space.
_FULL_WIDTH = {chr(cp): chr(cp - 0xFEE0) for cp in range(0xFF01, 0xFF5F)} | {"\u3000": " "}
_FULL_WIDTH_RX = re.compile("[\uff01-\uff5e\u3000]")


def _unstable_classes() -> tuple[re.Pattern, re.Pattern]:
    """("not made only of stable characters", "not made only of them, upper-case ASCII and
    `_FULL_WIDTH`"), each in one C scan (speed); the set itself is not kept (memory)."""
    stable = _stable_chars()
    simple = stable | set("ABCDEFGHIJKLMNOPQRSTUVWXYZ") | set(_FULL_WIDTH)
    return re.compile(char_class(stable, negate=True)), re.compile(char_class(simple, negate=True))


_UNSTABLE, _UNSTABLE_BEYOND_FULL_WIDTH = _unstable_classes()


def canonical(text: str) -> str:
    """Invisible characters removed, NFKC, lower case, simplified script. Idempotent."""
    if not isinstance(text, str):
        text = str(text)
    return _canonical(text)[0]


# Letters written for digits inside an ID (ccЗ4367 with a Cyrillic з, UCX ł39): only right before a
# digit, so Russian and Polish words (10 записей, był) stay words.
_DIGIT_LETTERS = {"з": "3", "ł": "1"}
_DIGIT_LETTER_BEFORE_DIGIT = re.compile("[зł](?=[0-9])")


def _squeeze_classes() -> tuple[re.Pattern, re.Pattern]:
    """(the BMP characters squeeze drops, those it maps to another character or past U+FFFF): removing
    the first with one regex and translating only text that still has one of the second gives what
    the translate alone gives, at half the cost (speed; ~50 ms at import)."""
    drop, special = [], []
    for ch in map(chr, range(0x10000)):
        out = _squeeze_char(ch)
        if out is None:
            drop.append(ch)
        elif out != ch:
            special.append(ch)
    return re.compile(char_class(drop)), re.compile(char_class(special)[:-1] + "\U00010000-\U0010ffff]")


_SQUEEZE_DROP, _SQUEEZE_MAPPED = _squeeze_classes()


def squeeze(text: str) -> str:
    out = _SQUEEZE_DROP.sub("", text)
    if _SQUEEZE_MAPPED.search(out):
        out = out.translate(_SQUEEZE_TABLE)
    if "з" in out or "ł" in out:
        out = _DIGIT_LETTER_BEFORE_DIGIT.sub(lambda m: _DIGIT_LETTERS[m.group(0)], out)
    return out


def digit_skeleton(text: str) -> str:
    mapped = text.translate(_DIGIT_TABLE)
    if not ANY_DIGIT.search(mapped):
        return _LEFTOVER.sub(BREAK, mapped)  # no digit, no run to join (speed)
    return _join_runs(mapped)


def _join_runs(mapped: str) -> str:
    """The skeleton of text mapped through _DIGIT_TABLE: separators and look-alikes inside runs of
    digits resolved, the other markers breaks."""
    if _LEFTOVER.search(mapped) is None:
        return mapped  # no separator and no look-alike: nothing to resolve (speed)
    mapped = _SEP_BETWEEN.sub("", mapped)
    mapped = _LOOKALIKE_IN_RUN.sub(lambda m: m.group().translate(_MARKER_DIGITS), mapped)
    return _LEFTOVER.sub(BREAK, mapped)


def _digit_stretch() -> re.Pattern:
    """A stretch of text that can hold a run of the skeleton: from a digit-like character on, over
    every character the skeleton does not read as a break (digits, look-alikes, separators). Any
    character past U+FFFF may start or continue one, which keeps the classes fast bitmaps and
    changes no run (a break inside a stretch is mapped as one)."""
    bmp = [c for c in map(chr, range(0x10000)) if unicodedata.category(c)[0] in "PSZ"]
    kept = {*bmp, *"\n\t\r", *map(chr, range(0x16A0, 0x1700)), *_DIGIT_LOOKALIKES,
            *(c for c in DIGIT_LIKE if c < "\U00010000")}
    start = char_class(c for c in DIGIT_LIKE if c < "\U00010000")[:-1] + "\U00010000-\U0010ffff]"
    return re.compile(start + char_class(kept)[:-1] + "\U00010000-\U0010ffff]*+")


_DIGIT_STRETCH = _digit_stretch()


def digit_stretches(text: str) -> str:
    """The skeleton of only the stretches of `text` that can hold digits, joined by breaks: the same
    runs of digits as `digit_skeleton(text)` (what comes before a stretch's first digit gives none,
    and each stretch ends at a break), for the work of mapping the few characters near digits, not
    every character (speed). The stretches are joined by NUL, a break in the table, and mapped at once."""
    return _join_runs("\0".join(_DIGIT_STRETCH.findall(text)).translate(_DIGIT_TABLE))


def utf16_letters(text: str) -> str:
    """The UTF-16 code units of `text` as two Latin-1 letters each: what the word automata read
    (engine.WordMatcher says why)."""
    return text.encode("utf-16-be", "surrogatepass").decode("latin-1")


class Views:
    """The views of one message. A plain class with slots (built for every message: cheaper than a
    frozen dataclass); `digits` is computed on first use, since most messages never need it, and
    `squeezed_letters` once for the word lists and the group's own words."""

    __slots__ = ("raw", "text", "squeezed", "_digits", "_invisible", "_squeezed_letters")

    def __init__(self, raw: str, text: str, squeezed: str, digits: str | None = None,
                 invisible: bool | None = None):
        self.raw = raw
        self.text = text
        self.squeezed = squeezed
        self._digits = digits
        self._invisible = invisible
        self._squeezed_letters = None

    @property
    def squeezed_letters(self) -> str:
        if self._squeezed_letters is None:
            self._squeezed_letters = utf16_letters(self.squeezed)
        return self._squeezed_letters

    @property
    def digits(self) -> str:
        if self._digits is None:
            self._digits = digit_stretches(self.text)
        return self._digits

    @property
    def had_invisible(self) -> bool:
        if self._invisible is None:
            self._invisible = bool(_INVISIBLE.search(self.raw))
        return self._invisible

    def __repr__(self) -> str:
        return f"Views(raw={self.raw!r}, text={self.text!r}, squeezed={self.squeezed!r}, digits={self.digits!r})"


@lru_cache(maxsize=4096)
def normalize(raw: str) -> Views:
    text, invisible = _canonical(raw if isinstance(raw, str) else str(raw))
    return Views(raw, text, squeeze(text), None, invisible)


def is_cjk_char(ch: str) -> bool:
    return _is_cjk(ord(ch))
