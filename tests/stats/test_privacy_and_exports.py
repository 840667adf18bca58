"""CSV exports re-read and compared, `qunzhu forget`, and the evidence purge."""

import csv
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import func, select

from bot.clock import FakeClock
from handlers.stats.router import router as stats_router
from storage import core_repo
from storage.models import AuditEntry, DailyCounter, DailyMemberActivity, Member, MemberTag
from storage.onboarding_models import OnboardingAnswer
from storage.points_models import LedgerEntry
from tests.support.harness import running_app

ROOT = Path(__file__).resolve().parents[2]
UTC = timezone.utc
START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


def qunzhu(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, cwd=ROOT, timeout=120)


def write_config(tmp_path: Path, db_url: str, language: str = "en") -> Path:
    path = tmp_path / "qunzhu.toml"
    path.write_text(
        f'[bot]\ndata_dir = "{tmp_path}"\n[database]\nurl = "{db_url}"\n[defaults]\nlanguage = "{language}"\n',
        encoding="utf-8",
    )
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    assert path.read_bytes().startswith(b"\xef\xbb\xbf"), "Excel needs the UTF-8 byte-order mark"
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


async def seed(app, console, clock):
    await console.join("admin")
    await console.join("王小明")
    await console.say("王小明", "大家好")
    await console.say("王小明", "我在上海")
    await console.join("bob")
    clock.advance(days=1)
    await console.say("bob", "hi")
    await console.leave("bob")
    async with app.sessions() as session, session.begin():
        chat = await core_repo.get_chat(session, "console", "lobby")
        wang = await core_repo.get_member(session, chat.id, "王小明")
        bob = await core_repo.get_member(session, chat.id, "bob")
        await core_repo.add_tags(session, wang.id, ["A", "上海"], "onboarding", clock.now())
        await core_repo.add_tags(session, bob.id, ["C"], "admin", clock.now())
        session.add_all(
            [
                OnboardingAnswer(member_id=wang.id, question_id="city", value="上海", answered_at=clock.now()),
                OnboardingAnswer(member_id=wang.id, question_id="goal", value="学习运营, 结识同行", answered_at=clock.now()),
                OnboardingAnswer(member_id=bob.id, question_id="city", value="Beijing", answered_at=clock.now()),
                LedgerEntry(chat_id=chat.id, member_id=wang.id, amount=10, reason="签到", source="checkin", key="c1", at=clock.now()),
                LedgerEntry(chat_id=chat.id, member_id=wang.id, amount=5, reason="发言", source="activity", key="a1", at=clock.now()),
                LedgerEntry(chat_id=chat.id, member_id=bob.id, amount=3, reason="签到", source="checkin", key="c2", at=clock.now()),
            ]
        )
        await core_repo.audit(
            session, chat_id=chat.id, at=clock.now(), actor="bot", action="delete", target_user_id="王小明",
            rule="ads", evidence="加我微信 abc123，便宜卖", details={"message_id": "7"},
        )
        await core_repo.audit(
            session, chat_id=chat.id, at=clock.now(), actor="console:admin", action="warn", target_user_id="bob", rule="links",
            evidence="http://spam.example",
        )
        return chat.id, wang.id, bob.id


async def test_exports_are_excel_ready_csv_with_tags_answers_and_points(db_url, tmp_path):
    clock = FakeClock(START)
    async with running_app(db_url, str(tmp_path), clock=clock, routers=[stats_router]) as (app, console):
        await seed(app, console, clock)
    config = write_config(tmp_path, db_url)

    out = tmp_path / "out" / "members.csv"
    result = qunzhu("export", "-c", str(config), "--group", "console:lobby", "--what", "members", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert f"exported 3 rows of members → {out}" in result.stdout
    rows = read_csv(out)
    assert [r["user_id"] for r in rows] == ["admin", "王小明", "bob"]
    wang, bob = rows[1], rows[2]
    assert wang["tags"] == "A;上海" and bob["tags"] == "C"
    assert wang["answer:city"] == "上海" and wang["answer:goal"] == "学习运营, 结识同行"
    assert bob["answer:city"] == "Beijing" and bob["answer:goal"] == ""
    assert (wang["messages"], wang["active_days"], wang["last_active_day"]) == ("2", "1", "2026-03-02")
    assert (bob["messages"], bob["status"]) == ("1", "left")
    assert wang["points"] == "15" and bob["points"] == "3" and rows[0]["points"] == "0"
    assert wang["joined_at (Asia/Shanghai)"] == "2026-03-02 09:00:00"
    assert bob["left_at (Asia/Shanghai)"] == "2026-03-03 09:00:00"

    result = qunzhu("export", "-c", str(config), "--group", "console:lobby", "--what", "audit", "-o", str(tmp_path / "audit.csv"))
    assert result.returncode == 0, result.stderr
    audit = read_csv(tmp_path / "audit.csv")
    assert [(a["action"], a["target_user_id"], a["rule"], a["evidence"]) for a in audit] == [
        ("delete", "王小明", "no ads", "加我微信 abc123，便宜卖"),
        ("warn", "bob", "no links", "http://spam.example"),
    ]
    assert audit[0]["details"] == '{"message_id": "7"}'

    result = qunzhu("export", "-c", str(config), "--group", "console:lobby", "--what", "ledger", "-o", str(tmp_path / "ledger.csv"))
    assert result.returncode == 0, result.stderr
    ledger = read_csv(tmp_path / "ledger.csv")
    assert [(r["member_user_id"], r["amount"], r["reason"]) for r in ledger] == [("王小明", "10", "签到"), ("王小明", "5", "发言"), ("bob", "3", "签到")]

    result = qunzhu("export", "-c", str(config), "--group", "console:lobby", "--what", "answers", "-o", str(tmp_path / "answers.csv"))
    assert result.returncode == 0, result.stderr
    answers = read_csv(tmp_path / "answers.csv")
    assert sorted((r["member_user_id"], r["question_id"], r["value"]) for r in answers) == [
        ("bob", "city", "Beijing"), ("王小明", "city", "上海"), ("王小明", "goal", "学习运营, 结识同行"),
    ]

    result = qunzhu("export", "-c", str(config), "--group", "console:nowhere", "--what", "members")
    assert result.returncode == 2
    assert "no group console:nowhere in the database" in result.stderr and "Known groups: console:lobby" in result.stderr


async def test_forget_erases_a_member_and_says_what_it_removed(db_url, tmp_path):
    clock = FakeClock(START)
    async with running_app(db_url, str(tmp_path), clock=clock, routers=[stats_router]) as (app, console):
        chat_id, wang_id, bob_id = await seed(app, console, clock)
        await console.say("王小明", "hello in another group", chat_id="other")
    config = write_config(tmp_path, db_url, "zh-CN")

    result = qunzhu("forget", "-c", str(config), "--user", "王小明", "--group", "console:lobby")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "console:lobby：已删除用户 王小明 的数据：" in out
    for line in ("members：1 行", "member_tags：2 行", "onboarding_answers：2 行", "points_ledger：2 行",
                 "daily_member_activity：1 行", "audit_log (anonymised)：1 行"):
        assert line in out
    assert "console:other" not in out

    async with running_app(db_url, str(tmp_path), clock=clock, routers=[stats_router]) as (app, console):
        async with app.sessions() as session:
            assert await session.get(Member, wang_id) is None
            assert await session.scalar(select(func.count()).select_from(MemberTag).where(MemberTag.member_id == wang_id)) == 0
            assert await session.scalar(select(func.count()).select_from(OnboardingAnswer).where(OnboardingAnswer.member_id == wang_id)) == 0
            assert await session.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.member_id == wang_id)) == 0
            entries = list(await session.scalars(select(AuditEntry).where(AuditEntry.chat_id == chat_id).order_by(AuditEntry.id)))
            # The deletion is still on record, but not whom it was about nor what they wrote.
            assert (entries[0].action, entries[0].target_user_id, entries[0].evidence) == ("delete", None, None)
            assert "abc123" not in str(entries[0].details)
            assert entries[-1].action == "forget" and entries[-1].actor == "cli" and "王小明" not in str(entries[-1].details)
            # Bob, the other group, and the anonymous daily figures are untouched.
            assert await session.get(Member, bob_id) is not None
            assert entries[1].evidence == "http://spam.example"
            other = await core_repo.get_chat(session, "console", "other")
            assert await core_repo.get_member(session, other.id, "王小明") is not None
            messages = await session.scalar(
                select(func.sum(DailyCounter.value)).where(DailyCounter.chat_id == chat_id, DailyCounter.metric == "messages")
            )
            assert messages == 3
            assert await session.scalar(select(func.count()).select_from(DailyMemberActivity).where(DailyMemberActivity.member_id == wang_id)) == 0

    # Without --group: every group; a second run finds nothing and says so.
    result = qunzhu("forget", "-c", str(config), "--user", "王小明")
    assert result.returncode == 0 and "console:other：已删除用户 王小明 的数据：" in result.stdout
    result = qunzhu("forget", "-c", str(config), "--user", "王小明")
    assert result.returncode == 1 and "在所有群中没有找到用户 王小明 的任何数据" in result.stdout


async def test_old_evidence_is_blanked_after_the_configured_days(db_url, tmp_path):
    clock = FakeClock(START)
    config = {"defaults": {"stats": {"evidence_retention_days": 10}}, "groups": {"console:strict": {"stats": {"evidence_retention_days": 2}}}}
    async with running_app(db_url, str(tmp_path), config, clock=clock, routers=[stats_router]) as (app, console):
        await console.join("alice")
        await console.join("alice", chat_id="strict")
        async with app.sessions() as session, session.begin():
            lobby = await core_repo.get_chat(session, "console", "lobby")
            strict = await core_repo.get_chat(session, "console", "strict")
            for days_ago, text in ((12, "old ad"), (5, "recent ad")):
                for chat in (lobby, strict):
                    await core_repo.audit(
                        session, chat_id=chat.id, at=clock.now() - timedelta(days=days_ago), actor="bot",
                        action="delete", target_user_id="alice", rule="ads", evidence=text,
                    )
        clock.advance(hours=2)
        await app.tick()

        async def evidence(chat):
            async with app.sessions() as session:
                return [e.evidence for e in await session.scalars(select(AuditEntry).where(AuditEntry.chat_id == chat.id).order_by(AuditEntry.at))]

        assert await evidence(lobby) == [None, "recent ad"]
        assert await evidence(strict) == [None, None]
        # Evidence ages out as time passes.
        clock.advance(days=6)
        await app.tick()
        assert await evidence(lobby) == [None, None]
