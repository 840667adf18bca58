"""/stats figures against hand counts, on histories driven through the console platform day by day."""

from datetime import date, datetime, timezone

from bot.clock import FakeClock
from bot.platform import Capability
from handlers.stats.router import router as stats_router
from storage import core_repo, metrics, stats_repo
from tests.support.harness import running_app

UTC = timezone.utc
EN = {"defaults": {"language": "en"}}


def at(day: int, hour: int = 10, minute: int = 0) -> datetime:
    """Local time (Asia/Shanghai, UTC+8) on 2026-03-(day) as UTC."""
    return datetime(2026, 3, day, hour - 8, minute, tzinfo=UTC) if hour >= 8 else datetime(2026, 3, day - 1, hour + 16, minute, tzinfo=UTC)


async def _record_message(session, chat_id: int, member_id: int, day) -> None:
    """One message as the router's batched figures write it."""
    await metrics.write_daily(session, {(chat_id, day, "messages", ""): 1})
    await stats_repo.write_member_days(session, {(chat_id, day, member_id): 1})


async def last_reply(console) -> str:
    return console.bot_messages()[-1].text


async def test_stats_figures_match_a_hand_count(db_url, tmp_path):
    clock = FakeClock(at(2, 9))
    async with running_app(db_url, str(tmp_path), EN, clock=clock, routers=[stats_router]) as (app, console):
        # Mon 03-02: admin, alice, bob, carol join; alice 3 messages, bob 1.
        for name in ("admin", "alice", "bob", "carol"):
            await console.join(name)
        for text in ("a1", "a2", "a3"):
            await console.say("alice", text)
        await console.say("bob", "b1")
        # Tue 03-03: dave joins; alice 1, carol 2; bob leaves.
        clock.set(at(3, 11))
        await console.join("dave")
        await console.say("alice", "a4")
        await console.say("carol", "c1")
        await console.say("carol", "c2")
        await console.leave("bob")
        # Wed 03-04 23:59 local (15:59 UTC) and Thu 03-05 00:01 local: two different local days.
        clock.set(at(4, 23, 59))
        await console.say("dave", "d1")
        clock.set(at(5, 0, 1))
        await console.say("dave", "d2")
        await console.say("dave", "d3")
        await console.join("erin")
        await console.leave("erin")
        # Sun 03-08: alice 1. An admin command is not a message.
        clock.set(at(8, 20))
        await console.say("alice", "a5")
        await console.say("admin", "/help")
        # Another group's activity is not ours.
        await console.say("zed", "elsewhere", chat_id="other")
        # Violations and check-ins come from other features' counters; tags from onboarding.
        await app.flush_figures()  # figures are batched in memory until a tick
        async with app.sessions() as session, session.begin():
            chat = await core_repo.get_chat(session, "console", "lobby")
            await metrics.write_daily(session, {
                (chat.id, date(2026, 3, 3), "violations", "ads"): 2,
                (chat.id, date(2026, 3, 5), "violations", "links"): 1,
                (chat.id, date(2026, 3, 5), "violations", "ads"): 1,
                (chat.id, date(2026, 2, 20), "violations", "flood"): 9,  # outside the week
                (chat.id, date(2026, 3, 6), "checkins", ""): 4,
            })
            for name, tags in (("alice", ["A"]), ("carol", ["A", "VIP"]), ("dave", ["B"]), ("bob", ["A"])):
                member = await core_repo.get_member(session, chat.id, name)
                await core_repo.add_tags(session, member.id, tags, "onboarding", clock.now())

        await console.say("admin", "/stats 7d")
        text = await last_reply(console)
    lines = text.splitlines()
    # Hand count, 03-02 … 03-08:
    # members now: admin, alice, carol, dave (bob and erin left) = 4; joins 6 (admin alice bob carol dave erin), leaves 2
    # messages: 03-02: 4, 03-03: 3, 03-04: 1, 03-05: 2, 03-08: 1 → 11; 11/7 = 1.6 a day
    # active per day: 03-02: alice bob (2), 03-03: alice carol (2), 03-04: dave, 03-05: dave, 03-08: alice
    #   → 7 member-days / 7 = 1 a day, peak 2, distinct 4 (alice bob carol dave)
    # top: alice 5, dave 3, carol 2, bob 1
    assert lines[0] == "📊 Qunzhu console group · last 7 days (03-02 to 03-08)"
    assert lines[1] == "Members: 4 now; 6 joined, 2 left"
    assert lines[2] == "Messages: 11 in all, 1.6 a day"
    assert lines[3] == "Active: 1 members a day, 2 at most; 4 different members posted"
    assert lines[4] == "Growth: 4 check-ins"
    assert lines[5] == "Violations by rule: no ads: 3; no links: 1"
    assert lines[6:11] == ["Top contributors:", "  1. alice: 5", "  2. dave: 3", "  3. carol: 2", "  4. bob: 1"]
    # Tags of members still in the group: alice A, carol A+VIP, dave B (bob left).
    assert lines[11] == "Tags (members in the group): A 2 · B 1 · VIP 1"


async def test_a_shorter_period_and_the_chinese_text(db_url, tmp_path):
    clock = FakeClock(at(2, 9))
    async with running_app(db_url, str(tmp_path), clock=clock, routers=[stats_router]) as (app, console):
        await console.join("admin")
        await console.say("alice", "第一天")
        clock.set(at(9, 9))
        await console.say("bob", "一周后")
        await console.say("bob", "再说一句")
        await console.say("admin", "/stats 1d")
        text = await last_reply(console)
        assert text.splitlines()[0] == "📊 Qunzhu console group · 最近 1 天（03-09 至 03-09）"
        assert "发言：共 2 条，日均 2 条" in text
        assert "1. bob：2 条" in text and "alice" not in text
        await console.say("admin", "/stats 30d")
        assert "发言：共 3 条，日均 0.1 条" in await last_reply(console)
        await console.say("admin", "/stats 一周")
        assert await last_reply(console) == "看不懂「一周」。用法：/stats [7d|30d|90d]，或 /stats chart [30d]。"
        await console.say("alice", "/stats")
        assert await last_reply(console) == "只有管理员可以使用 /stats。"


async def test_retention_of_a_cohort_built_for_it(db_url, tmp_path):
    """Cohort: the week of Mon 03-02. Retained at day N = still in at day N and posted in the
    7 days up to day N (days 1-7 for N = 7, days 24-30 for N = 30)."""
    clock = FakeClock(datetime(2026, 2, 23, 2, 0, tzinfo=UTC))
    config = {"defaults": {"language": "en", "stats": {"retention_weeks": 8}}}
    async with running_app(db_url, str(tmp_path), config, clock=clock, routers=[stats_router]) as (app, console):
        await console.join("admin")  # the week before: not in the cohort
        await console.join("old")

        async def on(day: int, action: str, name: str, hour: int = 10):
            clock.set(at(day, hour) if day <= 31 else datetime(2026, 4, day - 31, hour - 8, tzinfo=UTC))
            if action == "join":
                await console.join(name)
            elif action == "leave":
                await console.leave(name)
            else:
                await console.say(name, f"hello from {name}")

        # March day numbers (03-02 = Mon); days > 31 are April (32 = 04-01).
        events = [
            (2, "join", "amy"), (2, "join", "eve"), (2, "join", "fay"), (3, "join", "dan"),
            (4, "join", "ben"), (8, "join", "cat"), (8, "say", "cat"),
            (5, "leave", "dan"),             # dan: gone by day 7
            (7, "say", "amy"),               # amy: day 5 → retained at 7
            (8, "say", "eve"),               # eve: day 6 → retained at 7 …
            (10, "say", "fay"),              # fay: day 8 → too late for day 7
            (11, "say", "ben"),              # ben: day 7 → retained at 7
            (22, "leave", "eve"),            # … eve leaves on day 20: not present at 30
            (27, "say", "amy"),              # amy: day 25 → retained at 30
            (32, "say", "ben"),              # ben: day 28 → retained at 30
            (9, "join", "gus"), (16, "say", "gus"),  # next week's cohort: gus, day 7 → retained
        ]
        for day, action, name in sorted(events, key=lambda e: e[0]):
            await on(day, action, name)
        clock.set(datetime(2026, 4, 20, 2, 0, tzinfo=UTC))  # Mon 04-20: both cohorts' day 30 is over
        await app.flush_figures()  # figures are batched in memory until a tick
        async with app.sessions() as session:
            cohorts = await stats_repo.weekly_cohorts(
                session, [1], __import__("zoneinfo").ZoneInfo("Asia/Shanghai"), date(2026, 4, 20), 8
            )
        by_week = {c.week_start: c for c in cohorts}
        first = by_week[date(2026, 3, 2)]
        # amy ben cat dan eve fay joined that week
        assert first.size == 6
        assert first.present == {7: 5, 30: 4}  # dan left on day 2; eve on day 20
        assert first.retained == {7: 3, 30: 2}  # day 7: amy eve ben; day 30: amy ben
        second = by_week[date(2026, 3, 9)]
        assert (second.size, second.present[7], second.retained[7], second.retained[30]) == (1, 1, 1, 0)
        assert by_week[date(2026, 2, 23)].size == 2  # admin and old

        await console.say("admin", "/stats")
        text = await last_reply(console)
        assert "  week of 03-02: 6 joined · day 7: 5 still in, 3 retained (50%) · day 30: 4 still in, 2 retained (33%)" in text
        # A cohort whose day 30 is not over yet is marked, not guessed.
        clock.set(datetime(2026, 4, 6, 2, 0, tzinfo=UTC))
        await console.say("admin", "/stats")
        assert "week of 03-02: 6 joined · day 7: 5 still in, 3 retained (50%) · day 30: not yet" in await last_reply(console)


async def test_stats_chart_posts_two_pngs_with_content(db_url, tmp_path):
    from io import BytesIO

    from PIL import Image

    clock = FakeClock(at(2, 9))
    async with running_app(db_url, str(tmp_path), EN, clock=clock, routers=[stats_router]) as (app, console):
        await console.join("admin")
        for day in range(2, 20):
            clock.set(at(day, 12))
            for i in range(day % 5 + 1):
                await console.say(f"m{i}", "hi")
        await console.say("admin", "/stats chart")
        photos = [m for m in console.bot_messages() if m.media]
        assert [m.text for m in photos] == [
            "Messages and active members, last 30 days",
            "Retention curve (members who joined since 2025-12-19)",
        ]
        for message in photos:
            image = Image.open(BytesIO(console.files[message.media[0].file_id]))
            assert image.format == "PNG" and image.size == (1000, 600)
            grey = image.convert("L")
            lo, hi = grey.getextrema()
            assert hi - lo > 100
            dark = sum(grey.histogram()[:200])
            assert dark > 0.01 * 1000 * 600  # bars, lines and text, not a blank canvas


async def test_without_photos_the_admin_is_told_how_to_get_the_charts(db_url, tmp_path):
    caps = Capability.all() & ~Capability.SEND_PHOTO
    async with running_app(db_url, str(tmp_path), EN, capabilities=caps, routers=[stats_router]) as (app, console):
        await console.join("admin")
        await console.say("admin", "/stats chart 7d")
        text = await last_reply(console)
        assert text.startswith("console cannot post images.")
        assert "qunzhu chart -c CONFIG --group console:lobby --what activity --days 7 -o activity.png" in text
        assert not [m for m in console.bot_messages() if m.media]


async def test_snapshot_of_closed_days_plus_today_live_equals_the_full_count(db_url, tmp_path):
    """/stats reuses a snapshot of the closed days and adds today's rows live; with 80 members (more
    than the snapshot keeps) and messages arriving between two /stats, the answer must equal the
    full aggregate query every time."""
    import random
    from zoneinfo import ZoneInfo

    from bot.events import UserRef

    rng = random.Random(3)
    tz = ZoneInfo("Asia/Shanghai")
    today = date(2026, 3, 12)
    async with running_app(db_url, str(tmp_path), routers=[stats_router]) as (app, console):
        await app.flush_figures()  # figures are batched in memory until a tick
        async with app.sessions() as session, session.begin():
            chat = await core_repo.ensure_chat(session, console.default_chat, app.clock.now())
            ids = []
            for i in range(80):
                member = await core_repo.ensure_member(session, chat.id, UserRef("console", f"m{i}", name=f"m{i}"), app.clock.now())
                ids.append(member.id)
            for d in range(10, 0, -1):
                for member_id in rng.sample(ids, 30):
                    for _ in range(rng.choice([1, 1, 1, 2, 3])):
                        await _record_message(session, chat.id, member_id, today.fromordinal(today.toordinal() - d))
        for round_ in range(4):
            await app.flush_figures()  # figures are batched in memory until a tick
            async with app.sessions() as session, session.begin():
                for member_id in rng.sample(ids, 5 + round_ * 5):
                    for _ in range(rng.randint(1, 6)):
                        await _record_message(session, chat.id, member_id, today)
            for days in (7, 30):
                await app.flush_figures()  # figures are batched in memory until a tick
                async with app.sessions() as session, session.begin():
                    got = await stats_repo.summary(session, chat.id, tz=tz, today=today, days=days, top_n=5, now=app.clock.now())
                    start = today.fromordinal(today.toordinal() - days + 1)
                    want_top = await metrics.top_contributors(session, chat.id, start, today, 5)
                    want_distinct = await metrics.active_members(session, chat.id, start, today)
                assert [(c.member_id, c.messages) for c in got.top] == want_top, (round_, days)
                assert got.active_distinct == want_distinct, (round_, days)


async def test_the_scheduler_prepares_todays_snapshots_and_stats_stay_exact(db_url, tmp_path):
    from sqlalchemy import select

    from storage.stats_models import StatsSnapshot

    clock = FakeClock(at(2, 9))
    async with running_app(db_url, str(tmp_path), EN, clock=clock, routers=[stats_router]) as (app, console):
        await console.join("admin")
        for name, n in (("alice", 3), ("bob", 1)):
            for _ in range(n):
                await console.say(name, "hi")
        clock.set(at(3, 0, 20))  # 00:20 local: a new day
        await app.tick()
        await app.flush_figures()  # figures are batched in memory until a tick
        async with app.sessions() as session:
            kinds = sorted((s.day, s.kind) for s in await session.scalars(select(StatsSnapshot)))
        assert kinds == [(date(2026, 3, 3), "cohorts:4"), (date(2026, 3, 3), "window:7")]
        # Today's messages come on top of the prepared snapshot.
        for _ in range(4):
            await console.say("bob", "morning")
        await console.say("admin", "/stats")
        text = await last_reply(console)
        assert "Messages: 8 in all" in text
        assert "  1. bob: 5\n  2. alice: 3" in text
        assert "2 different members posted" in text


async def test_a_member_forgotten_while_the_warm_up_computes_is_not_brought_back_by_its_snapshot(db_url, tmp_path):
    """The warm-up computes without the write lock and stores after: a `forget` in between (which
    drops the group's snapshots) must not be undone by a snapshot naming the forgotten member."""
    from zoneinfo import ZoneInfo

    from sqlalchemy import select

    from storage.db import read_only
    from storage.stats_models import StatsSnapshot

    clock = FakeClock(at(2, 9))
    async with running_app(db_url, str(tmp_path), EN, clock=clock, routers=[stats_router]) as (app, console):
        for name in ("alice", "bob"):
            await console.say(name, "hi")
        await app.flush_figures()  # figures are batched in memory until a tick
        async with app.sessions() as session:
            chat = await core_repo.get_chat(session, "console", console.default_chat.id)
        today = date(2026, 3, 3)
        async with app.sessions() as session:
            await read_only(session)
            payloads = await stats_repo.missing_snapshots(session, chat.id, tz=ZoneInfo("Asia/Shanghai"), today=today, days=7, weeks=4)
        assert set(payloads) == {"window:7", "cohorts:4"}
        async with app.sessions() as session, session.begin():
            await stats_repo.forget_member(session, chat.id, "alice")
        async with app.sessions() as session, session.begin():
            assert await stats_repo.store_snapshots(session, chat.id, today, payloads, clock.now()) == 1
        async with app.sessions() as session:
            assert [s.kind for s in await session.scalars(select(StatsSnapshot))] == ["cohorts:4"]
