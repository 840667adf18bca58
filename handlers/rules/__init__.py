"""The rules feature. Its router is `router`; its settings are in settings.py."""

from handlers.rules.router import router

__all__ = ["router"]
