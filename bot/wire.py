"""The moment a request leaves for the platform.

Whoever carries out a send that must not be repeated (a reply from the outbox, a column post) sets
`about_to_send` to a coroutine that records "sending" in the database; the adapter awaits it right
before the HTTP request goes out — after waiting for the rate limiter, so a post still queued when
the process dies is known never to have been sent. Adapters call `mark()` and know nothing else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar

about_to_send: ContextVar[Callable[[], Awaitable[None]] | None] = ContextVar("about_to_send", default=None)


async def mark() -> None:
    """Called by an adapter once per non-idempotent request, just before it is sent; only the first
    call of a send counts (a 429 retry of the same request is the same send)."""
    hook = about_to_send.get()
    if hook is not None:
        about_to_send.set(None)
        await hook()
