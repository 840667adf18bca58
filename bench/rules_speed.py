"""Messages per second through the rules normaliser + every detector, with every shipped word list
loaded, on one core (handlers.rules.engine.RuleEngine.check, as the bot and `qunzhu moderate` call it),
this checkout against an older revision in the same run.

    .venv/bin/python bench/rules_speed.py [DATA_DIR] [--baseline REV] [--rounds 3] [--seconds 5]
    .venv/bin/python bench/rules_speed.py --baseline none      # this checkout alone

`--baseline REV` (default 8997d03, where issue 19's rules work started) unpacks that revision's tree
into a temporary directory (`git archive`); in each round the two trees run at the same time, each in
its own process (one a core), on the same messages, and the ratios are printed — on a noisy machine
only such same-run ratios compare. Each figure counts every chunk of 500 messages at its fastest pass (noise
only adds time). Each process also reports the word lists' load time and resident memory
(VmRSS before and after loading them).

Uses chat-length messages from DATA_DIR/spam/zh-tg-train.csv (default ../shared/data) when present,
else a built-in mix. The normaliser's cache is cleared before every chunk so every message is really
normalised. Rates are per CPU second of the one process (time.process_time), so other load on the
machine does not skew them. Prints messages/s for the mix and for a 4096-character worst case.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FALLBACK = ["大家好，今天天气不错", "加我薇信 abc12345 日赚500", "https://example.xyz/deal 点击加入",
            "这件衣服 ¥129.00", "今天又要加班", "扣扣 ⓿➃肆5678 99", "明天 2026-03-05 开会", "Hello everyone!"]
CHUNK = 500  # messages timed together
LONG = ("加我薇信 abc12345 https://x.xyz 1З8 0O13-8000 大家好 " * 100)[:4096]


def messages(data: Path) -> list[str]:
    path = data / "spam" / "zh-tg-train.csv"
    if path.exists():
        with path.open(encoding="utf-8", newline="") as f:
            return [row["text"] for row in csv.DictReader(f)]
    return FALLBACK * 1000


def resident_mb() -> float:
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024


def measure(root: str, data: str, seconds: float) -> dict:
    """In a subprocess: the figures of the rules engine under `root`."""
    sys.path.insert(0, root)
    from handlers.rules.engine import RuleEngine, Subject, shipped_bad_domains, shipped_matcher
    from handlers.rules.normalize import normalize
    from handlers.rules.settings import RulesSettings

    def run(engine, texts: list[str], seconds: float) -> float:
        """Messages per CPU second: passes over the texts repeated for about `seconds`, each chunk
        of CHUNK messages counted at its fastest pass. Other load on the machine only ever adds
        time, so the fastest passes are the ones it disturbed least."""
        chunks = [texts[i:i + CHUNK] for i in range(0, len(texts), CHUNK)]
        best = [float("inf")] * len(chunks)
        start, passes = time.process_time(), 0
        while time.process_time() - start < seconds or passes < 3:
            for n, chunk in enumerate(chunks):
                normalize.cache_clear()
                t = time.process_time()
                for text in chunk:
                    engine.check(Subject(text=text))
                best[n] = min(best[n], time.process_time() - t)
            passes += 1
        return len(texts) / max(sum(best), 1e-9)

    before, t0 = resident_mb(), time.perf_counter()
    shipped_matcher(), shipped_bad_domains()
    load, lists_mb = time.perf_counter() - t0, resident_mb() - before
    engine = RuleEngine.for_settings(RulesSettings(allowed_domains=["example.com"], words=["代写"], regexes=[r"wx\s*id"]))
    texts = messages(Path(data))
    return {"load": load, "lists_mb": lists_mb, "rss_mb": resident_mb(), "chat": run(engine, texts, seconds),
            "long": run(engine, [LONG] * 50, min(seconds, 3.0)), "count": len(texts),
            "chars": sum(map(len, texts)) / len(texts)}


def figures(roots: dict[str, Path], args) -> dict[str, dict]:
    """One round: the figures of every tree, measured at the same time (a process each), so other
    load on the machine weighs on them alike."""
    procs = {name: subprocess.Popen([sys.executable, __file__, args.data, "--root", str(root), "--seconds",
                                     str(args.seconds)], stdout=subprocess.PIPE, text=True)
             for name, root in roots.items()}
    out = {}
    for name, proc in procs.items():
        stdout, _ = proc.communicate()
        if proc.returncode:
            raise SystemExit(f"{name}: the measuring process failed ({proc.returncode})")
        out[name] = json.loads(stdout)
    return out


def reference_loop() -> float:
    """CPU seconds of a plain 10-million-step Python loop: how fast this machine runs Python (about
    0.5 s on a recent laptop core), to compare figures taken on different machines."""
    t, total = time.process_time(), 0
    for i in range(10_000_000):
        total += i
    return time.process_time() - t


def main() -> int:
    from baseline import DEFAULT_BASELINE, exported

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--seconds", type=float, default=5.0, help="CPU seconds of passes per figure")
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, metavar="REV",
                        help="the revision to compare with, or 'none'")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of both trees at once; medians are printed")
    parser.add_argument("--root", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.root:
        print(json.dumps(measure(args.root, args.data, args.seconds)))
        return 0
    print(f"this machine: a 10-million-step Python loop takes {reference_loop():.2f} CPU s")
    trees = {"this checkout": ROOT}
    with exported(args.baseline) if args.baseline != "none" else contextlib.nullcontext() as old_root:
        if old_root is not None:
            trees[args.baseline] = old_root
        runs: dict[str, list[dict]] = {name: [] for name in trees}
        for _ in range(args.rounds):
            for name, figure in figures(trees, args).items():
                runs[name].append(figure)
    first = runs["this checkout"][0]
    print(f"chat mix: {first['count']} messages, {first['chars']:.0f} characters on average; "
          f"medians of {args.rounds} rounds, one core")
    median = {name: {key: statistics.median(r[key] for r in rs) for key in rs[0]} for name, rs in runs.items()}
    print(f"{'':16}{'chat msgs/s':>12}{'4096-char/s':>12}{'lists load':>11}{'lists MB':>10}{'RSS MB':>8}")
    for name, m in median.items():
        print(f"{name:16}{m['chat']:>12,.0f}{m['long']:>12,.0f}{m['load']:>10.2f}s{m['lists_mb']:>10.1f}{m['rss_mb']:>8.1f}")
    if len(median) == 2:
        new, old = median["this checkout"], median[args.baseline]
        ratios = [a["chat"] / b["chat"] for a, b in zip(runs["this checkout"], runs[args.baseline])]
        print(f"ratio this/{args.baseline}: chat {new['chat'] / old['chat']:.2f}x (per round: "
              + ", ".join(f"{r:.2f}" for r in ratios) + f"), 4096-char {new['long'] / old['long']:.2f}x, "
              f"word-list memory {new['lists_mb'] / old['lists_mb']:.2f}x")
    print("goal: chat >= 20,000 messages/s (issue 19)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
