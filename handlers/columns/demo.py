"""Demo scene of the columns feature: an admin sets up a 早报 (morning greeting with the lunar date
and solar term) and a 晚报 (the evening digest) by command, /columns lists the next run times, the
clock reaches the morning slot and the 早报 is posted once."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo


async def scene(d) -> None:
    c = d.console
    tz = ZoneInfo(d.app.config.defaults.timezone)
    d.narrate("Columns: an admin creates a 早报 at 08:00 and a 晚报 at 21:00 for this group, then lists them.")
    await c.say("admin", "/column new 早报 morning 08:00")
    await c.say("admin", "/column new 晚报 evening 21:00")
    await c.say("admin", "/columns")
    d.narrate("The admin previews tonight's digest (sent by DM, nothing posted in the group).")
    await c.say("admin", "/column preview 晚报")
    local = d.clock.now().astimezone(tz)
    evening = datetime.combine(local.date(), time(21, 0), tzinfo=tz)
    if evening <= local:
        evening += timedelta(days=1)
    before = evening - timedelta(hours=1)
    if before > local:
        d.clock.set(before.astimezone(timezone.utc))
    d.narrate("Members chat during the evening; one checks in.")
    await c.say("alice", "今晚的直播几点开始？")
    await c.say("bob", "20:30，别忘了带问题来～")
    await c.say("bob", "/checkin")
    d.narrate(f"{evening:%H:%M}: the 晚报 digest of the day's figures is posted.")
    d.clock.set(evening.astimezone(timezone.utc))
    await d.app.tick()
    morning = datetime.combine(evening.date() + timedelta(days=1), time(8, 0), tzinfo=tz)
    d.narrate(f"The clock reaches {morning:%Y-%m-%d %H:%M} ({tz.key}): the engine's tick posts the 早报 exactly once.")
    d.clock.set(morning.astimezone(timezone.utc))
    await d.app.tick()
    await d.app.tick()  # a second tick (or a second instance) finds the slot already claimed


SCENE = (60, "columns", scene)
