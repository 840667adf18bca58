"""Operations: `qunzhu run` as a real process against the fake Bot API — the health server (/healthz,
/readyz, /metrics), JSON logs, a quiet INFO log, and a Telegram that is not there yet at start."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import signal
import sys
import time
from pathlib import Path

import aiohttp

from bot import redact
from bot.logformat import JsonFormatter
from tests.support.sqlite_lock import HeldLock
from tests.support.fake_telegram import FakeTelegram
from tests.support.telegram_harness import free_port

ROOT = Path(__file__).resolve().parents[2]


def _config(tmp_path: Path, *, token: str, base: str, head: str = "", bot: str = "", database: str = "") -> Path:
    """A config for `qunzhu run` against a Bot API at `base`; `head`: whole sections put first."""
    config = tmp_path / "qunzhu.toml"
    config.write_text(
        f"""{head}

[bot]
log_level = "INFO"
{bot}

[database]
url = "sqlite+aiosqlite:///bot.db"
{database}

[console]
enabled = false

[telegram]
enabled = true
token = "{token}"
base_url = "{base}/bot"
base_file_url = "{base}/file/bot"
poll_timeout = 1

[defaults]
language = "en"
""",
        encoding="utf-8",
    )
    return config


class Run:
    """`qunzhu run -c CONFIG` in a subprocess; stderr collected as it comes."""

    def __init__(self, config: Path):
        self.config = config
        self.proc: asyncio.subprocess.Process | None = None
        self.err = bytearray()
        self._reader: asyncio.Task | None = None

    async def __aenter__(self) -> "Run":
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", "-c", str(self.config),
            cwd=ROOT, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.proc and self.proc.stderr
        while chunk := await self.proc.stderr.read(4096):
            self.err += chunk

    @property
    def stderr(self) -> str:
        return self.err.decode("utf-8", "replace")

    async def wait(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return
            if self.proc.returncode is not None:
                raise AssertionError(f"the bot exited with {self.proc.returncode} before {what}:\n{self.stderr[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}:\n{self.stderr[-3000:]}")
            await asyncio.sleep(0.1)

    async def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(self.proc.wait(), 30)
        await asyncio.wait_for(self._reader, 5)
        return self.proc.returncode

    async def __aexit__(self, *exc) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)


async def _get(port: int, path: str) -> tuple[int, str]:
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
            async with http.get(f"http://127.0.0.1:{port}{path}") as response:
                return response.status, await response.text()
    except (aiohttp.ClientError, asyncio.TimeoutError):
        return 0, ""


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus text exposition (0 when absent)."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        m = re.match(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            return float(m.group(3))
    return 0.0


def _total(text: str, name: str, **labels: str) -> float:
    """Sum of every sample of `name` matching `labels` (e.g. a histogram's _count over all routers)."""
    total = 0.0
    for line in text.splitlines():
        m = re.match(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            total += float(m.group(3))
    return total


async def test_health_readiness_and_metrics_of_a_running_bot_with_json_logs(tmp_path):
    port = free_port()
    async with FakeTelegram() as fake:
        config = _config(tmp_path, token=fake.token, base=fake.url, bot='log_format = "json"',
                         head=f"[health]\nenabled = true\nport = {port}")
        async with Run(config) as bot:
            async def alive():
                return (await _get(port, "/healthz"))[0] == 200

            await bot.wait(alive, 60, "/healthz")
            assert await _get(port, "/healthz") == (200, "ok")

            async def ready():
                return (await _get(port, "/readyz"))[0] == 200

            await bot.wait(ready, 60, "/readyz 200")
            status, body = await _get(port, "/readyz")
            assert json.loads(body)["ready"] is True and json.loads(body)["platforms"] == ["telegram"]

            _, first = await _get(port, "/metrics")
            before = _sample(first, "qunzhu_updates_received_total", platform="telegram")
            chat = fake.group()
            fake.fail("sendMessage", status=429, retry_after=1)  # the answer to /help is told to wait once
            await fake.push(fake.command_update(chat, fake.user("alice"), "/help"),
                            fake.text_update(chat, fake.user("bob"), "hello all"),
                            fake.text_update(chat, fake.user("carol"), "good morning"))
            # A poll without its required fields: python-telegram-bot cannot read it.
            await fake.push_raw({"update_id": fake.next_update_id(), "poll": {"id": "77"}})
            await bot.wait(lambda: fake.sent("sendMessage"), 60, "the answer to /help")

            async def all_handled():
                _, now = await _get(port, "/metrics")
                return _sample(now, "qunzhu_updates_handled_total", platform="telegram") >= 4

            await bot.wait(all_handled, 30, "four updates handled")
            _, second = await _get(port, "/metrics")
            assert _sample(second, "qunzhu_updates_received_total", platform="telegram") >= before + 4, second
            assert _sample(second, "qunzhu_rate_limited_total", platform="telegram") >= 1, second
            assert _sample(second, "qunzhu_updates_unparseable_total", platform="telegram", kind="poll") == 1, second
            assert _total(second, "qunzhu_handler_seconds_count") > 0, second
            assert _sample(second, "qunzhu_handler_seconds_count", router="help") >= 1, second
            assert _sample(second, "qunzhu_actions_total", platform="telegram", method="send", outcome="done") >= 1
            assert "qunzhu_column_posts{state=\"sent\"} 0.0" in second  # read from the database at scrape time
            for name in ("qunzhu_send_queue_waiting", "qunzhu_rate_limited_total", "qunzhu_moderation_verdicts_total",
                         "qunzhu_onboarding_outcomes_total", "qunzhu_updates_unparseable_total"):
                assert f"# TYPE {name.removesuffix('_total')}" in second, name
            assert await bot.stop() == 0
    err = bot.stderr
    assert err.strip(), "the run logs something"
    assert fake.token not in err
    for line in err.splitlines():
        entry = json.loads(line)  # every line is one JSON object
        assert {"time", "level", "logger", "message"} <= entry.keys(), entry
    assert "Traceback" not in err


async def test_readyz_names_the_database_while_another_connection_holds_its_lock(tmp_path):
    port = free_port()
    async with FakeTelegram() as fake:
        config = _config(tmp_path, token=fake.token, base=fake.url, database="busy_timeout_seconds = 0.5",
                         head=f"[health]\nenabled = true\nport = {port}")
        async with Run(config) as bot:
            async def readyz_status():
                return (await _get(port, "/readyz"))[0]

            await bot.wait(lambda: _status_is(readyz_status, 200), 60, "/readyz 200")
            with HeldLock(str(tmp_path / "bot.db")):
                await fake.push(fake.text_update(fake.group(), fake.user("alice"), "hello"))
                await bot.wait(lambda: _status_is(readyz_status, 503), 30, "/readyz 503")
                status, body = await _get(port, "/readyz")
                problems = json.loads(body)["not_ready"]
                assert "database" in problems and "[database] url" in problems["database"], problems
                assert (await _get(port, "/healthz"))[0] == 200  # alive all the same
            await bot.wait(lambda: _status_is(readyz_status, 200), 60, "/readyz 200 after the lock is gone")
            assert await bot.stop() == 0
    assert "Traceback" not in bot.stderr, bot.stderr[-3000:]


async def _status_is(probe, want: int) -> bool:
    return await probe() == want


async def test_a_telegram_that_is_not_there_yet_or_goes_away_is_waited_for_then_the_bot_works(tmp_path):
    import itertools

    api_port = free_port()
    config = _config(tmp_path, token="123456:TEST-TOKEN", base=f"http://127.0.0.1:{api_port}")
    async with Run(config) as bot:
        # Nothing listens at start: getMe is retried (1 s, 2 s …), one WARNING per attempt.
        await bot.wait(lambda: "attempt 2 failed" in bot.stderr, 30, "two getMe retries")
        assert "attempt 1 failed" in bot.stderr and "[telegram] base_url" in bot.stderr
        async with FakeTelegram(port=api_port) as fake:
            await bot.wait(lambda: fake.calls_to("getUpdates"), 60, "the first getUpdates")
            await fake.push(fake.command_update(fake.group(), fake.user("alice"), "/help"))
            await bot.wait(lambda: fake.sent("sendMessage"), 60, "the answer to /help")
            assert fake.last("sendMessage").params["text"].startswith("Commands:")
        # The Bot API goes away while the bot runs (a network outage), then comes back.
        await bot.wait(lambda: "getUpdates failing" in bot.stderr, 30, "the outage warning")
        await asyncio.sleep(3)  # more failed polls: still one line
        async with FakeTelegram(port=api_port) as fake:
            fake._update_ids = itertools.count(1000)  # past the offset the bot has reached
            await bot.wait(lambda: "getUpdates works again" in bot.stderr, 60, "the end of the outage")
            await fake.push(fake.command_update(fake.group(), fake.user("alice"), "/help"))
            await bot.wait(lambda: fake.sent("sendMessage"), 60, "the answer to /help after the outage")
            assert await bot.stop() == 0
    err = bot.stderr
    assert "Traceback" not in err, err[-3000:]
    tries = [line for line in err.splitlines() if "for getMe" in line]
    assert all(" WARNING " in line for line in tries) and len(tries) == len(set(tries)), tries
    assert "getMe works after" in err
    failing = [line for line in err.splitlines() if "getUpdates failing" in line]
    back = [line for line in err.splitlines() if "getUpdates works again" in line]
    assert len(failing) == 1 and "3 failures so far" in failing[0], failing
    assert len(back) == 1 and re.search(r"after \d+ failures", back[0]), back
    assert len(err.splitlines()) <= 20, err  # no line per retry


async def test_an_info_run_says_nothing_per_update_or_per_tick(tmp_path):
    async with FakeTelegram() as fake:
        config = _config(tmp_path, token=fake.token, base=fake.url, head="[scheduler]\ntick_seconds = 1")
        async with Run(config) as bot:
            await bot.wait(lambda: fake.calls_to("getUpdates"), 60, "the first getUpdates")
            await bot.wait(lambda: "running: telegram" in bot.stderr, 30, "the start-up line")
            await asyncio.sleep(2.5)  # a few ticks
            lines_at_start = len(bot.stderr.splitlines())
            chat = fake.group()
            for i in range(6):
                await fake.push(fake.text_update(chat, fake.user(f"member{i}"), f"hello number {i}"))
            await fake.push(fake.command_update(chat, fake.user("alice"), "/help"))
            await bot.wait(lambda: fake.sent("sendMessage"), 60, "the answer to /help")
            await asyncio.sleep(2.5)  # more ticks
            lines_after = len(bot.stderr.splitlines())
            assert await bot.stop() == 0
    err = bot.stderr
    assert lines_after == lines_at_start, err
    for chatter in ("Running job", "executed successfully", "Context impl", "Will assume transactional DDL",
                    "Running upgrade"):
        assert chatter not in err, err
    assert len(err.splitlines()) <= 6, err  # start, running, stop: a handful of lines


def test_json_lines_parse_and_carry_no_secret():
    secret = "555000111:AAjsonformattestjsonformattestjson1"
    redact.register(secret)
    stream = io.StringIO()
    logger = logging.getLogger("test_ops.json")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger.handlers = [handler]
    redact.install(logger)
    logger.info("calling /bot%s/getMe", secret)
    try:
        raise ValueError(f"refused {secret}\nsecond line")
    except ValueError:
        logger.exception("failed with %s", "多行\n文本")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2, lines  # one object per line, newlines inside are escaped
    entries = [json.loads(line) for line in lines]
    assert entries[0]["level"] == "INFO" and entries[0]["logger"] == "test_ops.json"
    assert entries[0]["message"] == "calling /bot***/getMe"
    assert "Traceback" in entries[1]["exception"] and "refused ***" in entries[1]["exception"]
    assert "多行" in entries[1]["message"]
    assert secret not in stream.getvalue()
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$", entries[0]["time"])
