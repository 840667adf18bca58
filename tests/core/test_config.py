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


def test_the_environment_wins_over_the_file(tmp_path):
    path = tmp_path / "both.toml"
    path.write_text(
        '[database]\nurl = "sqlite+aiosqlite:///file.db"\n'
        '[telegram]\nenabled = true\ntoken = "111111:FROM-FILE"\nmode = "webhook"\n'
        'webhook_url = "https://example.org/tg"\nwebhook_secret = "file-secret"\n'
        f'[wecom]\nenabled = true\ncorp_id = "wwfile"\nagent_id = 1\nsecret = "file-app-secret"\n'
        f'token = "filetoken"\nencoding_aes_key = "{"f" * 43}"\n',
        encoding="utf-8",
    )
    env = {
        "QUNZHU_TELEGRAM_TOKEN": "222222:FROM-ENV",
        "QUNZHU_TELEGRAM_WEBHOOK_SECRET": "env-secret",
        "QUNZHU_DATABASE_URL": "postgresql+asyncpg://bot:pw@db.internal/qunzhu",
        "QUNZHU_WECOM_SECRET": "env-app-secret",
        "QUNZHU_WECOM_TOKEN": "envtoken",
        "QUNZHU_WECOM_ENCODING_AES_KEY": "e" * 43,
        "QUNZHU_WECOM_CORP_ID": "wwenv",
    }
    config = load_config(path, env=env)
    assert config.telegram.token == "222222:FROM-ENV" and config.telegram.webhook_secret == "env-secret"
    assert config.database.url == "postgresql+asyncpg://bot:pw@db.internal/qunzhu"
    assert (config.wecom.secret, config.wecom.token, config.wecom.encoding_aes_key, config.wecom.corp_id) == (
        "env-app-secret", "envtoken", "e" * 43, "wwenv")
    # Without the variables the file's values count.
    config = load_config(path, env={})
    assert config.telegram.token == "111111:FROM-FILE" and config.database.url.endswith("file.db")
    # A token in the environment alone does not switch Telegram on.
    bare = tmp_path / "bare.toml"
    bare.write_text("", encoding="utf-8")
    assert load_config(bare, env={"QUNZHU_TELEGRAM_TOKEN": "333333:X"}).telegram is None


def test_check_config_says_where_each_secret_came_from_never_the_value(tmp_path):
    import os

    path = tmp_path / "tg.toml"
    path.write_text(
        '[console]\nenabled = false\n[telegram]\nenabled = true\ntoken = "444444:FILE-TOKEN-VALUE"\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUNZHU_")}
    result = run_cli("check-config", "-c", str(path), env=env)
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: " ".join(line.split()[1:]) for line in result.stdout.splitlines()[1:]}
    assert lines["telegram.token"] == "file"
    assert lines["telegram.webhook_secret"] == "unset" and lines["wecom.secret"] == "unset"
    assert lines["database.url"] == "default"
    assert "FILE-TOKEN-VALUE" not in result.stdout + result.stderr

    env["QUNZHU_TELEGRAM_TOKEN"] = "555555:ENV-TOKEN-VALUE"
    env["QUNZHU_DATABASE_URL"] = "postgresql+asyncpg://bot:very-secret-pw@db.internal/qunzhu"
    result = run_cli("check-config", "-c", str(path), env=env)
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: " ".join(line.split()[1:]) for line in result.stdout.splitlines()[1:]}
    assert lines["telegram.token"] == "env QUNZHU_TELEGRAM_TOKEN"
    assert lines["database.url"] == "env QUNZHU_DATABASE_URL"
    for value in ("ENV-TOKEN-VALUE", "FILE-TOKEN-VALUE", "very-secret-pw"):
        assert value not in result.stdout + result.stderr


def test_an_invalid_secret_is_named_but_not_shown(tmp_path):
    path = tmp_path / "wc.toml"
    path.write_text('[wecom]\nenabled = false\nencoding_aes_key = "too-short-but-secret"\n', encoding="utf-8")
    result = run_cli("check-config", "-c", str(path))
    assert result.returncode == 2 and "wecom.encoding_aes_key" in result.stderr
    assert "too-short-but-secret" not in result.stderr
