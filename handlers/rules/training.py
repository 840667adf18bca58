"""Training the spam model (handlers/rules/model.py) with numpy: L2-regularised logistic regression on
the hashed grams, fitted full-batch with Adam, its threshold set by K-fold cross-validation.

Used by `qunzhu rules-train` and by the bot's scheduled retraining (`retrain`), never while scoring.
"""

from __future__ import annotations

import csv
import os
import random
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from handlers.rules.model import Model, NotAModelFile, features, has_hanzi, held_out, load, save, text_hash
from handlers.rules.normalize import normalize
from handlers.rules.settings import DEFAULT_PRECISION

DEFAULT_L2 = 1e-6  # per example: the loss is the mean over examples
DEFAULT_SAMPLE_WEIGHT = 3.0  # an admin's label on their own group's message counts for 3 base rows
MAX_FEATURES = 40_000  # the largest |w| kept: the weights file stays well under 1 MB
STEPS = 300  # full-batch Adam steps; 600 fit the training rows closer but did no better cross-validated
LEARNING_RATE = 0.05
MIN_EXAMPLES = 2  # a gram of a single training message only memorises it (and doubles the fitting time)
PROGRESS_SECONDS = 5.0

LabelledRows = list[tuple[str, str]]
Samples = list[tuple[str, frozenset[int]]]


@dataclass(frozen=True)
class Evaluation:
    """How flagging did on labelled messages."""

    spam: int
    ham: int
    true_positives: int
    false_positives: int

    @classmethod
    def of(cls, labels: list[str], flagged: list[bool]) -> Evaluation:
        spam = sum(1 for label in labels if label == "spam")
        tp = sum(1 for label, f in zip(labels, flagged) if f and label == "spam")
        fp = sum(1 for label, f in zip(labels, flagged) if f and label != "spam")
        return cls(spam=spam, ham=len(labels) - spam, true_positives=tp, false_positives=fp)

    @property
    def precision(self) -> float:
        flagged = self.true_positives + self.false_positives
        return self.true_positives / flagged if flagged else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.spam if self.spam else 0.0

    def __str__(self) -> str:
        return (f"precision {self.precision:.4f}, recall {self.recall:.4f} "
                f"(tp {self.true_positives}, fp {self.false_positives}, {self.spam} spam, {self.ham} ham)")


@dataclass
class TrainReport:
    rows: int  # texts trained on (hanzi-only: those with hanzi)
    spam: int
    ham: int
    samples: int  # admins' labelled samples trained on, besides the rows
    skipped_without_hanzi: int
    target_precision: float
    threshold: float
    target_met: bool  # False: no threshold reached the target; the model then flags nothing
    cv_precision: float  # out-of-fold, at the threshold
    cv_recall: float
    features_kept: int
    seconds: float
    evaluation: Evaluation | None = None  # retrain(): the new model on the evaluation rows …
    previous_evaluation: Evaluation | None = None  # … and the previous one

    def __str__(self) -> str:
        met = "" if self.target_met else f" (no threshold reaches precision {self.target_precision}: flags nothing)"
        return (f"trained on {self.rows} messages ({self.spam} spam, {self.ham} ham) and {self.samples} samples"
                f" in {self.seconds:.1f} s; {self.features_kept} features kept; threshold {self.threshold:.4f}{met}\n"
                f"cross-validated: precision {self.cv_precision:.4f}, recall {self.cv_recall:.4f}")


def evaluate(model: Model, rows: LabelledRows, samples: Samples = ()) -> Evaluation:
    """How the model flags labelled texts and featurised samples (those past the hanzi gate already)."""
    threshold = model.threshold
    return Evaluation.of([label for label, _ in rows] + [label for label, _ in samples],
                         [model.flags(text) for _, text in rows] + [model.score_features(f) >= threshold for _, f in samples])


# -- reading data ---------------------------------------------------------------------------------

def read_labelled_csv(path: str | os.PathLike[str]) -> LabelledRows:
    """(label, text) rows of a CSV with the header label,text; label spam or ham."""
    try:
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or "label" not in reader.fieldnames or "text" not in reader.fieldnames:
                raise ValueError(f"{path}: needs a header line with the columns label,text (got {reader.fieldnames})")
            rows = []
            for line, row in enumerate(reader, 2):
                label = (row["label"] or "").strip().lower()
                if label not in ("spam", "ham"):
                    raise ValueError(f"{path}, row {line}: label {row['label']!r} is neither spam nor ham")
                rows.append((label, row["text"] or ""))
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise ValueError(f"{path}: not a readable CSV ({exc})") from None
    return rows


def read_background_ham(path: str | os.PathLike[str]) -> list[str]:
    """Ordinary messages: the ham rows of a label,text .csv, or the lines of a .txt (one message each)."""
    if str(path).lower().endswith(".csv"):
        return [text for label, text in read_labelled_csv(path) if label == "ham"]
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return [line for line in text.splitlines() if line.strip()]


# -- fitting --------------------------------------------------------------------------------------

@dataclass
class _Examples:
    """Featurised examples in a CSR-like layout over compact feature columns: example i's features
    are column[start[i]:start[i] + length[i]], each of value scale[i] (see model.Model)."""

    row_of: np.ndarray  # per non-zero: its example
    column: np.ndarray  # per non-zero: its compact feature column
    start: np.ndarray  # per example: where its non-zeros start
    length: np.ndarray  # per example: how many
    scale: np.ndarray  # per example: 1/sqrt(its number of features, trained on or not), as in Model.margin
    buckets: np.ndarray  # per compact column: the hashed feature (model.features' number)
    spam: np.ndarray  # per example: 1.0 spam, 0.0 ham
    weight: np.ndarray  # per example: its weight in the loss
    fold: np.ndarray  # per example: its cross-validation fold

    @property
    def size(self) -> int:
        return len(self.spam)

    def subset(self, keep: np.ndarray) -> _Examples:
        """The examples where `keep` (bool per example) holds, renumbered; columns unchanged."""
        nz = keep[self.row_of]
        length = self.length[keep]
        return _Examples(np.repeat(np.arange(len(length)), length), self.column[nz], _starts(length), length,
                         self.scale[keep], self.buckets, self.spam[keep], self.weight[keep], self.fold[keep])


def _starts(length: np.ndarray) -> np.ndarray:
    return np.concatenate(([0], np.cumsum(length)[:-1])).astype(np.int64)


def _layout(feats: list[frozenset[int]], spam: list[bool], weight: list[float], fold: list[int]) -> _Examples:
    """The examples, with the features of fewer than MIN_EXAMPLES of them left out."""
    n_features = np.fromiter(map(len, feats), dtype=np.int64, count=len(feats))
    flat = np.fromiter((f for fs in feats for f in fs), dtype=np.int64, count=int(n_features.sum()))
    row_of = np.repeat(np.arange(len(feats)), n_features)
    buckets, column, count = np.unique(flat, return_inverse=True, return_counts=True)
    common = count >= MIN_EXAMPLES
    kept = common[column]
    new_column = np.cumsum(common) - 1
    row_of = row_of[kept]
    length = np.bincount(row_of, minlength=len(feats))
    return _Examples(
        row_of=row_of, column=new_column[column[kept]], start=_starts(length), length=length,
        scale=1.0 / np.sqrt(np.maximum(n_features, 1)), buckets=buckets[common],
        spam=np.asarray(spam, dtype=np.float64), weight=np.asarray(weight, dtype=np.float64),
        fold=np.asarray(fold, dtype=np.int64),
    )


def _margins(ex: _Examples, bias: float, w: np.ndarray) -> np.ndarray:
    # Sums over each example's run of non-zeros (reduceat: 3x faster than bincount here). An example
    # without features has an empty run, for which reduceat gives the next value instead of 0; the
    # zero appended keeps the index of a last, empty run in range.
    sums = np.add.reduceat(np.append(w[ex.column], 0.0), ex.start)
    return bias + np.where(ex.length > 0, sums, 0.0) * ex.scale


def _fit(ex: _Examples, l2: float, say) -> tuple[float, np.ndarray]:
    """(bias, weight per column) minimising the weighted mean log loss + l2/2 |w|^2, by Adam."""
    w = np.zeros(len(ex.buckets))
    total = ex.weight.sum()
    # Start from the log-odds of the base rate: the steps then only learn what the grams add.
    base = float(np.clip((ex.weight * ex.spam).sum() / total, 1e-6, 1 - 1e-6))
    bias = float(np.log(base / (1 - base)))
    m, v = np.zeros(len(w) + 1), np.zeros(len(w) + 1)
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    scale = ex.scale
    for step in range(1, STEPS + 1):
        z = _margins(ex, bias, w)
        residual = ex.weight * (1.0 / (1.0 + np.exp(-z)) - ex.spam) / total
        grad = np.empty(len(w) + 1)
        grad[:-1] = np.bincount(ex.column, weights=(residual * scale)[ex.row_of], minlength=len(w)) + l2 * w
        grad[-1] = residual.sum()
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad * grad
        update = LEARNING_RATE * (m / (1 - beta1 ** step)) / (np.sqrt(v / (1 - beta2 ** step)) + eps)
        w -= update[:-1]
        bias -= float(update[-1])
        say(step)
    return bias, w


def _prune(bias: float, w: np.ndarray) -> tuple[float, np.ndarray]:
    """What the weights file keeps: the MAX_FEATURES largest |w|, rounded to 4 decimals, others 0."""
    kept = np.zeros_like(w)
    top = np.argsort(-np.abs(w), kind="stable")[:MAX_FEATURES]
    kept[top] = np.round(w[top], 4)
    return round(bias, 4), kept


def _threshold(p: np.ndarray, spam: np.ndarray, target: float) -> tuple[float, float, float, bool]:
    """(threshold, precision, recall, met) for the lowest cut of the probabilities p at which the
    examples above it have precision >= target. The threshold lies halfway (in log-odds) between the
    last example flagged and the next one down, not on the last one: on well separated data that
    example is the least spam-like spam seen, and new spam a little less like it would be missed.
    (1.0, 1.0, 0.0, False) when no cut reaches the target."""
    order = np.argsort(-p, kind="stable")
    p, spam = p[order], spam[order]
    tp = np.cumsum(spam)
    flagged = np.arange(1, len(p) + 1)
    last_of_value = np.r_[p[1:] != p[:-1], True]  # a cut flags every example of the same probability
    ok = np.flatnonzero(last_of_value & (tp / flagged >= target) & (tp > 0))
    if not len(ok):
        return 1.0, 1.0, 0.0, False
    i = ok[-1]
    threshold = float(p[i])
    if i + 1 < len(p):
        halfway = _sigmoid((_log_odds(p[i]) + _log_odds(p[i + 1])) / 2)
        threshold = halfway if p[i + 1] < halfway <= p[i] else threshold  # (rounding on near-equal p)
    return threshold, float(tp[i] / flagged[i]), float(tp[i] / max(spam.sum(), 1)), True


def _log_odds(p: float) -> float:
    p = min(max(p, 1e-12), 1 - 1e-12)
    return float(np.log(p / (1 - p)))


def _sigmoid(z: float) -> float:
    return float(1.0 / (1.0 + np.exp(-z)))


class _Progress:
    """A line on stderr every few seconds of a long fit (none for a quick one, none when quiet)."""

    def __init__(self, quiet: bool, fits: int):
        self.quiet, self.fits, self.fit, self.last = quiet, fits, 0, time.monotonic()

    def __call__(self, step: int) -> None:
        if not self.quiet and time.monotonic() - self.last >= PROGRESS_SECONDS:
            self.last = time.monotonic()
            print(f"training: fit {self.fit}/{self.fits}, step {step}/{STEPS}", file=sys.stderr, flush=True)


def _fold_of_text(text: str, folds: int, seed: int) -> int:
    """Exact duplicates share a fold (as in model.held_out), so they never score each other."""
    return text_hash(text, seed) % folds


def train(rows: LabelledRows, *, samples: Samples = (), background_ham: list[str] = (),
          target_precision: float = DEFAULT_PRECISION, folds: int = 5, seed: int = 1, hanzi_only: bool = True,
          sample_weight: float = DEFAULT_SAMPLE_WEIGHT, l2: float = DEFAULT_L2,
          quiet: bool = False) -> tuple[Model, TrainReport]:
    """A model from (label, text) rows, admins' featurised `samples` (weighted `sample_weight`) and
    `background_ham` texts; its threshold is the lowest at which the out-of-fold predictions of a
    `folds`-fold cross-validation keep precision >= target_precision. hanzi_only: texts without
    hanzi are left out (and the model never flags them). Raises ValueError naming what is missing."""
    started = time.monotonic()
    for label, _ in [*rows, *samples]:
        if label not in ("spam", "ham"):
            raise ValueError(f"label {label!r} is neither 'spam' nor 'ham'")
    texts = [*rows, *(("ham", text) for text in background_ham)]
    kept = [(label, text) for label, text in texts if not hanzi_only or has_hanzi(normalize(text).text)]
    rng = random.Random(seed)
    labels = [label for label, _ in kept] + [label for label, _ in samples]
    spam = [label == "spam" for label in labels]
    if not any(spam) or all(spam):
        raise ValueError("training needs both spam and ham examples" + (" with hanzi" if hanzi_only else ""))
    ex = _layout(
        [features(text) for _, text in kept] + [frozenset(f) for _, f in samples],
        spam,
        [1.0] * len(kept) + [sample_weight] * len(samples),
        [_fold_of_text(text, folds, seed) for _, text in kept] + [rng.randrange(folds) for _ in samples],
    )
    progress = _Progress(quiet, folds + 1)
    out_of_fold = np.zeros(ex.size)
    for k in range(folds):
        progress.fit = k + 1
        part = ex.fold == k
        if part.all() or not part.any():
            continue  # (a handful of examples, all in one fold) nothing to train on or to predict
        bias, w = _prune(*_fit(ex.subset(~part), l2, progress))
        out_of_fold[part] = 1.0 / (1.0 + np.exp(-_margins(ex.subset(part), bias, w)))
    threshold, cv_precision, cv_recall, met = _threshold(out_of_fold, ex.spam, target_precision)
    progress.fit = folds + 1
    bias, w = _prune(*_fit(ex, l2, progress))
    nonzero = np.flatnonzero(w)
    model = Model(
        bias=bias, weights=dict(zip(ex.buckets[nonzero].tolist(), w[nonzero].tolist())), threshold=threshold,
        hanzi_only=hanzi_only, trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        cv_precision=round(cv_precision, 4), cv_recall=round(cv_recall, 4), rows=ex.size,
    )
    n_spam = sum(1 for label, _ in kept if label == "spam")
    report = TrainReport(
        rows=len(kept), spam=n_spam, ham=len(kept) - n_spam, samples=len(samples),
        skipped_without_hanzi=len(texts) - len(kept), target_precision=target_precision, threshold=threshold,
        target_met=met, cv_precision=cv_precision, cv_recall=cv_recall, features_kept=len(nonzero),
        seconds=time.monotonic() - started,
    )
    return model, report


def is_worse(new: Evaluation, old: Evaluation, target_precision: float) -> bool:
    """new misses the target precision the old one met, or both meet it and new has the lower recall,
    or neither does and new has the lower precision (precision first: a wrong flag costs a member)."""
    new_meets, old_meets = new.precision >= target_precision, old.precision >= target_precision
    if new_meets and old_meets:
        return new.recall < old.recall
    if new_meets or old_meets:
        return old_meets
    return new.precision < old.precision


def retrain(base_rows: LabelledRows, samples: Samples, *, previous: Model | None, eval_rows: LabelledRows,
            eval_samples: Samples = (), target_precision: float = DEFAULT_PRECISION,
            **train_options) -> tuple[Model, TrainReport, bool]:
    """(model, report, kept_previous): a new model from base_rows and samples, unless `previous` does
    better on eval_rows and eval_samples (see is_worse): then previous itself. report.evaluation and
    report.previous_evaluation hold both there (None without anything to evaluate on, or no previous)."""
    model, report = train(base_rows, samples=samples, target_precision=target_precision, **train_options)
    if not eval_rows and not eval_samples:
        return model, report, False
    report.evaluation = evaluate(model, eval_rows, eval_samples)
    if previous is None:
        return model, report, False
    report.previous_evaluation = evaluate(previous, eval_rows, eval_samples)
    if is_worse(report.evaluation, report.previous_evaluation, target_precision):
        return previous, report, True
    return model, report, False


# -- train, compare, save: `qunzhu rules-train` and the [learning] retrain --------------------------

def rules_flag(texts: list[str]) -> list[bool]:
    """Whether the shipped rules (no config) find each text a violation (as `qunzhu moderate` says)."""
    from handlers.rules.engine import RuleEngine, Subject
    from handlers.rules.settings import RulesSettings

    engine = RuleEngine.for_settings(RulesSettings())
    return [engine.check(Subject(text=text)).violation for text in texts]


def rules_or_model(model, rows: list[tuple[str, str]]):
    """(rules alone, rules OR model) evaluated on labelled rows."""
    labels, texts = [label for label, _ in rows], [text for _, text in rows]
    by_rules = rules_flag(texts)
    either = [r or model.flags(text) for r, text in zip(by_rules, texts)]
    return Evaluation.of(labels, by_rules), Evaluation.of(labels, either)


def _previous_model(output: str, output_name: str, say):
    """The model already at `output` (None: no file, or a stale model to replace). Raises ValueError
    for a file that is no model at all: it is not overwritten."""
    if not os.path.exists(output):
        return None
    try:
        return load(output)
    except NotAModelFile as exc:
        raise ValueError(f"{output_name}: {exc}; choose another output file") from None
    except ValueError as exc:
        say(f"the model already in {output} cannot be used ({exc}); replacing it")
        return None


def train_and_save(rows: list[tuple[str, str]], output: str, *, samples=(), eval_samples=(), background_ham=(),
                   holdout: bool = True, target_precision: float | None = None, seed: int = 1,
                   source: str = "the training data", output_name: str = "-o", say=print,
                   progress: bool = True) -> bool:
    """`qunzhu rules-train`'s work (and the [learning] retrain's): train on `rows` (minus the
    held_out() fifth when `holdout`), the admins' `samples` and `background_ham`; print the
    cross-validated and held-out figures; write the model to `output` unless the model already there
    does better on the held-out rows and `eval_samples`. True when written. Raises ValueError naming
    `source` or `output_name` when they are at fault. `progress`: a line on stderr during long fits."""
    target = DEFAULT_PRECISION if target_precision is None else target_precision
    previous = _previous_model(output, output_name, say)
    train_rows = [row for row in rows if not holdout or not held_out(row[1])]
    eval_rows = [row for row in rows if holdout and held_out(row[1])]
    try:
        model, report, kept_previous = retrain(
            train_rows, list(samples), previous=previous, eval_rows=eval_rows, eval_samples=list(eval_samples),
            background_ham=list(background_ham), target_precision=target, seed=seed, quiet=not progress)
    except ValueError as exc:
        raise ValueError(f"{source}: {exc}") from None
    for line in str(report).splitlines():
        say(line)
    if kept_previous:
        what = "held-out rows and samples" if eval_samples else "held-out rows"
        say(f"the new model does worse on the {what} than the one already in {output}: it stays as it was")
    elif previous is not None and not eval_rows and not eval_samples:
        say(f"no held-out rows to compare with the model already in {output}: replacing it")
    if eval_rows:
        rules, either = rules_or_model(model, eval_rows)
        kept_aside = f" and {len(eval_samples)} admins' samples" if eval_samples else ""
        say(f"held out (a fixed fifth of {source}{kept_aside}, not trained on): {len(eval_rows)} messages")
        say(f"  {'new model alone:':24}{report.evaluation}")
        if report.previous_evaluation is not None:
            say(f"  {'model before alone:':24}{report.previous_evaluation}")
        say(f"  {'rules alone:':24}{rules}")
        say(f"  {'rules OR ' + ('model before' if kept_previous else 'new model') + ':':24}{either}")
    if kept_previous:
        return False
    try:
        save(model, output)
    except OSError as exc:
        raise ValueError(f"{output_name} {output}: cannot write it: {exc.strerror or exc}") from None
    say(f"wrote {output}")
    return True
