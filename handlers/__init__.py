"""Feature routers, one package per feature. `all_routers()` is the order they are registered in."""

from __future__ import annotations


def all_routers():
    from handlers.rules import router as rules
    from handlers.onboarding import router as onboarding
    from handlers.points import router as points
    from handlers.columns import router as columns
    from handlers.stats import router as stats
    from handlers.help import router as help_router

    return [rules, onboarding, points, columns, stats, help_router]
