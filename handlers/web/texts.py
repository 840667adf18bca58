"""The web console's texts in both languages: the /console command's and the pages' shared ones.
Each page module registers its own (handlers/web/pages/*.py)."""

from bot.i18n import register

COMMAND_DESCRIPTION = {"zh-CN": "获取运营后台登录链接（私信发送）", "en": "Get a sign-in link to the web console (by DM)"}

register({
    # --- the /console command ----------------------------------------------------------------------
    "web.disabled": {"zh-CN": "运营后台未启用（配置 [web] enabled）。", "en": "The web console is not enabled ([web] enabled)."},
    "web.no_dm": {
        "zh-CN": "{platform} 平台不能私信发送登录链接。请让机器人的运营者在服务器上运行：qunzhu web link -c 配置文件 --user {user}",
        "en": "{platform} cannot DM a sign-in link. Ask the bot's operator to run on the server: qunzhu web link -c CONFIG --user {user}",
    },
    "web.too_many_links": {"zh-CN": "登录链接申请过于频繁，请 {minutes} 分钟后再试。",
                           "en": "Too many sign-in links asked for; try again in {minutes} minutes."},
    "web.link_dm": {
        "zh-CN": "运营后台登录链接（{minutes} 分钟内有效，仅可使用一次，请勿转发）：\n{url}",
        "en": "Your sign-in link to the web console (valid {minutes} minutes, once; do not forward it):\n{url}",
    },
    "web.link_sent_note": {"zh-CN": "登录链接已私信发送给你。", "en": "I sent you a sign-in link by DM."},
    "web.link_dm_failed": {
        "zh-CN": "无法私信你。请先打开与 {bot} 的私聊并发送 /console，登录链接只在私聊中发送。",
        "en": "I cannot DM you. Open a private chat with {bot} and send /console there; sign-in links are only sent privately.",
    },
    # --- the frame ---------------------------------------------------------------------------------
    "web.title": {"zh-CN": "群主 · 运营后台", "en": "Qunzhu · Console"},
    "web.nav.groups": {"zh-CN": "群组", "en": "Groups"},
    "web.nav.sessions": {"zh-CN": "登录设备", "en": "Sessions"},
    "web.nav.logout": {"zh-CN": "退出登录", "en": "Sign out"},
    "web.nav.dashboard": {"zh-CN": "概览", "en": "Dashboard"},
    "web.nav.members": {"zh-CN": "成员", "en": "Members"},
    "web.nav.review": {"zh-CN": "处理复核", "en": "Review"},
    "web.nav.answers": {"zh-CN": "入群问卷", "en": "Answers"},
    "web.nav.settings": {"zh-CN": "群设置", "en": "Settings"},
    "web.nav.columns": {"zh-CN": "栏目与活动", "en": "Columns"},
    "web.nav.shop": {"zh-CN": "商城与抽奖", "en": "Shop"},
    "web.nav.audit": {"zh-CN": "操作日志", "en": "Audit log"},
    "web.signed_in_as": {"zh-CN": "已登录：{name}", "en": "Signed in as {name}"},
    "web.operator": {"zh-CN": "（运营者）", "en": " (operator)"},
    "web.language": {"zh-CN": "English", "en": "中文"},
    "web.save": {"zh-CN": "保存", "en": "Save"},
    "web.search": {"zh-CN": "搜索", "en": "Search"},
    "web.none": {"zh-CN": "暂无", "en": "None"},
    "web.prev": {"zh-CN": "上一页", "en": "Previous"},
    "web.next": {"zh-CN": "下一页", "en": "Next"},
    "web.page_of": {"zh-CN": "第 {page} / {pages} 页，共 {total} 条", "en": "Page {page} of {pages}, {total} in all"},
    # --- sign-in -----------------------------------------------------------------------------------
    "web.login.title": {"zh-CN": "登录运营后台", "en": "Sign in to the console"},
    "web.login.as": {"zh-CN": "以 {name} 的身份登录。", "en": "Sign in as {name}."},
    "web.login.button": {"zh-CN": "登录", "en": "Sign in"},
    "web.login.bad_link": {
        "zh-CN": "此登录链接已使用或已过期。请在群里或私聊机器人发送 /console 获取新链接。",
        "en": "This sign-in link has been used or has expired. Send /console to the bot (in the group or privately) for a new one.",
    },
    "web.login.needed": {
        "zh-CN": "请先登录：在你管理的群里或私聊机器人发送 /console（或 /后台），机器人会私信你一个登录链接。",
        "en": "Please sign in: send /console to the bot in a group you run or privately, and it DMs you a sign-in link.",
    },
    "web.login.wecom": {"zh-CN": "用企业微信登录", "en": "Sign in with WeCom"},
    "web.login.too_many": {"zh-CN": "尝试次数过多，请稍后再试。", "en": "Too many attempts; try again later."},
    "web.login.webapp": {"zh-CN": "正在通过 Telegram 登录…", "en": "Signing in with Telegram…"},
    "web.login.webapp_bad": {"zh-CN": "Telegram 登录数据无效：{reason}", "en": "The Telegram sign-in data is not valid: {reason}"},
    "web.login.wecom_bad": {"zh-CN": "企业微信登录失败：{reason}", "en": "WeCom sign-in failed: {reason}"},
    "web.logged_out": {"zh-CN": "已退出登录。", "en": "You are signed out."},
    # --- refusals ----------------------------------------------------------------------------------
    "web.csrf": {"zh-CN": "表单已失效（缺少或错误的校验码），未做任何更改。请刷新页面后重试。",
                 "en": "The form was refused (its check token is missing or wrong); nothing was changed. Reload the page and try again."},
    "web.forbidden": {"zh-CN": "你不是该群的管理员（已向平台核实），无权查看或操作。",
                      "en": "You are not an admin of this group (checked with the platform), so you cannot see or change it."},
    "web.not_found": {"zh-CN": "没有这个页面或记录。", "en": "There is no such page or record."},
    "web.db_busy": {"zh-CN": "数据库暂时不可用（{reason}），未做任何更改，请稍后重试。",
                    "en": "The database is not available now ({reason}); nothing was changed. Try again shortly."},
    "web.form_used": {"zh-CN": "这个表单已经提交过，未重复执行。", "en": "This form was already submitted; it was not done twice."},
    "web.error": {"zh-CN": "出错了，已记录日志。", "en": "Something went wrong; it has been logged."},
    "web.done": {"zh-CN": "已完成。", "en": "Done."},
    # --- sessions ----------------------------------------------------------------------------------
    "web.sessions.title": {"zh-CN": "登录设备", "en": "Signed-in sessions"},
    "web.sessions.created": {"zh-CN": "登录时间", "en": "Signed in"},
    "web.sessions.seen": {"zh-CN": "最近使用", "en": "Last used"},
    "web.sessions.via": {"zh-CN": "方式", "en": "Via"},
    "web.sessions.agent": {"zh-CN": "浏览器", "en": "Browser"},
    "web.sessions.this": {"zh-CN": "（当前）", "en": " (this one)"},
    "web.sessions.revoke": {"zh-CN": "注销", "en": "Revoke"},
    "web.sessions.revoked": {"zh-CN": "该登录已注销。", "en": "That session is revoked."},
})
