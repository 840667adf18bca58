"""`qunzhu moderate`: try a group's rules on messages from stdin, one JSON line out per message.
Same code path as the bot (RuleEngine.check + decide). With no config, the shipped defaults.

`qunzhu rules-train`: train the spam model (handlers/rules/training.py) on labelled messages."""

from __future__ import annotations

import argparse
import json
import os
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


def moderate_texts(texts, settings, *, strikes: int = 0, newcomer: bool = False, engine: RuleEngine | None = None) -> list[dict]:
    engine = engine or RuleEngine.for_settings(settings)
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


class BadLine(ValueError):
    """An input line that cannot be judged; the message says why (it goes into the error line)."""


def _text_of(raw: bytes, jsonl: bool) -> str:
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadLine(f"not valid UTF-8 (byte {exc.start + 1} of the line: {raw[exc.start:exc.start + 1]!r})") from None
    if not jsonl:
        return line
    try:
        obj = json.loads(line)
    except RecursionError:
        raise BadLine("JSON nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise BadLine(f"not JSON ({exc.msg} at column {exc.colno})") from None
    except ValueError as exc:  # an integer longer than Python's int_max_str_digits
        limit = sys.get_int_max_str_digits()
        why = f"a number longer than {limit} digits" if "digits" in str(exc) else str(exc)[:120]
        raise BadLine(f"not usable JSON ({why})") from None
    if not isinstance(obj, dict):
        raise BadLine(f'not a JSON object with a string "text" (got a JSON {type(obj).__name__})')
    text = obj.get("text")
    if not isinstance(text, str):
        raise BadLine('not a JSON object with a string "text"' + ("" if "text" not in obj else f" (\"text\" is a JSON {type(text).__name__})"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadLine(f'"text" holds a lone surrogate ({text[exc.start]!r} at character {exc.start + 1}), not a character') from None
    return text


def _dumps(obj: dict) -> str:
    """One output line, always valid UTF-8: readable Chinese where possible, \\u escapes for what
    UTF-8 cannot carry (a lone surrogate such as "\\ud800" from the input)."""
    line = json.dumps(obj, ensure_ascii=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        line = json.dumps(obj, ensure_ascii=True)
    # Characters that str.splitlines() and many readers take for a line break; JSON lets them stay
    # raw inside strings, but then one answer could read as two lines.
    return line.translate(_LINE_BREAKS)


_LINE_BREAKS = {ord(c): f"\\u{ord(c):04x}" for c in "\x85\u2028\u2029"}


def cmd_moderate(args) -> int:
    """One output line per non-blank input line, in order: the verdict, or {"error": …, "line": N}
    for a line that cannot be judged (the rest is judged all the same). Exit 0, unless stdin could
    not be read (1), or --fail-on-error and some line was bad (1, after the last line)."""
    settings = settings_from(args.config, args.group)
    if not settings.enabled:
        print("note: rules.enabled is false for this group; judging anyway", file=sys.stderr)
    engine = RuleEngine.for_settings(settings)
    out = sys.stdout
    bad = 0
    number = 0
    try:
        for number, raw in enumerate(sys.stdin.buffer, 1):
            raw = raw.rstrip(b"\n").rstrip(b"\r")
            if not raw.strip():
                continue
            try:
                text = _text_of(raw, args.jsonl)
                result = moderate_texts([text], settings, strikes=args.strikes, newcomer=args.newcomer, engine=engine)[0]
            except BadLine as exc:
                result = {"error": str(exc), "line": number}
                bad += 1
            except Exception as exc:  # a message the rules choke on must not stop the others
                result = {"error": f"could not judge this line ({type(exc).__name__})", "line": number}
                bad += 1
            out.write(_dumps(result) + "\n")
            out.flush()
    except OSError as exc:
        print(f"error: cannot read stdin after {number} lines: {exc.strerror or exc}", file=sys.stderr)
        return 1
    if bad and args.fail_on_error:
        print(f"{bad} line(s) could not be judged", file=sys.stderr)
        return 1
    return 0


def cmd_train_from_db(args) -> int:
    """`--from-db -c FILE`: [learning] base_data (or DATA) and background_ham plus every labelled
    sample in the bot's database, written to [learning] output (or -o)."""
    import asyncio

    from bot.cli import _load
    from handlers.rules import learning
    from storage.db import create_engine, session_factory, upgrade

    if not args.config:
        print("error: --from-db needs -c FILE (the bot's config: its database and [learning] keys)", file=sys.stderr)
        return 2
    config = _load(args.config)
    # Paths given here are the caller's (absolute); the config's own are relative to its data dir.
    changes = {k: os.path.abspath(v) for k, v in (("base_data", args.data), ("output", args.output_given)) if v}
    if args.ham:
        changes["background_ham"] = [*config.learning.background_ham, *map(os.path.abspath, args.ham)]
    if args.precision is not None:
        changes["precision"] = args.precision
    config.learning = config.learning.model_copy(update=changes)

    async def go() -> None:
        engine = create_engine(config.database_url, sqlite_driver=config.database.sqlite_driver)
        try:
            await upgrade(engine)
            await learning.retrain(config, session_factory(engine), say=print)
        finally:
            await engine.dispose()

    try:
        asyncio.run(go())
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_train(args) -> int:
    from handlers.rules.training import read_background_ham, read_labelled_csv, train_and_save

    if args.from_db:
        return cmd_train_from_db(args)
    if not args.data:
        print("error: rules-train needs DATA (a label,text CSV), or --from-db -c FILE", file=sys.stderr)
        return 2
    args.output = args.output_given or "rules-model.json"

    if not os.path.isdir(os.path.dirname(os.path.abspath(args.output))):
        print(f"error: -o {args.output}: no such directory", file=sys.stderr)
        return 2
    try:
        rows = read_labelled_csv(args.data)
        ham = [text for path in args.ham for text in read_background_ham(path)]
        train_and_save(rows, args.output, background_ham=ham, holdout=args.holdout, target_precision=args.precision,
                       seed=args.seed, source=args.data)
    except OSError as exc:
        print(f"error: cannot read {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _precision(value: str) -> float:
    try:
        p = float(value)
    except ValueError:
        p = -1.0
    if not 0 < p < 1:
        raise argparse.ArgumentTypeError(f"--precision {value}: needs a number between 0 and 1, e.g. 0.995")
    return p


def register(subparsers) -> None:
    from handlers.rules.settings import DEFAULT_PRECISION  # light: the parser is built for every command

    p = subparsers.add_parser("rules-train", help="train the spam model on labelled messages")
    p.add_argument("data", nargs="?", help="CSV with the columns label (spam|ham) and text")
    p.add_argument("--from-db", action="store_true",
                   help="add every sample the admins labelled in the bot's database (needs -c; DATA defaults to [learning] base_data)")
    p.add_argument("-c", "--config", metavar="FILE", help="the bot's TOML config (with --from-db)")
    p.add_argument("--ham", action="append", default=[], metavar="FILE",
                   help="ordinary messages to train on as well: a label,text .csv (its ham rows) or a .txt, one a line")
    p.add_argument("-o", "--output", dest="output_given", default=None,
                   help="the model file to write (default rules-model.json; with --from-db [learning] output)")
    p.add_argument("--holdout", action=argparse.BooleanOptionalAction, default=True,
                   help="keep a fixed fifth of DATA aside to report on and to compare with the model already in -o")
    p.add_argument("--precision", type=_precision, default=None,
                   help=f"the cross-validated precision the threshold must reach (default {DEFAULT_PRECISION})")
    p.add_argument("--seed", type=int, default=1, help="the cross-validation folds' seed")
    p.set_defaults(func=cmd_train)

    p = subparsers.add_parser("moderate", help="judge messages from stdin with a group's rules (one JSON line each)")
    p.add_argument("-c", "--config", metavar="FILE", help="the TOML config file (default: the shipped rules)")
    p.add_argument("-g", "--group", metavar="PLATFORM:CHAT_ID", help="whose rules (default: the console group)")
    p.add_argument("--jsonl", action="store_true", help='stdin lines are JSON objects with "text"')
    p.add_argument("--strikes", type=int, default=0, help="the member's strikes so far (which ladder step applies)")
    p.add_argument("--newcomer", action="store_true", help="judge as a newcomer's first messages")
    p.add_argument("--fail-on-error", action="store_true", help="exit 1 at the end if any line could not be judged")
    p.set_defaults(func=cmd_moderate)
