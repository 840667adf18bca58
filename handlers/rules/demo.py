"""Demo scene of the rules feature: an ad is removed with a public notice, a repeat offender is
muted, a newcomer's invite link gets them removed, and the admin reviews the moderation log."""

from __future__ import annotations


async def scene(d) -> None:
    c = d.console
    d.narrate("Rules: ordinary chat passes — prices, overtime, a slow network.")
    await c.join("mallory")
    await c.say("mallory", "这件外套 ¥299，值吗？")
    d.clock.advance(minutes=1)
    await c.say("alice", "今天又要加班，网络还不好")
    d.clock.advance(minutes=1)
    await c.say("mallory", "我觉得挺值的")
    d.clock.advance(minutes=1)
    await c.say("mallory", "周末有人去爬山吗")
    d.narrate("mallory posts a disguised ad (zero-width characters, 薇信, a split ID): deleted, warned in public.")
    d.clock.advance(minutes=5)
    await c.say("mallory", "日赚500，加\u200b我薇\u200b信 abc 12345 车队接料")
    d.narrate("She tries again with a QQ number written in circled digits: muted for a day, announced.")
    d.clock.advance(minutes=5)
    await c.say("mallory", "扣扣 ⓿➃肆5678 99 有意私聊")
    await c.say("mallory", "还能说话吗？")
    d.narrate("A newcomer's first message is an invite link to another group: removed at once, with a notice.")
    await c.join("spambot")
    await c.say("spambot", "福利群 https://t.me/+AbCdEf123 速进")
    d.narrate("The admin reviews the moderation log; every decision can be undone with /undo ID.")
    await c.say("admin", "/modlog")


SCENE = (10, "rules", scene)
