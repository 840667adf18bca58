from __future__ import annotations

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
