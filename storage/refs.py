"""What the repositories read of the core's ChatRef and UserRef (bot/events.py), as Protocols:
storage is the bottom layer and imports nothing of bot/ or handlers/."""

from __future__ import annotations

from typing import Protocol


class ChatRef(Protocol):
    @property
    def platform(self) -> str: ...

    @property
    def id(self) -> str: ...

    @property
    def title(self) -> str | None: ...


class UserRef(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str | None: ...

    @property
    def username(self) -> str | None: ...
