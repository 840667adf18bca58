"""`qunzhu console`: type as members and an admin in a local group and see the bot's replies."""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
from pathlib import Path

from bot.app import App
from bot.config import Config, parse_config
from bot.platforms.console import ConsolePlatform

HELP = """Type a line to post it as the current member (now: {speaker}).
  NAME> text         post as NAME (joins the group first if new); the admin is 'admin'
  NAME> ^ID text     post as NAME, replying to message #ID (e.g. admin> ^3 /warn)
  :as NAME           switch the current member
  :join NAME | :leave NAME | :request NAME     membership
  :press NAME ID N   NAME presses button N (0-based) on message #ID
  :photo NAME FILE [caption]                   post an image file
  :edit NAME ID text                           NAME edits their message #ID
  :tick              run due work now (deadlines, columns)
  :help | :quit"""

SPEAK = re.compile(r"^([A-Za-z0-9_]{1,32})>\s?(.*)$")
REPLY = re.compile(r"^\^(\d+)\s+(.*)$")


async def handle_line(console: ConsolePlatform, app: App, line: str, state: dict) -> bool:
    """Carry out one REPL line; False means quit."""
    line = line.rstrip("\n")
    if not line.strip():
        return True
    if line.startswith(":"):
        cmd, *rest = line[1:].split()
        if cmd in ("quit", "exit", "q"):
            return False
        if cmd == "help":
            print(HELP.format(speaker=state["speaker"]))
        elif cmd == "as" and rest:
            state["speaker"] = rest[0]
        elif cmd == "join" and rest:
            await console.join(rest[0])
        elif cmd == "leave" and rest:
            await console.leave(rest[0])
        elif cmd == "request" and rest:
            await console.request_join(rest[0])
        elif cmd == "press" and len(rest) == 3 and rest[2].isdigit():
            if rest[1] not in console.messages:
                print(f"no message #{rest[1]}")
            else:
                await console.press(rest[0], rest[1], int(rest[2]))
        elif cmd == "photo" and len(rest) >= 2:
            try:
                data = Path(rest[1]).read_bytes()
            except OSError as exc:
                print(f"cannot read {rest[1]}: {exc.strerror}")
            else:
                await console.post_photo(rest[0], data, caption=" ".join(rest[2:]))
        elif cmd == "edit" and len(rest) >= 3:
            if await console.edit_own(rest[0], rest[1], " ".join(rest[2:])) is None:
                print(f"#{rest[1]} is not a message of {rest[0]} still in the group")
        elif cmd == "tick":
            await app.tick()
        else:
            print(f"unknown or incomplete command: {line!r}; :help lists them")
        return True
    speaker, text = state["speaker"], line
    match = SPEAK.match(line)
    if match:
        speaker, text = match.group(1), match.group(2)
    reply_to = None
    reply = REPLY.match(text)
    if reply:
        reply_to, text = reply.group(1), reply.group(2)
    await console.say(speaker, text, reply_to=reply_to)
    return True


async def run_console(config: Config | None) -> None:
    tmp = None
    if config is None:
        tmp = tempfile.TemporaryDirectory(prefix="qunzhu-console-")
        config = parse_config({"bot": {"data_dir": tmp.name}, "database": {"url": "sqlite+aiosqlite:///console.db"}})
    # Only the console here: a config's other platforms are for `qunzhu run`.
    config = config.model_copy(update={"telegram": None, "wecom": None})
    app = App(config)
    app.build_platforms(console_out=print)
    console = app.platforms["console"]
    assert isinstance(console, ConsolePlatform)
    state = {"speaker": "alice"}
    from bot.redact import safe_url

    print(f"Qunzhu console — group '{console.default_chat.title}', database {safe_url(config.database_url)}")
    print(HELP.format(speaker=state["speaker"]))
    loop = asyncio.get_running_loop()
    try:
        async with app:
            while True:
                line = await loop.run_in_executor(None, sys.stdin.readline)
                if line == "":
                    break
                if not await handle_line(console, app, line, state):
                    break
    finally:
        if tmp is not None:
            tmp.cleanup()
