"""The message archive (会话内容存档) through a fake source: Qunzhu opens each record's random key
with the operator's RSA key, decodes the message, and handles each one once."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from bot.dispatch import Router
from bot.events import CommandInvoked, MessageReceived
from bot.platforms.wecom_archive import ArchiveError, ArchiveRecord, load_source
from tests.wecom.conftest import APP_CHAT, CUSTOMER_1, CUSTOMER_GROUP, OWNER, wecom_app
from tests.wecom.wire import aibot_text, post_aibot


class FakeArchive:
    """Plays the licensed SDK: GetChatData hands out records; DecryptData opens a body with the
    record's random key (here a XOR stream — the real cipher is the SDK's business, not Qunzhu's)."""

    name = "fake-sdk"

    def __init__(self, public_key):
        self.public_key = public_key
        self.records: list[ArchiveRecord] = []
        self.overlap = 0  # also return this many already-read records (like an overlapping page)

    def add(self, seq: int, message: dict, *, version: int = 1) -> None:
        random_key = f"rk-{seq}-secret"
        body = json.dumps(message, ensure_ascii=False).encode()
        stream = bytes(b ^ random_key.encode()[i % len(random_key)] for i, b in enumerate(body))
        self.records.append(
            ArchiveRecord(
                seq=seq,
                msgid=message["msgid"],
                publickey_ver=version,
                encrypt_random_key=base64.b64encode(self.public_key.encrypt(random_key.encode(), padding.PKCS1v15())).decode(),
                encrypt_chat_msg=base64.b64encode(stream).decode(),
            )
        )

    def get_chat_data(self, seq: int, limit: int) -> list[ArchiveRecord]:
        newer = [r for r in self.records if r.seq > seq][:limit]
        older = [r for r in self.records if r.seq <= seq][-self.overlap:] if self.overlap else []
        return older + newer

    def decrypt_data(self, random_key: str, encrypt_chat_msg: str) -> str:
        data = base64.b64decode(encrypt_chat_msg)
        return bytes(b ^ random_key.encode()[i % len(random_key)] for i, b in enumerate(data)).decode()


def make_source(**options):
    return FakeArchive(None)


def group_text(msgid: str, sender: str, text: str, room: str = CUSTOMER_GROUP) -> dict:
    return {"msgid": msgid, "action": "send", "from": sender, "tolist": [OWNER], "roomid": room, "msgtime": 1700000000123, "msgtype": "text", "text": {"content": text}}


@pytest.fixture
def rsa_key(tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "archive_v1.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return key, path


def archive_config(path) -> dict:
    return {"wecom": {"archive_private_keys": {"1": str(path)}, "archive_poll_seconds": 0}}


def recorder(seen: list):
    router = Router("recorder", 10)

    @router.on(MessageReceived, CommandInvoked)
    async def note(ctx):
        seen.append(ctx.event)

    return router


async def test_archived_group_messages_are_decoded_and_handled_once(db_url, tmp_path, qyapi, vt, rsa_key):
    key, path = rsa_key
    source = FakeArchive(key.public_key())
    source.add(1, group_text("m-1", CUSTOMER_1, "加V领红包"))
    source.add(2, {"msgid": "m-2", "action": "send", "from": OWNER, "tolist": [CUSTOMER_1], "roomid": "", "msgtime": 1, "msgtype": "text", "text": {"content": "one-to-one"}})
    source.add(3, {"msgid": "m-3", "action": "send", "from": CUSTOMER_1, "roomid": CUSTOMER_GROUP, "msgtime": 1, "msgtype": "weapp",
                   "weapp": {"title": "砍一刀", "description": "帮我砍价", "username": "gh_pdd@app", "displayname": "拼多多"}})
    source.add(4, group_text("m-4", CUSTOMER_1, "sealed with a key we do not have"), version=2)
    source.add(5, {"msgid": "m-5", "action": "recall", "from": CUSTOMER_1, "roomid": CUSTOMER_GROUP, "msgtime": 1, "msgtype": "revoke", "revoke": {"pre_msgid": "m-1"}})
    seen: list = []
    async with wecom_app(db_url, tmp_path, qyapi, vt, routers=[recorder(seen)], extra=archive_config(path), archive_source=source) as (app, wecom):
        assert await wecom.poll_archive() == 5
        assert [(e.chat.id, e.user.id, e.text) for e in seen] == [
            (CUSTOMER_GROUP, CUSTOMER_1, "加V领红包"),
            (CUSTOMER_GROUP, CUSTOMER_1, "砍一刀 帮我砍价 拼多多"),
        ]
        assert seen[1].media[0].kind == "miniprogram" and seen[1].media[0].data["username"] == "gh_pdd@app"
        assert await wecom.poll_archive() == 0  # the cursor moved past everything
        # The same message again under a new sequence number, and an overlapping page.
        source.add(6, group_text("m-1", CUSTOMER_1, "加V领红包"))
        source.overlap = 3
        await wecom.poll_archive()
        assert len(seen) == 2
    # After a restart nothing is handled twice.
    source.add(7, group_text("m-7", CUSTOMER_1, "新消息"))
    async with wecom_app(db_url, tmp_path, qyapi, vt, routers=[recorder(seen)], extra=archive_config(path), archive_source=source) as (app, wecom):
        await wecom.poll_archive()
    assert [e.text for e in seen] == ["加V领红包", "砍一刀 帮我砍价 拼多多", "新消息"]


async def test_with_the_archive_on_the_bot_callback_only_brings_commands(sqlite_url, tmp_path, qyapi, vt, rsa_key):
    key, path = rsa_key
    seen: list = []
    async with wecom_app(sqlite_url, tmp_path, qyapi, vt, routers=[recorder(seen)], extra=archive_config(path), archive_source=FakeArchive(key.public_key())) as (app, wecom):
        await post_aibot(wecom.aibot_url, aibot_text("b-1", APP_CHAT, "wangwu", "@群主助手 hello"))  # the archive has it too
        await post_aibot(wecom.aibot_url, aibot_text("b-2", APP_CHAT, "wangwu", "@群主助手 /help"))
        await wecom.drain()
        assert [type(e).__name__ for e in seen] == ["CommandInvoked"]


def test_a_source_is_loaded_from_the_config_and_errors_name_the_key():
    assert isinstance(load_source("tests.wecom.test_archive:make_source", {}), FakeArchive)
    with pytest.raises(ArchiveError, match=r"\[wecom\] archive_source"):
        load_source("tests.wecom.nowhere:make", {})


async def test_a_missing_key_file_names_the_config_key(sqlite_url, tmp_path, qyapi, vt):
    extra = {"wecom": {"archive_source": "tests.wecom.test_archive:make_source", "archive_private_keys": {"1": "missing.pem"}, "archive_poll_seconds": 0}}
    with pytest.raises(ArchiveError, match=r"archive_private_keys\.1"):
        async with wecom_app(sqlite_url, tmp_path, qyapi, vt, routers=[], extra=extra):
            pass
