"""`qunzhu moderate`: try a group's rules on messages from stdin, one JSON line out per message.

Same code path as the bot (RuleEngine.check + decide). With no config, the shipped defaults."""

from __future__ import annotations

import json
import sys

from handlers.rules.decide import decide
from handlers.rules.engine import RuleEngine, Subject


def default_settings():
    from handlers.rules.settings import RulesSettings

    return RulesSettings()


def settings_from(config_path: str | None, group: str | None):
    if not config_path:
        return default_settings()
    from bot.cli import _load

    config = _load(config_path)
    return config.group_settings(group or "console:" + config.console.chat_id).rules


def moderate_texts(texts, settings, *, strikes: int = 0, newcomer: bool = False) -> list[dict]:
    engine = RuleEngine.for_settings(settings)
    out = []
    for text in texts:
        verdict = engine.check(Subject(text=text, newcomer=newcomer))
        decision = decide(verdict, settings, active_strikes=strikes, newcomer=newcomer)
        out.append(
            {
                "text": text,
                "verdict": "violation" if verdict.violation else "allow",
                "rule": verdict.primary.rule if verdict.violation and verdict.primary else None,
                "category": verdict.category if verdict.violation else None,
                "score": verdict.score,
                "threshold": verdict.threshold,
                "hits": [h.as_dict() for h in verdict.hits],
                "action": decision.as_dict(),
            }
        )
    return out


def cmd_moderate(args) -> int:
    settings = settings_from(args.config, args.group)
    if not settings.enabled:
        print("note: rules.enabled is false for this group; judging anyway", file=sys.stderr)
    for number, line in enumerate(sys.stdin, 1):
        line = line.rstrip("\n")
        if not line.strip():
            continue
        text = line
        if args.jsonl:
            try:
                obj = json.loads(line)
                text = obj["text"] if isinstance(obj, dict) else None
                if not isinstance(text, str):
                    raise KeyError
            except (json.JSONDecodeError, KeyError):
                print(json.dumps({"line": number, "error": "not a JSON object with a string \"text\""}, ensure_ascii=False))
                continue
        result = moderate_texts([text], settings, strikes=args.strikes, newcomer=args.newcomer)[0]
        print(json.dumps(result, ensure_ascii=False), flush=True)
    return 0


def cmd_train(args) -> int:
    import random

    from handlers.rules.classifier import read_labelled_csv, save, train

    try:
        rows = read_labelled_csv(args.data)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    random.Random(args.seed).shuffle(rows)
    held = rows[: int(len(rows) * args.holdout)] if args.holdout else []
    try:
        model = train(rows[len(held):])
    except ValueError as exc:
        print(f"error: {args.data}: {exc}", file=sys.stderr)
        return 2
    save(model, args.output)
    spam = sum(1 for label, _ in rows if label == "spam")
    print(f"trained on {len(rows) - len(held)} messages ({spam} spam in all); {len(model.weights)} features → {args.output}")
    if held:
        from handlers.rules.settings import RulesSettings

        with_model = RulesSettings(classifier=args.output)
        for name, settings in (("rules alone", RulesSettings()), ("rules + classifier", with_model)):
            results = moderate_texts([t for _, t in held], settings)
            tp = sum(1 for (label, _), r in zip(held, results) if label == "spam" and r["verdict"] == "violation")
            fp = sum(1 for (label, _), r in zip(held, results) if label == "ham" and r["verdict"] == "violation")
            n_spam = sum(1 for label, _ in held if label == "spam")
            precision = tp / (tp + fp) if tp + fp else 0.0
            print(f"held-out {len(held)} messages, {name}: precision {precision:.4f}, recall {tp / max(n_spam, 1):.4f}")
    print(f'use it with: [defaults.rules] classifier = "{args.output}"')
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("rules-train", help="train the optional rules classifier on your labelled messages")
    p.add_argument("data", help="CSV with the columns label (spam|ham) and text")
    p.add_argument("-o", "--output", default="rules-model.json", help="the model file to write")
    p.add_argument("--holdout", type=float, default=0.2, help="share kept aside to report precision/recall (0: none)")
    p.add_argument("--seed", type=int, default=1)
    p.set_defaults(func=cmd_train)

    p = subparsers.add_parser("moderate", help="judge messages from stdin with a group's rules (one JSON line each)")
    p.add_argument("-c", "--config", metavar="FILE", help="the TOML config file (default: the shipped rules)")
    p.add_argument("-g", "--group", metavar="PLATFORM:CHAT_ID", help="whose rules (default: the console group)")
    p.add_argument("--jsonl", action="store_true", help='stdin lines are JSON objects with "text"')
    p.add_argument("--strikes", type=int, default=0, help="the member's strikes so far (which ladder step applies)")
    p.add_argument("--newcomer", action="store_true", help="judge as a newcomer's first messages")
    p.set_defaults(func=cmd_moderate)
