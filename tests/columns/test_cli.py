"""`qunzhu columns check`: next run times, and what would stop a post, before it goes live."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.cli import main


def write_config(tmp_path, column: str) -> str:
    path = tmp_path / "qunzhu.toml"
    path.write_text(f'[columns.column.qa]\ngroups = ["console:lobby"]\n{column}\n', encoding="utf-8")
    return str(path)


def test_check_lists_next_runs_and_finds_missing_calendar_entries(tmp_path, capsys):
    (tmp_path / "qa").mkdir()
    config = write_config(tmp_path, 'source = "calendar"\npath = "qa"\ntimes = ["20:00"]')
    assert main(["columns", "check", "-c", config, "--days", "2"]) == 1
    out = capsys.readouterr().out
    assert "column qa (calendar, Asia/Shanghai): next" in out
    assert "PROBLEM columns.column.qa.path: no entry for" in out and str(tmp_path / "qa") in out

    # give it every entry of the coming days: clean
    today = datetime.now().date()
    for n in range(-1, 4):
        (tmp_path / "qa" / f"{today + timedelta(days=n)}.md").write_text("本周答疑", encoding="utf-8")
    assert main(["columns", "check", "-c", config, "--days", "2"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("OK")


def test_check_finds_a_template_that_does_not_render(tmp_path, capsys):
    config = write_config(tmp_path, 'source = "morning"\ntimes = ["08:00"]\ntemplate = "{{ lunar.dya }}"')
    assert main(["columns", "check", "-c", config]) == 1
    assert "PROBLEM columns.column.qa.template:" in capsys.readouterr().out
