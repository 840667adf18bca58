"""`qunzhu console`: type as members and an admin in a local group and see the bot's replies.

No input ends the session but `:quit`, the end of input (Ctrl-D) or Ctrl-C: a line the console does
not understand gets a one-line answer and the session goes on. Ctrl-C ends it at once, after the line
being handled (if any), with exit status 130 (the shell's convention for "interrupted"); `:quit` and
Ctrl-D exit 0. With `-c FILE` members and recent messages are kept in a state file next to the
database, so a restarted console continues the message numbers and knows who is in the group.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import tempfile
import threading
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import Config, parse_config
from bot.platforms.console import ConsolePlatform

if TYPE_CHECKING:
    from bot.ports import AppFactory, AppServices

log = logging.getLogger(__name__)

# Longest line posted as it is (Telegram's limit is 4,096 characters); longer ones are cut.
MAX_LINE = 4096
INTERRUPTED = 130

TEXTS = {
    "help": (
        "输入一行即以当前成员身份发言（当前：{speaker}）。\n"
        "  名字> 文字          以该名字发言（新名字先入群），之后的行也以此身份发言；管理员是 'admin'\n"
        "  名字> ^编号 文字     回复消息 #编号（例：admin> ^3 /warn）\n"
        "  :as 名字            切换当前成员\n"
        "  :join 名字 | :leave 名字 | :request 名字     入群、退群、申请入群\n"
        "  :press [名字] 编号 N  按下消息 #编号 的第 N 个按钮（从 0 起）\n"
        "  :photo 名字 文件 [说明]                      发一张图片\n"
        "  :edit 名字 编号 文字                          编辑自己的消息\n"
        "  :tick               立即执行到期的工作（截止时间、栏目）\n"
        "  :help | :quit       （Ctrl-D 退出；Ctrl-C 立即结束，退出码 130）",
        "Type a line to post it as the current member (now: {speaker}).\n"
        "  NAME> text         post as NAME (joins the group first if new), and go on as NAME; the admin is 'admin'\n"
        "  NAME> ^ID text     post as NAME, replying to message #ID (e.g. admin> ^3 /warn)\n"
        "  :as NAME           switch the current member\n"
        "  :join NAME | :leave NAME | :request NAME     membership\n"
        "  :press [NAME] ID N press button N (0-based) on message #ID\n"
        "  :photo NAME FILE [caption]                   post an image file\n"
        "  :edit NAME ID text                           NAME edits their message #ID\n"
        "  :tick              run due work now (deadlines, columns)\n"
        "  :help | :quit      (Ctrl-D quits too; Ctrl-C ends at once, exit status 130)",
    ),
    "banner": ("Qunzhu 控制台 — 群「{title}」，数据库 {db}", "Qunzhu console — group '{title}', database {db}"),
    "resumed": ("接着上次：{members} 位成员，下一条消息是 #{next}（{path}）",
                "Resumed: {members} members, the next message is #{next} ({path})"),
    "empty": ("（空行，未发送）输入消息，或 :help 查看命令", "(empty line, nothing sent) type a message, or :help"),
    "who": ("谁在说话？请写成 名字> 文字（如 alice> 你好）", "Who speaks? Write NAME> text (e.g. alice> hi)"),
    "bad_name": ("「{name}」不能作为成员名：最多 32 个字母、数字、汉字或 _ . -，且不能是 bot",
                 "'{name}' cannot be a member name: up to 32 letters, digits, _ . - (and not 'bot')"),
    "now_as": ("现在以 {name} 身份发言", "now speaking as {name}"),
    "cut": ("这一行太长，只发送前 {n} 个字符", "line too long: only its first {n} characters are posted"),
    "controls": ("已去掉 {n} 个控制字符", "{n} control characters removed"),
    "no_message": ("没有消息 #{id}", "no message #{id}"),
    "reply_empty": ("回复需要文字：名字> ^编号 文字", "a reply needs a text: NAME> ^ID text"),
    "not_member": ("{name} 不在群里", "{name} is not in the group"),
    "no_buttons": ("消息 #{id} 没有按钮", "message #{id} has no buttons"),
    "bad_button": ("消息 #{id} 的按钮是 0–{last}，没有 {n}", "message #{id} has buttons 0–{last}, not {n}"),
    "cannot_read": ("无法读取 {file}：{error}", "cannot read {file}: {error}"),
    "edit_error": ("#{id} 不是 {name} 仍在群里的消息", "#{id} is not a message of {name} still in the group"),
    "unknown": ("未知或不完整的命令：{line}；:help 列出全部命令", "unknown or incomplete command: {line}; :help lists them"),
    "failed": ("出错了（{error}），会话继续", "that failed ({error}); the session goes on"),
    "bye": ("再见", "bye"),
    "interrupted": ("已中断（Ctrl-C）", "interrupted (Ctrl-C)"),
}

NAME = re.compile(r"^[\w.\-]{1,32}$")
SPEAK = re.compile(r"^\s*([^\s>]*)>(?:\s(.*)|)$", re.DOTALL)
REPLY = re.compile(r"^\^(\S+)(?:\s+(.*))?$", re.DOTALL)


class Repl:
    def __init__(self, console: ConsolePlatform, app: "AppServices", out=print):
        self.console, self.app, self.out = console, app, out
        self.speaker = "alice"
        self.lang = 0 if app.config.defaults.language == "zh-CN" else 1

    def t(self, key: str, **values) -> str:
        return TEXTS[key][self.lang].format(**values)

    def say(self, key: str, **values) -> None:
        self.out(self.t(key, **values))

    @property
    def prompt(self) -> str:
        return f"{self.speaker}> "

    def _valid_name(self, name: str) -> bool:
        return bool(NAME.match(name)) and name != "bot"

    def clean(self, raw: str) -> str:
        """The line as it will be posted: no control characters, at most MAX_LINE characters."""
        line = raw.rstrip("\r\n")
        kept = "".join(ch for ch in line if ch == "\t" or unicodedata.category(ch) not in ("Cc", "Cs"))
        if len(kept) != len(line):
            self.say("controls", n=len(line) - len(kept))
        if len(kept) > MAX_LINE:
            self.say("cut", n=MAX_LINE)
            kept = kept[:MAX_LINE]
        return kept

    async def handle(self, raw: str) -> bool:
        """Carry out one line; False means quit. Never raises for what was typed."""
        try:
            return await self._handle(self.clean(raw))
        except Exception as exc:  # the session outlives any one line
            log.debug("console line failed", exc_info=exc)
            self.say("failed", error=f"{type(exc).__name__}: {exc}"[:300])
            return True

    async def _handle(self, line: str) -> bool:
        console = self.console
        if not line.strip():
            self.say("empty")
            return True
        if line.startswith(":"):
            return await self._command(line)
        speaker, text = self.speaker, line
        match = SPEAK.match(line)
        if match:
            name, text = match.group(1), (match.group(2) or "")
            if not name:
                self.say("who")
                return True
            if not self._valid_name(name):
                self.say("bad_name", name=name[:40])
                return True
            speaker = self.speaker = name
            if not text.strip():
                self.say("now_as", name=name)
                return True
        reply_to = None
        reply = REPLY.match(text)
        if reply:
            reply_to, text = reply.group(1).lstrip("#"), (reply.group(2) or "")
            if reply_to not in console.messages:
                self.say("no_message", id=reply_to[:20])
                return True
            if not text.strip():
                self.say("reply_empty")
                return True
        await console.say(speaker, text, reply_to=reply_to)
        return True

    async def _command(self, line: str) -> bool:
        console = self.console
        cmd, *rest = line[1:].split() or [""]
        if cmd in ("quit", "exit", "q"):
            return False
        if cmd == "help":
            self.say("help", speaker=self.speaker)
        elif cmd in ("as", "join", "leave", "request") and len(rest) == 1:
            name = rest[0]
            if not self._valid_name(name):
                self.say("bad_name", name=name[:40])
            elif cmd == "as":
                self.speaker = name
                self.say("now_as", name=name)
            elif cmd == "join":
                await console.join(name)
            elif cmd == "leave":
                if await console.leave(name) is None:
                    self.say("not_member", name=name)
            else:
                await console.request_join(name)
        elif cmd == "press" and len(rest) in (2, 3) and rest[-1].isdigit():
            name = rest[0] if len(rest) == 3 else self.speaker
            message_id = rest[-2].lstrip("#")
            if not self._valid_name(name):
                self.say("bad_name", name=name[:40])
                return True
            message = console.messages.get(message_id)
            buttons = [b for row in (message.buttons or []) for b in row] if message and not message.deleted else []
            if message is None or message.deleted:
                self.say("no_message", id=message_id[:20])
            elif not buttons:
                self.say("no_buttons", id=message_id)
            elif int(rest[-1]) >= len(buttons):
                self.say("bad_button", id=message_id, last=len(buttons) - 1, n=rest[-1][:10])
            else:
                await console.press(name, message_id, int(rest[-1]))
        elif cmd == "photo" and len(rest) >= 2 and self._valid_name(rest[0]):
            try:
                data = Path(rest[1]).expanduser().read_bytes()
            except OSError as exc:
                self.say("cannot_read", file=rest[1], error=exc.strerror or exc)
            else:
                await console.post_photo(rest[0], data, caption=" ".join(rest[2:]))
        elif cmd == "edit" and len(rest) >= 3:
            if await console.edit_own(rest[0], rest[1].lstrip("#"), " ".join(rest[2:])) is None:
                self.say("edit_error", id=rest[1][:20], name=rest[0][:40])
        elif cmd == "tick" and not rest:
            await self.app.tick()
        else:
            self.say("unknown", line=repr(line[:60]) + ("…" if len(line) > 60 else ""))
        return True


def state_file(config: Config) -> Path:
    """Next to the SQLite file; in the data folder for PostgreSQL."""
    url = config.database_url
    prefix = "sqlite+aiosqlite:///"
    if url.startswith(prefix) and ":memory:" not in url:
        db = Path(url[len(prefix):])
        return db.with_name(db.name + ".console.json")
    return config.base_dir / "console-state.json"


def _start_reader(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue) -> None:
    """Lines from standard input as bytes ('' at the end), read by a daemon thread on the raw file
    descriptor: it never holds a lock of sys.stdin, so the process can exit while it waits."""

    def read() -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(0, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                if buffer:
                    loop.call_soon_threadsafe(queue.put_nowait, buffer)
                loop.call_soon_threadsafe(queue.put_nowait, b"")
                return
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                loop.call_soon_threadsafe(queue.put_nowait, line + b"\n")

    threading.Thread(target=read, name="console-stdin", daemon=True).start()


async def run_console(config: Config | None, make_app: "AppFactory") -> int:
    """Returns the exit status: 0 after :quit or the end of input, 130 after Ctrl-C."""
    tmp = None
    persistent = config is not None
    if config is None:
        tmp = tempfile.TemporaryDirectory(prefix="qunzhu-console-")
        config = parse_config({"bot": {"data_dir": tmp.name}, "database": {"url": "sqlite+aiosqlite:///console.db"}})
    # Only the console here: a config's other platforms are for `qunzhu run`.
    config = config.model_copy(update={"telegram": None, "wecom": None})
    app = make_app(config)
    app.build_platforms(console_out=lambda line: print(line, flush=True))
    console = app.platforms["console"]
    assert isinstance(console, ConsolePlatform)
    repl = Repl(console, app, out=lambda line: print(line, flush=True))
    from bot.redact import safe_url

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGINT, stop.set)
    tty = os.isatty(0)
    status = 0
    repl.say("banner", title=console.default_chat.title, db=safe_url(config.database_url))
    if persistent:
        path = state_file(config)
        console.keep_state(path)
        if path.exists():
            members = sum(1 for m in console.chat().members.values() if m.present)
            repl.say("resumed", members=members, next=console.next_message_id, path=path)
    repl.say("help", speaker=repl.speaker)
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    try:
        async with app:
            _start_reader(loop, queue)
            while not stop.is_set():
                if tty:
                    print(repl.prompt, end="", flush=True)
                get = asyncio.ensure_future(queue.get())
                stopped = asyncio.ensure_future(stop.wait())
                await asyncio.wait({get, stopped}, return_when=asyncio.FIRST_COMPLETED)
                stopped.cancel()
                if stop.is_set():
                    get.cancel()
                    break
                raw = get.result()
                if raw == b"":
                    if tty:
                        print()
                    break
                if not await repl.handle(raw.decode("utf-8", errors="replace")):
                    break
            if stop.is_set():
                if tty:
                    print()
                repl.say("interrupted")
                status = INTERRUPTED
            else:
                repl.say("bye")
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        if tmp is not None:
            tmp.cleanup()
    return status
