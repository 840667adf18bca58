"""`qunzhu console` as a person meets it: a real subprocess fed through stdin (and a pty for the prompt)."""

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONSOLE = [sys.executable, "-m", "bot.cli", "console"]

# Lines a person (or a cat on the keyboard) may type; each one must get an answer and leave the
# session running. After each we post a marker message, so every line is followed by the marker's echo.
HOSTILE = [
    ":press alice 1 0",          # message #1 exists, has no buttons (used to raise IndexError)
    ":press alice 1 99",
    ":press 1 0",
    ":press alice 999 0",
    ":press alice abc 0",
    ":press",
    ":",
    ":frobnicate now",
    ":as",
    ":as bot",
    ":leave nobody",
    ":edit alice 999 new text",
    ":photo alice /no/such/file.png",
    ":photo alice /",
    "",
    "   ",
    ">",
    "> hello",
    "a b c> what",
    "x" * 40 + "> too long a name",
    "^",
    "^abc reply to nothing",
    "^999 reply to a missing message",
    "alice> ^",
    "y" * 20000,
    "\x00\x01\x02\x1b[31mred\x1b[0m",
    "\udcff",  # sent as raw invalid UTF-8 below
    "%s%n{0}{text}",
    "/",
    "/@",
    "/unknowncommand arg",
]


def _run(lines: list[str], *args: str, timeout: int = 180) -> subprocess.CompletedProcess:
    data = b"".join((b"\xff\xfe junk" if line == "\udcff" else line.encode()) + b"\n" for line in lines)
    return subprocess.run(CONSOLE + list(args), input=data, capture_output=True, cwd=ROOT, timeout=timeout)


def test_hostile_lines_get_an_answer_each_and_never_end_the_session():
    script = ["alice> first"]
    for n, line in enumerate(HOSTILE):
        script += [line, f"admin> marker {n}"]
    script.append("admin> still here")
    result = _run(script)
    out = result.stdout.decode("utf-8", errors="replace")
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-3000:]
    assert "Traceback" not in out and "Traceback" not in result.stderr.decode(errors="replace")
    assert "admin: still here" in out, out[-2000:]
    # Each hostile line printed something of its own between the previous marker and the next.
    previous = out.index("alice: first")
    for n, line in enumerate(HOSTILE):
        at = out.index(f"admin: marker {n}", previous)
        between = [l for l in out[previous:at].splitlines()[1:] if l.strip()]
        assert between, f"no answer to {line[:40]!r}"
        previous = at
    assert "消息 #1 没有按钮" in out  # :press on a message without buttons
    assert "没有消息 #999" in out
    assert "未知或不完整的命令" in out
    assert "这一行太长" in out  # the 20,000-character line is cut, and posted


def test_non_ascii_names_speak_and_a_name_carries_on_to_the_next_lines():
    result = _run(["小明> 你好", "还是我", "bob> hi", ":quit"])
    out = result.stdout.decode()
    assert result.returncode == 0
    assert "小明: 你好" in out and "小明: 还是我" in out and "bob: hi" in out


def test_state_survives_a_restart_with_a_config(tmp_path):
    config = tmp_path / "qunzhu.toml"
    config.write_text('[database]\nurl = "sqlite+aiosqlite:///q.db"\n', encoding="utf-8")
    first = _run(["alice> hi", "bob> 你好", ":quit"], "-c", str(config))
    assert first.returncode == 0, first.stderr.decode()
    assert "#2 bob: 你好" in first.stdout.decode()
    second = _run(["carol> again", "alice> me too", ":quit"], "-c", str(config))
    out = second.stdout.decode()
    assert second.returncode == 0, second.stderr.decode()
    assert "2 位成员" in out and "下一条消息是 #3" in out
    # Numbers continue (no second #1), and alice is remembered: she does not join again.
    assert "#1 " not in out.split("carol joined")[1]
    assert "carol: again" in out and "alice: me too" in out
    assert "alice joined" not in out and "carol joined" in out


class Terminal:
    """What a pty shows, read as it comes."""

    def __init__(self, fd: int):
        self.fd, self.seen = fd, b""

    def wait_for(self, needle: str, *, after: int = 0, timeout: float = 60) -> int:
        """Index of `needle` in what was shown, at or after `after`."""
        raw = needle.encode()
        deadline = time.monotonic() + timeout
        while self.seen.find(raw, after) < 0:
            left = deadline - time.monotonic()
            assert left > 0, f"no {needle!r} in {self.seen[-1500:].decode(errors='replace')!r}"
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:
                    chunk = b""
                assert chunk, f"the console closed the terminal before {needle!r}"
                self.seen += chunk
        return self.seen.find(raw, after)


def test_the_prompt_shows_who_speaks_and_ctrl_c_ends_the_session_at_once():
    master, slave = pty.openpty()
    proc = subprocess.Popen(CONSOLE, stdin=slave, stdout=slave, stderr=slave, cwd=ROOT)
    os.close(slave)
    term = Terminal(master)
    try:
        term.wait_for("alice> ")  # before anyone spoke: the default member
        os.write(master, "小明> 你好\n".encode())
        posted = term.wait_for("小明: 你好")
        term.wait_for("\n小明> ", after=posted)  # the prompt now names who speaks
        proc.send_signal(signal.SIGINT)  # what the terminal sends on Ctrl-C
        term.wait_for("已中断（Ctrl-C）")
        assert proc.wait(timeout=30) == 130  # the first Ctrl-C ends it
        assert b"Traceback" not in term.seen
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
