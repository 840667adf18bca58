"""The spam model, runtime side: logistic regression over hashed character grams, scored in pure
Python (no numpy: this runs for every message) from a small weights file written by
`qunzhu rules-train` (training: handlers/rules/training.py).

A message's features are the character 1-3-grams of two views, each gram hashed to one of 2**22
buckets with CRC-32 (deterministic across processes and machines, unlike hash()):

- the normaliser's squeezed view (handlers.rules.normalize: look-alikes undone, separators and emoji
  dropped), first 512 characters, its grams prefixed so they never share a bucket with raw ones;
- the raw text lower-cased with whitespace runs collapsed to one space, first 512 characters (what
  squeezing removes, such as emoji and spacing, is evidence too).

Scoring a message is a dict lookup per feature (~50 for a chat message, ~0.03 ms in all when the
caller passes the normalize() views it already has).

The feature sets double as the admins' labelled "samples" in the database (hashes, never texts), so
`features` must stay stable: any change to it needs a FEATURES_VERSION bump, which makes old weights
files and stored samples refuse to load instead of scoring garbage.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain, repeat
from operator import and_
from pathlib import Path

from handlers.rules.normalize import Views, normalize

FEATURES_VERSION = 1
FILE_KIND = "qunzhu-rules-logreg"
HASH_BITS = 22
_MASK = (1 << HASH_BITS) - 1
MAX_CHARS = 512
# The squeezed view's grams are hashed as "sq\x00" + gram: CRC-32 continued from the prefix's CRC.
_SQUEEZED_SEED = zlib.crc32(b"sq\x00")

_SURROGATES = re.compile("[\ud800-\udfff]")
_HANZI = re.compile("[\u3400-\u4dbf\u4e00-\u9fff]")  # CJK Unified Ideographs and extension A


def has_hanzi(text: str) -> bool:
    return _HANZI.search(text) is not None


def _gram_hashes(s: str, seed: int) -> Iterator[int]:
    """crc32(gram.encode(), seed) of every 1-, 2- and 3-character gram of s (not yet masked). CRC-32 of
    a + b is CRC-32 of b continued from CRC-32 of a, so each gram's hash extends the one of the gram
    before it by a character: no gram string is built or encoded (3x faster)."""
    chars = list(map(str.encode, s))
    unigrams = list(map(zlib.crc32, chars, repeat(seed)))
    bigrams = list(map(zlib.crc32, chars[1:], unigrams))
    return chain(unigrams, bigrams, map(zlib.crc32, chars[2:], bigrams))


def features(text: str, views: Views | None = None) -> frozenset[int]:
    """The hashed grams of a message (`views`: its normalize() result, when the caller has it)."""
    squeezed = (views or normalize(text)).squeezed[:MAX_CHARS]
    raw = " ".join(text.lower().split())[:MAX_CHARS]
    if not raw.isascii():
        raw = _SURROGATES.sub("", raw)  # lone surrogates (broken decoders) cannot be encoded
    hashes = chain(_gram_hashes(squeezed, _SQUEEZED_SEED), _gram_hashes(raw, 0))
    return frozenset(map(and_, hashes, repeat(_MASK)))


def text_hash(text: str, seed: int = 0) -> int:
    """The same for exact duplicates (spacing and case aside): what splits data into parts."""
    return zlib.crc32("".join(text.split()).lower().encode("utf-8"), seed)


def held_out(text: str) -> bool:
    """The fixed 20% kept aside (exact duplicates always fall on the same side)."""
    return text_hash(text) % 5 == 0


def _logit(p: float) -> float:
    if p <= 0.0:
        return -math.inf
    if p >= 1.0:
        return math.inf
    return math.log(p / (1.0 - p))


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@dataclass(frozen=True)
class Model:
    """P(spam) = sigmoid(bias + (sum of the weights of the message's n features) / sqrt(n)): the
    features are a binary vector scaled to length 1, so a long message (an SMS, a news digest) does
    not pile up evidence just by being long."""

    bias: float
    weights: dict[int, float]
    threshold: float  # the probability from which a message is flagged
    hanzi_only: bool = True  # trained on messages with hanzi only: says nothing about others
    trained_at: str = ""  # ISO 8601, UTC
    cv_precision: float = 0.0  # cross-validated, at `threshold`
    cv_recall: float = 0.0
    rows: int = 0  # training examples (texts and samples)
    features_version: int = FEATURES_VERSION

    def margin(self, feats: frozenset[int]) -> float:
        """The log-odds of spam."""
        if not feats:
            return self.bias
        return self.bias + sum(map(self.weights.get, feats, repeat(0.0))) / math.sqrt(len(feats))

    def score_features(self, feats: frozenset[int]) -> float:
        return _sigmoid(self.margin(feats))

    def score(self, text: str, views: Views | None = None) -> float:
        """P(spam) of a message, whether or not the hanzi gate would let it be flagged."""
        return self.score_features(features(text, views))

    def flags(self, text: str, views: Views | None = None) -> bool:
        views = views or normalize(text)
        if self.hanzi_only and not has_hanzi(views.text):
            return False
        # Compared as log-odds: no exp per message, and a threshold of 1.0 flags nothing.
        return self.margin(features(text, views)) >= _logit(self.threshold)


class NotAModelFile(ValueError):
    """The file is no rules model at all (so not one to replace without asking)."""


def save(model: Model, path: str | os.PathLike[str]) -> None:
    """Writes compact JSON, the features (sorted) and their weights as parallel arrays, through a
    temporary file renamed over `path`: the bot, reloading by mtime, never reads half a file."""
    keys = sorted(model.weights)
    data = {
        "kind": FILE_KIND,
        "features_version": model.features_version,
        "hash_bits": HASH_BITS,
        "bias": model.bias,
        "threshold": model.threshold,
        "hanzi_only": model.hanzi_only,
        "trained_at": model.trained_at,
        "cv_precision": model.cv_precision,
        "cv_recall": model.cv_recall,
        "rows": model.rows,
        "features": keys,
        "weights": [model.weights[k] for k in keys],
    }
    partial = Path(f"{os.fspath(path)}.partial")
    partial.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
    os.replace(partial, path)
    _loaded.pop(os.fspath(path), None)  # this process reads the new one at once


def _parse(path: str, text: str) -> Model:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise NotAModelFile(f"{path} is not a rules model (not JSON: {exc})") from None
    if not isinstance(data, dict) or data.get("kind") != FILE_KIND:
        raise NotAModelFile(f"{path} is not a rules model made by `qunzhu rules-train` (no \"kind\": \"{FILE_KIND}\")")
    version = data.get("features_version")
    if version != FEATURES_VERSION or data.get("hash_bits") != HASH_BITS:
        raise ValueError(f"{path} was trained on features version {version}, this Qunzhu reads version "
                         f"{FEATURES_VERSION}: train it again with `qunzhu rules-train`")
    try:
        keys, values = data["features"], data["weights"]
        if len(keys) != len(values):
            raise ValueError(f"{len(keys)} features but {len(values)} weights")
        if not all(type(k) is int and 0 <= k <= _MASK for k in keys):
            raise ValueError("a feature is not a bucket number")
        return Model(
            bias=float(data["bias"]), weights=dict(zip(keys, map(float, values))), threshold=float(data["threshold"]),
            hanzi_only=bool(data["hanzi_only"]), trained_at=str(data["trained_at"]),
            cv_precision=float(data["cv_precision"]), cv_recall=float(data["cv_recall"]), rows=int(data["rows"]),
            features_version=version,
        )
    except (KeyError, TypeError, ValueError) as exc:
        why = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ValueError(f"{path} is a damaged rules model ({why}): train it again with `qunzhu rules-train`") from None


def _read(path: str) -> Model:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise NotAModelFile(f"{path} is not a rules model (not UTF-8 text)") from None
    return _parse(path, text)


# Every message asks for its group's model: the file is looked at (stat) at most this often, and
# only the newest read of each path is kept, a failure included (a damaged file is not parsed again
# per message; a replaced model does not stay in memory beside the new one).
RECHECK_SECONDS = 2.0
_loaded: dict[str, tuple[float, int, int, Model | Exception]] = {}  # path → (checked, mtime, size, result)


def load(path: str | os.PathLike[str]) -> Model:
    """The model at `path`, read again when the file changes. Raises ValueError (NotAModelFile, or a
    model that is damaged or of another features version) or OSError (cannot be read), naming the path."""
    path = os.fspath(path)
    now = time.monotonic()
    known = _loaded.get(path)
    if known is None or now - known[0] >= RECHECK_SECONDS:
        try:
            st = os.stat(path)
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError as exc:
            stamp, result = (-1, -1), exc
        if known is not None and stamp == known[1:3]:
            result = known[3]
        elif stamp != (-1, -1):
            try:
                result = _read(path)
            except (OSError, ValueError) as exc:
                result = exc
        known = _loaded[path] = (now, *stamp, result)
    if isinstance(known[3], Exception):
        raise known[3].with_traceback(None)  # the same error each time, without an ever longer traceback
    return known[3]
