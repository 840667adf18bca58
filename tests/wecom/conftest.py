from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any

import pytest

from bot.app import App
from bot.clock import FakeClock
from bot.config import deep_merge
from bot.member_lists import MemberLists
from bot.platforms.wecom import WecomPlatform
from bot.wecom_state import WecomState
from tests.support.fake_qyapi import FakeQyapi
from tests.support.harness import START, make_config
from tests.wecom.wire import AES_KEY, AGENT, AIBOT_AES_KEY, AIBOT_TOKEN, CORP, SECRET, TOKEN, VirtualTime

# Who is who in the tests.
OWNER = "zhangsan"  # employee, owner of the customer group
GROUP_ADMIN = "lisi"  # employee, admin of the customer group
CUSTOMER_GROUP = "wrCustomerGroup0001"
APP_CHAT = "qunzhuappchat1"
ROBOT_KEY = "robot-key-customer-group"
APP_CHAT_ROBOT = "robot-key-app-chat"
CUSTOMER_1 = "wmCustomerAAAAAAAAAAAAAAAAAAAAAA1"
CUSTOMER_2 = "wmCustomerBBBBBBBBBBBBBBBBBBBBBB2"


def member(userid: str, *, type: int = 2, join_time: int = 1700000000, name: str = "", invitor: str | None = None) -> dict:
    m = {"userid": userid, "type": type, "join_time": join_time, "join_scene": 1, "name": name or userid}
    if invitor:
        m["invitor"] = {"userid": invitor}
    return m


@pytest.fixture
def vt() -> VirtualTime:
    return VirtualTime()


@pytest.fixture
async def qyapi(vt):
    fake = FakeQyapi(CORP, SECRET, clock=vt.monotonic, employees={OWNER, GROUP_ADMIN, "wangwu", "boss"}, robots={ROBOT_KEY, APP_CHAT_ROBOT})
    fake.group(CUSTOMER_GROUP, owner=OWNER, name="VIP 客户群", admins=[GROUP_ADMIN], members=[member(OWNER, type=1), member(CUSTOMER_1)])
    fake.app_chats[APP_CHAT] = {"name": "内部群", "owner": "boss", "userlist": ["boss", "wangwu", OWNER]}
    await fake.start()
    yield fake
    await fake.stop()


def wecom_config(qyapi: FakeQyapi, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    base = {
        "console": {"enabled": False},
        "wecom": {
            "corp_id": CORP,
            "agent_id": AGENT,
            "secret": SECRET,
            "token": TOKEN,
            "encoding_aes_key": AES_KEY,
            "listen": "127.0.0.1",
            "port": 0,
            "api_base_url": qyapi.base_url,
            "aibot_token": AIBOT_TOKEN,
            "aibot_encoding_aes_key": AIBOT_AES_KEY,
            "robots": {CUSTOMER_GROUP: ROBOT_KEY},
            "rate_limit_retry_seconds": 30,
        },
    }
    return deep_merge(base, extra or {})


@asynccontextmanager
async def wecom_app(db_url: str, data_dir, qyapi: FakeQyapi, vt: VirtualTime, *, routers=None, extra=None, clock=None, archive_source=None):
    """A started App whose only platform is the real WecomPlatform, its callback server on a
    free port and its API calls going to the fake qyapi."""
    cfg = make_config(db_url, str(data_dir), wecom_config(qyapi, extra))
    app = App(cfg, clock=clock or FakeClock(START), run_scheduler=False, routers=routers)
    platform = WecomPlatform(
        cfg.wecom, app, member_lists=MemberLists(app.sessions), state=WecomState(app.sessions),
        resolve_path=cfg.resolve_path, monotonic=vt.monotonic, sleep=vt.sleep, archive_source=archive_source,
    )
    app.platforms["wecom"] = platform
    await app.start()
    try:
        yield app, platform
    finally:
        await app.stop()
