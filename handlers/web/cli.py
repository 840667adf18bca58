"""`qunzhu web link -c FILE --user PLATFORM:USER_ID`: a sign-in link to the web console, printed for
an operator on the server (where the bot cannot DM, or to let someone in by hand)."""

from __future__ import annotations

import asyncio
import sys


def register(sub) -> None:
    p = sub.add_parser("web", help="the web console")
    websub = p.add_subparsers(dest="web_command", metavar="ACTION", required=True)
    link = websub.add_parser("link", help="print a one-time sign-in link to the web console for a user")
    link.add_argument("-c", "--config", required=True, metavar="FILE", help="the TOML config file")
    link.add_argument("--user", required=True, metavar="PLATFORM:USER_ID", help="who signs in, e.g. telegram:123456789")
    link.add_argument("--name", help="the name the console shows for them (default: the user key)")
    link.set_defaults(func=cmd_link)


def cmd_link(args) -> int:
    from bot.cli import _load
    from bot.clock import Clock
    from handlers.web import links
    from storage.db import create_engine, session_factory, upgrade

    config = _load(args.config)
    platform, _, user_id = args.user.partition(":")
    if not platform or not user_id:
        print(f"--user: {args.user!r} must be PLATFORM:USER_ID, e.g. telegram:123456789", file=sys.stderr)
        return 2
    if not config.web.public_url:
        print(f"{config.source}: web.public_url: required for sign-in links (e.g. 'https://bot.example.com')", file=sys.stderr)
        return 2

    async def go() -> str:
        engine = create_engine(config.database_url)
        try:
            await upgrade(engine)
            async with session_factory(engine)() as session, session.begin():
                return await links.issue_link(session, config.web, args.user, args.name, Clock().now())
        finally:
            await engine.dispose()

    try:
        url = asyncio.run(go())
    except links.TooManyLinks:
        print(f"{args.user}: {links.LINKS_PER_WINDOW} links were made for this user in the last "
              f"{int(links.LINK_WINDOW.total_seconds() // 60)} minutes; wait before asking again", file=sys.stderr)
        return 1
    if not config.web.enabled:
        print("note: [web] enabled is false; the link works once the bot runs with the console on", file=sys.stderr)
    print(url)
    return 0
