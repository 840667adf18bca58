"""Every user-visible text in Simplified Chinese and English; the group's language picks one.

Each feature registers its own catalogue: `register({"key": {"zh-CN": "…", "en": "…"}})`.
Placeholders use str.format syntax; missing placeholders are a bug, caught by the i18n test.
"""

from __future__ import annotations

LANGUAGES = ("zh-CN", "en")

_CATALOGUE: dict[str, dict[str, str]] = {}


def register(texts: dict[str, dict[str, str]]) -> None:
    for key, by_lang in texts.items():
        missing = [lang for lang in LANGUAGES if not by_lang.get(lang)]
        if missing:
            raise ValueError(f"text {key!r} lacks {', '.join(missing)}")
        if key in _CATALOGUE and _CATALOGUE[key] != by_lang:
            raise ValueError(f"text {key!r} registered twice with different wording")
        _CATALOGUE[key] = by_lang


def t(lang: str, key: str, /, **values: object) -> str:
    by_lang = _CATALOGUE[key]
    template = by_lang.get(lang) or by_lang["zh-CN"]
    return template.format(**values)


def catalogue() -> dict[str, dict[str, str]]:
    return dict(_CATALOGUE)


register(
    {
        "core.error": {
            "zh-CN": "抱歉，处理时出错了，管理员已记录。",
            "en": "Sorry, something went wrong; it has been logged for the admins.",
        },
        "core.admin_only": {
            "zh-CN": "只有管理员可以使用 /{command}。",
            "en": "Only admins can use /{command}.",
        },
        "core.capability_missing": {
            "zh-CN": "{platform} 平台不支持「{action}」，已改为：{fallback}",
            "en": "{platform} cannot {action}; did this instead: {fallback}",
        },
        "core.uncertain_sends": {
            "zh-CN": "⚠️ 有 {count} 条消息在发送途中被打断（机器人重启或平台超时），无法确认是否已送达；为避免重复，不会再次发送。请到群里查看，必要时手动补发。",
            "en": "⚠️ {count} message(s) were interrupted while being sent (a restart or a platform timeout); "
            "whether they arrived cannot be known, and they are not sent again to avoid duplicates. "
            "Please check the group and post by hand if needed.",
        },
        "core.db_down": {
            "zh-CN": "⚠️ 数据库暂时无法写入（{reason}）。收到的消息已保存，恢复后会按顺序处理，期间机器人不会回复。",
            "en": "⚠️ The database cannot be written right now ({reason}). Incoming updates are kept and will be "
            "handled in order once it recovers; the bot stays silent meanwhile.",
        },
        "core.db_back": {
            "zh-CN": "✅ 数据库已恢复，积压的 {count} 条消息已处理（中断约 {seconds} 秒）。",
            "en": "✅ The database is back; {count} held update(s) were handled (outage of about {seconds} s).",
        },
        "core.upgrade_supergroup": {
            "zh-CN": "ℹ️ 「{chat}」是普通群，Telegram 只允许在超级群里禁言成员，所以机器人只能警告或移出。"
            "把群升级为超级群即可（群设置里公开群链接、开启“新成员可见历史消息”或添加更多管理员权限时会自动升级），群数据会跟着迁移。",
            "en": "ℹ️ \"{chat}\" is a basic group: Telegram lets bots mute members only in supergroups, so the bot can only warn "
            "or remove there. Upgrade it to a supergroup (making it public, letting new members see the history, or giving "
            "admins more rights upgrades it); the group's data moves with it.",
        },
        "core.help_header": {
            "zh-CN": "可用命令：",
            "en": "Commands:",
        },
    }
)
