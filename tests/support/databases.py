"""Real databases for tests: a fresh SQLite file, and a fresh PostgreSQL database per test.

PostgreSQL comes from QUNZHU_TEST_PG_URL (an admin URL, default the local server). When it cannot
be reached the PostgreSQL half is skipped, except under CI=true or QUNZHU_REQUIRE_PG=1, where
that is a failure: CI must test both databases.
"""

from __future__ import annotations

import os
import uuid

import pytest

PG_ADMIN_URL = os.environ.get("QUNZHU_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _require_pg() -> bool:
    return os.environ.get("QUNZHU_REQUIRE_PG") == "1" or os.environ.get("CI") == "true"


async def _pg_connect(database: str | None = None):
    import asyncpg

    url = PG_ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://")
    if database:
        url = url.rsplit("/", 1)[0] + "/" + database
    return await asyncpg.connect(url, timeout=5)


async def create_pg_database() -> tuple[str, str]:
    """Returns (sqlalchemy url, database name) of a new empty database."""
    try:
        conn = await _pg_connect()
    except Exception as exc:  # unreachable server
        if _require_pg():
            pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is required here but unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_URL}: {exc}")
    name = f"qz_test_{uuid.uuid4().hex[:12]}"
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = PG_ADMIN_URL.replace("postgresql://", "postgresql+asyncpg://").rsplit("/", 1)[0]
    return f"{base}/{name}", name


async def drop_pg_database(name: str) -> None:
    conn = await _pg_connect()
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
