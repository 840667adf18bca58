"""Spam waves across groups: a message punished in one group marks its near-duplicates in every group.

One instance serves many groups, and an ad campaign posts the same text, with a few words, digits or
decorations changed, into many of them within hours. `WaveTracker.remember` stores a punished message
(by the rules or by an admin); `WaveTracker.match` tells whether a new message in any group is a
near-duplicate of one stored and not yet expired, so the variant is caught at once everywhere.

How a text is compared:

- Read the normaliser's squeezed view (`normalize(text).squeezed`: lower case, look-alikes folded,
  every space, separator and decoration removed), so "加 V·信" and "加v信" are the same text.
- Its character 3-grams ("shingles"), each hashed with zlib.crc32 of its UTF-32 bytes (the same
  number in every process, unlike `hash()`), as a set.
- Similarity is the Jaccard index of the two shingle sets, |A ∩ B| / |A ∪ B|, computed exactly on the
  full sets; a match needs `THRESHOLD` (0.4) or more. Measured with bench/spam_waves.py: 17,722 ham
  messages (zh-tg-train, zh-sms-10k) against 4,695 remembered spam ads scored at most 0.21, apart from
  3 rows that are themselves ads or ad copies labelled ham (0.67–0.82), at any threshold from 0.25 to
  0.6; changed variants of one ad mostly score 0.4–0.9 ("7c专业车队接料…骗子勿扰7c" vs its
  "a0…a0" copy 0.81; a 梦幻西游 搬砖 ad with its sentences reordered and half rewritten 0.41).
  0.4 keeps twice the best ham score as a margin and still catches 90 % of what 0.3 would (801 vs 893 ads in the simulated day). 4-grams
  separated ham no better and found fewer variants (1,607 vs 1,984 spam rows with an earlier
  neighbour ≥ 0.5).
- Finding the candidates is a bottom-k sketch: the `SKETCH_K` (16) smallest shingle hashes of a
  stored text are keys of an inverted index (hash → wave ids). A message looks up its own 16 smallest
  hashes, and only the waves sharing at least `MIN_SHARED` (3) of them are compared exactly: pairs of
  Jaccard ≥ 0.35 shared ≥ 4 in every one measured, and the sketch lost none of the 801 near-duplicates
  of the simulation. A posting list is read from its newest `SCAN_PER_KEY` (32) entries only, so a
  hash common to many ads (the "tme" of t.me links indexed 402 of the 4,695 ads, "ttp" 340) cannot
  make one lookup read hundreds of waves.

Texts whose squeezed view is shorter than `MIN_CHARS` (12) characters or has fewer than
`MIN_SHINGLES` (10) distinct shingles ("啦啦啦啦啦啦啦啦啦啦啦啦", "出cccccccccccc") are never part of a
wave: short and repetitive ordinary messages collide with short ads far too often. Only the first
`MAX_CHARS` (2,000) squeezed characters are read (speed; Telegram allows 4,096).

What to feed it: messages punished as ads or spam (category ad/spam/scam), not those punished for
flooding, profanity or the like, whose text is ordinary. A message caught only by a wave should not be
remembered in turn (or only with the original's rule): each hop of such a chain may drift by 0.6.

Memory and its limits: everything is held in this process's memory, by design. A restart loses every
wave (groups then wait for the rules or an admin to punish the first copy again, which takes one
message per campaign); nothing is written to the database. Entries expire `ttl` after they were last
remembered (default 6 hours; `match` and `remember` prune what has expired, `prune(now)` can be called
from a timer). At most `max_entries` (default 20,000) are kept: past the cap the entry remembered least
recently is dropped before its expiry, so a flood of more than 20,000 distinct punished texts within the
ttl shortens how long the oldest waves are remembered. A stored wave costs about 1.3 KB for real
ads, which share index keys (its shingles as a 4-byte array, its share of the index, a 32-character
sample; measured with tracemalloc over 4,695 ads), 1.9 KB for random texts sharing none: 26–36 MB at
the cap. A simulated day of 3,000 market ads in 20 groups left 460 waves.
A punished text that is a near-copy (Jaccard ≥ `MERGE_AT`, 0.9) of a stored one refreshes that entry
(later expiry, count + 1) instead of adding another, so one campaign does not fill the cap.

Not thread-safe: use it from one thread (the bot's event loop). `at` datetimes are compared as
timestamps, so naive (local time) and aware ones may be mixed.
"""

from __future__ import annotations

import heapq
from array import array
from collections import Counter, OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from zlib import crc32

from handlers.rules.normalize import Views, normalize

SHINGLE = 3  # characters per shingle
MIN_CHARS = 12  # squeezed characters; shorter texts are never part of a wave
MIN_SHINGLES = 10  # distinct shingles; fewer (repetitive text) are never part of a wave
MAX_CHARS = 2000  # squeezed characters read at most (speed)
THRESHOLD = 0.4  # Jaccard similarity of the shingle sets for a match
MERGE_AT = 0.9  # a punished text this close to a stored one refreshes it instead of adding one
SKETCH_K = 16  # smallest shingle hashes indexed per wave
SCAN_PER_KEY = 32  # newest wave ids read per index key in a lookup
MIN_SHARED = 3  # sketch hashes a wave must share with a message to be compared exactly (threshold ≥ 0.35)
DEFAULT_TTL = timedelta(hours=6)
MAX_ENTRIES = 20_000
SAMPLE_CHARS = 32  # characters of the squeezed view kept per wave, for logs and notices

_WIDTH = 4 * SHINGLE  # bytes of one shingle in UTF-32


def shingles(squeezed: str) -> set[int]:
    """The crc32 hashes of the character 3-grams of a squeezed view (its first MAX_CHARS characters)."""
    data = squeezed[:MAX_CHARS].encode("utf-32-le")
    return {crc32(data[i:i + _WIDTH]) for i in range(0, len(data) - _WIDTH + 4, 4)}


def jaccard(a: set[int], b) -> float:
    """|a ∩ b| / |a ∪ b| of a set and a collection of distinct hashes (a set or a stored array)."""
    inter = len(a.intersection(b))
    union = len(a) + len(b) - inter
    return inter / union if union else 0.0


def similarity(a: str | Views, b: str | Views) -> float:
    """Jaccard similarity of two messages' shingle sets (0.0 when either is too short for a wave)."""
    sa, sb = wave_shingles(a), wave_shingles(b)
    if sa is None or sb is None:
        return 0.0
    return jaccard(sa, sb)


def _squeezed(message: str | Views) -> str:
    return message.squeezed if isinstance(message, Views) else normalize(message).squeezed


def wave_shingles(message: str | Views, squeezed: str | None = None) -> set[int] | None:
    """The shingle set of a message (or of its views), or None when it is too short or repetitive to
    ever be part of a wave."""
    if squeezed is None:
        squeezed = _squeezed(message)
    if len(squeezed) < MIN_CHARS:
        return None
    found = shingles(squeezed)
    return found if len(found) >= MIN_SHINGLES else None


@dataclass(frozen=True, slots=True)
class WaveMatch:
    """A message found similar to a remembered (punished) one."""

    similarity: float  # Jaccard similarity of the shingle sets, THRESHOLD … 1.0
    rule: str  # the rule (or "admin") that punished the original
    category: str
    chat_key: str  # the group where the original was punished
    seen_at: datetime  # when the original was first remembered
    expires_at: datetime  # when the wave is forgotten unless punished again
    times_punished: int  # how many near-copies (≥ MERGE_AT) were remembered into this wave
    sample: str  # the start of the original's squeezed view
    same_chat: bool | None  # the original was in the chat_key passed to match (None: none passed)

    @property
    def exact(self) -> bool:
        return self.similarity >= 1.0


class _Wave:
    __slots__ = ("category", "chat_key", "count", "expires", "id", "rule", "sample", "seen_at", "shingles")

    def __init__(self, wave_id: int, found: set[int], rule: str, category: str, chat_key: str,
                 seen_at: datetime, expires: float, sample: str):
        self.id = wave_id
        self.shingles = array("I", found)  # 4 bytes a shingle instead of ~60 in a set (memory)
        self.rule = rule
        self.category = category
        self.chat_key = chat_key
        self.seen_at = seen_at
        self.expires = expires  # a timestamp
        self.count = 1
        self.sample = sample


def _sketch(found) -> list[int]:
    """The index keys of a shingle set: its SKETCH_K smallest hashes."""
    return sorted(found)[:SKETCH_K]


class WaveTracker:
    """Near-duplicates of punished messages, across every group, for `ttl` after the punishment.

    In memory only: a restart forgets every wave (see the module docstring for the costs of that and
    of the `max_entries` cap)."""

    def __init__(self, *, threshold: float = THRESHOLD, ttl: timedelta = DEFAULT_TTL,
                 max_entries: int = MAX_ENTRIES, merge_at: float = MERGE_AT):
        if not 0.0 < threshold <= 1.0:
            raise ValueError("threshold must be in (0, 1]")
        if ttl <= timedelta(0):
            raise ValueError("ttl must be positive")
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.threshold = threshold
        self.ttl = ttl
        self.max_entries = max_entries
        self.merge_at = max(merge_at, threshold)
        # Texts with Jaccard ≥ 0.35 shared ≥ 4 of their 16 sketch hashes in every pair measured
        # (bench/spam_waves.py); a lower threshold needs fewer, at more exact comparisons.
        self.min_shared = MIN_SHARED if threshold >= 0.35 else 2 if threshold >= 0.2 else 1
        # In the order last remembered, oldest first. An OrderedDict: dropping a plain dict's first
        # entry again and again makes `next(iter(d))` skip ever more deleted slots (14 µs a drop at
        # the cap instead of 0.5).
        self._waves: OrderedDict[int, _Wave] = OrderedDict()
        # Sketch hash → the wave id, or a list of them oldest first (most keys belong to one wave:
        # no list for those, ~70 bytes less a key).
        self._index: dict[int, int | list[int]] = {}
        self._expiry: list[tuple[float, int]] = []  # heap of (expires, wave id); stale items skipped
        self._next_id = 0
        self.dropped_by_cap = 0  # waves dropped before their expiry to stay under max_entries

    def __len__(self) -> int:
        return len(self._waves)

    # --- storing ---------------------------------------------------------------------------------

    def remember(self, text: str | Views, *, at: datetime, chat_key: str, rule: str, category: str,
                 ttl: timedelta | None = None) -> bool:
        """Store a punished message as a wave, until `at + ttl` (default: the tracker's, 6 h).

        Returns False when the text is too short or repetitive to ever be part of a wave (nothing is
        stored), True when it was stored, or when it refreshed a stored near-copy of itself
        (Jaccard ≥ merge_at): that wave keeps its original group, rule and first sighting, its
        expiry moves to `at + ttl` if later, and it becomes the last to go at the cap."""
        ttl = self.ttl if ttl is None else ttl
        if ttl <= timedelta(0):
            raise ValueError("ttl must be positive")
        squeezed = _squeezed(text)
        found = wave_shingles(text, squeezed)
        if found is None:
            return False
        now = at.timestamp()
        self.prune_timestamp(now)
        expires = now + ttl.total_seconds()
        sketch = _sketch(found)
        best, _ = self._best(found, sketch, self.merge_at)
        if best is not None:
            best.count += 1
            if expires > best.expires:
                best.expires = expires
                heapq.heappush(self._expiry, (expires, best.id))
            self._waves.move_to_end(best.id)
            return True
        while len(self._waves) >= self.max_entries:
            self._drop(next(iter(self._waves)))
            self.dropped_by_cap += 1
        wave_id = self._next_id
        self._next_id += 1
        self._waves[wave_id] = _Wave(wave_id, found, rule, category, chat_key, at, expires, squeezed[:SAMPLE_CHARS])
        index = self._index
        for key in sketch:
            ids = index.get(key)
            if ids is None:
                index[key] = wave_id
            elif type(ids) is int:
                index[key] = [ids, wave_id]
            else:
                ids.append(wave_id)
        heapq.heappush(self._expiry, (expires, wave_id))
        if len(self._expiry) > 2 * len(self._waves) + 64:  # stale items of refreshed waves
            self._expiry = [(w.expires, w.id) for w in self._waves.values()]
            heapq.heapify(self._expiry)
        return True

    def forget(self, text: str | Views | None = None, *, chat_key: str | None = None) -> int:
        """Remove waves; returns how many.

        With `text`: the waves it would match (e.g. an admin reverted a punishment), only those from
        `chat_key` if given. With only `chat_key`: every wave from that group (e.g. the bot left it)."""
        if text is None:
            if chat_key is None:
                raise ValueError("forget needs a text or a chat_key")
            doomed = [w.id for w in self._waves.values() if w.chat_key == chat_key]
        else:
            found = wave_shingles(text)
            if found is None:
                return 0
            doomed = [w.id for w, _ in self._candidates(found, _sketch(found), self.threshold)
                      if chat_key is None or w.chat_key == chat_key]
        for wave_id in doomed:
            self._drop(wave_id)
        return len(doomed)

    def clear(self) -> None:
        self._waves.clear()
        self._index.clear()
        self._expiry.clear()

    # --- looking up ------------------------------------------------------------------------------

    def match(self, text: str | Views, *, at: datetime, chat_key: str | None = None) -> WaveMatch | None:
        """The most similar remembered wave not expired at `at`, if its similarity is at least the
        threshold. `text` may be the message or its `normalize()` views (then not normalised again).
        `chat_key` only fills `WaveMatch.same_chat`: waves from every group, this one included, match."""
        if not self._waves:
            return None  # nothing remembered: no shingling (speed)
        squeezed = _squeezed(text)
        if len(squeezed) < MIN_CHARS:
            return None
        self.prune_timestamp(at.timestamp())
        found = shingles(squeezed)
        if len(found) < MIN_SHINGLES:
            return None
        best, score = self._best(found, _sketch(found), self.threshold)
        if best is None:
            return None
        return WaveMatch(
            similarity=score, rule=best.rule, category=best.category, chat_key=best.chat_key,
            seen_at=best.seen_at, expires_at=datetime.fromtimestamp(best.expires, tz=best.seen_at.tzinfo),
            times_punished=best.count, sample=best.sample,
            same_chat=None if chat_key is None else best.chat_key == chat_key,
        )

    def _candidates(self, found: set[int], sketch: list[int], threshold: float):
        """(wave, similarity) of every indexed wave sharing `min_shared` sketch hashes with `found` and
        scoring at least `threshold`."""
        index = self._index
        posted: list[int] = []
        for key in sketch:
            ids = index.get(key)
            if ids is None:
                continue
            if type(ids) is int:
                posted.append(ids)
            else:
                posted.extend(ids if len(ids) <= SCAN_PER_KEY else ids[-SCAN_PER_KEY:])
        min_shared = self.min_shared
        if len(posted) < min_shared:
            return
        waves = self._waves
        size = len(found)
        for wave_id, n in Counter(posted).items():  # counted in C (speed)
            if n < min_shared:
                continue
            wave = waves[wave_id]
            other = len(wave.shingles)
            # Jaccard ≤ min/max of the sizes: skip the exact count when that bound is too low.
            if min(size, other) < threshold * max(size, other):
                continue
            inter = len(found.intersection(wave.shingles))
            score = inter / (size + other - inter)
            if score >= threshold:
                yield wave, score

    def _best(self, found: set[int], sketch: list[int], threshold: float) -> tuple[_Wave | None, float]:
        best, best_score = None, 0.0
        for wave, score in self._candidates(found, sketch, threshold):
            # The most similar; among equals the most recently stored.
            if score > best_score or (score == best_score and wave.id > best.id):
                best, best_score = wave, score
        return best, best_score

    # --- expiry ----------------------------------------------------------------------------------

    def prune(self, now: datetime) -> int:
        """Forget the waves expired at `now`; returns how many."""
        return self.prune_timestamp(now.timestamp())

    def prune_timestamp(self, now: float) -> int:
        """`prune` for a POSIX timestamp."""
        heap = self._expiry
        removed = 0
        while heap and heap[0][0] <= now:
            expires, wave_id = heapq.heappop(heap)
            wave = self._waves.get(wave_id)
            if wave is not None and wave.expires == expires:
                self._drop(wave_id)
                removed += 1
        return removed

    def _drop(self, wave_id: int) -> None:
        wave = self._waves.pop(wave_id)
        index = self._index
        for key in _sketch(wave.shingles):  # recomputed, not stored (memory)
            ids = index.get(key)
            if ids is None:
                continue
            if type(ids) is int:
                if ids == wave_id:
                    del index[key]
                continue
            try:
                ids.remove(wave_id)
            except ValueError:
                continue
            if len(ids) == 1:
                index[key] = ids[0]

    def stats(self) -> dict:
        """Entries, index keys and postings (for a bench or a /debug command)."""
        lengths = [1 if type(ids) is int else len(ids) for ids in self._index.values()]
        return {
            "waves": len(self._waves),
            "index_keys": len(lengths),
            "postings": sum(lengths),
            "longest_posting": max(lengths, default=0),
            "shingles": sum(len(w.shingles) for w in self._waves.values()),
            "dropped_by_cap": self.dropped_by_cap,
        }
