"""WeCom callback server under load: how fast WeCom gets its answer (it retries after 5 s) and how
many callbacks a second the whole stack handles.

Real App with every feature router, SQLite in a temporary folder, the real WecomPlatform callback
server, and the fake qyapi (tests/support/fake_qyapi.py) over loopback for the outgoing calls.
N encrypted callbacks are posted with C in flight at once: employees' texts to the app (answered
by message/send when a feature answers) and @bot messages in a customer group (智能机器人), each
from a different member.

    .venv/bin/python bench/wecom_callbacks.py [--callbacks 1000] [--concurrency 50] [--no-features]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp import ClientSession  # noqa: E402

from bot.app import App  # noqa: E402
from bot.clock import FakeClock  # noqa: E402
from bot.member_lists import MemberLists  # noqa: E402
from bot.platforms.wecom import WecomPlatform  # noqa: E402
from bot.wecom_state import WecomState  # noqa: E402
from tests.support.fake_qyapi import FakeQyapi  # noqa: E402
from tests.support.harness import START, make_config  # noqa: E402
from tests.wecom.conftest import CUSTOMER_GROUP, OWNER, member, wecom_config  # noqa: E402
from tests.wecom.wire import AGENT, AIBOT_AES_KEY, AIBOT_TOKEN, CORP, SECRET, aibot_text, seal, text_xml  # noqa: E402


async def main(n: int, concurrency: int, features: bool, handlers: int | None) -> None:
    # Every message from a different member, as in a busy group (one member posting hundreds of
    # messages a second would be a flood, and the rules feature's penalties would be measured).
    employees = {f"emp{i}" for i in range(n)} | {OWNER}
    fake = FakeQyapi(CORP, SECRET, employees=employees, robots={"robot-key-customer-group"}, robot_per_minute=10**9)
    fake.group(CUSTOMER_GROUP, owner=OWNER, members=[member(OWNER, type=1)] + [member(f"wm{i:030d}") for i in range(n)])
    await fake.start()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = make_config(f"sqlite+aiosqlite:///{tmp}/bench.db", tmp, wecom_config(fake, {"wecom": {"robot_per_minute": 10**6, **({"concurrent_callbacks": handlers} if handlers else {})}}))
        app = App(cfg, clock=FakeClock(START), run_scheduler=False, routers=None if features else [])
        wecom = WecomPlatform(cfg.wecom, app, member_lists=MemberLists(app.sessions), state=WecomState(app.sessions),
                              resolve_path=cfg.resolve_path)
        app.platforms["wecom"] = wecom
        await app.start()
        bodies = []
        for i in range(n):
            if i % 2:
                plaintext = text_xml(f"emp{i}", f"请问第{i}期直播几点开始？", 10_000 + i)
                encrypt, query = seal(plaintext, nonce=f"n{i}")
                body = f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><AgentID>{AGENT}</AgentID><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
                bodies.append((wecom.callback_url, query, body.encode(), None))
            else:
                payload = aibot_text(f"bench-{i}", CUSTOMER_GROUP, f"wm{i:030d}", f"@群主助手 请问第{i}期怎么报名")
                encrypt, query = seal(json.dumps(payload, ensure_ascii=False), token=AIBOT_TOKEN, key=AIBOT_AES_KEY, receive_id="", nonce=f"n{i}")
                bodies.append((wecom.aibot_url, query, None, {"encrypt": encrypt}))
        acks: list[float] = []
        gate = asyncio.Semaphore(concurrency)
        async with ClientSession() as http:

            async def one(url, query, data, js):
                async with gate:
                    t0 = time.perf_counter()
                    async with http.post(url, params=query, data=data, json=js) as r:
                        await r.read()
                        assert r.status == 200, r.status
                    acks.append(time.perf_counter() - t0)

            start = time.perf_counter()
            await asyncio.gather(*(one(*b) for b in bodies))
            acked = time.perf_counter() - start
            await wecom.drain()
            handled = time.perf_counter() - start
        await app.stop()
    await fake.stop()
    acks.sort()
    ms = [a * 1000 for a in acks]
    print(f"callbacks={n} concurrency={concurrency} concurrent_callbacks={cfg.wecom.concurrent_callbacks} routers={'all features' if features else 'none (adapter + dispatcher only)'}")
    print(f"ack latency ms: median {statistics.median(ms):.1f}  p95 {ms[int(len(ms) * 0.95) - 1]:.1f}  max {ms[-1]:.1f}  (WeCom retries after 5000)")
    print(f"all acknowledged in {acked:.2f} s; all handled in {handled:.2f} s = {n / handled:.0f} callbacks/s; outgoing API calls: {len(fake.calls)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--callbacks", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--no-features", action="store_true", help="no feature routers: the adapter and dispatcher alone")
    parser.add_argument("--handlers", type=int, default=None, help="[wecom] concurrent_callbacks (default: the config default)")
    args = parser.parse_args()
    asyncio.run(main(args.callbacks, args.concurrency, not args.no_features, args.handlers))
