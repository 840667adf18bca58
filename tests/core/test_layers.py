"""The layers import in one direction (../shared/DESIGN.md, "Layers"): platforms → core ← handlers,
storage at the bottom, and only the composition root (bot/app.py) and the CLI import bot.app; no
modules import each other round a circle at run time. For the layers every import counts, also one
under TYPE_CHECKING or inside a function: a type is a dependency too."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "handlers", "scheduler", "storage")

# (where, what it must not import, why)
RULES = [
    ("bot/platforms/", ("storage", "sqlalchemy"), "adapters translate; what they must remember goes through a core service"),
    ("handlers/", ("bot.platforms", "telegram", "wechatpy"), "features call the Platform protocol, never a platform"),
    ("scheduler/", ("bot.platforms", "telegram", "wechatpy"), "the scheduler wakes the core, never a platform"),
    ("storage/", ("bot", "handlers", "scheduler"), "storage is the bottom layer"),
]
APP_MAY_IMPORT = {"bot/app.py", "bot/cli.py"}  # the composition root and the command that starts it


def _import_nodes(tree: ast.AST):
    """Each import statement and the modules it may load (`from a import b`: a, and a.b, since b
    may be a module)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, [alias.name]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node, [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]


def imports(tree: ast.AST) -> list[tuple[int, list[str]]]:
    return [(node.lineno, modules) for node, modules in _import_nodes(tree)]


def runtime_imports(tree: ast.AST) -> list[tuple[int, list[str]]]:
    """Without those under `if TYPE_CHECKING:` (they never run; a Protocol may name its users' types)."""
    type_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for stmt in node.body
        for inner in ast.walk(stmt)
    }
    return [(node.lineno, modules) for node, modules in _import_nodes(tree) if id(node) not in type_only]


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def violations(files: dict[str, str]) -> list[str]:
    """`files`: path relative to the repository → source. One line per forbidden import statement."""
    found = []
    for path, source in sorted(files.items()):
        for line, modules in imports(ast.parse(source, path)):
            reasons = [why for where, forbidden, why in RULES if path.startswith(where)
                       for module in modules if any(_within(module, f) for f in forbidden)]
            if path not in APP_MAY_IMPORT and any(_within(module, "bot.app") for module in modules):
                reasons.append("only the composition root and the CLI import bot.app")
            if reasons:
                found.append(f"{path}:{line} imports {modules[0]} ({reasons[0]})")
    return found


def source_files() -> dict[str, str]:
    return {
        str(path.relative_to(ROOT)): path.read_text("utf-8")
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
    }


def test_the_tree_imports_in_one_direction():
    files = source_files()
    assert "bot/platforms/wecom.py" in files and "storage/wecom_repo.py" in files
    assert violations(files) == []


def test_a_forbidden_import_is_caught():
    """The check itself: each kind of violation, also hidden under TYPE_CHECKING or in a function."""
    files = {
        "bot/platforms/wecom.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from storage import wecom_repo\n",
        "bot/platforms/telegram.py": "def f():\n    import sqlalchemy.orm\n",
        "bot/context.py": "if TYPE_CHECKING:\n    from bot.app import App\n",
        "bot/dispatch.py": "from bot import app\n",
        "handlers/rules/router.py": "from telegram import Update\nfrom bot.platforms.telegram import PLATFORM\n",
        "storage/core_repo.py": "from bot.events import ChatRef\n",
        "storage/db.py": "def f():\n    from handlers.points import service\n",
        "bot/cli.py": "from bot.app import App\n",  # allowed
        "bot/app.py": "from storage.db import upgrade\n",  # allowed
        "handlers/points/router.py": "from bot.platform import Capability\nfrom storage import points_repo\n",  # allowed
    }
    found = violations(files)
    assert [line.split(" imports ")[0] for line in found] == [
        "bot/context.py:2",
        "bot/dispatch.py:1",
        "bot/platforms/telegram.py:2",
        "bot/platforms/wecom.py:3",
        "handlers/rules/router.py:1",
        "handlers/rules/router.py:2",
        "storage/core_repo.py:1",
        "storage/db.py:2",
    ], found



def module_name(path: str) -> str:
    name = path.removesuffix(".py").replace("/", ".")
    return name.removesuffix(".__init__")


def import_circles(files: dict[str, str]) -> list[list[str]]:
    """Groups of modules that import each other at run time (also from inside a function)."""
    names = {module_name(path): source for path, source in files.items()}
    graph = {
        name: {m for _, modules in runtime_imports(ast.parse(source)) for m in modules if m in names and m != name}
        for name, source in names.items()
    }
    reaches = {}
    for start in graph:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph[todo.pop()] - seen:
                seen.add(nxt)
                todo.append(nxt)
        reaches[start] = seen
    circles = {tuple(sorted({start} | {m for m in reaches[start] if start in reaches[m]}))
               for start in graph if start in reaches[start]}
    return sorted(list(c) for c in circles)


def test_no_module_imports_itself_round_a_circle():
    assert import_circles(source_files()) == []


def test_a_circle_is_caught_but_not_one_of_types():
    files = {
        "bot/actions.py": "def f():\n    from bot.context import StoredGroup\n",
        "bot/context.py": "from bot.actions import Actions\n",
        "bot/ports.py": "if TYPE_CHECKING:\n    from bot.dispatch import Dispatcher\n",
        "bot/dispatch.py": "from bot.ports import AppServices\n",
    }
    assert import_circles(files) == [["bot.actions", "bot.context"]]
