"""The web console's tables: one-time sign-in links and the sessions they open (handlers/web)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, BigId


class WebLoginLink(Base):
    """A sign-in link the bot DMed (or `qunzhu web link` printed). Only a hash of the token is kept,
    so a copy of the database opens nothing; `used_at` makes it single use."""

    __tablename__ = "web_login_links"
    __table_args__ = (Index("ix_web_login_links_user", "user_key", "created_at"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_key: Mapped[str] = mapped_column(String(160))  # PLATFORM:USER_ID
    user_name: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class WebSession(Base):
    """A signed-in browser. The cookie holds the token; the row its hash and the CSRF secret."""

    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_user", "user_key", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf: Mapped[str] = mapped_column(String(64))
    user_key: Mapped[str] = mapped_column(String(160))
    user_name: Mapped[str | None] = mapped_column(String(255))
    via: Mapped[str] = mapped_column(String(16))  # link | webapp | wecom
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    user_agent: Mapped[str | None] = mapped_column(String(255))
    address: Mapped[str | None] = mapped_column(String(64))
