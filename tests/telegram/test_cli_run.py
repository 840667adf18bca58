"""`qunzhu run -c FILE` with a [telegram] section pointed at a Bot API server (here the fake) runs the bot
with every feature router, answers in the group, and stops cleanly on SIGTERM."""

from __future__ import annotations

import sqlite3

from tests.support.bot_process import BotProcess, telegram_config
from tests.support.fake_telegram import FakeTelegram

async def test_qunzhu_run_against_a_local_bot_api_server(tmp_path):
    async with FakeTelegram() as fake:
        bot = await BotProcess.start(telegram_config(tmp_path, fake, poll_timeout=5), tmp_path)
        try:
            await bot.wait_until(lambda: fake.calls_to("getUpdates"), 60, "the first getUpdates")
            chat = fake.group()
            await fake.push(fake.command_update(chat, fake.user("alice"), "/help"))
            await bot.wait_until(lambda: fake.sent("sendMessage"), 60, "the answer to /help")
            answer = fake.last("sendMessage").params
            assert answer["chat_id"] == str(chat["id"])
            assert answer["text"].startswith("Commands:") and "/help" in answer["text"]
            names = {c["command"] for c in fake.commands[("default", "")]}
            assert "help" in names and fake.commands[("default", "zh")], "setMyCommands in both languages"
            await bot.stop()
        finally:
            await bot.kill()
        err = bot.errors()
        assert bot.returncode == 0, err
        assert "Traceback" not in err, err
        # The update was handled through the database, like in production.
        with sqlite3.connect(tmp_path / "bot.db") as db:
            assert db.execute("select count(*) from chats where external_id = ?", (str(chat["id"]),)).fetchone()[0] == 1
