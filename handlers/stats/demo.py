"""Demo scene: at the end of the day the admin asks for the group's figures."""

from __future__ import annotations


async def scene(d) -> None:
    d.narrate("Evening: the admin asks how the group is doing (/stats), then for the charts.")
    d.clock.advance(hours=10)
    await d.console.say("admin", "/stats")
    await d.console.say("admin", "/stats chart 7d")


SCENE = (90, "stats", scene)
