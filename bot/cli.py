"""The `qunzhu` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from bot import __version__
from bot.config import ConfigError, load_config
from handlers import feature_modules



def _config_arg(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("-c", "--config", required=required, metavar="FILE", help="the TOML config file")


def build_parser() -> argparse.ArgumentParser:
    """The core commands, plus each feature's own from handlers/<feature>/cli.py (`register(sub)`)."""
    parser = argparse.ArgumentParser(prog="qunzhu", description="Qunzhu (群主): the community-group bot.")
    parser.add_argument("--version", action="version", version=f"qunzhu {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("run", help="run every platform the config enables")
    _config_arg(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", help="run a scripted scene on the console platform and print it")
    p.add_argument("--lang", choices=["zh-CN", "en"], default="zh-CN", help="the demo group's language")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("console", help="an interactive group in this terminal")
    _config_arg(p, required=False)
    p.set_defaults(func=cmd_console)

    p = sub.add_parser("db", help="database maintenance")
    dbsub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = dbsub.add_parser("upgrade", help="apply the schema migrations")
    _config_arg(up)
    up.set_defaults(func=cmd_db_upgrade)

    p = sub.add_parser("check-config", help="validate a config file and say what is wrong")
    _config_arg(p)
    p.set_defaults(func=cmd_check_config)

    for module in feature_modules("cli"):
        module.register(sub)
    return parser


def _load(path):
    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def setup_logging(level: str, fmt: str = "%(asctime)s %(levelname)s %(name)s: %(message)s") -> None:
    """The logging set-up of every command: secrets masked on every root handler, and
    httpx/httpcore (which log each request URL — with the Telegram token in it — at INFO) kept
    to warnings. `main` sets up warnings for every command; `run` sets it again at its log level."""
    from bot import redact

    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_qunzhu", False)]:
        root.removeHandler(handler)
    before = set(root.handlers)
    logging.basicConfig(level=level, format=fmt)
    for handler in set(root.handlers) - before:
        handler._qunzhu = True  # type: ignore[attr-defined]
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    redact.install()


def cmd_check_config(args) -> int:
    config = _load(args.config)
    platforms = ["console"] if config.console.enabled else []
    platforms += [name for name in ("telegram", "wecom") if getattr(config, name) and getattr(config, name).enabled]
    print(f"{args.config}: OK (platforms: {', '.join(platforms) or 'none'}; database: {config.database.url.split('://')[0]})")
    # Where each secret and URL came from — never the value.
    origins = config.origins
    width = max(map(len, origins), default=0)
    for key in sorted(origins):
        print(f"  {key.ljust(width)}  {origins[key]}")
    return 0


def _fail(exc: BaseException) -> int:
    from bot import redact

    logging.getLogger("qunzhu").debug("stopped by", exc_info=exc)
    print(f"error: {redact.redact(str(exc))}", file=sys.stderr)
    return 1


def cmd_db_upgrade(args) -> int:
    from storage.db import create_engine, current_heads, upgrade

    config = _load(args.config)

    from storage.db import check_writable

    async def go():
        engine = create_engine(config.database_url)
        try:
            await check_writable(engine, config.database_url)
            before = await current_heads(engine)
            print(f"database: {config.database_url.split('://')[0]}; at {', '.join(sorted(before)) or 'empty'}; upgrading …")
            await upgrade(engine)
            after = await current_heads(engine)
            print(f"at {', '.join(sorted(after))}")
        finally:
            await engine.dispose()

    try:
        asyncio.run(go())
    except RuntimeError as exc:
        return _fail(exc)
    return 0


def cmd_demo(args) -> int:
    from bot.demo import run_demo

    asyncio.run(run_demo(language=args.lang))
    return 0


def cmd_run(args) -> int:
    from bot.app import App

    config = _load(args.config)
    setup_logging(config.bot.log_level)

    async def go():
        app = App(config)
        app.build_platforms(console_out=print)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with app:
            logging.getLogger("qunzhu").info("running: %s", ", ".join(app.platforms))
            await stop.wait()

    try:
        asyncio.run(go())
    except RuntimeError as exc:
        # Start-up problems (database not writable, token refused, …) are phrased for the operator.
        return _fail(exc)
    return 0


def cmd_console(args) -> int:
    from bot.console_repl import run_console

    config = _load(args.config) if args.config else None
    try:
        return asyncio.run(run_console(config))
    except KeyboardInterrupt:  # Ctrl-C before the session was up (or after it ended)
        print("interrupted (Ctrl-C)", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        return _fail(exc)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not logging.getLogger().handlers:  # (a test calling main() in-process keeps pytest's handlers)
        setup_logging("WARNING", "%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    return args.func(args) or 0


if __name__ == "__main__":
    raise SystemExit(main())
