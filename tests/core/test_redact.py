"""Secrets never reach a log line: the filter on its own, and `qunzhu run` at DEBUG against the fake Bot API."""

from __future__ import annotations

import asyncio
import io
import logging

from bot import redact
from bot.config import parse_config
from tests.support.bot_process import BotProcess, telegram_config

# Secrets of this file only (the autouse guard in tests/conftest.py watches for the shared test ones).
TOKEN = "987654321:AAHfiltertestfiltertestfiltertest99"
WEBHOOK = "hook-secret-for-the-filter-test"
AES = "k" * 43
DB_PASSWORD = "pg-pass-word-1"


def _logger_to(stream: io.StringIO) -> logging.Logger:
    logger = logging.getLogger(f"test_redact.{id(stream)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.handlers = [handler]
    redact.install(logger)
    return logger


def test_filter_masks_config_secrets_in_message_args_and_traceback():
    parse_config(
        {
            "database": {"url": f"postgresql+asyncpg://bot:{DB_PASSWORD}@db.internal:5432/qunzhu"},
            "telegram": {"enabled": True, "token": TOKEN, "mode": "webhook", "webhook_secret": WEBHOOK,
                         "webhook_url": "https://example.org/tg"},
            "wecom": {"enabled": False, "encoding_aes_key": AES, "robots": {"wrA": "robot-key-0001"}},
        },
        env={},
    )
    stream = io.StringIO()
    log = _logger_to(stream)
    log.info("calling https://api.telegram.org/bot%s/getUpdates", TOKEN)
    log.warning("secret header %r, aes %s, robot %s", WEBHOOK, AES, "robot-key-0001")
    log.info(f"connecting to postgresql+asyncpg://bot:{DB_PASSWORD}@db.internal:5432/qunzhu")
    try:
        raise ValueError(f"server said no to token {TOKEN}")
    except ValueError:
        log.exception("request failed")
    text = stream.getvalue()
    for secret in (TOKEN, WEBHOOK, AES, "robot-key-0001", DB_PASSWORD):
        assert secret not in text, text
    assert "/bot***/getUpdates" in text and "bot:***@db.internal" in text
    assert "Traceback" in text and "server said no to token ***" in text


def test_secrets_not_in_the_config_are_caught_by_their_shape():
    stream = io.StringIO()
    log = _logger_to(stream)
    stranger = "5550001112:AAE-ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ"
    log.debug("GET https://other.example/bot%s/getMe", stranger)
    log.debug("POST https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx&debug=1")
    log.debug("GET /cgi-bin/message/send?access_token=ACCESSTOKEN123456 and corpsecret=S3cr3tValue")
    text = stream.getvalue()
    assert stranger not in text and "693a91f6-7xxx" not in text and "ACCESSTOKEN123456" not in text
    assert "S3cr3tValue" not in text
    assert "key=***&debug=1" in text and "access_token=***" in text


async def test_qunzhu_run_at_debug_never_prints_the_token(tmp_path):
    from tests.support.fake_telegram import FakeTelegram

    async with FakeTelegram() as fake:
        bot = await BotProcess.start(telegram_config(tmp_path, fake, log_level="DEBUG"), tmp_path)
        try:
            await bot.wait_until(lambda: fake.calls_to("getUpdates"), 60, "the first getUpdates")
            await fake.push(fake.command_update(fake.group(), fake.user("alice"), "/help"))
            await bot.wait_until(lambda: fake.sent("sendMessage"), 60, "the answer to /help")
            await asyncio.sleep(2)  # a few more polls
            await bot.stop()
        finally:
            await bot.kill()
    text = bot.output()
    assert bot.returncode == 0, text[-3000:]
    assert " DEBUG " in text, "the test must see the most verbose log"
    assert fake.token not in text, [line for line in text.splitlines() if fake.token in line][:5]
