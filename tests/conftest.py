from __future__ import annotations

import logging

import pytest

from tests.support.databases import create_pg_database, drop_pg_database


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'qunzhu.db'}"


@pytest.fixture
async def pg_url():
    url, name = await create_pg_database()
    yield url
    await drop_pg_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request, tmp_path):
    """The same test on a fresh SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'qunzhu.db'}"
        return
    url, name = await create_pg_database()
    yield url
    await drop_pg_database(name)


def _known_test_secrets() -> tuple[str, ...]:
    """The secrets the shared test fixtures use (read from where they are defined, so they stay in step)."""
    import inspect

    from tests.support.fake_telegram import FakeTelegram
    from tests.support.telegram_harness import WEBHOOK_SECRET
    from tests.wecom.wire import AES_KEY, AIBOT_AES_KEY, SECRET

    token = inspect.signature(FakeTelegram).parameters["token"].default
    return (token, WEBHOOK_SECRET, SECRET, AES_KEY, AIBOT_AES_KEY)


_SECRETS: tuple[str, ...] | None = None


@pytest.fixture(scope="session", autouse=True)
def _logs_masked_as_in_production():
    """The test run logs through the same masking `qunzhu` installs (bot.redact)."""
    from bot import redact

    redact.install()
    yield


@pytest.fixture(autouse=True)
def _no_test_secret_in_logs(caplog):
    """Every test: no captured log record (message, %-args merged, traceback) at INFO and above
    (pyproject's log_level) names a test secret — httpx logs every Bot API URL, token and all, at INFO."""
    global _SECRETS
    yield
    if _SECRETS is None:
        _SECRETS = _known_test_secrets()
    formatter = logging.Formatter()
    for when in ("setup", "call"):
        for record in caplog.get_records(when):
            try:
                text = record.getMessage()
            except Exception:
                text = str(record.msg)
            if record.exc_info:
                text += formatter.formatException(record.exc_info)
            for secret in _SECRETS:
                if secret in text:
                    pytest.fail(f"a log record of {record.name} contains the test secret {secret[:4]}…: {text[:300]}")
