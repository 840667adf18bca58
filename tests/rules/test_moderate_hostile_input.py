"""`qunzhu moderate` fed hostile input through the real command: every line gets exactly one
answer (its verdict, or {"error", "line"}), the output is always UTF-8 and the command never stops early."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]

GOOD = {"今天加班到十点": "allow", "加我薇信 abc12345 日赚500": "violation", "进群 t.me/+AbCdEf": "violation",
        # U+0085, U+2028, U+2029: line breaks to str.splitlines(); the answer must stay one line.
        "next\x85line\u2028sep\u2029para": "allow"}

HOSTILE = [
    b'{"text": "\\ud800"}',  # a lone surrogate escape
    b"[" * 100_000,  # nested far past the recursion limit
    b'{"text": ' + b"9" * 5000 + b"}",  # over Python's int digit limit
    b'{"text": "ok \xff\xfe"}',  # invalid UTF-8
    b"[1, 2, 3]",  # JSON, not an object
    b'{"message": "no text field"}',
    b'{"text": 42}',
    b'"just a string"',
    b"{not json",
]


def run_moderate(lines: list[bytes], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "moderate", "--jsonl", *args],
        input=b"\n".join(lines) + b"\n", capture_output=True, cwd=ROOT, timeout=240,
    )


def good_line(text: str) -> bytes:
    return json.dumps({"text": text}, ensure_ascii=False).encode("utf-8")


def check(lines: list[bytes], good: dict[int, str], proc: subprocess.CompletedProcess) -> list[dict]:
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")[-2000:]
    text = proc.stdout.decode("utf-8")  # strict: the output must be valid UTF-8
    out = [json.loads(line) for line in text.splitlines()]
    assert len(out) == len(lines), "one output line per input line, and none missing at the end"
    for number, result in enumerate(out, 1):
        if number in good:
            assert result.get("text") == good[number], (number, result)
            if good[number] in GOOD:
                assert result["verdict"] == GOOD[good[number]], (number, result)
        else:
            assert "verdict" in result or result.get("line") == number, (number, result)
            if "error" in result:
                assert result["line"] == number and result["error"]
    return out


def test_each_hostile_line_gets_an_error_and_the_good_ones_their_verdict():
    lines, good = [], {}
    for i, bad in enumerate(HOSTILE):
        lines.append(bad)
        text = list(GOOD)[i % len(GOOD)]
        lines.append(good_line(text))
        good[len(lines)] = text
    out = check(lines, good, run_moderate(lines))
    for number in range(1, len(lines) + 1, 2):
        assert set(out[number - 1]) == {"error", "line"}, (number, out[number - 1])
    assert "nested" in out[2]["error"] and "4300 digits" in out[4]["error"] and "UTF-8" in out[6]["error"]


def test_fail_on_error_still_judges_everything_then_exits_1():
    lines = [good_line("今天加班到十点"), b"\xff", good_line("加我薇信 abc12345 日赚500")]
    proc = run_moderate(lines, "--fail-on-error")
    assert proc.returncode == 1
    out = [json.loads(line) for line in proc.stdout.decode("utf-8").splitlines()]
    assert [o.get("verdict") for o in out] == ["allow", None, "violation"]
    assert "1 line(s) could not be judged" in proc.stderr.decode()


def test_unreadable_stdin_is_exit_1_with_a_message():
    fd = os.open(os.devnull, os.O_WRONLY)  # a stdin that cannot be read from
    try:
        proc = subprocess.run([sys.executable, "-m", "bot.cli", "moderate"], stdin=fd, capture_output=True, cwd=ROOT, timeout=120)
    finally:
        os.close(fd)
    assert proc.returncode == 1 and b"cannot read stdin" in proc.stderr


def test_plain_text_mode_reports_invalid_utf8_and_carries_on():
    proc = subprocess.run([sys.executable, "-m", "bot.cli", "moderate"], input="今天加班到十点\n".encode() + b"caf\xe9\n" + "进群 t.me/+AbCdEf\n".encode(),
                          capture_output=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0
    out = [json.loads(line) for line in proc.stdout.decode("utf-8").splitlines()]
    assert [o.get("verdict") for o in out] == ["allow", None, "violation"] and out[1]["line"] == 2


# Random hostile lines: raw bytes (never a newline, never blank: blank lines are skipped by design),
# JSON objects with arbitrary text including lone surrogates, and the fixed ones above.
_raw = st.binary(min_size=0, max_size=300).map(lambda b: b"#" + b.replace(b"\n", b" "))
_any_text = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=200)
_json_obj = _any_text.map(lambda t: json.dumps({"text": t}).encode("ascii"))
_hostile = st.one_of(_raw, _json_obj, st.sampled_from(HOSTILE))
_text_good = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=80)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(st.tuples(_hostile, st.one_of(st.sampled_from(list(GOOD)), _text_good)), min_size=1, max_size=25))
def test_fuzz_hostile_lines_mixed_with_good_ones(pairs):
    lines, good = [], {}
    for bad, text in pairs:
        lines.append(bad)
        lines.append(good_line(text))
        good[len(lines)] = text
    check(lines, good, run_moderate(lines))
