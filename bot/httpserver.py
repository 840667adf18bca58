"""The bot's one HTTP server (aiohttp): the health endpoints ([health]) and the web console ([web])
share it. With both enabled it listens where [health] says; the console alone listens where [web] says."""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web

log = logging.getLogger(__name__)


class HttpServer:
    def __init__(self, listen: str, port: int, section: str, installers: list[Callable[[web.Application], None]],
                 what: str):
        self.listen, self.wanted_port, self.section, self.what = listen, port, section, what
        self.installers = installers
        self.port: int | None = None
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        web_app = web.Application(client_max_size=2 * 1024 * 1024)
        for install in self.installers:
            install(web_app)
        self._runner = web.AppRunner(web_app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.listen, self.wanted_port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            raise RuntimeError(f"[{self.section}] port: cannot listen on {self.listen}:{self.wanted_port} ({exc})") from None
        self.port = self._runner.addresses[0][1]
        log.info("http: listening on http://%s:%s (%s)", self.listen, self.port, self.what)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
