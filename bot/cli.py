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
    p.add_argument("--no-database", action="store_true", help="do not try to reach the database")
    p.set_defaults(func=cmd_check_config)

    for module in feature_modules("cli"):
        module.register(sub)
    return parser


def _load(path):
    try:
        return load_config(path)
    except ConfigError as exc:
        if len(exc.problems) > 1:
            print(f"config error: {exc.source}: {len(exc.problems)} problems:", file=sys.stderr)
            for problem in exc.problems:
                print(f"  {problem}", file=sys.stderr)
        else:
            print(f"config error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that say something at INFO on every scheduler tick (APScheduler: "Running job",
# "executed successfully") or at every start (alembic: "Context impl", "Running upgrade"): kept to
# warnings unless the log level is DEBUG.
CHATTY = ("apscheduler", "alembic")


def setup_logging(level: str, fmt: str = TEXT_FORMAT, *, log_format: str = "text") -> None:
    """The logging set-up of every command: secrets masked on every root handler (before any
    formatter sees the record), httpx/httpcore (which log each request URL — with the Telegram
    token in it — at INFO) kept to warnings, and the chatty libraries (CHATTY) too unless `level`
    is DEBUG. `log_format = "json"`: one JSON object per line (bot.logformat). `main` sets up
    warnings for every command; `run` sets it again at its log level and format."""
    from bot import redact

    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_qunzhu", False)]:
        root.removeHandler(handler)
    before = set(root.handlers)
    logging.basicConfig(level=level, format=fmt)
    for handler in set(root.handlers) - before:
        handler._qunzhu = True  # type: ignore[attr-defined]
        if log_format == "json":
            from bot.logformat import JsonFormatter

            handler.setFormatter(JsonFormatter())
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for chatty in CHATTY:
        logging.getLogger(chatty).setLevel(logging.NOTSET if level == "DEBUG" else logging.WARNING)
    redact.install()


def database_warning(config, timeout: float = 10.0) -> str | None:
    """Why the configured database would not answer, or None. A SQLite file that does not exist yet
    is not created here (start-up does that): only its folder is looked at."""
    import os
    from pathlib import Path

    from bot.redact import safe_url
    from storage.db import check_writable, create_engine

    url = config.database_url
    prefix = "sqlite+aiosqlite:///"
    if url.startswith(prefix) and ":memory:" not in url:
        path = Path(url[len(prefix):].split("?", 1)[0])
        if not path.exists():
            folder = next((p for p in [path.parent, *path.parent.parents] if p.exists()), None)
            if folder is None or not folder.is_dir():
                return f"database.url: the SQLite file {path} cannot be created: {folder} is not a folder"
            if not os.access(folder, os.W_OK | os.X_OK):
                return f"database.url: the SQLite file {path} cannot be created: {folder} is not writable for this user"
            return None

    async def probe():
        engine = create_engine(url)
        try:
            await asyncio.wait_for(check_writable(engine, url), timeout)
        finally:
            await engine.dispose()

    try:
        asyncio.run(probe())
    except asyncio.TimeoutError:
        return f"database.url: no answer from {safe_url(url)} within {timeout:g} s"
    except RuntimeError as exc:
        return str(exc).replace("[database] url: ", "database.url: ", 1)
    except Exception as exc:  # a driver's own error: still only a warning here
        return safe_url(f"database.url: {type(exc).__name__}: {exc}")
    return None


def cmd_check_config(args) -> int:
    """Errors (exit 2) are what stops the bot from starting — all of them, each with its key.
    Warnings (exit 0) are what would go wrong later: a database that does not answer, content
    files of columns and campaigns that are missing (what `qunzhu columns check` finds)."""
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        problems = exc.problems or [str(exc)]
        where = exc.source or str(args.config)
        if exc.problems:
            print(f"config error: {where}: {len(problems)} problem{'s' if len(problems) != 1 else ''}:", file=sys.stderr)
            for problem in problems:
                print(f"  {problem}", file=sys.stderr)
        else:
            print(f"config error: {exc}", file=sys.stderr)
        return 2
    platforms = ["console"] if config.console.enabled else []
    platforms += [name for name in ("telegram", "wecom") if getattr(config, name) and getattr(config, name).enabled]
    print(f"{args.config}: OK (platforms: {', '.join(platforms) or 'none'}; database: {config.database.url.split('://')[0]})")
    warnings = []
    if not args.no_database:
        warning = database_warning(config)
        if warning:
            warnings.append(warning)
    for module in feature_modules("cli"):
        if hasattr(module, "check_config"):
            warnings += module.check_config(config)
    for warning in warnings:
        print(f"  warning: {warning}")
    # Where each secret and URL came from — never the value.
    origins = config.origins
    width = max(map(len, origins), default=0)
    for key in sorted(origins):
        print(f"  {key.ljust(width)}  {origins[key]}")
    if warnings:
        print(f"{len(warnings)} warning{'s' if len(warnings) != 1 else ''} (the config itself is valid)")
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
        engine = create_engine(config.database_url, sqlite_driver=config.database.sqlite_driver)
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
    from bot.app import App
    from bot.demo import run_demo

    asyncio.run(run_demo(App, language=args.lang))
    return 0


def cmd_run(args) -> int:
    from bot.app import App, freeze_startup_objects

    config = _load(args.config)
    setup_logging(config.bot.log_level, log_format=config.bot.log_format)

    async def go():
        app = App(config)
        app.build_platforms(console_out=print)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        # A stop signal also ends a start that is still waiting (for an unreachable Telegram, say).
        starting = asyncio.create_task(app.start())
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({starting, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
            logging.getLogger("qunzhu").warning("stopped while starting")
            await app.stop()
            return
        stopped.cancel()
        starting.result()  # a start-up failure is raised here (phrased for the operator)
        freeze_startup_objects()
        try:
            logging.getLogger("qunzhu").info("running: %s", ", ".join(app.platforms))
            await stop.wait()
        finally:
            await app.stop()

    try:
        asyncio.run(go())
    except RuntimeError as exc:
        # Start-up problems (database not writable, token refused, …) are phrased for the operator.
        return _fail(exc)
    return 0


def cmd_console(args) -> int:
    from bot.app import App
    from bot.console_repl import run_console

    config = _load(args.config) if args.config else None
    try:
        return asyncio.run(run_console(config, App))
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
