"""Feature routers, one package per feature. `all_routers()` is the order they are registered in."""

from __future__ import annotations

import importlib
from types import ModuleType

FEATURES = ("rules", "onboarding", "points", "columns", "stats", "help", "web")


def feature_modules(part: str) -> list[ModuleType]:
    """The features' optional `handlers/<feature>/<part>.py` modules (cli, demo) that exist."""
    found = []
    for feature in FEATURES:
        name = f"handlers.{feature}.{part}"
        try:
            found.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return found


def all_routers():
    from handlers.rules.router import router as rules
    from handlers.onboarding.router import router as onboarding
    from handlers.points.router import router as points
    from handlers.columns.router import router as columns
    from handlers.stats.router import router as stats
    from handlers.help.router import router as help_router
    from handlers.help.router import unknown_router
    from handlers.web.router import router as web

    return [rules, onboarding, points, columns, stats, web, help_router, unknown_router]
