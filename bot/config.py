"""TOML → validated settings. Every error names the file, the key and what is wrong.

Layout: global sections ([bot], [database], [console], [telegram], [wecom], [scheduler]),
`[defaults]` = group settings for every group, `[groups."PLATFORM:CHAT_ID"]` = per-group overrides
of any group setting (deep-merged over the defaults). Admin commands may store further overrides
in the database; those are merged last (see bot.settings_store).
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from handlers.columns.settings import ColumnsGlobal, ColumnsSettings
from handlers.onboarding.settings import OnboardingSettings
from handlers.points.settings import PointsSettings
from handlers.rules.settings import LearningSettings, RulesSettings
from handlers.stats.settings import StatsSettings


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class ConfigError(Exception):
    """Config problems, already phrased for the operator: '<file>: <key>: <what is wrong>'.
    `problems` holds every one ('<key>: <what is wrong>'); the message names them all."""

    def __init__(self, message: str, problems: list[str] | None = None, source: str = ""):
        super().__init__(message)
        self.problems = list(problems or [])
        self.source = source


Language = Literal["zh-CN", "en"]


class GroupSettings(Strict):
    language: Language = "zh-CN"
    timezone: str = "Asia/Shanghai"
    # Extra admins by platform user id, on top of the admins the platform reports.
    admins: list[str] = Field(default_factory=list)
    # The operator's labels for the group (city, product line …): the web console filters by them and
    # applies a setting to every group with a tag.
    tags: list[str] = Field(default_factory=list)
    rules: RulesSettings = Field(default_factory=RulesSettings)
    onboarding: OnboardingSettings = Field(default_factory=OnboardingSettings)
    points: PointsSettings = Field(default_factory=PointsSettings)
    columns: ColumnsSettings = Field(default_factory=ColumnsSettings)
    stats: StatsSettings = Field(default_factory=StatsSettings)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as 'Asia/Shanghai')")
        return value


class BotSection(Strict):
    name: str = "Qunzhu"
    # Where relative paths (SQLite file, content folders) are resolved; default: the config file's folder.
    data_dir: str | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # "text": one readable line per record; "json": one JSON object per line (time, level, logger,
    # message, exception), for log collectors. Secrets are masked in both.
    log_format: Literal["text", "json"] = "text"


class DatabaseSection(Strict):
    url: str = "sqlite+aiosqlite:///qunzhu.db"
    echo: bool = False
    # While the database fails (locked, full, read-only, unreachable) an update is retried after
    # this many seconds, doubling up to retry_max_seconds; it is never dropped.
    retry_initial_seconds: float = Field(default=0.5, gt=0)
    retry_max_seconds: float = Field(default=30.0, gt=0)
    # SQLite: how long a write waits for another writer's lock before it counts as a failure.
    busy_timeout_seconds: float = Field(default=30.0, gt=0)
    # SQLite: "inline" runs sqlite3 on the event loop's thread (storage/sqlite_inline.py);
    # "aiosqlite" sends each call to a thread of its own (slower; the way back if inline misbehaves).
    sqlite_driver: Literal["inline", "aiosqlite"] = "inline"
    # PostgreSQL: connections kept open; events beyond them wait for one.
    pool_size: int = Field(default=10, ge=1, le=500)

    @field_validator("url")
    @classmethod
    def _supported(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with 'sqlite+aiosqlite://' or 'postgresql+asyncpg://'")
        return value


class ConsoleSection(Strict):
    enabled: bool = True
    chat_id: str = "lobby"
    chat_title: str = "Qunzhu console group"
    # Console users that count as the group's admins.
    admins: list[str] = Field(default_factory=lambda: ["admin"])


class TelegramSection(Strict):
    enabled: bool = True
    token: str | None = None  # or QUNZHU_TELEGRAM_TOKEN
    mode: Literal["polling", "webhook"] = "polling"
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    # True only for a self-hosted Bot API server started with --local (files are read from its disk).
    local_mode: bool = False
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    webhook_path: str = "/telegram"
    webhook_url: str | None = None  # the public URL Telegram posts to
    webhook_secret: str | None = None  # or QUNZHU_TELEGRAM_WEBHOOK_SECRET
    poll_interval: float = Field(default=0.0, ge=0)
    # Outgoing pace (Telegram's documented limits).
    per_bot_per_second: int = Field(default=30, ge=1)
    per_group_per_minute: int = Field(default=20, ge=1)
    admin_cache_seconds: int = Field(default=600, ge=10)
    # Seconds a getUpdates long poll waits for news (polling mode).
    poll_timeout: int = Field(default=30, ge=0, le=50)
    # Updates handled at once (events of one chat still run in order).
    concurrent_updates: int = Field(default=32, ge=1, le=1024)
    # Seconds before one Bot API request counts as failed.
    request_timeout: float = Field(default=20.0, gt=0)
    # Network errors and 5xx answers are retried this many times, waiting retry_backoff, 2×, 4× … seconds.
    retry_attempts: int = Field(default=6, ge=0)
    retry_backoff: float = Field(default=1.0, ge=0)

    @model_validator(mode="after")
    def _needs(self) -> "TelegramSection":
        problems = []
        if self.enabled and not self.token:
            problems.append("token: required when [telegram] is enabled (or set QUNZHU_TELEGRAM_TOKEN)")
        if self.enabled and self.mode == "webhook" and not self.webhook_secret:
            problems.append("webhook_secret: required in webhook mode (or set QUNZHU_TELEGRAM_WEBHOOK_SECRET)")
        if self.enabled and self.mode == "webhook" and not self.webhook_url:
            problems.append("webhook_url: required in webhook mode (the public https URL Telegram posts to)")
        if problems:
            raise ValueError("\n".join(problems))
        return self


class WecomSection(Strict):
    enabled: bool = True
    corp_id: str | None = None  # 企业ID (My company → Company information), or QUNZHU_WECOM_CORP_ID
    agent_id: int | None = None  # the self-built app's AgentId
    secret: str | None = None  # the app's Secret, or QUNZHU_WECOM_SECRET
    token: str | None = None  # callback Token (API 接收消息), or QUNZHU_WECOM_TOKEN
    encoding_aes_key: str | None = None  # callback EncodingAESKey, or QUNZHU_WECOM_ENCODING_AES_KEY
    # The callback server: WeCom posts to https://<your host><path> (put a TLS proxy in front).
    listen: str = "0.0.0.0"
    port: int = Field(default=8080, ge=0, le=65535)  # 0: any free port (tests)
    path: str = "/wecom/callback"
    # Private deployments (and tests) use another host; the access-token URL is derived from it.
    api_base_url: str = "https://qyapi.weixin.qq.com/cgi-bin/"
    http_timeout: float = Field(default=10.0, gt=0)
    # Group robot webhook keys by chat id (customer groups and app chats post through these).
    # The value is the key=… part of the robot's webhook URL, or the whole URL.
    robots: dict[str, str] = Field(default_factory=dict)
    robot_per_minute: int = Field(default=20, ge=1)
    # How long to wait before retrying a send WeCom refused as too frequent (errcode 45009).
    rate_limit_retry_seconds: float = Field(default=20.0, ge=0)
    rate_limit_retries: int = Field(default=3, ge=0)
    # App messages (appchat/send, message/send) per recipient per minute.
    app_per_minute: int = Field(default=30, ge=1)
    # Callbacks handled at once (each holds a database transaction; SQLite has one writer).
    concurrent_callbacks: int = Field(default=8, ge=1, le=256)
    # Groups the app created (appchat/create): members can be removed there. Others are found out
    # by asking WeCom; listing them here saves the first round trip.
    app_chats: list[str] = Field(default_factory=list)
    # How long a group's kind, owner and admins are trusted before they are read again.
    chat_info_seconds: int = Field(default=600, ge=0)
    # 智能机器人 (intelligent bot, API mode): its own callback URL, Token and EncodingAESKey.
    # Without a token and key the endpoint is off.
    aibot_path: str = "/wecom/aibot"
    aibot_token: str | None = None  # or QUNZHU_WECOM_AIBOT_TOKEN
    aibot_encoding_aes_key: str | None = None  # or QUNZHU_WECOM_AIBOT_ENCODING_AES_KEY
    # 会话内容存档 (message archive, licensed separately): "module:factory" returning an
    # ArchiveSource (see bot/platforms/wecom_archive.py), options handed to the factory, and the
    # RSA private keys (PEM files) by public-key version as set in the admin console.
    archive_source: str | None = None
    archive_options: dict[str, Any] = Field(default_factory=dict)
    archive_private_keys: dict[str, str] = Field(default_factory=dict)
    archive_poll_seconds: float = Field(default=10.0, ge=0)  # 0: never on its own (tests)
    archive_batch: int = Field(default=100, ge=1, le=1000)

    @field_validator("path", "aibot_path")
    @classmethod
    def _absolute_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with '/', e.g. '/wecom/callback'")
        return value

    @field_validator("api_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL such as 'https://qyapi.weixin.qq.com/cgi-bin/'")
        return value if value.endswith("/") else value + "/"

    @field_validator("encoding_aes_key", "aibot_encoding_aes_key")
    @classmethod
    def _aes_key(cls, value: str | None) -> str | None:
        if value is not None and len(value) != 43:
            raise ValueError(f"must be the 43 characters shown in the WeCom admin console (got {len(value)})")
        return value

    @model_validator(mode="after")
    def _needs(self) -> "WecomSection":
        problems = []
        if self.enabled:
            for key in ("corp_id", "agent_id", "secret", "token", "encoding_aes_key"):
                if getattr(self, key) in (None, ""):
                    env = f"QUNZHU_WECOM_{key.upper()}"
                    problems.append(f"{key}: required when [wecom] is enabled" + ("" if key == "agent_id" else f" (or set {env})"))
            if bool(self.aibot_token) != bool(self.aibot_encoding_aes_key):
                problems.append("aibot_token and aibot_encoding_aes_key: set both (the 智能机器人 callback) or neither")
            if self.archive_source and ":" not in self.archive_source:
                problems.append(f"archive_source: must be 'module:factory' (got {self.archive_source!r})")
            if self.archive_source and not self.archive_private_keys:
                problems.append("archive_private_keys: required with archive_source (version = \"path/to/private.pem\")")
        if problems:
            raise ValueError("\n".join(problems))
        return self


class SchedulerSection(Strict):
    # How often the engine wakes to look for due work (deadlines, column slots).
    tick_seconds: float = Field(default=15.0, gt=0)


class HealthSection(Strict):
    # An HTTP server with /healthz (liveness), /readyz (database and platforms) and /metrics
    # (Prometheus). Off by default; it serves no secret, but keep it off the internet.
    enabled: bool = False
    listen: str = "127.0.0.1"
    port: int = Field(default=9464, ge=0, le=65535)  # 0: any free port (tests)


class WebSection(Strict):
    # The web console (运营后台, handlers/web): sign-in links the bot DMs to admins (/console), then pages
    # for the groups each admin runs. With [health] enabled it is served on [health]'s listen/port.
    enabled: bool = False
    listen: str = "127.0.0.1"
    port: int = Field(default=8088, ge=0, le=65535)  # 0: any free port (tests)
    # How the admins' browsers reach it (behind your reverse proxy); the sign-in links start with it.
    public_url: str | None = None
    # "PLATFORM:USER_ID" of the instance's operators: they see every group.
    operators: list[str] = Field(default_factory=list)
    # The pages' language until the user picks one ("zh-CN" or "en").
    language: Language = "zh-CN"
    link_minutes: int = Field(default=10, ge=1, le=1440)  # a sign-in link is valid this long, once
    session_days: int = Field(default=7, ge=1, le=90)
    # Telegram Mini App sign-in: initData older than this is refused.
    webapp_max_age_seconds: int = Field(default=86400, ge=60)

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https:// (the address admins' browsers open)")
        return value.rstrip("/") if value else value

    @field_validator("operators")
    @classmethod
    def _user_keys(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if ":" not in v]
        if bad:
            raise ValueError(f"{bad[0]!r} must be 'PLATFORM:USER_ID', e.g. 'telegram:123456789'")
        return value

    @model_validator(mode="after")
    def _needs_url(self) -> "WebSection":
        if self.enabled and not self.public_url:
            raise ValueError("public_url: required when [web] is enabled (e.g. 'https://bot.example.com')")
        return self


# Distinct validated group settings kept (groups alike share one; oldest dropped first).
SETTINGS_CACHE = 2048


class Config(Strict):
    bot: BotSection = Field(default_factory=BotSection)
    database: DatabaseSection = Field(default_factory=DatabaseSection)
    console: ConsoleSection = Field(default_factory=ConsoleSection)
    telegram: TelegramSection | None = None
    wecom: WecomSection | None = None
    scheduler: SchedulerSection = Field(default_factory=SchedulerSection)
    health: HealthSection = Field(default_factory=HealthSection)
    web: WebSection = Field(default_factory=WebSection)
    columns: ColumnsGlobal = Field(default_factory=ColumnsGlobal)
    learning: LearningSettings = Field(default_factory=LearningSettings)
    defaults: GroupSettings = Field(default_factory=GroupSettings)
    groups: dict[str, dict[str, Any]] = Field(default_factory=dict)

    # Not from the file: where it was read, for resolving relative paths.
    source: Path | None = Field(default=None, exclude=True)
    # Not from the file: where each secret/URL key's value came from ('file', 'env QUNZHU_…', 'unset').
    _origins: dict[str, str] = PrivateAttr(default_factory=dict)
    _settings_cache: dict[str, "GroupSettings"] = PrivateAttr(default_factory=dict)

    @field_validator("groups")
    @classmethod
    def _group_keys(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        bad = [f"group key {key!r} must be 'PLATFORM:CHAT_ID', e.g. 'telegram:-1001234567890'" for key in value if ":" not in key]
        if bad:
            raise ValueError("\n".join(bad))
        return value

    @model_validator(mode="after")
    def _validate_overrides(self) -> "Config":
        # Validate each override now so a typo fails at start, not at the first message.
        problems = _group_problems(self.groups, self.defaults.model_dump())
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def origins(self) -> dict[str, str]:
        return dict(self._origins)

    @property
    def base_dir(self) -> Path:
        if self.bot.data_dir:
            return Path(self.bot.data_dir).expanduser()
        return self.source.parent if self.source else Path.cwd()

    def resolve_path(self, path: str) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    @property
    def database_url(self) -> str:
        """SQLite paths are relative to the data dir, not to wherever the bot was started."""
        url = self.database.url
        prefix = "sqlite+aiosqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(self.resolve_path(url[len(prefix):]))
        return url

    def group_settings(self, chat_key: str, stored: dict[str, Any] | None = None) -> GroupSettings:
        """The group's settings: defaults, the file's [groups."KEY"], the stored overrides. Groups
        whose file entry and overrides are alike share one validated object (most groups have
        neither): callers must not change it."""
        own = self.groups.get(chat_key, {})
        key = json.dumps([own, stored or {}], sort_keys=True, default=str)
        settings = self._settings_cache.get(key)
        if settings is None:
            merged = deep_merge(self.defaults.model_dump(), own)
            if stored:
                merged = deep_merge(merged, stored)
            settings = GroupSettings.model_validate(merged)
            if len(self._settings_cache) >= SETTINGS_CACHE:
                self._settings_cache.pop(next(iter(self._settings_cache)))
            self._settings_cache[key] = settings
        return settings


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


_SECRET_ENV = {
    ("telegram", "token"): "QUNZHU_TELEGRAM_TOKEN",
    ("telegram", "webhook_secret"): "QUNZHU_TELEGRAM_WEBHOOK_SECRET",
    ("wecom", "secret"): "QUNZHU_WECOM_SECRET",
    ("wecom", "token"): "QUNZHU_WECOM_TOKEN",
    ("wecom", "encoding_aes_key"): "QUNZHU_WECOM_ENCODING_AES_KEY",
    ("wecom", "corp_id"): "QUNZHU_WECOM_CORP_ID",
    ("wecom", "aibot_token"): "QUNZHU_WECOM_AIBOT_TOKEN",
    ("wecom", "aibot_encoding_aes_key"): "QUNZHU_WECOM_AIBOT_ENCODING_AES_KEY",
    ("database", "url"): "QUNZHU_DATABASE_URL",
}


def _apply_env(data: dict[str, Any], env: dict[str, str]) -> dict[str, str]:
    """The environment wins over the file. Returns where each secret/URL key's value came from:
    'env QUNZHU_…', 'file' or 'unset'. A section the file does not have is not created for a
    platform's variable (a token in the environment does not switch a platform on), except
    [database], whose URL may come from the environment alone."""
    origins: dict[str, str] = {}
    for (section, key), var in _SECRET_ENV.items():
        name = f"{section}.{key}"
        table = data.get(section)
        if env.get(var) and (isinstance(table, dict) or section == "database"):
            if not isinstance(table, dict):
                table = data[section] = {}
            table[key] = env[var]
            origins[name] = f"env {var}"
        elif isinstance(table, dict) and table.get(key) not in (None, ""):
            origins[name] = "file"
        else:
            origins[name] = "default" if section == "database" else "unset"
    for section, keys in _URL_KEYS.items():
        table = data.get(section)
        for key in keys:
            if isinstance(table, dict) and table.get(key) not in (None, ""):
                origins[f"{section}.{key}"] = "file"
            else:
                origins[f"{section}.{key}"] = "default" if isinstance(table, dict) and key != "webhook_url" else "unset"
    robots = data.get("wecom", {}).get("robots") if isinstance(data.get("wecom"), dict) else None
    origins["wecom.robots"] = f"file ({len(robots)} keys)" if isinstance(robots, dict) and robots else "unset"
    return origins


# Keys that are URLs (shown by check-config with their origin, never their value).
_URL_KEYS = {
    "telegram": ("base_url", "base_file_url", "webhook_url"),
    "wecom": ("api_base_url",),
}


def _group_problems(groups: Any, defaults: dict[str, Any]) -> list[str]:
    """Every problem of every `[groups."…"]` override, merged over `defaults`."""
    problems: list[str] = []
    if not isinstance(groups, dict):
        return problems
    for key, override in groups.items():
        if not isinstance(override, dict):
            continue
        try:
            GroupSettings.model_validate(deep_merge(defaults, override))
        except ValidationError as exc:
            problems += problem_lines(exc, prefix=f"groups.{key!r}")
    return problems


_KEY_FIRST = re.compile(r"^([a-z_][a-z0-9_]*): (.*)$", re.DOTALL)


def problem_lines(exc: ValidationError, prefix: str = "") -> list[str]:
    """Each error pydantic found, as '<key>: <what is wrong>' (a validator that found several
    problems gives one per line, each naming its own key)."""
    lines: list[str] = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-after"))
        loc = f"{prefix}.{loc}" if prefix and loc else (prefix or loc)
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling against config.example.toml)"
        given = err.get("input")
        if err["type"] not in ("extra_forbidden", "missing") and not isinstance(given, dict) and "\n" not in msg \
                and repr(given) not in msg:
            msg += f" (got {given!r})"
        for part in msg.split("\n"):
            keyed = _KEY_FIRST.match(part)
            if keyed and loc and not part.startswith(("groups.", "group key")):
                lines.append(f"{loc}.{keyed.group(1)}: {keyed.group(2)}")
            elif part.startswith("groups.") or not loc:
                lines.append(part)
            else:
                lines.append(f"{loc}: {part}")
    return list(dict.fromkeys(lines))


def _describe(exc: ValidationError, prefix: str = "") -> str:
    return "; ".join(problem_lines(exc, prefix))


def parse_config(data: dict[str, Any], source: Path | None = None, env: dict[str, str] | None = None) -> Config:
    from bot import redact

    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    origins = _apply_env(data, dict(os.environ) if env is None else env)
    name = str(source) if source else "<config>"
    # Secrets are masked in logs from here on, even if the config turns out invalid.
    _register_raw_secrets(data)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        problems = problem_lines(exc)
        if not any(p.startswith("groups.") for p in problems):
            # The overrides are checked once the rest is valid; report theirs now too, over the
            # file's defaults where those are valid, else over the built-in ones.
            defaults = data.get("defaults") if isinstance(data.get("defaults"), dict) else {}
            try:
                base = GroupSettings.model_validate(defaults).model_dump()
            except ValidationError:
                base = GroupSettings().model_dump()
            problems += _group_problems(data.get("groups"), base)
        problems = [redact.redact(p) for p in problems]
        raise ConfigError(f"{name}: " + "; ".join(problems), problems, name) from None
    config.source = source
    config._origins = origins
    redact.register(*redact.config_secrets(config))
    return config


def _register_raw_secrets(data: dict[str, Any]) -> None:
    from bot import redact

    values = []
    for (section, key) in _SECRET_ENV:
        if key == "corp_id":  # an identifier shown in WeCom's own callbacks, not a secret
            continue
        table = data.get(section)
        if isinstance(table, dict) and isinstance(table.get(key), str):
            values.append(redact.url_password(table[key]) if key == "url" else table[key])
    wecom = data.get("wecom")
    if isinstance(wecom, dict) and isinstance(wecom.get("robots"), dict):
        values += [v for v in wecom["robots"].values() if isinstance(v, str)]
    redact.register(*values)


def load_config(path: str | os.PathLike[str] | None, env: dict[str, str] | None = None) -> Config:
    """Read and validate a TOML file; None gives the embedded defaults (console + SQLite)."""
    if path is None:
        return parse_config({}, None, env)
    source = Path(path)
    try:
        raw = source.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read the config file: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    return parse_config(data, source.resolve(), env)
