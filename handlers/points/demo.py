"""Demo scene of the points feature: check-in with streak and rank, /me, /top, an admin /award, a shop
redemption and its fulfilment."""

from __future__ import annotations


async def scene(d) -> None:
    c = d.console
    d.narrate("Points: members check in (command or the plain word) and see their streak, rank and balance.")
    await c.say("alice", "/checkin")
    await c.say("bob", "签到")
    d.narrate("The next morning alice checks in again: her streak grows.")
    d.clock.advance(days=1)
    await c.say("alice", "/签到")
    await c.say("alice", "/me")
    d.narrate("An admin rewards a good post; bob levels up. Then the leaderboard.")
    await c.say("admin", "/award @bob 50 detailed answer to a newcomer")
    await c.say("bob", "/top")
    d.narrate("The shop: an admin lists a reward, bob redeems it, the admin hands it over.")
    await c.say("admin", "/shop add Coffee-mug 40 3")
    await c.say("bob", "/shop")
    await c.say("bob", "/redeem Coffee-mug")
    await c.say("admin", "/orders")
    await c.say("admin", "/fulfil 1")


SCENE = (50, "points", scene)
