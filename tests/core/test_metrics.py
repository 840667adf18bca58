"""The counters features increment (bot/metrics.py), in-process on the console platform: each counts once
per committed transaction, nothing for a handler that failed, and the queue-depth gauge of the paced sender."""

from __future__ import annotations

import asyncio

from bot import metrics
from bot.dispatch import Router
from bot.pacing import RateLimiter
from tests.onboarding.helpers import config as onboarding_config
from tests.onboarding.helpers import question_for
from tests.support.harness import running_app


def value(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


async def test_verdicts_onboarding_outcomes_and_actions_are_counted_once(sqlite_url, tmp_path):
    async with running_app(sqlite_url, str(tmp_path), onboarding_config("en")) as (app, console):
        refused = value("qunzhu_onboarding_outcomes_total", outcome="refused")
        removed = value("qunzhu_onboarding_outcomes_total", outcome="removed")
        sends = value("qunzhu_actions_total", platform="console", method="send", outcome="done")

        await console.join("bob")
        await console.press("bob", question_for(console, "bob").id, 1)  # declines the rules
        assert value("qunzhu_onboarding_outcomes_total", outcome="refused") == refused + 1

        await console.join("carol")
        app.clock.advance(minutes=11)
        await app.tick()
        await app.tick()  # a second tick finds nothing more to count
        assert value("qunzhu_onboarding_outcomes_total", outcome="removed") == removed + 1

        assert value("qunzhu_actions_total", platform="console", method="send", outcome="done") > sends


def _verdicts() -> float:
    return sum(s.value for m in metrics.REGISTRY.collect() if m.name == "qunzhu_moderation_verdicts"
               for s in m.samples if s.name.endswith("_total"))


async def test_a_violation_is_one_verdict_by_rule_and_action(sqlite_url, tmp_path):
    async with running_app(sqlite_url, str(tmp_path)) as (app, console):
        await console.join("spammer")
        for text in ("大家好", "今天天气真好", "晚上吃什么"):
            await console.say("spammer", text)
            app.clock.advance(minutes=1)
        before = _verdicts()
        await console.say("admin", "加我薇信 abc12345 日赚500，车队接料")  # an admin is never judged
        assert _verdicts() == before
        await console.say("spammer", "加我薇信 abc12345 日赚500，车队接料")
        assert _verdicts() == before + 1
        samples = [s for m in metrics.REGISTRY.collect() if m.name == "qunzhu_moderation_verdicts"
                   for s in m.samples if s.name.endswith("_total") and s.value]
        assert any(s.labels["action"] == "warn" and s.labels["rule"] for s in samples), samples


async def test_a_failed_handler_counts_nothing_and_latency_is_observed_per_router(sqlite_url, tmp_path):
    probe = Router("metrics_probe", priority=10)
    counted = metrics.ONBOARDING.labels(outcome="probe")

    @probe.message()
    async def count_then_fail(ctx):
        ctx.actions.after_commit(counted.inc)
        if "fail" in ctx.event.text:
            raise RuntimeError("this handler fails")

    async with running_app(sqlite_url, str(tmp_path), routers=[probe]) as (app, console):
        before = counted._value.get()
        seen = value("qunzhu_handler_seconds_count", router="metrics_probe")
        await console.say("alice", "fine")
        await console.say("alice", "please fail")
        assert counted._value.get() == before + 1  # the failed handler's count went with its rollback
        assert value("qunzhu_handler_seconds_count", router="metrics_probe") == seen + 2


async def test_the_paced_sender_reports_its_waiters():
    limiter = RateLimiter(1, 0.3, platform="metrics-test")
    gauge = metrics.SEND_QUEUE.labels(platform="metrics-test")
    await limiter.acquire("chat")
    waiting = [asyncio.create_task(limiter.acquire("chat")) for _ in range(3)]
    await asyncio.sleep(0.05)
    assert limiter.waiting == 3 and gauge._value.get() == 3
    await asyncio.gather(*waiting)
    assert limiter.waiting == 0 and gauge._value.get() == 0
