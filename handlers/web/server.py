"""The web console on the bot's HTTP server: an aiohttp sub-application at /console/ with Jinja2
pages (autoescaped), a session middleware (cookie → web_sessions row), CSRF checks on every form and
the access rule: a user sees a group where they are an admin now (the platform's admin list, as the
adapter keeps it, and the configured admins), re-checked on every page and every change; [web]
operators see every group.

Each page module (handlers/web/pages/*.py) gives `routes(console)`; changes go through
`console.command` (a CommandInvoked with via_web, so the same handlers, notices and audit rows as
in the group) or through a transaction of the page's own that also consumes the form's one-time id
(`console.once`), so a form submitted twice is done once."""

from __future__ import annotations

import functools
import logging
import secrets
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from bot.events import ChatRef, CommandInvoked, UserRef
from bot.i18n import LANGUAGES, t
from handlers.web import links, texts  # noqa: F401  (registers the texts)
from storage import core_repo, web_repo

if TYPE_CHECKING:
    from storage.models import Chat
    from bot.config import GroupSettings, WebSection
    from bot.ports import AppServices

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
COOKIE = "qz_session"
LANG_COOKIE = "qz_lang"
PAGES = ("account", "wecom_login", "overview", "dashboard", "members", "review", "answers", "settings", "columns", "shop", "audit")
# Failed sign-ins one address may make per FAIL_WINDOW seconds before it is refused for a while.
FAILS_ALLOWED, FAIL_WINDOW = 10, 600.0


@dataclass
class Viewer:
    session_id: int
    user_key: str
    name: str
    csrf: str
    operator: bool

    @property
    def platform(self) -> str:
        return self.user_key.partition(":")[0]

    @property
    def user_id(self) -> str:
        return self.user_key.partition(":")[2]

    @property
    def user(self) -> UserRef:
        return UserRef(self.platform, self.user_id, name=self.name)


@dataclass
class Group:
    """A group the viewer may see, as a page gets it."""

    row: Chat
    settings: GroupSettings

    @property
    def id(self) -> int:
        return self.row.id

    @property
    def ref(self) -> ChatRef:
        return ChatRef(self.row.platform, self.row.external_id, self.row.title)

    @property
    def title(self) -> str:
        return self.row.title or self.row.key


# Where a request keeps its viewer and its parsed form (web.RequestKey from aiohttp 3.14 on).
_KEY = getattr(web, "RequestKey", None)
VIEWER = _KEY("qunzhu_viewer", Viewer) if _KEY else "qunzhu_viewer"
FORM = _KEY("qunzhu_form", object) if _KEY else "qunzhu_form"


def viewer_of(request: web.Request) -> Viewer:
    """The signed-in viewer (every route but the public ones has one)."""
    return request[VIEWER]


def form_of(request: web.Request) -> Any:
    """The POSTed form the middleware read and checked (empty for a GET)."""
    return request.get(FORM) or {}


class WebConsole:
    def __init__(self, app: "AppServices", cfg: "WebSection"):
        self.app = app
        self.cfg = cfg
        self.secure_cookie = (cfg.public_url or "").startswith("https://")
        self._fails: dict[str, deque[float]] = defaultdict(deque)
        self._flash: dict[int, list[str]] = {}

    # --- wiring ------------------------------------------------------------------------------------
    def install(self, web_app: web.Application) -> None:
        import importlib

        console = web.Application(middlewares=[self._errors, self._signed_in])
        for name in PAGES:
            module = importlib.import_module(f"handlers.web.pages.{name}")
            console.add_routes(module.routes(self))
        console.router.add_static("/static/", HERE / "static")
        web_app.add_subapp("/console/", console)
        web_app.router.add_get("/console", _to_console)

    @functools.cached_property
    def jinja(self):
        from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

        env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                          undefined=StrictUndefined, enable_async=False, trim_blocks=True, lstrip_blocks=True)
        return env

    # --- language, rendering ---------------------------------------------------------------------
    def lang(self, request: web.Request) -> str:
        chosen = request.query.get("lang") or request.cookies.get(LANG_COOKIE)
        return chosen if chosen in LANGUAGES else self.cfg.language

    def render(self, request: web.Request, template: str, *, status: int = 200, **values: Any) -> web.Response:
        lang = self.lang(request)
        viewer: Viewer | None = request.get(VIEWER)
        flashes = self._flash.pop(viewer.session_id, []) if viewer else []
        body = self.jinja.get_template(template).render(
            t=functools.partial(t, lang), lang=lang, other_lang="en" if lang == "zh-CN" else "zh-CN",
            viewer=viewer, csrf=viewer.csrf if viewer else "", form_id=secrets.token_urlsafe(12),
            flashes=flashes, path=request.path, query=request.query, **values,
        )
        response = web.Response(text=body, status=status, content_type="text/html", charset="utf-8")
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        # The sign-in link's token never leaves in a Referer to another site; the console's own forms
        # still name their origin (no-referrer would make it "null").
        response.headers["Referrer-Policy"] = "same-origin"
        if request.query.get("lang") in LANGUAGES:
            response.set_cookie(LANG_COOKIE, request.query["lang"], max_age=365 * 86400, httponly=True, samesite="Lax",
                                secure=self.secure_cookie, path="/console/")
        return response

    def refuse(self, request: web.Request, key: str, status: int, **values: Any) -> web.Response:
        return self.render(request, "message.html", status=status, message=t(self.lang(request), key, **values))

    def text(self, request: web.Request, key: str, **values: Any) -> str:
        return t(self.lang(request), key, **values)

    def signed_out(self, request: web.Request) -> web.Response:
        request.pop(VIEWER, None)
        response = self.refuse(request, "web.logged_out", 200)
        response.del_cookie(COOKIE, path="/console/")
        return response

    def flash(self, request: web.Request, *texts_: str) -> None:
        viewer: Viewer | None = request.get(VIEWER)
        if viewer is not None:
            self._flash.setdefault(viewer.session_id, []).extend(x for x in texts_ if x)

    def back(self, request: web.Request, fallback: str) -> web.HTTPSeeOther:
        """Where a form goes after it was handled (its `next` field when that stays in the console)."""
        target = form_of(request).get("next") or fallback
        if not target.startswith("/console/") or target.startswith("//"):
            target = fallback
        return web.HTTPSeeOther(target)

    # --- sign-in -------------------------------------------------------------------------------------
    def sign_in_failed(self, request: web.Request) -> bool:
        """Count a failed sign-in from this address; True when it is now over the limit."""
        now = time.monotonic()
        if len(self._fails) > 10_000:  # forget addresses whose window is over
            self._fails = defaultdict(deque, {a: f for a, f in self._fails.items() if f and f[-1] >= now - FAIL_WINDOW})
        fails = self._fails[client_address(request)]
        while fails and fails[0] < now - FAIL_WINDOW:
            fails.popleft()
        fails.append(now)
        return len(fails) > FAILS_ALLOWED

    def sign_in_blocked(self, request: web.Request) -> bool:
        now = time.monotonic()
        fails = self._fails.get(client_address(request))
        return bool(fails) and len([f for f in fails if f >= now - FAIL_WINDOW]) > FAILS_ALLOWED

    async def start_session(self, request: web.Request, *, user_key: str, user_name: str | None, via: str,
                            session=None) -> web.Response:
        now = self.app.clock.now()

        async def store(s):
            return await links.open_session(s, self.cfg, user_key=user_key, user_name=user_name, via=via, now=now,
                                            user_agent=request.headers.get("User-Agent"), address=client_address(request))

        if session is not None:
            token = await store(session)
        else:
            async with self.app.sessions() as s, s.begin():
                token = await store(s)
        response = web.Response(status=303, headers={"Location": "/console/"})
        response.set_cookie(COOKIE, token, max_age=self.cfg.session_days * 86400, httponly=True, samesite="Lax",
                            secure=self.secure_cookie, path="/console/")
        return response

    # --- middlewares ---------------------------------------------------------------------------------
    @web.middleware
    async def _errors(self, request: web.Request, handler):
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except (OperationalError, InterfaceError, DBAPIError, OSError) as exc:
            log.warning("web: %s %s: the database failed: %s", request.method, request.path, short_error(exc))
            return self.refuse(request, "web.db_busy", 503, reason=type(exc).__name__)
        except Exception:
            log.exception("web: %s %s failed", request.method, request.path)
            return self.refuse(request, "web.error", 500)

    @web.middleware
    async def _signed_in(self, request: web.Request, handler):
        if request.path.startswith("/console/static/"):
            return await handler(request)  # the style sheet: no session to look up
        public = getattr(handler, "public", False)
        token = request.cookies.get(COOKIE)
        if token:
            now = self.app.clock.now()
            async with self.app.sessions() as session, session.begin():
                row = await web_repo.live_session(session, links.digest(token), now)
                if row is not None and (now - row.last_seen_at).total_seconds() > 60:
                    row.last_seen_at = now
            if row is not None:
                request[VIEWER] = Viewer(row.id, row.user_key, row.user_name or row.user_key, row.csrf,
                                           row.user_key in self.cfg.operators)
        if request.method == "POST" and not self._same_origin(request):
            log.warning("web: a form posted from another site was refused (%s %s)", request.method, request.path)
            return self.refuse(request, "web.csrf", 403)
        if request.method == "POST" and not public:
            if VIEWER not in request:
                return self.refuse(request, "web.login.needed", 401)
            form = await request.post()
            request[FORM] = form
            if not links.same(form.get("csrf"), request[VIEWER].csrf):
                log.warning("web: a form without its CSRF token was refused (%s %s)", request.method, request.path)
                return self.refuse(request, "web.csrf", 403)
        elif not public and VIEWER not in request:
            return self.render(request, "signin.html", status=401, wecom="wecom" in self.app.platforms)
        return await handler(request)

    def _same_origin(self, request: web.Request) -> bool:
        """A browser's POST names the page it came from (Origin): it must be the console's own site
        (also for the sign-in forms, which carry no CSRF token: no other site may sign a browser in)."""
        origin = request.headers.get("Origin")
        if not origin:
            return True  # not a browser's form (or an old browser): the CSRF token decides
        own = urlsplit(self.cfg.public_url or "")
        return origin == f"{own.scheme}://{own.netloc}" or origin == f"{request.scheme}://{request.host}"

    # --- access --------------------------------------------------------------------------------------
    async def group(self, request: web.Request, *, change: bool = False) -> Group:
        """The group of the URL's {chat}, when the viewer may see it (raises 404/403 otherwise). The
        viewer's admin rights are asked of the platform (the adapter's admin list) at every call."""
        viewer = viewer_of(request)
        try:
            chat_id = int(request.match_info["chat"])
        except ValueError:
            raise web.HTTPNotFound() from None
        async with self.app.sessions() as session:
            found = await web_repo.chat_with_overrides(session, chat_id)
        if found is None:
            raise _refusal(self, request, "web.not_found", 404)
        row, stored = found
        settings = self.app.settings_for(row.key, stored)
        group = Group(row, settings)
        if not viewer.operator and not await self.may_run(viewer, group):
            log.info("web: %s was refused %s (not an admin now)%s", viewer.user_key, row.key, " for a change" if change else "")
            raise _refusal(self, request, "web.forbidden", 403)
        return group

    async def may_run(self, viewer: Viewer, group: Group) -> bool:
        if viewer.platform != group.row.platform:
            return False
        return await self.app.is_admin(group.ref, viewer.user, group.settings)

    async def groups_of(self, viewer: Viewer) -> list[Group]:
        """The groups the viewer runs, with their settings (stored overrides read once): every group
        for an operator; otherwise those where the stored role (kept from the platform's admin list
        as the admin posts) or the configured admins say so, each confirmed with the platform."""
        async with self.app.sessions() as session:
            chats = await web_repo.chats_for_console(session, None if viewer.operator else viewer.platform)
            candidates = set() if viewer.operator else await web_repo.chats_where_admin(session, viewer.user_id)
        groups = [Group(chat, self.app.settings_for(chat.key, stored)) for chat, stored in chats if is_group(chat)]
        if not viewer.operator:
            named = [g for g in groups if g.id in candidates or viewer.user_id in g.settings.admins]
            groups = [g for g in named if await self.may_run(viewer, g)]
        return sorted(groups, key=lambda g: (g.row.title or "", g.id))

    # --- changes -------------------------------------------------------------------------------------
    async def once(self, session, request: web.Request) -> bool:
        """Consume the form's one-time id in `session`'s transaction: False when it was used already
        (a double submit, a reload of the POST), then nothing may be done."""
        form_id = form_of(request).get("form_id") or ""
        if not form_id or len(form_id) > 64:
            return True  # a form without one (an old page): done, but not protected against a double submit
        return await core_repo.first_time_seen(session, f"web:{form_id}", self.app.clock.now())

    async def command(self, request: web.Request, group: Group, name: str, args: list[str] | tuple[str, ...] = (),
                      *, target: UserRef | None = None) -> list[str]:
        """Run `/name args` in `group` as the viewer, through the dispatcher (the same handler, notice
        and audit row as in the group); returns the bot's replies (shown on the page, not posted).
        At most once per form: the form's id is consumed first, in a transaction of its own."""
        viewer = viewer_of(request)
        async with self.app.sessions() as session, session.begin():
            fresh = await self.once(session, request)
        if not fresh:
            return [t(self.lang(request), "web.form_used")]
        form_id = form_of(request).get("form_id") or secrets.token_urlsafe(12)
        event = CommandInvoked(
            chat=group.ref, user=viewer.user, at=self.app.clock.now(), message_id=f"web:{form_id}", name=name,
            args=tuple(str(a) for a in args), text=" ".join([f"/{name}", *map(str, args)]), reply_to_user=target,
            via_web=True,
        )
        result = await self.app.dispatch(event)
        log.info("web: %s ran /%s in %s", viewer.user_key, name, group.row.key)
        if result.errors:
            return [*result.replies, t(self.lang(request), "web.error")]
        return result.replies or [t(self.lang(request), "web.done")]


def client_address(request: web.Request) -> str:
    """The browser's address: behind a reverse proxy on this host (the peer is loopback) the last
    X-Forwarded-For hop, which the proxy appended; otherwise the peer."""
    peer = request.remote or "?"
    forwarded = request.headers.get("X-Forwarded-For", "")
    if peer in ("127.0.0.1", "::1") and forwarded:
        return forwarded.rsplit(",", 1)[-1].strip()[:64] or peer
    return peer


async def _to_console(request: web.Request) -> web.Response:
    raise web.HTTPFound("/console/")


def is_group(row: "Chat") -> bool:
    """Not a one-to-one chat with the bot (Telegram's private chats have the user's id, > 0)."""
    return not (row.platform == "telegram" and not row.external_id.startswith("-"))


def short_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"


def _refusal(console: WebConsole, request: web.Request, key: str, status: int) -> web.HTTPException:
    """A refusal page as an exception a page can raise."""
    response = console.refuse(request, key, status)
    exc = web.HTTPException(text=response.text, content_type="text/html")
    exc.set_status(status)
    return exc


def public(handler):
    """A route that needs no session (sign-in pages)."""
    handler.public = True
    return handler
