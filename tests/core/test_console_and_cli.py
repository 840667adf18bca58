import subprocess
import sys
from pathlib import Path

from bot.platform import Capability, CapabilityMissing
from tests.support.harness import running_app

ROOT = Path(__file__).resolve().parents[2]


def test_demo_prints_a_transcript_and_exits_0():
    result = subprocess.run([sys.executable, "-m", "bot.cli", "demo"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "alice joined" in result.stdout
    assert "🤖" in result.stdout and "Demo finished." in result.stdout


def test_console_lets_a_person_type_as_two_members_and_an_admin():
    script = "alice> 大家好\nbob> hi alice\nadmin> /help\n:quit\n"
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "console"], input=script, capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "alice: 大家好" in out and "bob: hi alice" in out
    assert "admin: /help" in out and "🤖 Qunzhu (↩ #3): 可用命令" in out


async def test_console_enforces_mutes_and_bans_like_a_platform(sqlite_url, tmp_path):
    async with running_app(sqlite_url, str(tmp_path)) as (app, console):
        await console.join("alice")
        chat, alice = console.default_chat, console.user("alice")
        await console.restrict(chat, alice, app.clock.now().replace(year=2027))
        message_id, _ = await console.say("alice", "can anyone hear me?")
        assert message_id is None and "alice is muted" in console.transcript[-1]
        await console.unrestrict(chat, alice)
        message_id, _ = await console.say("alice", "now?")
        assert message_id is not None
        await console.ban(chat, alice)
        assert await console.join("alice") is None and not console.is_present("alice")


async def test_a_missing_capability_is_a_clear_error_not_a_silent_no_op(sqlite_url, tmp_path):
    limited = Capability.SEND | Capability.REPLY
    async with running_app(sqlite_url, str(tmp_path), capabilities=limited) as (app, console):
        assert not console.can(Capability.DELETE)
        try:
            await console.delete(console.default_chat, "1")
        except CapabilityMissing as exc:
            assert exc.capability == Capability.DELETE and "console cannot DELETE" in str(exc)
        else:
            raise AssertionError("delete on a platform without DELETE must raise")
