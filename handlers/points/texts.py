"""Every text of the points feature, in zh-CN and en."""

import re

from bot.i18n import register

register(
    {
        # check-in
        "points.checkin_ok": {
            "zh-CN": "✅ {who} 签到成功！+{points} 积分{bonus}\n🔥 连续签到 {streak} 天 · 今日第 {position} 位签到\n💰 积分 {balance} · 🏆 排名第 {rank}",
            "en": "✅ {who} checked in! +{points} points{bonus}\n🔥 {streak}-day streak · #{position} to check in today\n💰 Balance {balance} · 🏆 Rank #{rank}",
        },
        "points.checkin_bonus": {
            "zh-CN": "（含连签奖励 +{bonus}）",
            "en": " (incl. +{bonus} streak bonus)",
        },
        "points.checkin_again": {
            "zh-CN": "{who} 今天已经签到过了（连续 {streak} 天），明天再来！💰 当前积分 {balance}",
            "en": "{who}, you already checked in today ({streak}-day streak). Come back tomorrow! 💰 Balance {balance}",
        },
        "points.disabled": {
            "zh-CN": "本群未开启积分功能（配置项 points.enabled）。",
            "en": "Points are off in this group (setting points.enabled).",
        },
        # level
        "points.level_up": {
            "zh-CN": "🎉 恭喜 {who} 升到 Lv.{level}「{title}」！{rights}",
            "en": "🎉 Congratulations {who}, you reached Lv.{level} “{title}”!{rights}",
        },
        "points.level_up_rights": {
            "zh-CN": "\n解锁权益：{rights}",
            "en": "\nUnlocked: {rights}",
        },
        "points.right.links_allowed_from_level": {"zh-CN": "可以发链接", "en": "may post links"},
        "points.right.no_checkin_reminder_cooldown_from_level": {
            "zh-CN": "签到提醒无冷却",
            "en": "check-in reminders without cooldown",
        },
        # /me
        "points.me": {
            "zh-CN": "👤 {who}\n💰 积分：{balance}\n⭐ 等级：Lv.{level}「{title}」{next}\n🔥 连续签到：{streak} 天{today}\n🏆 排名：{rank}",
            "en": "👤 {who}\n💰 Balance: {balance}\n⭐ Level: Lv.{level} “{title}”{next}\n🔥 Check-in streak: {streak} days{today}\n🏆 Rank: {rank}",
        },
        "points.me_next": {
            "zh-CN": "（距 Lv.{level} 还差 {missing} 分）",
            "en": " ({missing} to Lv.{level})",
        },
        "points.me_checked_today": {"zh-CN": "（今日已签到）", "en": " (checked in today)"},
        "points.me_not_checked_today": {"zh-CN": "（今日未签到，发送 /checkin）", "en": " (not yet today: send /checkin)"},
        "points.rank_of": {"zh-CN": "第 {rank} 名", "en": "#{rank}"},
        "points.rank_period": {"zh-CN": "（{period}）", "en": " ({period})"},
        "points.unranked": {"zh-CN": "暂未上榜", "en": "not ranked yet"},
        # /top
        "points.top_header": {
            "zh-CN": "🏆 积分榜 · {period}",
            "en": "🏆 Leaderboard · {period}",
        },
        "points.period.all": {"zh-CN": "总榜", "en": "all time"},
        "points.period.week": {"zh-CN": "本周", "en": "this week"},
        "points.period.month": {"zh-CN": "本月", "en": "this month"},
        "points.top_line": {"zh-CN": "{place} {name} — {points} 分", "en": "{place} {name} — {points} pts"},
        "points.top_empty": {"zh-CN": "还没有人上榜，发送 /checkin 来签到吧！", "en": "Nobody on the board yet: send /checkin to start!"},
        "points.top_you": {"zh-CN": "你：第 {rank} 名，{points} 分", "en": "You: #{rank}, {points} pts"},
        "points.top_bad_period": {
            "zh-CN": "不认识「{given}」，可用：week（本周）、month（本月）、all（总榜）。",
            "en": "Unknown period “{given}”; use week, month or all.",
        },
        # /history
        "points.history_header": {"zh-CN": "📜 {who} 最近的积分记录：", "en": "📜 Recent points of {who}:"},
        "points.history_line": {"zh-CN": "{at}  {amount}  {label}{reason}", "en": "{at}  {amount}  {label}{reason}"},
        "points.history_empty": {"zh-CN": "{who} 还没有积分记录。", "en": "{who} has no points yet."},
        "points.source.checkin": {"zh-CN": "签到", "en": "check-in"},
        "points.source.activity": {"zh-CN": "发言", "en": "activity"},
        "points.source.admin": {"zh-CN": "管理员", "en": "admin"},
        "points.source.shop": {"zh-CN": "兑换", "en": "shop"},
        "points.source.lottery": {"zh-CN": "抽奖", "en": "lottery"},
        "points.source.rules": {"zh-CN": "违规", "en": "rules"},
        "points.source.onboarding": {"zh-CN": "入群问卷", "en": "onboarding"},
        "points.source.invite": {"zh-CN": "邀请", "en": "invite"},
        # /award /deduct
        "points.award_usage": {
            "zh-CN": "用法：/{command} @成员 数量 原因（或回复该成员的消息：/{command} 数量 原因）",
            "en": "Usage: /{command} @member AMOUNT reason (or reply to their message: /{command} AMOUNT reason)",
        },
        "points.no_member": {
            "zh-CN": "找不到成员「{given}」：请用 @用户名，或回复对方的消息。",
            "en": "No member “{given}” here: use their @username, or reply to their message.",
        },
        "points.bad_amount": {
            "zh-CN": "数量「{given}」无效：需要 1 到 {max} 之间的整数（上限见 points.award_max）。",
            "en": "Invalid amount “{given}”: give a whole number from 1 to {max} (limit: points.award_max).",
        },
        "points.awarded": {
            "zh-CN": "🎁 {who} 获得 {amount} 积分：{reason}\n💰 当前积分 {balance}",
            "en": "🎁 {who} received {amount} points: {reason}\n💰 Balance {balance}",
        },
        "points.deducted": {
            "zh-CN": "➖ {who} 被扣除 {amount} 积分：{reason}\n💰 当前积分 {balance}",
            "en": "➖ {amount} points deducted from {who}: {reason}\n💰 Balance {balance}",
        },
        "points.no_reason": {"zh-CN": "（未注明原因）", "en": "(no reason given)"},
        "points.already_done": {
            "zh-CN": "这条命令已经处理过了。",
            "en": "This command was already handled.",
        },
        # shop
        "points.shop_header": {"zh-CN": "🛍 积分商城（发送 /redeem 编号 兑换）", "en": "🛍 Shop (send /redeem NUMBER to redeem)"},
        "points.shop_line": {
            "zh-CN": "#{id} {name} — {price} 分（剩 {stock}）",
            "en": "#{id} {name} — {price} pts ({stock} left)",
        },
        "points.shop_empty": {
            "zh-CN": "商城还没有商品。管理员可以用 /shop add 名称 价格 库存 上架。",
            "en": "The shop is empty. Admins add items with /shop add NAME PRICE STOCK.",
        },
        "points.shop_add_usage": {
            "zh-CN": "用法：/shop add 名称 价格 库存，例如 /shop add 定制马克杯 200 5",
            "en": "Usage: /shop add NAME PRICE STOCK, e.g. /shop add Mug 200 5",
        },
        "points.shop_bad_number": {
            "zh-CN": "「{given}」不是有效的{what}（需要 ≥ {min} 的整数）。",
            "en": "“{given}” is not a valid {what} (a whole number ≥ {min}).",
        },
        "points.what.price": {"zh-CN": "价格", "en": "price"},
        "points.what.stock": {"zh-CN": "库存", "en": "stock"},
        "points.shop_added": {
            "zh-CN": "✅ 已上架 #{id} {name}：{price} 分，库存 {stock}。",
            "en": "✅ Listed #{id} {name}: {price} pts, {stock} in stock.",
        },
        "points.shop_removed": {"zh-CN": "已下架 #{id} {name}。", "en": "Removed #{id} {name} from the shop."},
        "points.shop_admin_only": {
            "zh-CN": "只有管理员可以管理商城。",
            "en": "Only admins can manage the shop.",
        },
        "points.redeem_usage": {"zh-CN": "用法：/redeem 商品编号或名称（见 /shop）", "en": "Usage: /redeem ITEM (number or name, see /shop)"},
        "points.no_item": {"zh-CN": "商城里没有「{given}」，发送 /shop 查看。", "en": "No item “{given}” in the shop; see /shop."},
        "points.out_of_stock": {"zh-CN": "「{name}」已经兑完了。", "en": "“{name}” is out of stock."},
        "points.insufficient": {
            "zh-CN": "积分不足：「{name}」需要 {price} 分，你有 {balance} 分。",
            "en": "Not enough points: “{name}” costs {price}, you have {balance}.",
        },
        "points.redeemed": {
            "zh-CN": "🎉 {who} 兑换了「{name}」（订单 #{order}，-{price} 分），剩余积分 {balance}。管理员会尽快发放。",
            "en": "🎉 {who} redeemed “{name}” (order #{order}, -{price} pts); balance {balance}. An admin will hand it over soon.",
        },
        "points.new_order_admin": {
            "zh-CN": "🧾 新订单 #{order}：{who} 兑换「{name}」（{price} 分）。发放后发送 /fulfil {order}",
            "en": "🧾 New order #{order}: {who} redeemed “{name}” ({price} pts). Send /fulfil {order} once handed over.",
        },
        "points.orders_header": {"zh-CN": "🧾 待发放订单：", "en": "🧾 Orders to fulfil:"},
        "points.my_orders_header": {"zh-CN": "🧾 {who} 的订单：", "en": "🧾 Orders of {who}:"},
        "points.order_line": {
            "zh-CN": "#{id} {name} — {who}（{status}，{at}）",
            "en": "#{id} {name} — {who} ({status}, {at})",
        },
        "points.status.pending": {"zh-CN": "待发放", "en": "pending"},
        "points.status.fulfilled": {"zh-CN": "已发放", "en": "fulfilled"},
        "points.orders_empty": {"zh-CN": "没有订单。", "en": "No orders."},
        "points.fulfil_usage": {"zh-CN": "用法：/fulfil 订单号（见 /orders）", "en": "Usage: /fulfil ORDER (see /orders)"},
        "points.no_order": {
            "zh-CN": "没有待发放的订单 #{given}（见 /orders）。",
            "en": "No pending order #{given} (see /orders).",
        },
        "points.fulfilled": {
            "zh-CN": "📦 订单 #{order}「{name}」已发放给 {who}。",
            "en": "📦 Order #{order} “{name}” handed over to {who}.",
        },
        # lottery
        "points.draw_usage": {
            "zh-CN": "用法：/lottery 时长 中奖人数 参与积分 奖品，例如 /lottery 2h 3 0 定制T恤（时长：30m、2h、1d 或 21:00；参与积分 0 为免费）",
            "en": "Usage: /lottery DURATION WINNERS COST PRIZE, e.g. /lottery 2h 3 0 T-shirt (duration: 30m, 2h, 1d or 21:00; cost 0 = free)",
        },
        "points.draw_bad_duration": {
            "zh-CN": "时长「{given}」无效：用 30m、2h、1d 或 21:00，最长 {max} 小时（points.draw_max_hours）。",
            "en": "Invalid duration “{given}”: use 30m, 2h, 1d or 21:00, at most {max} hours (points.draw_max_hours).",
        },
        "points.draw_bad_number": {
            "zh-CN": "「{given}」不是有效的{what}。",
            "en": "“{given}” is not a valid {what}.",
        },
        "points.what.winners": {"zh-CN": "中奖人数（≥ 1）", "en": "number of winners (≥ 1)"},
        "points.what.cost": {"zh-CN": "参与积分（≥ 0）", "en": "entry cost (≥ 0)"},
        "points.draw_opened": {
            "zh-CN": "🎁 抽奖 #{id}：{prize}\n名额 {winners} 人 · {cost} · {closes} 开奖\n🔐 种子承诺 sha256：{hash}\n开奖时公布种子，任何人可验证。发送 /join_draw {id} 或点下方按钮参加。",
            "en": "🎁 Draw #{id}: {prize}\n{winners} winner(s) · {cost} · draw at {closes}\n🔐 Seed commitment sha256: {hash}\nThe seed is revealed with the result so anyone can check it. Send /join_draw {id} or press the button.",
        },
        "points.draw_free": {"zh-CN": "免费参加", "en": "free to enter"},
        "points.draw_cost": {"zh-CN": "参与需 {cost} 积分", "en": "entry costs {cost} points"},
        "points.draw_join_button": {"zh-CN": "🎟 参加抽奖", "en": "🎟 Join the draw"},
        "points.draw_joined": {
            "zh-CN": "🎟 {who} 已参加抽奖 #{id}（共 {count} 人）。",
            "en": "🎟 {who} joined draw #{id} ({count} entries).",
        },
        "points.draw_already": {"zh-CN": "{who} 已经参加过抽奖 #{id} 了。", "en": "{who}, you are already in draw #{id}."},
        "points.draw_closed": {"zh-CN": "抽奖 #{id} 已经结束。", "en": "Draw #{id} is closed."},
        "points.draw_none": {"zh-CN": "没有进行中的抽奖 #{given}（见 /draws）。", "en": "No open draw #{given} (see /draws)."},
        "points.draw_which": {
            "zh-CN": "有多个抽奖在进行，请指定编号：/join_draw 编号（见 /draws）。",
            "en": "Several draws are open: say which, /join_draw NUMBER (see /draws).",
        },
        "points.draw_insufficient": {
            "zh-CN": "积分不足：参加抽奖 #{id} 需要 {cost} 分，你有 {balance} 分。",
            "en": "Not enough points: draw #{id} costs {cost}, you have {balance}.",
        },
        "points.draws_header": {"zh-CN": "🎁 进行中的抽奖：", "en": "🎁 Open draws:"},
        "points.draws_line": {
            "zh-CN": "#{id} {prize} — {winners} 人中奖 · {cost} · {count} 人已参加 · {closes} 开奖",
            "en": "#{id} {prize} — {winners} winner(s) · {cost} · {count} entries · draws at {closes}",
        },
        "points.draws_empty": {"zh-CN": "现在没有进行中的抽奖。", "en": "No draws are open right now."},
        "points.draw_result": {
            "zh-CN": "🎉 抽奖 #{id} 开奖：{prize}\n参与 {count} 人，中奖：{winners}\n🔑 种子：{seed}\n（开奖前公布的 sha256：{hash}）\n方法：每位参与者的号码 = sha256(\"种子:用户ID\")，按号码从小到大取前 {n} 名。\n验证：发送 /draw_entries {id} 获取名单，保存为 entries.txt，运行\nqunzhu lottery verify --seed {seed} --entries entries.txt --winners {n}",
            "en": "🎉 Draw #{id} result: {prize}\n{count} entries; winners: {winners}\n🔑 Seed: {seed}\n(sha256 published before: {hash})\nMethod: each entry's ticket = sha256(\"seed:user id\"); the {n} lowest tickets win.\nCheck it: send /draw_entries {id}, save the list as entries.txt and run\nqunzhu lottery verify --seed {seed} --entries entries.txt --winners {n}",
        },
        "points.draw_no_winners": {"zh-CN": "无人参加", "en": "nobody entered"},
        "points.draw_entries_header": {
            "zh-CN": "抽奖 #{id} 的参与名单（{count} 人，每行一个用户ID）：",
            "en": "Entries of draw #{id} ({count}, one user id per line):",
        },
        "points.draw_entries_usage": {"zh-CN": "用法：/draw_entries 抽奖编号", "en": "Usage: /draw_entries DRAW"},
        "points.draw_unknown": {"zh-CN": "没有抽奖 #{given}。", "en": "No draw #{given}."},
        "points.draw_cancelled": {
            "zh-CN": "抽奖 #{id} 已取消，已退还 {refunded} 人的参与积分。",
            "en": "Draw #{id} cancelled; entry points refunded to {refunded} member(s).",
        },
        "points.draw_cancel_usage": {"zh-CN": "用法：/lottery cancel 抽奖编号", "en": "Usage: /lottery cancel DRAW"},
    }
)

# The ledger's stored reasons (written by the code, in English) as a group reads them.
register(
    {
        "points.reason.message": {"zh-CN": "发言", "en": "message"},
        "points.reason.onboarding": {"zh-CN": "完成入群问卷", "en": "answered the entry questionnaire"},
        "points.reason.invite": {"zh-CN": "邀请新成员", "en": "invited a new member"},
        "points.reason.checkin": {"zh-CN": "签到第 {day} 天", "en": "check-in, day {day}"},
        "points.reason.checkin_bonus": {"zh-CN": "签到第 {day} 天（连续签到奖励 +{bonus}）", "en": "check-in, day {day} (+{bonus} streak bonus)"},
        "points.reason.order": {"zh-CN": "兑换 #{id}：{item}", "en": "order #{id}: {item}"},
        "points.reason.draw_entry": {"zh-CN": "参加抽奖 #{id}", "en": "entry to draw #{id}"},
        "points.reason.draw_cancelled": {"zh-CN": "抽奖 #{id} 取消，退回积分", "en": "draw #{id} cancelled, points refunded"},
    }
)

_CHECKIN = re.compile(r"^checkin day (\d+)(?: \(\+(\d+) streak bonus\))?$")
_ORDER = re.compile(r"^order #(\d+): (.*)$", re.DOTALL)
_DRAW = re.compile(r"^draw #(\d+) (entry|cancelled)$")


def ledger_reason(lang: str, reason: str | None) -> str:
    """A ledger entry's reason in `lang`. The reasons the code writes ("message", "checkin day 3",
    "order #4: mug" …) are translated; what an admin typed (/award … reason) and reasons already
    written in the group's language (the rules' deductions) are shown as they are."""
    from bot.i18n import t

    reason = reason or ""
    if reason in ("message", "onboarding", "invite"):
        return t(lang, f"points.reason.{reason}")
    m = _CHECKIN.match(reason)
    if m:
        if m.group(2):
            return t(lang, "points.reason.checkin_bonus", day=m.group(1), bonus=m.group(2))
        return t(lang, "points.reason.checkin", day=m.group(1))
    m = _ORDER.match(reason)
    if m:
        return t(lang, "points.reason.order", id=m.group(1), item=m.group(2))
    m = _DRAW.match(reason)
    if m:
        return t(lang, f"points.reason.draw_{m.group(2)}", id=m.group(1))
    return reason
