"""Verdicts of this checkout's rules engine against another revision's, message by message, on every
corpus under DATA_DIR (default ../shared/data): the spam/ham sets and, one message a line, the word
lists themselves (each term as a message: the words the automata must find).

    .venv/bin/python bench/rules_verdicts_diff.py [DATA_DIR] [--baseline REV]   # default REV: 8997d03

Each tree judges every message under several group settings in its own process; the hits (rule,
category, weight, evidence), score and violation of every verdict are compared. Prints the first
differences and, last, their count: a change meant for speed must print 0.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (name, settings, newcomer): the shipped defaults, a newcomer, and a group with its own lists.
CONFIGS = (
    ("default", {}, False),
    ("newcomer", {}, True),
    ("own-lists", {"links": "all", "allowed_domains": ["example.com"], "blocked_domains": ["bad.example"],
                   "words": ["代写", "spam word"], "allowed_words": ["微信"], "regexes": [r"wx\s*id"],
                   "disabled_categories": ["politics"]}, False),
)


def corpus(data: Path) -> list[str]:
    texts: list[str] = []
    for path in sorted((data / "spam").glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as f:
            texts += [row["text"] for row in csv.DictReader(f)]
    for path in sorted((data / "spam").glob("tg-spam-*-samples.txt")):
        texts += [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for path in sorted((data / "wordlists").rglob("*.txt")):
        texts += [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    return texts


def judge(root: str, data: str, out: str) -> None:
    """In a subprocess: the verdicts of the engine under `root`, one JSON line per message and config."""
    sys.path.insert(0, root)
    from handlers.rules.engine import RuleEngine, Subject
    from handlers.rules.settings import RulesSettings

    texts = corpus(Path(data))
    with open(out, "w", encoding="utf-8") as f:
        for name, overrides, newcomer in CONFIGS:
            engine = RuleEngine.for_settings(RulesSettings(**overrides))
            for text in texts:
                v = engine.check(Subject(text=text, newcomer=newcomer))
                f.write(json.dumps([name, v.violation, v.category, v.score, [list(h) for h in v.hits]],
                                   ensure_ascii=False) + "\n")


def verdicts(root: Path, data: str, tmp: str, tag: str) -> list[str]:
    out = str(Path(tmp) / f"{tag}.jsonl")
    subprocess.run([sys.executable, __file__, data, "--judge", str(root), "--out", out], check=True)
    return Path(out).read_text(encoding="utf-8").splitlines()


def main() -> int:
    from baseline import DEFAULT_BASELINE, exported

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, metavar="REV", help="the revision to compare with")
    parser.add_argument("--show", type=int, default=10, help="print this many differences")
    parser.add_argument("--judge", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.judge:
        judge(args.judge, args.data, args.out)
        return 0
    texts = corpus(Path(args.data))
    with tempfile.TemporaryDirectory() as tmp, exported(args.baseline) as old_root:
        old = verdicts(old_root, args.data, tmp, "old")
        new = verdicts(ROOT, args.data, tmp, "new")
    assert len(old) == len(new) == len(texts) * len(CONFIGS), (len(old), len(new))
    differences = 0
    for i, (a, b) in enumerate(zip(old, new)):
        if a != b:
            differences += 1
            if differences <= args.show:
                print(f"message {i % len(texts)} ({CONFIGS[i // len(texts)][0]}): {texts[i % len(texts)][:80]!r}")
                print(f"   {args.baseline}: {a}\n   this checkout: {b}")
    print(f"{len(texts)} messages x {len(CONFIGS)} settings compared with {args.baseline}: {differences} differences")
    return 1 if differences else 0


if __name__ == "__main__":
    raise SystemExit(main())
