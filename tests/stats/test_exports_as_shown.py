"""Exports show what members and admins saw: answers as the labels on the buttons, ledger reasons
and rule names in the group's language, admins with their role; a join request is "requested",
not an active member, in /stats and in the export; the default file name is the one --help gives.
The CLI runs as a subprocess on the database the console group wrote."""

import csv
import os
import subprocess
import sys
from pathlib import Path

from bot.config import deep_merge
from storage import core_repo
from storage.points_models import LedgerEntry
from tests.onboarding.helpers import EXAMPLE, question_for
from tests.support.harness import running_app

ROOT = Path(__file__).resolve().parents[2]


def qunzhu(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this tree's code, run from another folder
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def write_config(tmp_path: Path, db_url: str, language: str) -> Path:
    """The operator's config: the example's questionnaire ([defaults.onboarding]), as the bot had it."""
    example = (ROOT / "config.example.toml").read_text("utf-8")
    onboarding = example[example.index("[defaults.onboarding]\n"):example.index("[defaults.points]\n")]
    path = tmp_path / "qunzhu.toml"
    path.write_text(
        f'[bot]\ndata_dir = "{tmp_path}"\n[database]\nurl = "{db_url}"\n[defaults]\nlanguage = "{language}"\n{onboarding}',
        encoding="utf-8",
    )
    return path


async def answer_everything(console, name: str) -> None:
    await console.press(name, question_for(console, name).id, 0)  # consent: agree
    await console.say(name, "上海")
    industry = question_for(console, name)
    await console.press(name, industry.id, "onb:" + industry.buttons[0][1].data.split(":", 1)[1])  # education
    await console.press(name, question_for(console, name).id, 0)  # budget: high
    await console.press(name, question_for(console, name).id, 0)  # goal: buy
    await console.say(name, "8")


async def test_exports_show_labels_reasons_roles_and_requests(db_url, tmp_path):
    config = {"defaults": {"language": "zh-CN", "onboarding": deep_merge(EXAMPLE, {})}}
    async with running_app(db_url, str(tmp_path), config) as (app, console):
        console.owners = {"boss"}
        await console.join("boss")
        await console.join("admin")
        await console.say("boss", "大家好")
        await console.say("admin", "欢迎")
        await console.join("bob")
        await answer_everything(console, "bob")
        await console.request_join("carol")  # asked by DM, not let in yet
        assert console.member("carol").pending_request
        await console.say("admin", "/stats")
        stats = console.bot_messages()[-1].text
        async with app.sessions() as session, session.begin():
            chat = await core_repo.get_chat(session, "console", "lobby")
            bob = await core_repo.get_member(session, chat.id, "bob")
            now = app.clock.now()
            session.add_all([
                LedgerEntry(chat_id=chat.id, member_id=bob.id, amount=6, reason="checkin day 2 (+1 streak bonus)", source="checkin", key="c2", at=now),
                LedgerEntry(chat_id=chat.id, member_id=bob.id, amount=-50, reason="order #3: 马克杯", source="shop", key="o3", at=now),
                LedgerEntry(chat_id=chat.id, member_id=bob.id, amount=1, reason="message", source="activity", key="m1", at=now),
                LedgerEntry(chat_id=chat.id, member_id=bob.id, amount=5, reason="帮忙整理笔记", source="admin", key="a1", at=now),
            ])
            await core_repo.audit(session, chat_id=chat.id, at=now, actor="bot", action="delete", target_user_id="bob",
                                  rule="phone", details={})

    # boss, admin and bob are in; carol's request is pending.
    assert "成员：现有 3 人" in stats, stats

    cfg = write_config(tmp_path, db_url, "zh-CN")
    work = tmp_path / "exports"
    work.mkdir()
    helped = qunzhu("export", "--help", cwd=work)
    assert "WHAT-PLATFORM-CHAT.csv" in helped.stdout
    result = qunzhu("export", "-c", str(cfg), "--group", "console:lobby", "--what", "members", cwd=work)
    assert result.returncode == 0, result.stderr
    assert (work / "members-console-lobby.csv").exists(), list(work.iterdir())  # WHAT-PLATFORM-CHAT.csv
    members = {r["user_id"]: r for r in read_csv(work / "members-console-lobby.csv")}
    assert {k: members[k]["role"] for k in ("boss", "admin", "bob")} == {"boss": "owner", "admin": "admin", "bob": "member"}
    assert members["carol"]["status"] == "requested" and members["bob"]["status"] == "active"
    assert members["carol"]["joined_at (Asia/Shanghai)"] == ""
    bob = members["bob"]
    assert (bob["answer:rules"], bob["answer:industry"], bob["answer:budget"], bob["answer:goal"]) == (
        "✅ 我已阅读并同意", "教育培训", "10 万以上", "购买课程/服务")
    assert (bob["answer:city"], bob["answer:years"]) == ("上海", "8")

    for what in ("answers", "ledger", "audit"):
        result = qunzhu("export", "-c", str(cfg), "--group", "console:lobby", "--what", what, cwd=work)
        assert result.returncode == 0, result.stderr
    answers = {r["question_id"]: r for r in read_csv(work / "answers-console-lobby.csv")}
    assert (answers["industry"]["value"], answers["industry"]["stored_value"]) == ("教育培训", "education")
    assert (answers["rules"]["value"], answers["rules"]["stored_value"]) == ("✅ 我已阅读并同意", "yes")
    ledger = [r["reason"] for r in read_csv(work / "ledger-console-lobby.csv")]
    assert ledger == ["完成入群问卷", "签到第 2 天（连续签到奖励 +1）", "兑换 #3：马克杯", "发言", "帮忙整理笔记"]
    audit = [r for r in read_csv(work / "audit-console-lobby.csv") if r["rule_id"] == "phone"]
    assert [(r["rule"], r["rule_id"]) for r in audit] == [("禁止私加好友、留联系方式（加V/QQ/电话）", "phone")]


async def test_an_english_group_reads_its_export_in_english(db_url, tmp_path):
    config = {"defaults": {"language": "en", "onboarding": deep_merge(EXAMPLE, {})}}
    async with running_app(db_url, str(tmp_path), config) as (app, console):
        await console.join("bob")
        await answer_everything(console, "bob")
    cfg = write_config(tmp_path, db_url, "en")
    out = tmp_path / "m.csv"
    result = qunzhu("export", "-c", str(cfg), "--group", "console:lobby", "--what", "members", "-o", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (bob,) = [r for r in read_csv(out) if r["user_id"] == "bob"]
    assert (bob["answer:rules"], bob["answer:industry"], bob["answer:goal"]) == ("✅ I have read and agree", "Education", "To buy a course / service")
    result = qunzhu("export", "-c", str(cfg), "--group", "console:lobby", "--what", "ledger", "-o", str(tmp_path / "l.csv"), cwd=tmp_path)
    assert [r["reason"] for r in read_csv(tmp_path / "l.csv")] == ["answered the entry questionnaire"]


async def test_a_join_request_counts_as_a_member_once_approved(db_url, tmp_path):
    consent_only = {"questions": [q for q in EXAMPLE["questions"] if q["id"] == "rules"], "tag_rules": []}
    config = {"defaults": {"language": "en", "onboarding": {**EXAMPLE, **consent_only}}}
    async with running_app(db_url, str(tmp_path), config) as (app, console):
        await console.join("admin")
        await console.request_join("dan")
        await console.say("admin", "/stats")
        assert "Members: 1 now; 1 joined, 0 left" in console.bot_messages()[-1].text
        await console.press("dan", console.dms("dan")[-1].id, 0)  # agrees in the DM: the request is approved
        assert console.is_present("dan")
        await console.say("admin", "/stats")
        assert "Members: 2 now; 2 joined, 0 left" in console.bot_messages()[-1].text
        async with app.sessions() as session:
            chat = await core_repo.get_chat(session, "console", "lobby")
            dan = await core_repo.get_member(session, chat.id, "dan")
        assert dan.status == "active" and dan.joined_at is not None
