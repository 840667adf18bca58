"""The health server (`[health] enabled = true`): liveness, readiness and Prometheus metrics.

- `GET /healthz` — 200 "ok" while the event loop runs (the answer itself is the proof).
- `GET /readyz` — 200 `{"ready": true, …}` when the database answers `SELECT 1` within
  `DB_TIMEOUT` seconds, the intake is not in a database outage (it could store and handle the last
  update) and every platform reports ready; otherwise 503 with a JSON body whose `not_ready` names
  each part at fault (`database`, `intake`, `platform:telegram` …) with the reason.
- `GET /metrics` — `bot.metrics.REGISTRY` in the text exposition format; the figures read from the
  database are refreshed first (within `DB_TIMEOUT`; a failure leaves the last values).

Served by App's HTTP server (bot/httpserver.py), up before the platforms (/readyz then says
"starting"), stopped first.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from storage.db import ping

from bot import metrics

if TYPE_CHECKING:
    from bot.ports import AppServices

log = logging.getLogger(__name__)

DB_TIMEOUT = 2.0


class HealthRoutes:
    """The three endpoints, installed on the bot's HTTP server (bot/httpserver.py)."""

    def __init__(self, app: "AppServices"):
        self.app = app

    def install(self, web_app: web.Application) -> None:
        web_app.router.add_get("/healthz", self._healthz)
        web_app.router.add_get("/readyz", self._readyz)
        web_app.router.add_get("/metrics", self._metrics)

    # --- endpoints -------------------------------------------------------------------------------
    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def not_ready(self) -> dict[str, str]:
        """What is not ready, part → reason (empty: ready)."""
        problems: dict[str, str] = {}
        try:
            await asyncio.wait_for(self._select_one(), DB_TIMEOUT)
        except asyncio.TimeoutError:
            problems["database"] = f"no answer to SELECT 1 within {DB_TIMEOUT:g} s ([database] url)"
        except Exception as exc:
            problems["database"] = f"SELECT 1 failed: {type(exc).__name__} ([database] url)"
        outage = self.app.intake.outage
        if outage is not None:
            problems.setdefault("database", f"the intake cannot write: {outage} ([database] url)")
            problems["intake"] = f"database outage: {outage}"
        if not self.app.up:
            problems["app"] = "starting or stopping"
        for name, platform in self.app.platforms.items():
            reason = getattr(platform, "not_ready", None)
            if reason:
                problems[f"platform:{name}"] = reason
        return problems

    async def _select_one(self) -> None:
        await ping(self.app.engine)

    async def _readyz(self, request: web.Request) -> web.Response:
        problems = await self.not_ready()
        body = {"ready": not problems, "platforms": sorted(self.app.platforms)}
        if problems:
            body["not_ready"] = problems
        return web.Response(status=200 if not problems else 503, text=json.dumps(body, ensure_ascii=False),
                            content_type="application/json")

    async def _metrics(self, request: web.Request) -> web.Response:
        try:
            await asyncio.wait_for(metrics.refresh_from_database(self.app), DB_TIMEOUT)
        except Exception as exc:  # the database is down or slow: the last values stay
            log.debug("health: refreshing the database figures failed (%s)", type(exc).__name__)
        body = generate_latest(metrics.REGISTRY)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
