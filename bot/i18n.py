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
        "core.help_header": {
            "zh-CN": "可用命令：",
            "en": "Commands:",
        },
    }
)
