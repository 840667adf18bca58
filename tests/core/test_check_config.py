"""`qunzhu check-config` and `qunzhu columns check` as an operator runs them on a copied config."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})


def test_three_mistakes_are_listed_all_three_each_with_its_key(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(
        '[bot]\nlog_level = "LOUD"\n'
        '[defaults]\ntimezone = "Mars/Olympus"\n'
        '[groups."console:lobby"]\nlanguage = "fr"\n',
        encoding="utf-8",
    )
    result = run_cli("check-config", "-c", str(path))
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[0] == f"config error: {path}: 3 problems:", result.stderr
    assert lines[1].startswith("  bot.log_level: ") and "'LOUD'" in lines[1]
    assert lines[2].startswith("  defaults.timezone: unknown time zone 'Mars/Olympus'")
    assert lines[3].startswith("  groups.'console:lobby'.language: ") and "'fr'" in lines[3]


def test_every_missing_key_of_an_enabled_platform_is_named(tmp_path):
    path = tmp_path / "wecom.toml"
    path.write_text("[wecom]\nenabled = true\ncorp_id = \"ww1\"\n", encoding="utf-8")
    result = run_cli("check-config", "-c", str(path))
    assert result.returncode == 2
    for key in ("agent_id", "secret", "token", "encoding_aes_key"):
        assert f"  wecom.{key}: required when [wecom] is enabled" in result.stderr, result.stderr
    assert "wecom.corp_id" not in result.stderr


def test_a_silent_database_and_missing_content_files_are_warnings_not_failures(tmp_path):
    path = tmp_path / "qunzhu.toml"
    path.write_text(
        '[database]\nurl = "postgresql+asyncpg://qunzhu:pw@127.0.0.1:1/qunzhu"\n'
        '[columns.column.qa]\nsource = "calendar"\npath = "content/qa"\ntimes = ["20:00"]\ngroups = ["console:lobby"]\n'
        '[columns.campaign.camp]\nfile = "campaigns/missing.md"\n',
        encoding="utf-8",
    )
    result = run_cli("check-config", "-c", str(path))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "  warning: database.url: " in out and "127.0.0.1:1" in out and "pw" not in out.replace("pw@", "")
    assert f"  warning: columns.column.qa.path: {tmp_path / 'content' / 'qa'} does not exist" in out
    assert "  warning: columns.campaign.camp.file: " in out and "missing.md cannot be read" in out
    assert "3 warnings (the config itself is valid)" in out


def _copy_example(folder: Path) -> Path:
    shutil.copy(ROOT / "config.example.toml", folder / "config.example.toml")
    shutil.copytree(ROOT / "docs" / "examples", folder / "docs" / "examples")
    return folder / "config.example.toml"


def test_the_shipped_example_passes_its_own_columns_check_from_a_copy(tmp_path):
    config = _copy_example(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run_cli("columns", "check", "-c", str(config), "--days", "35", cwd=elsewhere)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith("OK") and "PROBLEM" not in result.stdout
    assert "column qa (calendar" in result.stdout and "campaign bootcamp: 4 steps" in result.stdout
    checked = run_cli("check-config", "-c", str(config), cwd=elsewhere)
    assert checked.returncode == 0 and "warning" not in checked.stdout, checked.stdout


def test_a_calendar_slot_without_a_dated_entry_gets_the_default_one(tmp_path):
    (tmp_path / "qa.md").write_text("## 2020-01-01\nold\n\n## 默认\n本周答疑：带上你的问题。\n", encoding="utf-8")
    (tmp_path / "q.toml").write_text(
        '[columns.column.qa]\nsource = "calendar"\npath = "qa.md"\ntimes = ["20:00"]\ngroups = ["console:lobby"]\n', encoding="utf-8")
    result = run_cli("columns", "check", "-c", str(tmp_path / "q.toml"))
    assert result.returncode == 0 and "PROBLEM" not in result.stdout, result.stdout
    (tmp_path / "qa.md").write_text("## 2020-01-01\nold\n", encoding="utf-8")
    result = run_cli("columns", "check", "-c", str(tmp_path / "q.toml"))
    assert result.returncode == 1 and "PROBLEM columns.column.qa.path: no entry for" in result.stdout
