"""The points feature. Its router is `router`; its settings are in settings.py."""

from handlers.points.router import router

__all__ = ["router"]
