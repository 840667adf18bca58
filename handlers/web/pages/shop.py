"""The shop, its orders and the lotteries of a group. "Fulfil" runs /fulfil through the dispatcher
(the same check, audit row and notice to the member as in the group). A draw shows what anyone
needs to check it was fair: the seed's hash published when it opened, and once drawn the seed, the
entrants and the winners, re-drawn here with the published method (handlers/points/service.py)."""

from __future__ import annotations

from aiohttp import web

from bot.i18n import register, t
from handlers.points import service
from handlers.web.lists import PAGE_SIZE, local_time, member_name, page_asked, pages
from handlers.web.server import WebConsole
from storage import core_repo, points_repo
from storage import web_content_repo as repo

ORDER_STATES = ("pending", "fulfilled")
DRAW_STATES = ("open", "drawn", "cancelled")


def verify(draw, entrants: list[str]) -> bool:
    """The seed is the one whose hash was published, and drawing again gives the same winners."""
    winners = (draw.result or {}).get("winners") or []
    return service.seed_hash(draw.seed) == draw.seed_hash and service.pick_winners(draw.seed, entrants, draw.winners) == winners


def routes(console: WebConsole) -> list[web.RouteDef]:
    async def page(request: web.Request) -> web.Response:
        group = await console.group(request)
        lang = console.lang(request)
        tz = group.settings.timezone
        state = request.query.get("state", "")
        state = state if state in ORDER_STATES else ""
        async with console.app.sessions() as session:
            items = await points_repo.list_items(session, group.id)
            per_item = await repo.orders_by_item(session, group.id)
            total = await repo.count_orders(session, group.id, status=state or None)
            pager = pages(request, page_asked(request) or 1, total, keep={"state": state})
            orders = await repo.orders_newest_first(session, group.id, status=state or None,
                                                    offset=pager.offset, limit=PAGE_SIZE)
            draws = await repo.draws_newest_first(session, group.id)
            counts = await repo.entry_counts(session, [d.id for d in draws])
            drawn = [d for d in draws if d.status == "drawn"]
            entrants = await repo.entrants(session, [d.id for d in drawn])
            winner_ids = sorted({w for d in drawn for w in (d.result or {}).get("winners") or []})
            winners = await core_repo.members_by_user_ids(session, group.id, winner_ids)
        order_rows = [{
            "order": o, "item": i, "member": m, "name": member_name(m), "at": local_time(o.created_at, tz),
            "fulfilled_at": local_time(o.fulfilled_at, tz), "state": t(lang, f"points.status.{o.status}") if o.status in ORDER_STATES else o.status,
        } for o, i, m in orders]
        draw_rows = []
        for d in draws:
            mine = entrants.get(d.id, [])
            won = (d.result or {}).get("winners") or []
            draw_rows.append({
                "draw": d, "entries": counts.get(d.id, 0),
                "state": t(lang, f"web.shop.draw.{d.status}") if d.status in DRAW_STATES else d.status,
                "closes": local_time(d.closes_at, tz), "drawn_at": local_time(d.drawn_at, tz),
                "winners": [member_name(winners[w]) if w in winners else w for w in won],
                # The seed stays secret until the draw: whoever knew it could pick their entry time.
                "seed": d.seed if d.status == "drawn" else None,
                "entrants": mine,
                "verified": verify(d, mine) if d.status == "drawn" else None,
            })
        return console.render(request, "shop.html", group=group, section="shop", items=items, per_item=per_item,
                              orders=order_rows, state=state, states=ORDER_STATES, pager=pager,
                              draws=draw_rows, tz=tz, points_on=group.settings.points.enabled,
                              here=request.path_qs)

    async def fulfil(request: web.Request) -> web.StreamResponse:
        group = await console.group(request, change=True)
        try:
            order_id = int(request.match_info["order"])
        except ValueError:
            raise web.HTTPNotFound() from None
        replies = await console.command(request, group, "fulfil", [str(order_id)])
        console.flash(request, *replies)
        raise console.back(request, f"/console/g/{group.id}/shop")

    return [web.get("/g/{chat}/shop", page), web.post("/g/{chat}/shop/orders/{order}/fulfil", fulfil)]


register({
    "web.shop.title": {"zh-CN": "积分商城与抽奖", "en": "Shop, orders and lotteries"},
    "web.shop.points_off": {"zh-CN": "本群的积分功能已关闭（points.enabled）。", "en": "Points are off in this group (points.enabled)."},
    "web.shop.items": {"zh-CN": "商品", "en": "Items"},
    "web.shop.items_none": {"zh-CN": "还没有上架商品（在群里发送 /shop add 名称 价格 库存）。",
                            "en": "No item in the shop (send /shop add NAME PRICE STOCK in the group)."},
    "web.shop.item": {"zh-CN": "商品", "en": "Item"},
    "web.shop.price": {"zh-CN": "价格", "en": "Price"},
    "web.shop.stock": {"zh-CN": "库存", "en": "Stock"},
    "web.shop.ordered": {"zh-CN": "待发放 / 已发放", "en": "Pending / fulfilled"},
    "web.shop.orders": {"zh-CN": "订单", "en": "Orders"},
    "web.shop.orders_none": {"zh-CN": "没有订单。", "en": "No orders."},
    "web.shop.all": {"zh-CN": "全部", "en": "All"},
    "web.shop.member": {"zh-CN": "成员", "en": "Member"},
    "web.shop.state": {"zh-CN": "状态", "en": "State"},
    "web.shop.at": {"zh-CN": "下单时间", "en": "Ordered"},
    "web.shop.fulfil": {"zh-CN": "发放", "en": "Fulfil"},
    "web.shop.fulfilled_by": {"zh-CN": "{who} 于 {at}", "en": "by {who} at {at}"},
    "web.shop.times_in": {"zh-CN": "时间为 {tz} 时区", "en": "Times in {tz}"},
    "web.shop.draws": {"zh-CN": "抽奖", "en": "Lotteries"},
    "web.shop.draws_none": {"zh-CN": "还没有抽奖（在群里发送 /lottery 时长 人数 积分 奖品）。",
                            "en": "No lottery yet (send /lottery DURATION WINNERS COST PRIZE in the group)."},
    "web.shop.prize": {"zh-CN": "奖品", "en": "Prize"},
    "web.shop.cost": {"zh-CN": "参与积分", "en": "Cost"},
    "web.shop.entries": {"zh-CN": "参与人数", "en": "Entries"},
    "web.shop.closes": {"zh-CN": "截止", "en": "Closes"},
    "web.shop.winners": {"zh-CN": "中奖者", "en": "Winners"},
    "web.shop.winners_of": {"zh-CN": "{n} 名", "en": "{n} to win"},
    "web.shop.draw.open": {"zh-CN": "进行中", "en": "open"},
    "web.shop.draw.drawn": {"zh-CN": "已开奖", "en": "drawn"},
    "web.shop.draw.cancelled": {"zh-CN": "已取消", "en": "cancelled"},
    "web.shop.verify": {"zh-CN": "公平性验证", "en": "Verification"},
    "web.shop.seed_hash": {"zh-CN": "种子哈希（开奖前公布）", "en": "Seed hash (published at opening)"},
    "web.shop.seed": {"zh-CN": "种子（开奖时公开）", "en": "Seed (revealed at the draw)"},
    "web.shop.seed_secret": {"zh-CN": "开奖时公开", "en": "revealed at the draw"},
    "web.shop.verified": {"zh-CN": "✓ 已复核：sha256(种子) 与公布的哈希一致，重新抽取得到相同的中奖者",
                          "en": "✓ Checked: sha256(seed) matches the published hash and drawing again gives the same winners"},
    "web.shop.not_verified": {"zh-CN": "✗ 复核不一致：请检查这次抽奖", "en": "✗ The check does not match: look into this draw"},
    "web.shop.method": {
        "zh-CN": "方法：每位参与者的号码为 sha256(\"种子:用户ID\")，按号码升序排列，取前 N 名。",
        "en": "Method: each entrant's ticket is sha256(\"seed:user id\"); sorted ascending, the first N win.",
    },
    "web.shop.entrants": {"zh-CN": "参与者用户 ID（{n}）", "en": "Entrants' user ids ({n})"},
})
