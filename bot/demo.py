"""`qunzhu demo`: a scripted scene on the console platform, with an embedded SQLite in a temporary
folder and a fixed clock, printed as a transcript. Each feature adds its own scene in
handlers/<feature>/demo.py (`SCENE = (order, title, async fn(driver))`)."""

from __future__ import annotations

import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from bot.clock import FakeClock
from bot.config import parse_config
from bot.platforms.console import ConsolePlatform
from bot.ports import AppFactory, AppServices
from handlers import feature_modules



@dataclass
class DemoDriver:
    app: AppServices
    console: ConsolePlatform
    clock: FakeClock
    workdir: Path
    say_line: Callable[[str], None]

    def narrate(self, text: str) -> None:
        self.say_line(f"\n— {text}")


async def foundation_scene(d: DemoDriver) -> None:
    d.narrate("Two members join the group and chat; an admin asks for the command list.")
    await d.console.join("alice")
    await d.console.join("bob")
    await d.console.say("alice", "大家好！今天天气不错。")
    await d.console.say("bob", "Hello everyone, glad to be here.")
    await d.console.say("admin", "/help")


def collect_scenes() -> list[tuple[int, str, Callable[[DemoDriver], Awaitable[None]]]]:
    scenes = [(0, "foundation", foundation_scene)] + [module.SCENE for module in feature_modules("demo")]
    return sorted(scenes, key=lambda s: s[0])


async def run_demo(make_app: AppFactory, out: Callable[[str], None] = print, language: str = "zh-CN") -> list[str]:
    with tempfile.TemporaryDirectory(prefix="qunzhu-demo-") as tmp:
        workdir = Path(tmp)
        config = parse_config(
            {
                "bot": {"data_dir": str(workdir)},
                "database": {"url": "sqlite+aiosqlite:///demo.db"},
                "defaults": {"language": language},
            },
            env={},
        )
        clock = FakeClock(datetime(2026, 3, 2, 0, 30, tzinfo=timezone.utc))  # Monday 08:30 in Shanghai
        app = make_app(config, clock=clock, run_scheduler=False)
        app.build_platforms(console_out=out)
        console = app.platforms["console"]
        assert isinstance(console, ConsolePlatform)
        out(f"Qunzhu demo — console group, SQLite at {workdir / 'demo.db'}, clock {clock.now():%Y-%m-%d %H:%M} UTC")
        async with app:
            driver = DemoDriver(app, console, clock, workdir, out)
            for _, title, scene in collect_scenes():
                await scene(driver)
        out("\nDemo finished.")
        return console.transcript
