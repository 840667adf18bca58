"""The deployment files in deploy/ hold together: compose.yaml is valid YAML with the services and
volumes an operator relies on, the Dockerfile copies files that exist, the systemd unit passes
`systemd-analyze verify` with the keys that make it safe, nginx forwards the paths and ports the
bot listens on by default, and the config compose mounts passes `qunzhu check-config` with the
environment compose gives it. `docker build` runs only where a Docker daemon answers."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bot.config import TelegramSection, WecomSection

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def _yaml():
    try:
        import yaml
    except ImportError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("PyYAML is not installed (it is in the test extra: pip install -e '.[test]')")
    return yaml


def test_compose_has_the_bot_postgres_with_a_healthcheck_and_volumes():
    compose = _yaml().safe_load((DEPLOY / "compose.yaml").read_text("utf-8"))
    services = compose["services"]
    assert set(services) == {"qunzhu", "postgres"}  # redis is there, commented, for the scale-out
    bot, pg = services["qunzhu"], services["postgres"]

    assert bot["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    assert (DEPLOY / bot["build"]["context"] / bot["build"]["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
    assert bot["env_file"] == ".env"  # the token and the database password come from deploy/.env
    assert bot["environment"]["QUNZHU_DATABASE_URL"].startswith("postgresql+asyncpg://qunzhu:${POSTGRES_PASSWORD")
    assert "@postgres:5432/qunzhu" in bot["environment"]["QUNZHU_DATABASE_URL"]
    assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "./bot.toml:/config/bot.toml:ro" in bot["volumes"] and "qunzhu-data:/data" in bot["volumes"]
    # The webhook and callback ports are published to the host's loopback only, for nginx.
    assert {p.split(":", 1)[0] for p in bot["ports"]} == {"127.0.0.1"}

    assert pg["image"] == "postgres:15"
    assert "postgres-data:/var/lib/postgresql/data" in pg["volumes"]
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])
    assert set(compose["volumes"]) == {"qunzhu-data", "postgres-data"}

    text = (DEPLOY / "compose.yaml").read_text("utf-8")
    assert "#   image: redis:7" in text and "# redis-data:" in text
    # Every variable the compose file or the env example names is one the bot or postgres reads.
    example = (DEPLOY / "env.example").read_text("utf-8")
    for var in ("QUNZHU_TELEGRAM_TOKEN", "POSTGRES_PASSWORD"):
        assert re.search(rf"^{var}=$", example, re.M), var


def test_the_mounted_config_passes_check_config_with_the_compose_environment(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUNZHU_")}
    env.update(
        QUNZHU_TELEGRAM_TOKEN="123456:ABCdefGHIjklMNOpqrSTUvwxYZ012345678",
        QUNZHU_DATABASE_URL="postgresql+asyncpg://qunzhu:s3cret@postgres:5432/qunzhu",
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "check-config", "-c", str(DEPLOY / "bot.toml")],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "OK (platforms: telegram; database: postgresql+asyncpg)" in result.stdout
    assert "env QUNZHU_TELEGRAM_TOKEN" in result.stdout and "env QUNZHU_DATABASE_URL" in result.stdout
    assert "s3cret" not in result.stdout and "ABCdef" not in result.stdout


def _dockerfile() -> list[str]:
    text = (DEPLOY / "Dockerfile").read_text("utf-8").replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_dockerfile_copies_what_exists_runs_as_a_user_with_a_cjk_font():
    lines = _dockerfile()
    assert lines[0] == "FROM python:3.11-slim"
    copies = [line.split()[1:] for line in lines if line.startswith("COPY ")]
    assert copies
    for args in copies:
        *sources, _dest = [a for a in args if not a.startswith("--")]
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository (the build context is its root)"
    copied = {s.rstrip("/") for args in copies for s in args[:-1]}
    # What pip needs to build the package, and the example files it ships (bot/examples links to them).
    assert {"pyproject.toml", "README.md", "LICENSE", "config.example.toml", "docs/examples", "bot", "handlers", "scheduler", "storage"} <= copied
    assert any("fonts-noto-cjk" in line for line in lines if line.startswith("RUN "))
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert 'VOLUME ["/data"]' in lines
    assert lines[-1] == 'CMD ["qunzhu", "run", "-c", "/config/bot.toml"]'


def test_what_the_dockerfile_copies_is_enough_to_build_the_package(tmp_path):
    """Without a Docker daemon: lay out /src as the Dockerfile's COPY lines do and build the wheel
    its `pip install /src` would install — metadata files present, bot/examples' links resolved."""
    lines = _dockerfile()
    assert "WORKDIR /src" in lines and "RUN pip install /src && rm -rf /src" in lines
    src = tmp_path / "src"
    src.mkdir()
    for line in lines[lines.index("WORKDIR /src"):]:
        if not line.startswith("COPY "):
            continue
        *sources, dest = line.split()[1:]
        for source in sources:
            target = src / dest / Path(source).name if dest.endswith("/") else src / dest
            target.parent.mkdir(parents=True, exist_ok=True)
            if (ROOT / source).is_dir():
                shutil.copytree(ROOT / source, target, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(ROOT / source, target)
    out = tmp_path / "wheels"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = out.glob("qunzhu-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        assert zf.read("bot/examples/config.example.toml") == (ROOT / "config.example.toml").read_bytes()
        assert "bot/examples/docs/examples/content/qa.md" in zf.namelist()


def test_systemd_unit_is_valid_and_hardened(tmp_path):
    unit = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    unit.optionxform = str
    unit.read(DEPLOY / "qunzhu.service", encoding="utf-8")
    service = unit["Service"]
    assert service["User"] == "qunzhu" and service["Restart"] == "on-failure"
    assert service["EnvironmentFile"] == "/etc/qunzhu/qunzhu.env"
    assert service["ExecStart"] == "/opt/qunzhu/bin/qunzhu run -c /etc/qunzhu/bot.toml"
    assert service["NoNewPrivileges"] == "yes" and service["ProtectSystem"] == "strict"
    assert service["StateDirectory"] == "qunzhu" and service["ProtectHome"] == "yes"
    assert unit["Install"]["WantedBy"] == "multi-user.target"

    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed: the unit's keys were checked, not its syntax")
    # verify wants the ExecStart program to exist: point it at this interpreter for the check.
    copy = tmp_path / "qunzhu.service"
    copy.write_text((DEPLOY / "qunzhu.service").read_text("utf-8").replace("/opt/qunzhu/bin/qunzhu", sys.executable))
    result = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_nginx_forwards_the_webhook_and_callback_paths_to_the_default_ports():
    text = (DEPLOY / "nginx.conf").read_text("utf-8")
    locations = dict(re.findall(r"location = (\S+) \{(.*?)\n    \}", text, re.S))
    tg, wc = TelegramSection.model_fields, WecomSection.model_fields
    expected = {
        tg["webhook_path"].default: tg["webhook_port"].default,
        wc["path"].default: wc["port"].default,
        wc["aibot_path"].default: wc["port"].default,
    }
    assert set(locations) == set(expected)
    for path, port in expected.items():
        body = locations[path]
        assert f"proxy_pass http://127.0.0.1:{port};" in body, path
        assert re.search(r"client_max_body_size \d+[km];", body), path
    assert "listen 443 ssl;" in text and "ssl_certificate " in text
    assert re.search(r"location / \{\s*return 404;", text)  # nothing else is public


def test_docker_build_succeeds_where_a_daemon_answers(tmp_path):
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker client on this machine")
    info = subprocess.run([docker, "info"], capture_output=True, text=True, timeout=60)
    if info.returncode != 0:
        pytest.skip(f"no Docker daemon answers `docker info`: {(info.stderr or info.stdout).strip().splitlines()[-1:]}")
    result = subprocess.run(
        [docker, "build", "-f", str(DEPLOY / "Dockerfile"), "-t", "qunzhu:test", str(ROOT)],
        capture_output=True, text=True, timeout=1800,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    demo = subprocess.run([docker, "run", "--rm", "qunzhu:test", "qunzhu", "demo"], capture_output=True, text=True, timeout=300)
    assert demo.returncode == 0 and "Demo finished." in demo.stdout, demo.stderr[-3000:]
