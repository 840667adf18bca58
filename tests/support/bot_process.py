"""A real `qunzhu run -c FILE` in a child process, pointed at the fake Bot API.

    config = telegram_config(tmp_path, fake, log_level="DEBUG")
    bot = await BotProcess.start(config, tmp_path)
    await bot.wait_until(lambda: fake.calls_to("getUpdates"), 60, "the first getUpdates")
    await bot.stop()                      # SIGTERM, then the exit code
    bot.output()                          # stdout + stderr

The child writes to files, not pipes: at DEBUG it writes more before anyone reads than a pipe
holds, and a full pipe stalls it."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def telegram_config(tmp_path: Path, fake, *, log_level: str = "INFO", poll_timeout: int = 1, extra: str = "") -> Path:
    config = tmp_path / "qunzhu.toml"
    config.write_text(
        f"""
[bot]
log_level = "{log_level}"

[database]
url = "sqlite+aiosqlite:///bot.db"

[console]
enabled = false

[telegram]
enabled = true
token = "{fake.token}"
base_url = "{fake.base_url}"
base_file_url = "{fake.base_file_url}"
poll_timeout = {poll_timeout}

[defaults]
language = "en"
{extra}
""",
        encoding="utf-8",
    )
    return config


class BotProcess:
    def __init__(self, proc: asyncio.subprocess.Process, out: Path, err: Path):
        self.proc, self._out, self._err = proc, out, err

    @classmethod
    async def start(cls, config: Path, log_dir: Path, name: str = "bot") -> "BotProcess":
        out, err = log_dir / f"{name}.out", log_dir / f"{name}.err"
        with open(out, "ab") as out_file, open(err, "ab") as err_file:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", "run", "-c", str(config),
                cwd=ROOT, stdout=out_file, stderr=err_file,
            )
        return cls(proc, out, err)

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    def output(self) -> str:
        return (self._out.read_bytes() + self._err.read_bytes()).decode("utf-8", "replace")

    def errors(self) -> str:
        return self._err.read_bytes().decode("utf-8", "replace")

    async def wait_until(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if self.proc.returncode is not None:
                raise AssertionError(f"the bot exited with {self.proc.returncode} before {what}:\n{self.errors()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.05)

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        return self.proc.returncode

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
