"""Messages per second through the rules normaliser + every detector, with every shipped word list
loaded, on one core (handlers.rules.engine.RuleEngine.check, as the bot and `qunzhu moderate` call it).

    .venv/bin/python bench/rules_speed.py [DATA_DIR] [--seconds 5]
    .venv/bin/python bench/rules_speed.py --against /tmp/old [--rounds 3]   # vs another checkout

`--against DIR` compares with another checkout of the project (e.g. `git worktree add /tmp/old REV`):
the two run in turns, each in its own process, and the ratio of their median passes is printed —
on a noisy machine only such same-run ratios compare.

Uses chat-length messages from DATA_DIR/spam/zh-tg-train.csv (default ../shared/data) when present,
else a built-in mix. The normaliser's cache is cleared between rounds so every message is really
normalised. Rates are per CPU second of the one process (time.process_time), so other load on the
machine does not skew them. Prints messages/s for the mix and for a 4096-character worst case.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# --root DIR: whose rules engine to time (used by --against; default this checkout).
CODE = Path(sys.argv[sys.argv.index("--root") + 1]).resolve() if "--root" in sys.argv else ROOT
sys.path.insert(0, str(CODE))

from handlers.rules.engine import RuleEngine, Subject, shipped_bad_domains, shipped_matcher  # noqa: E402
from handlers.rules.normalize import normalize  # noqa: E402
from handlers.rules.settings import RulesSettings  # noqa: E402

FALLBACK = ["大家好，今天天气不错", "加我薇信 abc12345 日赚500", "https://example.xyz/deal 点击加入",
            "这件衣服 ¥129.00", "今天又要加班", "扣扣 ⓿➃肆5678 99", "明天 2026-03-05 开会", "Hello everyone!"]


def messages(data: Path) -> list[str]:
    path = data / "spam" / "zh-tg-train.csv"
    if path.exists():
        with path.open(encoding="utf-8", newline="") as f:
            return [row["text"] for row in csv.DictReader(f)]
    return FALLBACK * 1000


def run(engine: RuleEngine, texts: list[str], seconds: float) -> tuple[float, float]:
    """(median, best) messages per CPU second of one pass over the texts, passes repeated for about
    `seconds` (one core; CPU time, so other load on the machine counts less — not at all it cannot)."""
    rates, start = [], time.process_time()
    while time.process_time() - start < seconds or len(rates) < 3:
        normalize.cache_clear()
        t = time.process_time()
        for text in texts:
            engine.check(Subject(text=text))
        rates.append(len(texts) / max(time.process_time() - t, 1e-9))
    return statistics.median(rates), max(rates)


def reference_loop() -> float:
    """CPU seconds of a plain 10-million-step Python loop: how fast this machine runs Python (about
    0.5 s on a recent laptop core), to compare figures taken on different machines."""
    t, total = time.process_time(), 0
    for i in range(10_000_000):
        total += i
    return time.process_time() - t


def compare(args) -> int:
    import re
    import subprocess

    def median_rate(root: str) -> float:
        out = subprocess.run([sys.executable, __file__, args.data, "--root", root, "--seconds", str(args.seconds)],
                             capture_output=True, text=True, check=True).stdout
        return float(re.search(r"average: ([0-9,]+) messages/s", out).group(1).replace(",", ""))

    ratios = []
    for n in range(1, args.rounds + 1):
        ours, theirs = median_rate(str(ROOT)), median_rate(args.against)
        ratios.append(ours / theirs)
        print(f"round {n}: this checkout {ours:,.0f} messages/s, {args.against} {theirs:,.0f} → {ours / theirs:.2f}×")
    print(f"median ratio over {len(ratios)} rounds: {statistics.median(ratios):.2f}×")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--against", metavar="DIR", help="another checkout to compare with, in turns")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.against:
        return compare(args)
    t0 = time.perf_counter()
    shipped_matcher(), shipped_bad_domains()
    print(f"word lists loaded in {time.perf_counter() - t0:.2f}s")
    engine = RuleEngine.for_settings(RulesSettings(allowed_domains=["example.com"], words=["代写"], regexes=[r"wx\s*id"]))
    texts = messages(Path(args.data))
    avg = sum(map(len, texts)) / len(texts)
    print(f"this machine: a 10-million-step Python loop takes {reference_loop():.2f} CPU s")
    rate, best = run(engine, texts, args.seconds)
    print(f"chat mix: {len(texts)} messages, {avg:.0f} characters on average: {rate:,.0f} messages/s median pass, "
          f"{best:,.0f} best (goal >= 10,000)")
    long = ("加我薇信 abc12345 https://x.xyz 1З8 0O13-8000 大家好 " * 100)[:4096]
    rate_long, _ = run(engine, [long] * 50, min(args.seconds, 3.0))
    print(f"4096-character messages: {rate_long:,.0f} messages/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
