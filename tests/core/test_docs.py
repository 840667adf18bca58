"""The operator's documents point at things that exist: the English and Chinese READMEs link each
other, every relative link in them and in docs/ resolves, and every deploy/ file they name is there
(but deploy/.env, which the operator creates from deploy/env.example)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", ROOT / "README.zh-CN.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_the_readmes_link_each_other():
    assert "[简体中文](README.zh-CN.md)" in (ROOT / "README.md").read_text("utf-8").split("\n## ")[0]
    assert "[English](README.md)" in (ROOT / "README.zh-CN.md").read_text("utf-8").split("\n## ")[0]


def test_relative_links_and_deploy_files_named_in_the_docs_exist():
    missing = []
    for doc in DOCS:
        text = doc.read_text("utf-8")
        prose = re.sub(r"`[^`\n]*`", "", re.sub(r"```.*?```", "", text, flags=re.S))
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", prose):
            if "://" not in target and not (doc.parent / target).exists():
                missing.append(f"{doc.relative_to(ROOT)}: link {target}")
        for name in re.findall(r"`(deploy/[\w./-]+)`", text):
            if name != "deploy/.env" and not (ROOT / name).exists():  # .env is the operator's to create
                missing.append(f"{doc.relative_to(ROOT)}: {name}")
    assert not missing, missing
