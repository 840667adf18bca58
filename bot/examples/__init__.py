"""The example configuration and the example content it names, shipped inside the package so that an
installed Qunzhu (a wheel, `pip install .`) has them wherever it runs.

The files themselves live once, where a reader of the repository finds them: config.example.toml at
the top level and docs/examples/. This folder holds symbolic links to them
(config.example.toml, docs/examples), laid out as in the repository so that the content paths
in the example config, relative to the config's folder, resolve here as they do there; a wheel
carries copies of the files. tests/core/test_packaging.py builds a wheel and checks it."""

from __future__ import annotations

import tomllib
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path


def path(name: str = "config.example.toml") -> Traversable:
    """The shipped file `name` (a path relative to this folder, e.g. "docs/examples/content/qa.md")."""
    here = resources.files(__name__)
    if isinstance(here, Path):
        return _through_links(here, name.split("/"))
    return here.joinpath(*name.split("/"))


def _through_links(here: Path, parts: list[str]) -> Path:
    # A checkout made where git cannot create symbolic links (core.symlinks=false, e.g. on some
    # Windows set-ups) holds each link as a small text file with the target's relative path: follow it.
    for part in parts:
        here = here / part
        if here.is_file() and here.stat().st_size < 200:
            target = here.read_text("utf-8", errors="replace").strip()
            if target.startswith("../") and "\n" not in target and (here.parent / target).exists():
                here = (here.parent / target).resolve()
    return here


def example_config() -> dict:
    """The example configuration, parsed."""
    return tomllib.loads(path().read_text("utf-8"))
