"""What WeCom puts on the wire: encrypted callbacks (XML for the app, JSON for the 智能机器人),
signed with the real WeChatCrypto, and a virtual clock for pacing tests."""

from __future__ import annotations

import asyncio
import json
import time

import xmltodict
from aiohttp import ClientSession
from wechatpy.work.crypto import WeChatCrypto

CORP = "wwcorp0001"
AGENT = 1000002
SECRET = "app-secret"
TOKEN = "callbacktoken"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
AIBOT_TOKEN = "aibottoken"
AIBOT_AES_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"


class VirtualTime:
    """A monotonic clock that only moves when someone sleeps on it: pacing is exercised in full
    (a minute's wait included) without the test waiting a minute."""

    def __init__(self, start: float = 1000.0):
        self.now = start
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)


def seal(plaintext: str, *, token: str = TOKEN, key: str = AES_KEY, receive_id: str = CORP, nonce: str = "nonce1", timestamp: str | None = None):
    """(encrypt, query) as WeCom sends them: the ciphertext and msg_signature/timestamp/nonce."""
    timestamp = timestamp or str(int(time.time()))
    sealed = xmltodict.parse(WeChatCrypto(token, key, receive_id).encrypt_message(plaintext, nonce, timestamp))["xml"]
    return sealed["Encrypt"], {"msg_signature": sealed["MsgSignature"], "timestamp": timestamp, "nonce": nonce}


async def post_callback(url: str, plaintext: str, *, corp: str = CORP, token: str = TOKEN, bad_signature: bool = False) -> tuple[int, str]:
    encrypt, query = seal(plaintext, token=token, receive_id=corp)
    if bad_signature:
        query["msg_signature"] = "0" * 40
    body = f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><AgentID><![CDATA[{AGENT}]]></AgentID><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    async with ClientSession() as http:
        async with http.post(url, params=query, data=body.encode()) as response:
            return response.status, await response.text()


async def post_aibot(url: str, payload: dict, *, bad_signature: bool = False) -> tuple[int, str]:
    encrypt, query = seal(json.dumps(payload, ensure_ascii=False), token=AIBOT_TOKEN, key=AIBOT_AES_KEY, receive_id="")
    if bad_signature:
        query["msg_signature"] = "0" * 40
    async with ClientSession() as http:
        async with http.post(url, params=query, json={"encrypt": encrypt}) as response:
            return response.status, await response.text()


async def verify_url(url: str, echo: str, *, token: str = TOKEN, key: str = AES_KEY, receive_id: str = CORP, bad_signature: bool = False) -> tuple[int, str]:
    encrypt, query = seal(echo, token=token, key=key, receive_id=receive_id)
    if bad_signature:
        query["msg_signature"] = "0" * 40
    async with ClientSession() as http:
        async with http.get(url, params={**query, "echostr": encrypt}) as response:
            return response.status, await response.text()


def text_xml(user: str, content: str, msg_id: int, *, agent: int = AGENT, create_time: int = 1700000000) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
        f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId><AgentID>{agent}</AgentID></xml>"
    )


def enter_agent_xml(user: str, create_time: int = 1700000000) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
        f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[enter_agent]]></Event><EventKey><![CDATA[]]></EventKey><AgentID>{AGENT}</AgentID></xml>"
    )


def external_chat_xml(chat_id: str, change: str, detail: str = "", *, create_time: int = 1700000100, quit_scene: str = "", count: int = 1) -> str:
    extra = f"<UpdateDetail><![CDATA[{detail}]]></UpdateDetail>" if detail else ""
    if detail == "add_member":
        extra += f"<JoinScene>0</JoinScene><MemChangeCnt>{count}</MemChangeCnt>"
    if detail == "del_member":
        extra += f"<QuitScene>{quit_scene or 0}</QuitScene><MemChangeCnt>{count}</MemChangeCnt>"
    return (
        f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
        f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[change_external_chat]]></Event><ChatId><![CDATA[{chat_id}]]></ChatId>"
        f"<ChangeType><![CDATA[{change}]]></ChangeType>{extra}</xml>"
    )


def external_contact_xml(employee: str, external: str, change: str = "add_external_contact", welcome_code: str = "", create_time: int = 1700000200) -> str:
    code = f"<WelcomeCode><![CDATA[{welcome_code}]]></WelcomeCode>" if welcome_code else ""
    return (
        f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
        f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[change_external_contact]]></Event><ChangeType><![CDATA[{change}]]></ChangeType>"
        f"<UserID><![CDATA[{employee}]]></UserID><ExternalUserID><![CDATA[{external}]]></ExternalUserID>"
        f"<State><![CDATA[]]></State>{code}</xml>"
    )


def aibot_text(msgid: str, chat_id: str | None, user: str, content: str, response_url: str = "") -> dict:
    payload = {
        "msgid": msgid,
        "aibotid": "AIBOT1",
        "chattype": "group" if chat_id else "single",
        "from": {"userid": user},
        "msgtype": "text",
        "text": {"content": content},
    }
    if chat_id:
        payload["chatid"] = chat_id
    if response_url:
        payload["response_url"] = response_url
    return payload
