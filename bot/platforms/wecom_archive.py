"""会话内容存档 (WeCom message archive): the one official way to see every group message.

WeCom sells it as a licence and ships it as a native SDK (libWeWorkFinanceSdk) that pulls records
(`GetChatData`) and decrypts their bodies (`DecryptData`). Qunzhu does not bundle that SDK: an
operator who has the licence plugs it in as an `ArchiveSource` (two methods, below), named in the
config as `[wecom] archive_source = "module:factory"`. Everything else happens here:

- each record's `encrypt_random_key` is opened with the operator's RSA private key for that
  record's `publickey_ver` (PKCS#1 v1.5, as WeCom specifies),
- the plaintext JSON is turned into platform-neutral events (text, link cards, mini-program
  cards, contact cards, images),
- records are handled once: the cursor (last `seq`) is kept in the database and each message's
  `msgid` is the dispatcher's de-duplication key, so a record fetched twice (overlapping pages,
  a restart before the cursor moved) is still handled once.
"""

from __future__ import annotations

import base64
import importlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from bot.events import ChatRef, Media, MessageReceived, UserRef

log = logging.getLogger(__name__)

PLATFORM = "wecom"


@dataclass(frozen=True)
class ArchiveRecord:
    """One entry of GetChatData's `chatdata` list, as WeCom returns it."""

    seq: int
    msgid: str
    publickey_ver: int
    encrypt_random_key: str  # base64, RSA-encrypted with the public key of `publickey_ver`
    encrypt_chat_msg: str  # opaque; only the SDK's DecryptData opens it


@runtime_checkable
class ArchiveSource(Protocol):
    """What an operator's SDK binding provides. Both calls may block: they run in a thread."""

    name: str  # names the cursor kept in the database, e.g. "finance-sdk"

    def get_chat_data(self, seq: int, limit: int) -> list[ArchiveRecord]:
        """Records with a sequence number greater than `seq`, oldest first, at most `limit`."""

    def decrypt_data(self, random_key: str, encrypt_chat_msg: str) -> str:
        """The SDK's DecryptData: the message's plaintext JSON."""


class ArchiveError(Exception):
    pass


def load_source(spec: str, options: dict[str, Any]) -> ArchiveSource:
    """`module:factory` → factory(**options). Errors name the config key."""
    module_name, _, attr = spec.partition(":")
    try:
        factory: Callable[..., ArchiveSource] = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ArchiveError(f"[wecom] archive_source: cannot load {spec!r}: {exc}") from None
    source = factory(**options)
    if not isinstance(source, ArchiveSource):
        raise ArchiveError(f"[wecom] archive_source: {spec!r} did not return an ArchiveSource (name, get_chat_data, decrypt_data)")
    return source


class ArchiveDecoder:
    """Opens records with the operator's private keys (one per public-key version)."""

    def __init__(self, private_keys_pem: dict[int, bytes]):
        from cryptography.hazmat.primitives import serialization

        self._keys = {}
        for version, pem in private_keys_pem.items():
            try:
                self._keys[int(version)] = serialization.load_pem_private_key(pem, password=None)
            except (ValueError, TypeError) as exc:
                raise ArchiveError(f"[wecom] archive_private_keys.{version}: not a PEM RSA private key: {exc}") from None

    @classmethod
    def from_files(cls, paths: dict[str, str], resolve: Callable[[str], Path]) -> "ArchiveDecoder":
        pems = {}
        for version, path in paths.items():
            try:
                pems[int(version)] = resolve(path).read_bytes()
            except ValueError:
                raise ArchiveError(f"[wecom] archive_private_keys: key {version!r} must be the public-key version number") from None
            except OSError as exc:
                raise ArchiveError(f"[wecom] archive_private_keys.{version}: cannot read {path}: {exc.strerror}") from None
        return cls(pems)

    def random_key(self, record: ArchiveRecord) -> str:
        from cryptography.hazmat.primitives.asymmetric import padding

        key = self._keys.get(record.publickey_ver)
        if key is None:
            raise ArchiveError(
                f"record seq {record.seq}: no private key for public-key version {record.publickey_ver} "
                f"([wecom] archive_private_keys.{record.publickey_ver})"
            )
        try:
            return key.decrypt(base64.b64decode(record.encrypt_random_key), padding.PKCS1v15()).decode()
        except ValueError as exc:
            raise ArchiveError(f"record seq {record.seq}: the random key does not open with key version {record.publickey_ver}") from exc

    def open(self, source: ArchiveSource, record: ArchiveRecord) -> dict[str, Any]:
        plaintext = source.decrypt_data(self.random_key(record), record.encrypt_chat_msg)
        try:
            message = json.loads(plaintext)
        except (TypeError, ValueError) as exc:
            raise ArchiveError(f"record seq {record.seq}: the decrypted body is not JSON") from exc
        if not isinstance(message, dict):
            raise ArchiveError(f"record seq {record.seq}: the decrypted body is not a JSON object")
        return message


def _media(message: dict[str, Any]) -> tuple[str, tuple[Media, ...]]:
    """(text, attachments) of an archived message."""
    kind = message.get("msgtype")
    body = message.get(kind) if isinstance(kind, str) else None
    body = body if isinstance(body, dict) else {}
    if kind == "text":
        return str(body.get("content", "")), ()
    if kind == "markdown":
        return str(body.get("info", {}).get("content", "") if isinstance(body.get("info"), dict) else body.get("content", "")), ()
    if kind == "link":
        text = " ".join(str(body.get(k, "")) for k in ("title", "description", "link_url")).strip()
        return text, (Media("link_card", data=dict(body)),)
    if kind == "weapp":
        text = " ".join(str(body.get(k, "")) for k in ("title", "description", "displayname")).strip()
        return text, (Media("miniprogram", data=dict(body)),)
    if kind == "card":
        return "", (Media("contact", data=dict(body)),)
    if kind in ("image", "emotion", "video", "voice", "file"):
        media_kind = {"image": "photo", "emotion": "sticker"}.get(kind, kind)
        return "", (Media(media_kind, file_id=str(body.get("sdkfileid", "")), data=dict(body)),)
    if kind == "mixed":
        texts, media = [], []
        for item in body.get("item", []) if isinstance(body.get("item"), list) else []:
            part_type = item.get("type")
            try:
                part = json.loads(item.get("content", "{}"))
            except (TypeError, ValueError):
                continue
            t, m = _media({"msgtype": part_type, part_type: part})
            if t:
                texts.append(t)
            media.extend(m)
        return "\n".join(texts), tuple(media)
    return "", ()


def to_event(message: dict[str, Any], names: Callable[[str], str | None] | None = None) -> MessageReceived | None:
    """A group message of the archive as MessageReceived; None for what is not a group message
    (one-to-one chats, recalls, switch notices, empty bodies)."""
    if message.get("action", "send") != "send":
        return None
    room = message.get("roomid")
    sender = message.get("from")
    msgid = message.get("msgid")
    if not room or not sender or not msgid:
        return None
    text, media = _media(message)
    if not text and not media:
        return None
    millis = message.get("msgtime")
    at = datetime.fromtimestamp(millis / 1000, timezone.utc) if isinstance(millis, (int, float)) else datetime.now(timezone.utc)
    return MessageReceived(
        chat=ChatRef(PLATFORM, str(room)),
        user=UserRef(PLATFORM, str(sender), name=names(str(sender)) if names else None),
        at=at,
        message_id=str(msgid),
        text=text,
        media=media,
        dedupe_key=f"wecom:archive:{msgid}",
    )
