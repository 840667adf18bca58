"""/help and /start: the command list, in the group's language; and the answer to an unknown command."""

from handlers.help.router import router, unknown_router

__all__ = ["router", "unknown_router"]
