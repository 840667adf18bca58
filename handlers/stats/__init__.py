"""The stats feature. Its router is `router`; its settings are in settings.py."""

from handlers.stats.router import router

__all__ = ["router"]
