"""Spam precision/recall and false-positive rates of the shipped rules (handlers/rules, through the
code path of `qunzhu moderate`), of the spam model `qunzhu rules-train` makes (handlers/rules/model.py)
and of both together, with the model's speed and size and what one group's admins' labels add.

    .venv/bin/python bench/rules_quality.py [DATA_DIR] [--show N] [--no-model]      # default: ../shared/data

Needs the data folder (not shipped; see its SOURCES.md). Prints a one-line header per block; progress
goes to stderr. The split is handlers.rules.model.held_out() everywhere: the rules and the model are
developed on the rest, the held-out fifth is the figure to decide on.

zh-tg-train.csv is three sources stuck together: rows [0, 8213) are mixed livestream/group chat
(about half spam), then ~4,336 ham from a tech group, ~3,000 spam-only Telegram market ads (39%
duplicates) and a short mixed tail. The chat part is what a group bot sees; a split over the whole file
over-states recall on it, so it is reported on its own.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from handlers.rules.cli import default_settings, moderate_texts  # noqa: E402
from handlers.rules.model import Model, features, held_out, load  # noqa: E402
from handlers.rules.training import Evaluation, read_labelled_csv as labelled_csv, train_and_save  # noqa: E402

MIXED_CHAT_ROWS = 8213  # zh-tg-train.csv data rows [0, 8213): the mixed-chat part
LABEL_COUNTS = (0, 50, 200)  # the learning curve's numbers of admins' labels

Rows = list[tuple[str, str]]


def lines(path: Path, label: str) -> Rows:
    return [(label, line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def dev(rows: Rows) -> Rows:
    return [row for row in rows if not held_out(row[1])]


def held(rows: Rows) -> Rows:
    return [row for row in rows if held_out(row[1])]


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class ShippedRules:
    """The shipped rules' results (`qunzhu moderate`'s code path), each distinct text judged once."""

    def __init__(self):
        self.settings = default_settings()
        self._results: dict[str, dict] = {}

    def results(self, texts: list[str]) -> list[dict]:
        todo = [t for t in dict.fromkeys(texts) if t not in self._results]
        if len(todo) > 2000:
            progress(f"judging {len(todo)} messages with the rules …")
        self._results.update(zip(todo, moderate_texts(todo, self.settings)))
        return [self._results[t] for t in texts]

    def flags(self, texts: list[str]) -> list[bool]:
        return [r["verdict"] == "violation" for r in self.results(texts)]


@dataclass
class Bench:
    """What every block reads; a new block is a function of it, called from main()."""

    data: Path  # DATA_DIR/spam
    tg: Rows  # zh-tg-train.csv
    sms: Rows  # zh-sms-10k.csv
    tg_ham: Rows  # tg-spam-ham-samples.txt
    tg_spam: Rows  # tg-spam-spam-samples.txt
    show: int
    rules: ShippedRules = field(default_factory=ShippedRules)
    model: Model | None = None
    model_path: Path | None = None

    @property
    def mixed_chat(self) -> Rows:
        return self.tg[:MIXED_CHAT_ROWS]


# -- the rules alone ------------------------------------------------------------------------------

def judge(rows: Rows, settings) -> list[tuple[str, dict]]:
    results = moderate_texts([text for _, text in rows], settings)
    return [(label, result) for (label, _), result in zip(rows, results)]


def judge_cli(rows: Rows) -> list[tuple[str, dict]]:
    """The acceptance path itself: the rows piped through `qunzhu moderate --jsonl` in a subprocess."""
    import json
    import subprocess

    stdin = "".join(json.dumps({"text": text}, ensure_ascii=False) + "\n" for _, text in rows)
    done = subprocess.run([sys.executable, "-m", "bot.cli", "moderate", "--jsonl"], input=stdin, text=True,
                          capture_output=True, cwd=ROOT, check=True)
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(results) == len(rows), f"{len(results)} results for {len(rows)} messages"
    return [(label, result) for (label, _), result in zip(rows, results)]


def report(name: str, judged: list[tuple[str, dict]], show: int) -> None:
    tp = sum(1 for label, r in judged if label == "spam" and r["verdict"] == "violation")
    fp = sum(1 for label, r in judged if label == "ham" and r["verdict"] == "violation")
    fn = sum(1 for label, r in judged if label == "spam" and r["verdict"] == "allow")
    ham = sum(1 for label, _ in judged if label == "ham")
    spam = sum(1 for label, _ in judged if label == "spam")
    print(f"== {name}: {len(judged)} messages ({spam} spam, {ham} ham)")
    if spam:
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / spam
        print(f"   spam precision {precision:.4f}  recall {recall:.4f}  (tp {tp}, fp {fp}, fn {fn})")
    if ham:
        print(f"   false-positive rate on ham {fp / ham:.4%}  ({fp} of {ham})")
        if fp:
            by = Counter(r["category"] for label, r in judged if label == "ham" and r["verdict"] == "violation")
            print("   false positives by category: " + ", ".join(f"{k} {v}" for k, v in by.most_common()))
    if show:
        for label, r in [x for x in judged if x[0] == "ham" and x[1]["verdict"] == "violation"][:show]:
            print("   FP:", r["text"][:100].replace("\n", " "), "|", [h["rule"] + ":" + h["evidence"] for h in r["hits"]])
        for label, r in [x for x in judged if x[0] == "spam" and x[1]["verdict"] == "allow"][:show]:
            print("   FN:", r["text"][:100].replace("\n", " "), "|", round(r["score"], 2))


def rules_blocks(b: Bench) -> None:
    report("zh-tg-train.csv through `qunzhu moderate --jsonl` (goal: precision >= 0.98, recall >= 0.85)",
           judge_cli(b.tg), 0)
    # The word lists and signals are written looking only at the dev part (`--show` prints misses from
    # it alone); the held-out fifth is never looked at and is the figure to decide on.
    report("zh-tg-train.csv dev (not held out; the part rules are written from)",
           list(zip([label for label, _ in dev(b.tg)], b.rules.results([t for _, t in dev(b.tg)]))), b.show)
    report("zh-tg-train.csv held out (never looked at; decide on this)",
           list(zip([label for label, _ in held(b.tg)], b.rules.results([t for _, t in held(b.tg)]))), 0)
    report("zh-sms-10k.csv (goal: ham FP <= 0.5%)", list(zip([label for label, _ in b.sms], b.rules.results([t for _, t in b.sms]))), b.show)
    report("tg-spam-ham-samples.txt (goal: FP <= 0.5%)",
           list(zip([label for label, _ in b.tg_ham], b.rules.results([t for _, t in b.tg_ham]))), b.show)
    # The same ham in a group that allows links (a tech group with allowed_domains, or links as a
    # points-level right): the default "no links" rule is policy, not a detection error.
    from handlers.rules.settings import RulesSettings

    report("tg-spam-ham-samples.txt, strict playbook links = \"all\"", judge(b.tg_ham, RulesSettings(links="all")), 0)
    links_ok = RulesSettings(disabled_categories=["link"])
    report("tg-spam-ham-samples.txt, links allowed", judge(b.tg_ham, links_ok), b.show)
    report("zh-sms-10k.csv, links allowed", judge(b.sms, links_ok), 0)
    report("tg-spam-spam-samples.txt (recall only)", judge(b.tg_spam, b.rules.settings), b.show)


# -- the model ------------------------------------------------------------------------------------

def train_documented_model(b: Bench, folder: Path) -> None:
    """`qunzhu rules-train zh-tg-train.csv` with its defaults: trained on the non-held-out rows."""
    path = folder / "rules-model.json"
    data = b.data / "zh-tg-train.csv"
    print(f"== `qunzhu rules-train {data.name}` (the documented command, its defaults; its own report)")
    train_and_save(b.tg, str(path), source=data.name, say=lambda line: print("   " + line))
    b.model, b.model_path = load(path), path


def figures(b: Bench, rows: Rows, model: Model) -> tuple[Evaluation, Evaluation, Evaluation]:
    """(rules alone, model alone, rules OR model) on labelled rows."""
    labels, texts = [label for label, _ in rows], [text for _, text in rows]
    by_rules = b.rules.flags(texts)
    by_model = [model.flags(text) for text in texts]
    return (Evaluation.of(labels, by_rules), Evaluation.of(labels, by_model),
            Evaluation.of(labels, [r or m for r, m in zip(by_rules, by_model)]))


def short(e: Evaluation) -> str:
    return f"P {e.precision:.4f} R {e.recall:.4f} (fp {e.false_positives:3})"


def model_blocks(b: Bench) -> None:
    print("== rules alone | model alone | rules OR model (goal on mixed chat held out: OR recall >= rules + 0.04"
          " at OR precision >= 0.99)")
    parts = (
        (f"mixed chat, dev (rows 0-{MIXED_CHAT_ROWS - 1}, trained on)", dev(b.mixed_chat)),
        ("mixed chat, held out (decide on this)", held(b.mixed_chat)),
        ("whole file, held out", held(b.tg)),
        ("whole file (4/5 trained on)", b.tg),
    )
    for name, rows in parts:
        spam = sum(1 for label, _ in rows if label == "spam")
        rules, model, either = figures(b, rows, b.model)
        print(f"   {name:40} {len(rows):5} ({spam:4} spam): rules {short(rules)} | model {short(model)}"
              f" | OR {short(either)}  OR-rules recall {either.recall - rules.recall:+.4f}")
    print("== ham false positives, rules alone | rules OR model (goal: <= 0.5% each)")
    for name, rows in (("zh-sms-10k.csv ham", [r for r in b.sms if r[0] == "ham"]),
                       ("tg-spam-ham-samples.txt", b.tg_ham)):
        rules, _, either = figures(b, rows, b.model)
        print(f"   {name:26} {len(rows):5} ham: rules {rules.false_positives / len(rows):.4%} ({rules.false_positives})"
              f" | OR {either.false_positives / len(rows):.4%} ({either.false_positives})")


def speed_and_size(b: Bench) -> None:
    from handlers.rules.normalize import normalize

    texts = [text for _, text in b.mixed_chat]
    print(f"== model speed (over the {len(texts)} mixed-chat messages; goal < 0.05 ms) and size (goal < 1 MB)")
    views = [normalize(t) for t in texts]
    best = min(_seconds(lambda: [b.model.flags(t, v) for t, v in zip(texts, views)]) for _ in range(3))
    print(f"   model.flags with the message's normalize() views given (as the bot calls it): "
          f"{best / len(texts) * 1e3:.4f} ms/message")
    cold = []
    for _ in range(3):
        normalize.cache_clear()
        cold.append(_seconds(lambda: [b.model.flags(t) for t in texts]))
    print(f"   model.flags normalising too (cold normalize cache): {min(cold) / len(texts) * 1e3:.4f} ms/message")
    size = b.model_path.stat().st_size
    print(f"   weights file: {size / 1024:.0f} KB ({size} bytes), {len(b.model.weights)} features")


def _seconds(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def learning_curve(b: Bench) -> None:
    """One group's admins label mixed-chat dev messages the system (rules OR the documented model) got
    wrong, first come first labelled: missed spam as spam, wrongly flagged ham as ham; the model is
    retrained on the same base rows plus those featurised samples."""
    from handlers.rules.training import train

    rows = dev(b.mixed_chat)
    texts = [text for _, text in rows]
    flagged = [r or b.model.flags(t) for r, t in zip(b.rules.flags(texts), texts)]
    wrong = [(label, features(text)) for (label, text), f in zip(rows, flagged) if f != (label == "spam")]
    missed = sum(1 for label, _ in wrong if label == "spam")
    print(f"== per-group learning: admins label what the system got wrong on mixed chat dev ({missed} missed spam,"
          f" {len(wrong) - missed} flagged ham in all, first {max(LABEL_COUNTS)} used); figures on mixed chat held out")
    evaluation_rows = held(b.mixed_chat)
    for count in LABEL_COUNTS:
        model = b.model
        if count:
            progress(f"retraining with {count} labels …")
            model, _ = train(dev(b.tg), samples=wrong[:count])
        _, alone, either = figures(b, evaluation_rows, model)
        first = wrong[:max(LABEL_COUNTS)]
        right = sum(1 for label, feats in first if (model.score_features(feats) >= model.threshold) == (label == "spam"))
        print(f"   {count:3} labels: model alone {short(alone)} | rules OR model {short(either)}"
              f" | model alone right on {right} of the first {len(first)} mistakes")


def wave_block(data_dir: Path) -> None:
    """The cross-group spam-wave simulation (bench/spam_waves.py): market ads over 20 groups."""
    sys.path.insert(0, str(ROOT / "bench"))
    from spam_waves import print_report, simulate

    print_report(simulate(data_dir))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--show", type=int, default=0,
                        help="print this many false positives/negatives (of zh-tg-train.csv: from the dev part only)")
    parser.add_argument("--no-model", action="store_true", help="the rules alone: skip training the spam model")
    args = parser.parse_args()
    data = Path(args.data) / "spam"
    if not data.is_dir():
        print(f"no data at {data}", file=sys.stderr)
        return 2
    b = Bench(data=data, tg=labelled_csv(data / "zh-tg-train.csv"), sms=labelled_csv(data / "zh-sms-10k.csv"),
              tg_ham=lines(data / "tg-spam-ham-samples.txt", "ham"),
              tg_spam=lines(data / "tg-spam-spam-samples.txt", "spam"), show=args.show)
    rules_blocks(b)
    wave_block(Path(args.data))
    if args.no_model:
        return 0
    with tempfile.TemporaryDirectory() as folder:
        train_documented_model(b, Path(folder))
        model_blocks(b)
        speed_and_size(b)
        learning_curve(b)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
