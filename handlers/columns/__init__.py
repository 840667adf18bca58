"""The columns feature. Its router is `router`; its settings are in settings.py."""

from handlers.columns.router import router

__all__ = ["router"]
