"""An optional statistical classifier (multinomial naive Bayes over character 1-3-grams of the
normalised, squeezed text) that operators train on their own labelled messages:

    qunzhu rules-train messages.csv -o rules-model.json      # CSV with label (spam|ham) and text

and switch on per group with `rules.classifier = "rules-model.json"`. Qunzhu ships no weights (the
Chinese corpora we could train on may not be redistributed). Its evidence is capped
(`rules.classifier_weight`) and a classifier hit alone never makes a violation: it only tips
messages that other rules already found suspicious.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from handlers.rules.normalize import normalize

MAX_CHARS = 512  # the classifier reads the first 512 characters of the squeezed view


def grams(text: str) -> list[str]:
    sq = normalize(text).squeezed[:MAX_CHARS]
    out = list(sq)
    out += [sq[i:i + 2] for i in range(len(sq) - 1)]
    out += [sq[i:i + 3] for i in range(len(sq) - 2)]
    return out


@dataclass
class Model:
    prior: float  # log P(spam) - log P(ham)
    weights: dict[str, float]  # gram → log P(g|spam) - log P(g|ham)

    def probability(self, text: str) -> float:
        score = self.prior
        for g in set(grams(text)):
            score += self.weights.get(g, 0.0)
        score = max(-50.0, min(50.0, score))
        return 1.0 / (1.0 + math.exp(-score))

    def to_json(self) -> dict:
        return {"kind": "qunzhu-rules-nb", "version": 1, "prior": self.prior, "weights": self.weights}


def train(rows: list[tuple[str, str]], *, min_count: int = 2, alpha: float = 1.0) -> Model:
    """rows: (label, text) with label 'spam' or 'ham' (Bernoulli-style: each gram once per message)."""
    counts = {"spam": Counter(), "ham": Counter()}
    docs = Counter()
    for label, text in rows:
        if label not in counts:
            raise ValueError(f"label {label!r} is neither 'spam' nor 'ham'")
        docs[label] += 1
        counts[label].update(set(grams(text)))
    if not docs["spam"] or not docs["ham"]:
        raise ValueError("needs both spam and ham examples")
    vocab = {g for label in counts for g, n in counts[label].items() if counts["spam"][g] + counts["ham"][g] >= min_count}
    weights = {}
    for g in vocab:
        p_spam = (counts["spam"][g] + alpha) / (docs["spam"] + 2 * alpha)
        p_ham = (counts["ham"][g] + alpha) / (docs["ham"] + 2 * alpha)
        w = math.log(p_spam / p_ham)
        if abs(w) >= 0.5:
            weights[g] = round(w, 4)
    return Model(prior=math.log(docs["spam"] / docs["ham"]), weights=weights)


def read_labelled_csv(path: str | os.PathLike[str]) -> list[tuple[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "label" not in reader.fieldnames or "text" not in reader.fieldnames:
            raise ValueError(f"{path}: needs a header with the columns label,text (got {reader.fieldnames})")
        return [(row["label"].strip().lower(), row["text"] or "") for row in reader]


def save(model: Model, path: str | os.PathLike[str]) -> None:
    Path(path).write_text(json.dumps(model.to_json(), ensure_ascii=False), encoding="utf-8")


@lru_cache(maxsize=8)
def _load(path: str, mtime: float) -> Model:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if data.get("kind") != "qunzhu-rules-nb":
        raise ValueError(f"{path} is not a model made by `qunzhu rules-train`")
    return Model(prior=float(data["prior"]), weights={k: float(v) for k, v in data["weights"].items()})


def load(path: str) -> Model:
    """The model at `path` (reloaded when the file changes). Raises ValueError/OSError."""
    return _load(path, os.path.getmtime(path))
