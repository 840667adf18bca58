"""The bot-wide limit a fan-out runs into (Telegram: 30 messages/s) is spread evenly once a few
messages have gone, so a 600-group fan-out never bunches up at the limit (bench/columns_fanout.py
measures it against a fake Bot API that answers 429 beyond 30 in any second); a lone reply still
goes at once."""

from __future__ import annotations

from bot.pacing import RateLimiter


async def test_a_burst_is_spread_evenly_past_a_few_messages():
    now = [100.0]
    sent: list[float] = []

    async def virtual_sleep(seconds: float) -> None:
        now[0] += seconds

    limiter = RateLimiter(20, 60.0, overall_rate=30, overall_per=1.0, monotonic=lambda: now[0], sleep=virtual_sleep)
    for i in range(90):
        await limiter.acquire(f"chat:{i}")
        sent.append(now[0])
    assert sent[:5] == [100.0] * 5  # a few go at once (a reply is not delayed)
    gaps = [b - a for a, b in zip(sent[5:], sent[6:])]
    assert min(gaps) >= 1 / 60  # then spread out, never back to back
    # never more than 30 in any one-second window
    for i, start in enumerate(sent):
        assert sum(1 for t in sent[i:] if t < start + 1.0) <= 30
    # and the whole goes about as fast as the limit allows: 90 sends in a little over 3 seconds
    assert 2.9 <= sent[-1] - sent[0] <= 3.2
