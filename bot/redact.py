"""Secrets never reach a log line: a logging.Filter that replaces them with ***.

Two kinds of secret are caught:

- the ones the config holds (Telegram token and webhook secret, WeCom secret/token/AES keys,
  robot webhook keys, database passwords), registered with `register(*secrets)` when the config
  is loaded (bot.config does it), and
- secrets that look like secrets wherever they come from: Telegram-token-shaped strings
  (`123456789:AA…`, also inside Bot API URLs `…/bot<TOKEN>/getUpdates`), and the values of
  `key=`, `access_token=`, `corpsecret=` and `secret=` in URLs.

`install()` masks every log record as it is made (a LogRecord factory) and puts the filter on every
handler of the root logger (the CLI's logging set-up calls it); `redact(text)` is the same
replacement for messages that are printed rather than logged.
"""

from __future__ import annotations

import logging
import re
import threading

MASK = "***"
# Shorter strings are not treated as secrets: masking "abc" everywhere would garble the logs.
MIN_LENGTH = 6

_TOKEN_SHAPE = re.compile(r"\d{6,}:[A-Za-z0-9_-]{30,}")
_QUERY_SECRET = re.compile(r"(?i)\b((?:access_token|key|corpsecret|secret)=)[^&\s\"'<>#]+")
# A password in a URL's user part: scheme://user:PASSWORD@host
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)([^@\s/]+)(@)", re.IGNORECASE)

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None


def register(*secrets: str | None) -> None:
    """Remember secrets to mask from now on (None, empty and very short values are ignored)."""
    global _pattern
    from urllib.parse import quote

    new = {s for s in secrets if isinstance(s, str) and len(s) >= MIN_LENGTH}
    new |= {quote(s, safe="") for s in new}  # the same secret inside a URL (a token's ':' as %3A)
    with _lock:
        if new <= _secrets:
            return
        _secrets.update(new)
        # Longest first, so a secret that contains another is masked whole.
        ordered = sorted(_secrets, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(s) for s in ordered))


def registered() -> frozenset[str]:
    return frozenset(_secrets)


def forget_all() -> None:
    """For tests: drop every registered secret."""
    global _pattern
    with _lock:
        _secrets.clear()
        _pattern = None


def url_password(url: str) -> str | None:
    """The password of a database URL such as postgresql+asyncpg://user:PASS@host/db, if any."""
    match = _URL_PASSWORD.search(url)
    if not match:
        return None
    from urllib.parse import unquote

    return unquote(match.group(2))


def safe_url(url: str) -> str:
    """The URL with its password replaced by ***, for messages."""
    return redact(_URL_PASSWORD.sub(lambda m: m.group(1) + MASK + m.group(3), url))


def redact(text: str) -> str:
    if not text:
        return text
    pattern = _pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
    text = _TOKEN_SHAPE.sub(MASK, text)
    text = _QUERY_SECRET.sub(lambda m: m.group(1) + MASK, text)
    text = _URL_PASSWORD.sub(lambda m: m.group(1) + MASK + m.group(3), text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites the record in place: message (with its %-args merged in), exception and stack text."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep what there is, still masked
            message = f"{record.msg!r} % {record.args!r}"
        record.msg = redact(message)
        record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FILTER = RedactingFilter()


def _masking_factory(make):
    def make_record(*args, **kwargs) -> logging.LogRecord:
        record = make(*args, **kwargs)
        _FILTER.filter(record)
        return record

    make_record.masks_secrets = True  # type: ignore[attr-defined]
    return make_record


def mask_every_record() -> None:
    """Mask at the moment a record is made, so no handler — ours, a library's, a test's log capture —
    ever sees a secret. Idempotent."""
    current = logging.getLogRecordFactory()
    if not getattr(current, "masks_secrets", False):
        logging.setLogRecordFactory(_masking_factory(current))


def install(logger: logging.Logger | None = None) -> RedactingFilter:
    """Mask every record as it is made, and add the filter to every handler of `logger` (default:
    the root logger) for records handed to handlers directly. Idempotent."""
    mask_every_record()
    logger = logger or logging.getLogger()
    for handler in logger.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(_FILTER)
    return _FILTER


def config_secrets(config) -> list[str]:
    """Every secret a loaded bot.config.Config holds."""
    out: list[str] = []
    tg = getattr(config, "telegram", None)
    if tg is not None:
        out += [tg.token, tg.webhook_secret]
    wc = getattr(config, "wecom", None)
    if wc is not None:
        out += [wc.secret, wc.token, wc.encoding_aes_key, wc.aibot_token, wc.aibot_encoding_aes_key]
        for key in wc.robots.values():
            match = re.search(r"[?&]key=([^&]+)", key)
            out.append(match.group(1) if match else key)
            out.append(key)
    db = getattr(config, "database", None)
    if db is not None:
        out.append(url_password(db.url))
    return [s for s in out if s]
