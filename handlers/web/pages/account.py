"""Signing in and out: the one-time link (GET shows a button, POST uses the link, so a link preview
fetched by a chat app does not use it up), the Telegram Mini App's initData, the sessions list."""

from __future__ import annotations

from aiohttp import web

from handlers.web import links
from handlers.web.server import WebConsole, public, viewer_of
from storage import web_repo


def routes(console: WebConsole) -> list[web.RouteDef]:
    @public
    async def login_page(request: web.Request) -> web.Response:
        async with console.app.sessions() as session:
            row = await web_repo.peek_link(session, links.digest(request.match_info["token"]))
        now = console.app.clock.now()
        if row is None or row.used_at is not None or row.expires_at <= now:
            return console.refuse(request, "web.login.bad_link", 410)
        return console.render(request, "login.html", name=row.user_name or row.user_key)

    @public
    async def login(request: web.Request) -> web.StreamResponse:
        if console.sign_in_blocked(request):
            return console.refuse(request, "web.login.too_many", 429)
        now = console.app.clock.now()
        async with console.app.sessions() as session, session.begin():
            row = await web_repo.use_link(session, links.digest(request.match_info["token"]), now)
            if row is not None:
                return await console.start_session(request, user_key=row.user_key, user_name=row.user_name, via="link",
                                                   session=session)
        console.sign_in_failed(request)
        return console.refuse(request, "web.login.bad_link", 410)

    @public
    async def webapp(request: web.Request) -> web.StreamResponse:
        """POST initData (Telegram.WebApp.initData) from the Mini App page."""
        if console.sign_in_blocked(request):
            return console.refuse(request, "web.login.too_many", 429)
        telegram = console.app.config.telegram
        form = await request.post()
        try:
            if telegram is None or not telegram.token:
                raise links.WebAppDataInvalid("[telegram] token is not set")
            user = links.check_webapp_data(str(form.get("init_data") or ""), telegram.token,
                                           console.cfg.webapp_max_age_seconds)
        except links.WebAppDataInvalid as exc:
            console.sign_in_failed(request)
            return console.refuse(request, "web.login.webapp_bad", 403, reason=str(exc))
        name = " ".join(str(user.get(k) or "") for k in ("first_name", "last_name")).strip() or user.get("username")
        return await console.start_session(request, user_key=f"telegram:{user['id']}", user_name=name, via="webapp")

    @public
    async def webapp_page(request: web.Request) -> web.Response:
        return console.render(request, "webapp.html")

    async def logout(request: web.Request) -> web.StreamResponse:
        viewer = viewer_of(request)
        async with console.app.sessions() as session, session.begin():
            await web_repo.revoke(session, viewer.user_key, viewer.session_id, console.app.clock.now())
        return console.signed_out(request)

    async def sessions(request: web.Request) -> web.Response:
        viewer = viewer_of(request)
        async with console.app.sessions() as session:
            rows = await web_repo.sessions_of(session, viewer.user_key, console.app.clock.now())
        return console.render(request, "sessions.html", sessions=rows)

    async def revoke(request: web.Request) -> web.StreamResponse:
        viewer = viewer_of(request)
        try:
            session_id = int(request.match_info["id"])
        except ValueError:
            raise web.HTTPNotFound() from None
        async with console.app.sessions() as session, session.begin():
            done = await web_repo.revoke(session, viewer.user_key, session_id, console.app.clock.now())
        if done and session_id == viewer.session_id:
            return console.signed_out(request)
        if done:
            console.flash(request, console.text(request, "web.sessions.revoked"))
        raise web.HTTPSeeOther("/console/sessions")

    return [
        web.get("/login/{token}", login_page),
        web.post("/login/{token}", login),
        web.get("/webapp", webapp_page),
        web.post("/webapp", webapp),
        web.post("/logout", logout),
        web.get("/sessions", sessions),
        web.post("/sessions/{id}/revoke", revoke),
    ]

