import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, load_config, parse_config

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120
    )


def test_example_config_passes_check_config():
    result = run_cli("check-config", "-c", "config.example.toml")
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


@pytest.mark.parametrize(
    "body, key",
    [
        ('[database]\nurl = 5\n', "database.url"),
        ('[scheduler]\ntick_seconds = "often"\n', "scheduler.tick_seconds"),
        ('[defaults]\nlanguage = "fr"\n', "defaults.language"),
        ('[bot]\nnmae = "x"\n', "bot.nmae"),
        ('[telegram]\nenabled = true\n', "telegram"),
        ('[defaults]\ntimezone = "Mars/Olympus"\n', "defaults.timezone"),
        ('[groups."console:lobby"]\nlanguage = 3\n', "groups"),
    ],
)
def test_bad_config_fails_naming_the_key(tmp_path, body, key):
    path = tmp_path / "bad.toml"
    path.write_text(body, encoding="utf-8")
    result = run_cli("check-config", "-c", str(path))
    assert result.returncode != 0
    assert key in result.stderr, result.stderr
    assert str(path) in result.stderr


def test_missing_token_is_named_with_its_environment_variable(tmp_path):
    path = tmp_path / "tg.toml"
    path.write_text("[telegram]\nenabled = true\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert "token" in str(err.value) and "QUNZHU_TELEGRAM_TOKEN" in str(err.value)
    config = load_config(path, env={"QUNZHU_TELEGRAM_TOKEN": "123:abc"})
    assert config.telegram.token == "123:abc"


def test_unreadable_and_invalid_toml_are_reported(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[bot\nname=1", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken)


def test_group_override_and_stored_override_merge_over_defaults():
    config = parse_config(
        {"defaults": {"language": "zh-CN", "timezone": "Asia/Shanghai"}, "groups": {"telegram:-100": {"language": "en"}}},
        env={},
    )
    assert config.group_settings("telegram:-100").language == "en"
    assert config.group_settings("telegram:-100").timezone == "Asia/Shanghai"
    assert config.group_settings("telegram:-200").language == "zh-CN"
    assert config.group_settings("telegram:-200", {"timezone": "Europe/Berlin"}).timezone == "Europe/Berlin"


def test_sqlite_path_is_relative_to_the_config_file(tmp_path):
    path = tmp_path / "sub" / "qunzhu.toml"
    path.parent.mkdir()
    path.write_text('[database]\nurl = "sqlite+aiosqlite:///data/bot.db"\n', encoding="utf-8")
    config = load_config(path, env={})
    assert config.database_url == f"sqlite+aiosqlite:///{tmp_path / 'sub' / 'data' / 'bot.db'}"
