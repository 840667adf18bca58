"""The onboarding feature. Its router is `router`; its settings are in settings.py."""

from handlers.onboarding.router import router

__all__ = ["router"]
