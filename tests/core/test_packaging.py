"""An installed Qunzhu works from any folder: a wheel built from this tree, installed into a fresh
virtual environment, runs `qunzhu demo` from an empty temporary folder — the example config and
content it needs travel inside the wheel (bot/examples), and the code that runs is the wheel's.

Only our wheel is installed (no download): the fresh venv sees the dependencies through a .pth
line naming the site-packages of the interpreter running the tests, which has them installed."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# What a build of the tree must not pick up (local state of a developer's checkout).
_NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis", "out", "*.db*"
)


def _build_wheel(tmp: Path) -> Path:
    # Build from a copy, so the test leaves no build/ or egg-info in the checkout and two runs
    # cannot meet in it; symlinks stay links (bot/examples points at the top-level files).
    src = tmp / "src"
    shutil.copytree(ROOT, src, symlinks=True, ignore=_NOT_SOURCE)
    out = tmp / "wheels"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = out.glob("qunzhu-*.whl")
    return wheel


def _fresh_venv(tmp: Path) -> Path:
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    # The dependencies: this interpreter's site-packages, appended after the venv's own (a plain
    # path line; .pth files there, such as an editable install of this checkout, are not run).
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *site.getsitepackages()}
    Path(purelib, "_qunzhu_test_deps.pth").write_text("\n".join(sorted(ours)) + "\n")
    return venv


def test_a_built_wheel_runs_the_demo_from_any_folder(tmp_path):
    wheel = _build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        shipped = zf.read("bot/examples/config.example.toml").decode("utf-8")
        licence = next(n for n in names if n.endswith(".dist-info/licenses/LICENSE") or n.endswith(".dist-info/LICENSE"))
        assert "MIT License" in zf.read(licence).decode()
    # The web console's templates and style sheet (without them the console answers 500 everywhere).
    console = ROOT / "handlers" / "web"
    for path in [*console.glob("templates/*.html"), *console.glob("static/*")]:
        assert str(path.relative_to(ROOT)) in names, path
    # The wheel carries the files themselves (not links), the same as the documented ones.
    assert shipped == (ROOT / "config.example.toml").read_text("utf-8")
    config = tomllib.loads(shipped)
    for relative in (config["columns"]["column"]["qa"]["path"], config["columns"]["campaign"]["bootcamp"]["file"]):
        assert f"bot/examples/{relative}" in names, relative
        with zipfile.ZipFile(wheel) as zf:
            assert zf.read(f"bot/examples/{relative}") == (ROOT / relative).read_bytes()

    venv = _fresh_venv(tmp_path)
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q", "--no-deps", "--no-index", str(wheel)],
        capture_output=True, text=True, timeout=120,
    )
    assert install.returncode == 0, install.stdout + install.stderr

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import bot, bot.examples as e; print(bot.__file__); print(e.path())"],
        capture_output=True, text=True, cwd=elsewhere, env=env, timeout=60,
    )
    assert where.returncode == 0, where.stderr
    assert all(line.startswith(str(venv)) for line in where.stdout.split()), where.stdout  # the wheel's code ran
    # The shipped example config is a valid config where it is installed (the README tells
    # operators without the repository to start from it).
    shipped_path = where.stdout.split()[1]
    check = subprocess.run(
        [str(venv / "bin" / "qunzhu"), "check-config", "-c", shipped_path],
        capture_output=True, text=True, cwd=elsewhere, env=env, timeout=60,
    )
    assert check.returncode == 0 and ": OK (platforms: console" in check.stdout, check.stdout + check.stderr

    demo = subprocess.run(
        [str(venv / "bin" / "qunzhu"), "demo"], capture_output=True, text=True, cwd=elsewhere, env=env,
        stdin=subprocess.DEVNULL, timeout=180,
    )
    assert demo.returncode == 0, demo.stderr[-3000:]
    out = demo.stdout
    # The onboarding scene, which reads the example questionnaire from the shipped config.
    assert "Onboarding: mia joins a group with an entry questionnaire" in out
    assert "@mia（2/6）你在哪个城市？" in out
    assert out.rstrip().endswith("Demo finished.")
    assert list(elsewhere.iterdir()) == []  # the demo keeps its database in a temporary folder
