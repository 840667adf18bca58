"""Spam waves across groups (handlers/rules/waves.py): how many variants of an ad punished in one group
are caught at once in the others, and how often ordinary messages are mistaken for a wave.

    .venv/bin/python bench/spam_waves.py [DATA_DIR]      # default: ../shared/data

Importable: `simulate(data_dir) -> dict` and `print_report(result)` (for bench/rules_quality.py).
Needs the data folder (not shipped; see its SOURCES.md):

- Catch: the spam rows of spam/zh-tg-train.csv from row 12549 on (Telegram market ads, with many
  near-duplicates and variants) arrive in a shuffled order, spread over `hours`, each in one of
  `groups` random groups. Each is first checked with `WaveTracker.match`; a match is a catch. One not
  caught stands for a message the rules or an admin punish in its own group: it is remembered (caught
  ones are not, so waves never chain). The truth a catch is scored against is the exact Jaccard
  similarity to every earlier remembered message (no sketch): a message "has a near-duplicate" when
  one remembered before it, still within the ttl, scores ≥ the threshold. The catch rate is
  caught / has-a-near-duplicate, split into exact duplicates (the same squeezed view) and changed
  variants, and into originals in another group or the same one.
- False positives: every ham row of zh-tg-train.csv and of spam/zh-sms-10k.csv matched against a
  tracker that remembered every spam row of both files (no expiry); must stay ≤ 0.1 %.
- Speed: the mean cost of `match` on those ham messages, given their normalised views (as the
  engine has them) and, separately, the normaliser's own cost; memory per remembered wave.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import re
import sys
import time
import tracemalloc
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from handlers.rules import waves  # noqa: E402
from handlers.rules.normalize import normalize  # noqa: E402
from handlers.rules.training import read_labelled_csv as labelled_csv  # noqa: E402

MARKET_FROM = 12549  # first row of the Telegram market ads in zh-tg-train.csv
THRESHOLDS = (0.3, 0.35, 0.4, 0.5, 0.6, 0.7)  # the catch and false positives at other thresholds
FP_FLOOR = 0.2  # ham scoring this or more against the spam is listed (the margin below the threshold)
TTL_HOURS = (3, 12, 24)  # the catch with other ttls
START = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def _views(texts):
    # Views built once here: normalize() keeps only 4,096 in its cache.
    return [normalize(t) for t in texts]


_CONTACT = re.compile(r"@[a-z0-9_]{4,}|t\.me/\+?[a-z0-9_-]{4,}")
_LONG_NUMBER = re.compile(r"[0-9]{7,}")


def contacts(views) -> set[str]:
    """The advertiser's contacts in an ad: @handles, t.me links, numbers of 7+ digits (phone, QQ, WeChat).
    Ads sharing one are the same advertiser's, however rewritten: a family independent of the text."""
    return set(_CONTACT.findall(views.text)) | set(_LONG_NUMBER.findall(views.digits))


def catch_run(market, *, groups: int, hours: float, seed: int, threshold: float, ttl: timedelta) -> dict:
    """One simulated day of ads (see the module docstring). `market`: the views of the ad rows."""
    rng = random.Random(seed)
    order = list(range(len(market)))
    rng.shuffle(order)
    times = sorted(rng.uniform(0, hours * 3600) for _ in order)
    tracker = waves.WaveTracker(threshold=threshold, ttl=ttl)
    # The truth: every remembered message's full shingle set, found through an index of all shingles.
    remembered: list[tuple[float, set[int], str, str]] = []  # (expires, shingles, group, squeezed)
    by_shingle: dict[int, list[int]] = defaultdict(list)
    contact_expires: dict[str, float] = {}  # contact → expiry of the last remembered ad with it
    c = Counter()
    sims_missed: list[float] = []
    spent = 0.0
    for row, offset in zip(order, times):
        views = market[row]
        at = START + timedelta(seconds=offset)
        now = at.timestamp()
        group = f"g{rng.randrange(groups)}"
        c["arrived"] += 1
        found = waves.wave_shingles(views)
        t0 = time.perf_counter()
        hit = tracker.match(views, at=at, chat_key=group)
        spent += time.perf_counter() - t0
        if found is None:
            c["too_short"] += 1
            if hit is not None:
                c["short_matched"] += 1  # must stay 0
            continue
        c["eligible"] += 1
        counts = Counter(j for h in found for j in by_shingle.get(h, ()))
        best_live, best_any, live_group, exact = 0.0, 0.0, None, False
        for j, inter in counts.items():
            expires, other, other_group, other_sq = remembered[j]
            score = inter / (len(found) + len(other) - inter)
            best_any = max(best_any, score)
            if expires > now and score > best_live:
                best_live, live_group = score, other_group
            if expires > now and other_sq == views.squeezed:
                exact = True
        near = best_live >= threshold
        ours = contacts(views)
        same_advertiser = any(contact_expires.get(k, 0.0) > now for k in ours)
        if same_advertiser:
            c["advertiser"] += 1
            c["advertiser_near" if near else "advertiser_rewritten"] += 1
        kind = "exact" if exact else "variant"
        if near:
            c["near"] += 1
            c[f"near_{kind}"] += 1
            c["near_other_group" if live_group != group else "near_same_group"] += 1
        elif best_any >= threshold:
            c["near_expired_only"] += 1  # its near-duplicates were all past the ttl
        else:
            c["new"] += 1  # the first of its family, or rewritten beyond the threshold
            if best_any >= 0.2:
                c["new_02_to_threshold"] += 1
        if hit is not None:
            c["caught"] += 1
            if same_advertiser:
                c["caught_advertiser"] += 1
            c["caught_other_group" if not hit.same_chat else "caught_same_group"] += 1
            if near:
                c["caught_near"] += 1
                c[f"caught_near_{kind}"] += 1
                if live_group != group:
                    c["caught_near_other_group"] += 1
            else:
                c["caught_without_truth"] += 1  # must stay 0: the tracker only scores exactly
            continue
        if near:
            sims_missed.append(best_live)
        tracker.remember(views, at=at, chat_key=group, rule="ad_rules", category="ad")
        remembered.append((now + ttl.total_seconds(), found, group, views.squeezed))
        for k in ours:
            contact_expires[k] = now + ttl.total_seconds()
        for h in found:
            by_shingle[h].append(len(remembered) - 1)
    c["waves_at_end"] = len(tracker)
    c["sketch_missed"] = len(sims_missed)
    return {"counts": dict(c), "us_per_match": spent / max(1, c["arrived"]) * 1e6,
            "missed_similarities": sorted(sims_missed)}


def false_positive_run(spam, ham_sets: dict[str, list], *, floor: float) -> dict:
    """Ham against every spam remembered: the best similarity of each ham that matched at `floor`."""
    tracker = waves.WaveTracker(threshold=floor, ttl=timedelta(days=3650), max_entries=10 ** 6)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    stored = sum(tracker.remember(v, at=START, chat_key="g0", rule="ad_rules", category="ad") for v in spam)
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    at = START + timedelta(minutes=1)
    out = {"spam_remembered": stored, "waves": len(tracker), "bytes_per_wave": used / max(1, len(tracker)),
           "index": tracker.stats(), "sets": {}}
    for name, views in ham_sets.items():
        hits = []
        for v in views:
            m = tracker.match(v, at=at)
            if m is not None:
                hits.append((m.similarity, v.raw, m.sample))
        out["sets"][name] = {"rows": len(views), "eligible": sum(waves.wave_shingles(v) is not None for v in views),
                             "hits": sorted(hits, key=lambda h: -h[0])}
    # Speed on ordinary chat: every ham message, views given; best of 3 rounds.
    every = [v for views in ham_sets.values() for v in views]
    rounds = []
    for _ in range(3):
        t0 = time.perf_counter()
        for v in every:
            tracker.match(v, at=at)
        rounds.append(time.perf_counter() - t0)
    out["us_per_ham_match"] = min(rounds) / len(every) * 1e6
    long = [v for v in every if len(v.squeezed) >= waves.MIN_CHARS]
    t0 = time.perf_counter()
    for v in long:
        tracker.match(v, at=at)
    out["us_per_long_ham_match"] = (time.perf_counter() - t0) / max(1, len(long)) * 1e6
    out["long_ham"] = len(long)
    t0 = time.perf_counter()
    for v in spam:
        tracker.match(v, at=at)
    out["us_per_spam_match"] = (time.perf_counter() - t0) / len(spam) * 1e6
    normalize.cache_clear()
    raws = [v.raw for v in every]
    t0 = time.perf_counter()
    for r in raws:
        normalize(r)
    out["us_per_normalize"] = (time.perf_counter() - t0) / len(raws) * 1e6
    out["load_average"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    normalize.cache_clear()
    return out


def simulate(data_dir: str | Path = ROOT.parent / "shared" / "data", *, groups: int = 20, hours: float = 24.0,
             seed: int = 1, threshold: float = waves.THRESHOLD, ttl: timedelta = waves.DEFAULT_TTL) -> dict:
    """Run the catch simulation (at `threshold` and ttl, and at the other THRESHOLDS and TTL_HOURS) and the
    false-positive run. The dict: "threshold", "groups", "hours", "ttl_hours", the tracker's constants,
    "catch" ({"counts", "us_per_match", "missed_similarities"}), "catch_by_threshold" and "catch_by_ttl"
    (counts), "false_positives" ({"rate", "by_threshold", "total_rows", "sets": per ham set its rows,
    eligible rows and (similarity, text, matched sample) hits, "waves", "bytes_per_wave", "us_per_*"}).
    ~20 s on two cores."""
    data = Path(data_dir) / "spam"
    tg = labelled_csv(data / "zh-tg-train.csv")
    sms = labelled_csv(data / "zh-sms-10k.csv")
    market = _views(t for label, t in tg[MARKET_FROM:] if label == "spam")
    result = {"threshold": threshold, "groups": groups, "hours": hours, "ttl_hours": ttl.total_seconds() / 3600,
              "seed": seed, "shingle": waves.SHINGLE, "min_chars": waves.MIN_CHARS,
              "min_shingles": waves.MIN_SHINGLES, "sketch_k": waves.SKETCH_K}
    result["catch"] = catch_run(market, groups=groups, hours=hours, seed=seed, threshold=threshold, ttl=ttl)
    result["catch_by_threshold"] = {
        t: catch_run(market, groups=groups, hours=hours, seed=seed, threshold=t, ttl=ttl)["counts"]
        for t in THRESHOLDS if t != threshold
    }
    result["catch_by_threshold"][threshold] = result["catch"]["counts"]
    result["catch_by_ttl"] = {
        h: catch_run(market, groups=groups, hours=hours, seed=seed, threshold=threshold,
                     ttl=timedelta(hours=h))["counts"]
        for h in TTL_HOURS if timedelta(hours=h) != ttl
    }
    result["catch_by_ttl"][ttl.total_seconds() / 3600] = result["catch"]["counts"]
    spam = _views(t for label, t in tg + sms if label == "spam")
    ham_sets = {
        "zh-tg-train ham": _views(t for label, t in tg if label == "ham"),
        "zh-sms-10k ham": _views(t for label, t in sms if label == "ham"),
    }
    fp = false_positive_run(spam, ham_sets, floor=min(FP_FLOOR, threshold))
    total = sum(s["rows"] for s in fp["sets"].values())
    fp["total_rows"] = total
    fp["by_threshold"] = {t: sum(sum(h[0] >= t for h in s["hits"]) for s in fp["sets"].values())
                          for t in sorted(set(THRESHOLDS) | {threshold, FP_FLOOR, 0.25})}
    fp["rate"] = fp["by_threshold"][threshold] / total
    result["false_positives"] = fp
    return result


def _pct(part: int, whole: int, digits: int = 1) -> str:
    return f"{part}/{whole} = {100 * part / whole:.{digits}f} %" if whole else f"{part}/0"


def print_report(result: dict) -> None:
    t = result["threshold"]
    c = result["catch"]["counts"]

    def g(key: str) -> int:
        return c.get(key, 0)

    print(f"== spam waves (handlers/rules/waves.py): Jaccard of character {result['shingle']}-grams ≥ {t}, "
          f"bottom-{result['sketch_k']} sketch; texts < {result['min_chars']} squeezed chars or "
          f"< {result['min_shingles']} distinct shingles never form a wave ==")
    print(f"catch: {g('arrived')} market ads (zh-tg-train spam rows ≥ {MARKET_FROM}), shuffled over "
          f"{result['hours']:g} h in {result['groups']} groups, ttl {result['ttl_hours']:g} h, seed {result['seed']}; "
          f"an ad not caught is punished in its group and remembered")
    print(f"  too short/repetitive for a wave: {g('too_short')} (matched: {g('short_matched')}); "
          f"eligible: {g('eligible')}")
    print(f"  with a live remembered near-duplicate (exact Jaccard ≥ {t}): {g('near')} "
          f"(exact duplicates {g('near_exact')}, changed variants {g('near_variant')}; "
          f"nearest original in another group {g('near_other_group')}, in the same group {g('near_same_group')})")
    print(f"  caught of those: {_pct(g('caught_near'), g('near'))}  "
          f"[exact {_pct(g('caught_near_exact'), g('near_exact'))}; "
          f"variants {_pct(g('caught_near_variant'), g('near_variant'))}; "
          f"original in another group {_pct(g('caught_near_other_group'), g('near_other_group'))}]")
    print(f"  missed by the sketch (or merging): {g('sketch_missed')} "
          f"{[round(x, 2) for x in result['catch']['missed_similarities'][:10]]}; "
          f"caught with no near-duplicate by the truth: {g('caught_without_truth')}")
    print(f"  caught overall: {_pct(g('caught'), g('eligible'))} of the eligible ads "
          f"({g('caught_other_group')} by a wave from another group, {g('caught_same_group')} from the same)")
    print(f"  not caught: near-duplicates only past the ttl {g('near_expired_only')}; no near-duplicate "
          f"{g('new')} (of which best similarity 0.2…{t}: {g('new_02_to_threshold')})")
    print(f"  same advertiser (an @handle, t.me link or 7+ digit number of a live remembered ad): "
          f"{g('advertiser')}, caught {_pct(g('caught_advertiser'), g('advertiser'))} "
          f"(text rewritten below {t}: {g('advertiser_rewritten')})")
    print(f"  match: {result['catch']['us_per_match']:.1f} µs per ad (views given); "
          f"waves in memory at the end: {g('waves_at_end')}")
    fp = result["false_positives"]
    print("  by threshold:  caught/eligible            caught/with-near-dup      ham false positives")
    for th in sorted(result["catch_by_threshold"]):
        cc = result["catch_by_threshold"][th]
        print(f"    {th:<5}  {_pct(cc.get('caught', 0), cc.get('eligible', 0)):<25}  "
              f"{_pct(cc.get('caught_near', 0), cc.get('near', 0)):<24}  "
              f"{_pct(fp['by_threshold'].get(th, 0), fp['total_rows'], 3)}")
    print(f"  by ttl (threshold {t}):  caught/eligible; near-duplicates only past the ttl")
    for h in sorted(result["catch_by_ttl"]):
        cc = result["catch_by_ttl"][h]
        caught = _pct(cc.get("caught", 0), cc.get("eligible", 0))
        print(f"    {h:>4g} h  {caught:<25}  {cc.get('near_expired_only', 0)}")
    print(f"false positives: {fp['spam_remembered']} spam rows of both files remembered as {fp['waves']} waves "
          f"(near-copies merged); ham matched at {t}: "
          f"{_pct(fp['by_threshold'][t], fp['total_rows'], 3)} (goal ≤ 0.1 %)")
    for name, s in fp["sets"].items():
        hits = [h for h in s["hits"] if h[0] >= t]
        print(f"  {name}: {len(hits)} of {s['rows']} rows ({s['eligible']} long enough for a wave)")
        for sim, raw, sample in hits[:8]:
            print(f"    {sim:.2f}  {raw[:40]!r}  ~ {sample[:32]!r}")
    below = sorted((h for s in fp["sets"].values() for h in s["hits"] if h[0] < t), key=lambda h: -h[0])
    floor = min(FP_FLOOR, t)
    print(f"  ham scoring {floor}…{t}: {len(below)}" + (":" if below else ""))
    for sim, raw, sample in below[:6]:
        print(f"    {sim:.2f}  {raw[:40]!r}  ~ {sample[:32]!r}")
    ix = fp["index"]
    print(f"speed: match {fp['us_per_ham_match']:.1f} µs per ordinary message (all {fp['total_rows']} ham, views "
          f"given, {fp['waves']} waves), {fp['us_per_long_ham_match']:.1f} µs per ham of ≥ {waves.MIN_CHARS} "
          f"squeezed chars ({fp['long_ham']}), {fp['us_per_spam_match']:.1f} µs per spam (most have many "
          f"near-copies); normalize() itself {fp['us_per_normalize']:.1f} µs per message (uncached); "
          f"load average {fp['load_average'] or 0:.2f} on {os.cpu_count()} cores (times grow with it)")
    print(f"memory: {fp['bytes_per_wave']:.0f} bytes per wave ({fp['waves']} waves, {ix['index_keys']} index keys, "
          f"{ix['postings']} postings, longest posting list {ix['longest_posting']}); "
          f"at the cap of {waves.MAX_ENTRIES:,}: ~{fp['bytes_per_wave'] * waves.MAX_ENTRIES / 2 ** 20:.0f} MB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", nargs="?", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    result = simulate(args.data_dir, groups=args.groups, hours=args.hours, seed=args.seed)
    print_report(result)
    print(f"({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
