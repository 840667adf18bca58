"""(to be written)"""

from aiohttp import web


def routes(console) -> list[web.RouteDef]:
    return []
