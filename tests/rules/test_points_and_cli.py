"""Points integration (penalty deduction, links as a level right) and `qunzhu moderate`."""

import json
import subprocess
import sys
from pathlib import Path

from handlers.points import service
from storage import core_repo
from tests.support.harness import running_app

ROOT = Path(__file__).resolve().parents[2]


async def member_ids(app, console, name):
    async with app.sessions() as session:
        chat = await core_repo.get_chat(session, "console", console.default_chat.id)
        member = await core_repo.get_member(session, chat.id, name)
        return chat.id, member.id


async def balance(app, console, name):
    chat_id, member_id = await member_ids(app, console, name)
    async with app.sessions() as session:
        return await service.balance(session, chat_id=chat_id, member_id=member_id)


async def test_a_violation_costs_penalty_points_and_is_not_rewarded(sqlite_url, tmp_path):
    config = {"defaults": {"rules": {"penalty_points": 5}}}
    async with running_app(sqlite_url, str(tmp_path), config) as (app, console):
        for text in ("早上好各位朋友", "今天开会吗大家", "收到，谢谢通知"):
            await console.say("carl", text)
            app.clock.advance(minutes=1)
        before = await balance(app, console, "carl")
        await console.say("carl", "https://spam.xyz/deal 超长的广告文字在这里")
        assert await balance(app, console, "carl") == before - 5


async def test_links_are_a_right_from_a_points_level(sqlite_url, tmp_path):
    config = {"defaults": {"rules": {"links_from_level": 2}}}
    async with running_app(sqlite_url, str(tmp_path), config) as (app, console):
        for name in ("vet", "newish"):
            for text in ("早上好", "今天开会吗", "收到"):
                await console.say(name, text)
                app.clock.advance(minutes=1)
        chat_id, member_id = await member_ids(app, console, "vet")
        async with app.sessions() as session, session.begin():
            await service.award(session, chat_id=chat_id, member_id=member_id, amount=100, reason="test grant",
                                source="admin", key="test:vet", now=app.clock.now())
        ok, _ = await console.say("vet", "参考 https://some-blog.xyz/post")
        assert not console.messages[ok].deleted
        bad, _ = await console.say("newish", "参考 https://some-blog.xyz/post")
        assert console.messages[bad].deleted
        # the right covers plain links only: invitations are still removed
        invite, _ = await console.say("vet", "https://t.me/+AbCdEf")
        assert console.messages[invite].deleted


def moderate(args, stdin):
    result = subprocess.run([sys.executable, "-m", "bot.cli", "moderate", *args], input=stdin, capture_output=True,
                            text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_qunzhu_moderate_with_the_shipped_defaults():
    out = moderate([], "今天加班到十点\n加我薇信 abc12345 日赚500\n进群 t.me/+AbCdEf\n")
    assert [o["verdict"] for o in out] == ["allow", "violation", "violation"]
    assert out[1]["category"] == "contact" and out[1]["action"]["action"] == "warn"
    assert out[2]["rule"] == "invite" and any(h["rule"] == "invite" for h in out[2]["hits"])


def test_qunzhu_moderate_uses_the_groups_config_and_jsonl(tmp_path):
    config = tmp_path / "bot.toml"
    config.write_text(
        '[defaults.rules]\nallowed_domains = ["ourshop.com"]\nwords = ["代写"]\n'
        'ladder = ["mute:1d", "kick"]\n'
        '[groups."console:lobby".rules]\nactions = { link = "ban" }\n',
        encoding="utf-8",
    )
    lines = "\n".join(json.dumps({"text": t}, ensure_ascii=False) for t in
                      ["https://ourshop.com/item/1", "专业代写", "https://other.xyz", "一切正常"]) + "\nnot json\n"
    out = moderate(["-c", str(config), "--jsonl"], lines)
    assert [o.get("verdict") for o in out[:4]] == ["allow", "violation", "violation", "allow"]
    assert out[1]["action"]["action"] == "mute:1d"
    assert out[2]["action"]["action"] == "ban"
    assert "error" in out[4] and out[4]["line"] == 5
    out = moderate(["-c", str(config), "--strikes", "1"], "专业代写\n")
    assert out[0]["action"] == {"action": "kick", "source": "ladder", "step": 2}


def test_qunzhu_moderate_names_a_bad_config_key(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('[defaults.rules]\nladder = ["warn", "mute:soon"]\n', encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "bot.cli", "moderate", "-c", str(config)], input="hi\n",
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 2
    assert "defaults.rules.ladder" in result.stderr and "mute:soon" in result.stderr
