"""/help and /start: the command list, in the group's language."""

from handlers.help.router import router

__all__ = ["router"]
