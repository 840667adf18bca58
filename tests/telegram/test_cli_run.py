"""`qunzhu run -c FILE` with a [telegram] section pointed at a Bot API server (here the fake) runs the bot
with every feature router, answers in the group, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys
import time
from pathlib import Path

from tests.support.fake_telegram import FakeTelegram

ROOT = Path(__file__).resolve().parents[2]


async def _wait(predicate, timeout: float, what: str, proc) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.returncode is not None:
            err = (await proc.stderr.read()).decode(errors="replace")
            raise AssertionError(f"the bot exited with {proc.returncode} before {what}:\n{err}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_qunzhu_run_against_a_local_bot_api_server(tmp_path):
    async with FakeTelegram() as fake:
        config = tmp_path / "qunzhu.toml"
        config.write_text(
            f"""
[bot]
log_level = "INFO"

[database]
url = "sqlite+aiosqlite:///bot.db"

[console]
enabled = false

[telegram]
enabled = true
token = "{fake.token}"
base_url = "{fake.base_url}"
base_file_url = "{fake.base_file_url}"
poll_timeout = 5

[defaults]
language = "en"
""",
            encoding="utf-8",
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", "-c", str(config),
            cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        try:
            await _wait(lambda: fake.calls_to("getUpdates"), 60, "the first getUpdates", proc)
            chat = fake.group()
            await fake.push(fake.command_update(chat, fake.user("alice"), "/help"))
            await _wait(lambda: fake.sent("sendMessage"), 60, "the answer to /help", proc)
            answer = fake.last("sendMessage").params
            assert answer["chat_id"] == str(chat["id"])
            assert answer["text"].startswith("Commands:") and "/help" in answer["text"]
            names = {c["command"] for c in fake.commands[("default", "")]}
            assert "help" in names and fake.commands[("default", "zh")], "setMyCommands in both languages"
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 30)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        err = (await proc.stderr.read()).decode(errors="replace")
        assert proc.returncode == 0, err
        assert "Traceback" not in err, err
        # The update was handled through the database, like in production.
        with sqlite3.connect(tmp_path / "bot.db") as db:
            assert db.execute("select count(*) from chats where external_id = ?", (str(chat["id"]),)).fetchone()[0] == 1
