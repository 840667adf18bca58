"""Instances that start together on one empty database all get through the migrations:
real `qunzhu db upgrade` processes, started at once."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from alembic.script import ScriptDirectory
from storage.db import alembic_config, create_engine, current_heads

ROOT = Path(__file__).resolve().parents[2]


async def upgrade_together(url: str, tmp_path: Path, n: int) -> None:
    config = tmp_path / "qunzhu.toml"
    config.write_text(f'[database]\nurl = "{url}"\n', encoding="utf-8")
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "db", "upgrade", "-c", str(config),
            cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(n)
    ]
    results = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in procs)), 240)
    for proc, (_, err) in zip(procs, results):
        assert proc.returncode == 0, err.decode(errors="replace")[-3000:]
    engine = create_engine(url)
    try:
        assert await current_heads(engine) == set(ScriptDirectory.from_config(alembic_config()).get_heads())
    finally:
        await engine.dispose()


@pytest.mark.parametrize("n", [2, 5])
async def test_instances_upgrading_one_empty_postgresql_database_together_all_succeed(pg_url, tmp_path, n):
    await upgrade_together(pg_url, tmp_path, n)


async def test_two_instances_upgrading_one_new_sqlite_file_together_both_succeed(tmp_path):
    await upgrade_together(f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}", tmp_path, 2)
