"""`qunzhu run` on a database it cannot write stops at once with one line naming `[database] url`,
where and why — no traceback, no password.

Tests run as root, where chmod stops nothing (root writes read-only files and folders anyway).
What genuinely stops root is used instead: the immutable flag (`chattr +i`, refused to every
user, root included), a path whose parent is a file, and a full tmpfs mount. Each is skipped
when the machine does not offer it (no chattr on the file system, no permission to mount)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_with(tmp_path: Path, url: str, *command: str) -> subprocess.CompletedProcess:
    config = tmp_path / "qunzhu.toml"
    config.write_text(f'[database]\nurl = "{url}"\n[console]\nenabled = false\n', encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "bot.cli", *(command or ("run",)), "-c", str(config)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def assert_refused(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("error: [database] url: "), line
    for word in words:
        assert word in line, (word, line)


@contextlib.contextmanager
def immutable(path: Path):
    """chattr +i: not even root may write. chmod where we are not root and chattr is missing."""
    if shutil.which("chattr") and subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0:
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    elif os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            path.chmod(mode)
    else:
        pytest.skip("running as root without a working chattr: nothing makes the path read-only for root")


def test_a_read_only_folder(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    with immutable(folder):
        result = run_with(tmp_path, f"sqlite+aiosqlite:///{folder / 'bot.db'}")
    assert_refused(result, str(folder / "bot.db"), "cannot create it in the folder", "not permitted")


def test_a_read_only_file(tmp_path):
    db = tmp_path / "bot.db"
    url = f"sqlite+aiosqlite:///{db}"
    assert run_with(tmp_path, url, "db", "upgrade").returncode == 0  # a real, complete database
    with immutable(db):
        result = run_with(tmp_path, url)
    assert_refused(result, str(db), "cannot open it for writing")


def test_a_path_under_a_file(tmp_path):
    (tmp_path / "notafolder").write_text("x")
    result = run_with(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'notafolder' / 'bot.db'}")
    assert_refused(result, "notafolder is a file, not a folder")


def test_a_full_disk(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128k", "tmpfs", str(mount)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        with contextlib.suppress(OSError), open(mount / "filler", "wb", buffering=0) as f:
            while True:
                f.write(b"\0" * 4096)
        result = run_with(tmp_path, f"sqlite+aiosqlite:///{mount / 'bot.db'}")
    finally:
        subprocess.run(["umount", str(mount)], check=True)
    assert_refused(result, str(mount / "bot.db"), "No space left on device")


def test_an_unreachable_postgresql_server_is_named_by_host_and_port_without_the_password(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = run_with(tmp_path, f"postgresql+asyncpg://bot:Sup3r-Secret-PW@127.0.0.1:{port}/qunzhu")
    assert_refused(result, f"127.0.0.1:{port}", "unreachable")
    assert "Sup3r-Secret-PW" not in result.stderr + result.stdout
    # The same from `qunzhu db upgrade`.
    result = run_with(tmp_path, f"postgresql+asyncpg://bot:Sup3r-Secret-PW@127.0.0.1:{port}/qunzhu", "db", "upgrade")
    assert_refused(result, f"127.0.0.1:{port}")
    assert "Sup3r-Secret-PW" not in result.stderr + result.stdout


async def test_a_read_only_postgresql_database(pg_url, tmp_path):
    import asyncpg

    name = pg_url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(pg_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    finally:
        await conn.close()
    result = run_with(tmp_path, pg_url)
    assert_refused(result, "PostgreSQL server at", f"database '{name}'", "read-only transaction")


async def test_a_read_only_transaction_leaves_the_write_lock_free(tmp_path):
    """storage.db.read_only: long reads (the stats warm-up) must not keep other writers waiting."""
    import sqlite3

    from sqlalchemy import text

    from storage.db import create_engine, read_only, session_factory, upgrade

    path = tmp_path / "qunzhu.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        await upgrade(engine)
        async with session_factory(engine)() as session:
            await read_only(session)
            assert await session.scalar(text("SELECT count(*) FROM chats")) == 0
            other = sqlite3.connect(path, isolation_level=None, timeout=0)
            other.execute("BEGIN IMMEDIATE")  # would raise "database is locked" if the reader held it
            other.execute("INSERT INTO seen_events (key, at) VALUES ('k', '2026-01-01 00:00:00.000000')")
            other.execute("COMMIT")
            other.close()
            assert await session.scalar(text("SELECT count(*) FROM chats")) == 0
    finally:
        await engine.dispose()
