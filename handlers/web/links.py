"""Sign-in links and sessions: tokens are random, only their SHA-256 is stored, a link works once
within [web] link_minutes, a session lasts [web] session_days unless revoked.

Guarantees: a link opens at most one session (one conditional UPDATE marks it used); a revoked or
expired session is refused at the next request; a form carries its session's CSRF token."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from datetime import datetime, timedelta
from urllib.parse import parse_qsl

from storage import web_repo

LINKS_PER_WINDOW = 5  # sign-in links one user may ask for per LINK_WINDOW
LINK_WINDOW = timedelta(minutes=10)


class TooManyLinks(Exception):
    """The user asked for LINKS_PER_WINDOW links within LINK_WINDOW."""


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def login_url(public_url: str, token: str) -> str:
    return f"{public_url}/console/login/{token}"


async def issue_link(session, cfg, user_key: str, user_name: str | None, now: datetime) -> str:
    """A new sign-in link for `user_key` (its URL); TooManyLinks past the rate limit."""
    if await web_repo.links_since(session, user_key, now - LINK_WINDOW) >= LINKS_PER_WINDOW:
        raise TooManyLinks()
    token = secrets.token_urlsafe(32)
    await web_repo.add_link(session, digest(token), user_key, user_name, now, now + timedelta(minutes=cfg.link_minutes))
    return login_url(cfg.public_url, token)


async def open_session(session, cfg, *, user_key: str, user_name: str | None, via: str, now: datetime,
                       user_agent: str | None, address: str | None) -> str:
    """Store a new session; returns the cookie's token."""
    token = secrets.token_urlsafe(32)
    await web_repo.add_session(
        session, token_hash=digest(token), csrf=secrets.token_urlsafe(24), user_key=user_key, user_name=user_name,
        via=via, created_at=now, last_seen_at=now, expires_at=now + timedelta(days=cfg.session_days),
        user_agent=(user_agent or "")[:255] or None, address=(address or "")[:64] or None,
    )
    return token


def same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


class WebAppDataInvalid(Exception):
    """Telegram Mini App initData that is not Telegram's, or too old (the message says which)."""


def check_webapp_data(init_data: str, bot_token: str, max_age: int, now: float | None = None) -> dict:
    """Telegram Mini App sign-in: the `user` of `init_data` once its hash is Telegram's
    (HMAC-SHA256 with the key HMAC("WebAppData", bot token) over the sorted key=value lines) and
    auth_date is within `max_age` seconds (core.telegram.org/bots/webapps#validating-data-received-via-the-mini-app)."""
    fields = dict(parse_qsl(init_data, keep_blank_values=True, strict_parsing=False))
    received = fields.pop("hash", "")
    if not received:
        raise WebAppDataInvalid("initData has no hash")
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    expected = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, received):
        raise WebAppDataInvalid("initData's hash is not Telegram's")
    try:
        age = (now if now is not None else time.time()) - int(fields.get("auth_date", "0"))
    except ValueError:
        raise WebAppDataInvalid("initData's auth_date is not a number") from None
    if age > max_age:
        raise WebAppDataInvalid(f"initData is {int(age)} s old (at most [web] webapp_max_age_seconds = {max_age})")
    try:
        user = json.loads(fields.get("user") or "{}")
    except ValueError:
        raise WebAppDataInvalid("initData's user is not JSON") from None
    if not isinstance(user, dict) or "id" not in user:
        raise WebAppDataInvalid("initData names no user")
    return user
