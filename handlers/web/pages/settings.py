"""The settings editor of a group: every group setting (one row per leaf key) with its effective
value, where it comes from (built-in default, the config file, or the database's overrides) and an
edit box. A change is validated exactly as the config is (the group's settings rebuilt with the new
overrides), stored as the group's override with an audit row, and the bot uses it at the next
message. A change may go to every group the viewer runs, or to those of theirs with a group tag
(the `tags` setting), each validated and audited on its own."""

from __future__ import annotations

import copy
import functools
import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from bot.config import GroupSettings, problem_lines
from bot.i18n import register
from handlers.web.server import Group, Viewer, WebConsole, viewer_of, form_of
from storage import core_repo

SECTIONS = ("general", "rules", "onboarding", "points", "columns", "stats")
MAX_VALUE = 20_000  # characters of one edited value
# Settings that name a file on the server: a group admin must not point the bot at the server's
# files (it would read them); only the instance's [web] operators change them here.
SERVER_FILES = frozenset({"rules.model", "stats.chart_font"})
SHOWN = 300  # characters of a value shown on the page (the whole is the tooltip)
_MISSING = object()


@dataclass
class Leaf:
    path: str
    value: Any  # as JSON

    @property
    def section(self) -> str:
        head = self.path.split(".", 1)[0]
        return head if "." in self.path else "general"


def leaves(settings: GroupSettings) -> list[Leaf]:
    """Every setting that is not itself a section (lists and dicts are leaves, edited as JSON)."""
    found: list[Leaf] = []

    def walk(model: BaseModel, prefix: str, dumped: dict[str, Any]) -> None:
        for name in type(model).model_fields:
            value = getattr(model, name)
            if isinstance(value, BaseModel):
                walk(value, f"{prefix}{name}.", dumped[name])
            else:
                found.append(Leaf(f"{prefix}{name}", dumped[name]))

    walk(settings, "", settings.model_dump(mode="json"))
    return found


def at_path(node: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def with_value(stored: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """The stored overrides with `path` set (a copy), as core_repo.set_override stores it."""
    out = copy.deepcopy(stored)
    node = out
    *parents, leaf = path.split(".")
    for part in parents:
        node[part] = dict(node.get(part) or {}) if isinstance(node.get(part), dict) else {}
        node = node[part]
    node[leaf] = value
    return out


def without(stored: dict[str, Any], path: str) -> dict[str, Any]:
    """The stored overrides with `path` removed and the sections it leaves empty (a copy)."""
    out = copy.deepcopy(stored)
    trail = [out]
    parts = path.split(".")
    for part in parts[:-1]:
        child = trail[-1].get(part)
        if not isinstance(child, dict):
            return out
        trail.append(child)
    trail[-1].pop(parts[-1], None)
    for depth in range(len(parts) - 1, 0, -1):
        if not trail[depth]:
            trail[depth - 1].pop(parts[depth - 1], None)
    return out


@functools.cache
def _built_in() -> dict[str, Any]:
    return GroupSettings().model_dump(mode="json")


def source(console: WebConsole, chat_key: str, stored: dict[str, Any], path: str) -> str:
    """database (a stored override), file ([groups."KEY"], or [defaults] changed from the built-in
    value) or default."""
    if at_path(stored, path) is not _MISSING:
        return "database"
    config = console.app.config
    if at_path(config.groups.get(chat_key, {}), path) is not _MISSING:
        return "file"
    if at_path(config.defaults.model_dump(mode="json"), path) != at_path(_built_in(), path):
        return "file"
    return "default"


def edit_text(value: Any) -> str:
    """What the edit box holds: a text as it is, anything else as JSON."""
    if isinstance(value, str):
        return value
    compact = json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, indent=2) if isinstance(value, (dict, list)) and len(compact) > 60 else compact


def _long(leaf: Leaf) -> bool:
    """Edited in a text area: lists, dicts, long or multi-line texts and the texts meant to be (rules.text …)."""
    if isinstance(leaf.value, str):
        return len(leaf.value) > 60 or "\n" in leaf.value or leaf.path.endswith(("text", "template"))
    return not isinstance(leaf.value, (bool, int, float)) and leaf.value is not None


def candidates(raw: str, current: Any) -> list[Any]:
    """What an edited value may mean, the likelier first: JSON, else the plain text; for a text
    setting a bare number or true/false stays text."""
    text = raw.replace("\r\n", "\n").strip()
    try:
        parsed = json.loads(text)
    except ValueError:
        return [text]
    if parsed == text:
        return [text]
    if isinstance(current, str) and not isinstance(parsed, (str, dict, list)):
        return [text, parsed]
    return [parsed, text]


@dataclass
class Change:
    chat_key: str
    title: str
    chat_id: int
    value: Any = None
    overrides: dict[str, Any] | None = None  # the group's stored settings after the change
    changed: bool = False
    problems: tuple[str, ...] = ()


def plan(console: WebConsole, chat, stored: dict[str, Any], path: str, raw: str, reset: bool) -> Change:
    """The change for one group, validated as the config is; `problems` (the key named) when refused."""
    change = Change(chat.key, chat.title or chat.key, chat.id)
    if reset:
        if at_path(stored, path) is _MISSING:
            return change  # nothing stored: nothing to take back
        tries = [(None, without(stored, path))]
    else:
        try:
            current = at_path(console.app.settings_for(chat.key, stored).model_dump(mode="json"), path)
        except ValidationError:  # what is stored already fails: the new value may mend it
            current = None
        tries = [(value, with_value(stored, path, value)) for value in candidates(raw, current)]
    problems: list[str] = []
    for value, overrides in tries:
        try:
            console.app.settings_for(chat.key, overrides)
        except ValidationError as exc:
            problems = problems or problem_lines(exc)
            continue
        change.value, change.overrides, change.changed = value, overrides, True
        return change
    change.problems = tuple(problems)
    return change


async def targets(console: WebConsole, viewer: Viewer, group: Group, scope: str) -> list | None:
    """The groups a change goes to (None: a scope the page does not offer)."""
    if scope in ("", "this"):
        return [group.row]
    if scope == "all_mine":
        return [g.row for g in await console.groups_of(viewer)]
    if scope.startswith("tag:") and scope[4:]:
        tagged = await tags_of_groups(console, viewer)
        return tagged.get(scope[4:], [])
    return None


async def tags_of_groups(console: WebConsole, viewer: Viewer) -> dict[str, list]:
    """The group tags (the `tags` setting) of the groups the viewer runs, each with its groups."""
    tagged: dict[str, list] = {}
    for group in await console.groups_of(viewer):
        for tag in group.settings.tags:
            tagged.setdefault(tag, []).append(group.row)
    return dict(sorted(tagged.items()))


def routes(console: WebConsole) -> list[web.RouteDef]:
    async def show(request: web.Request, group: Group, *, status: int = 200, problems: dict[str, tuple[str, ...]] | None = None,
                   typed: dict[str, str] | None = None) -> web.Response:
        async with console.app.sessions() as session:
            stored = await core_repo.stored_overrides(session, group.id)
        settings = console.app.settings_for(group.row.key, stored)
        without_db = console.app.settings_for(group.row.key).model_dump(mode="json")
        sections: dict[str, list[dict[str, Any]]] = {name: [] for name in SECTIONS}
        for leaf in leaves(settings):
            shown = json.dumps(leaf.value, ensure_ascii=False)
            where = source(console, group.row.key, stored, leaf.path)
            sections.setdefault(leaf.section, []).append({
                "path": leaf.path,
                "shown": shown[:SHOWN] + ("…" if len(shown) > SHOWN else ""),
                "full": shown[:4000],
                "source": where,
                "underneath": json.dumps(at_path(without_db, leaf.path), ensure_ascii=False)[:SHOWN] if where == "database" else "",
                "edit": (typed or {}).get(leaf.path, edit_text(leaf.value)),
                "long": _long(leaf),
                "problems": (problems or {}).get(leaf.path, ()),
            })
        tags = await tags_of_groups(console, viewer_of(request))
        return console.render(request, "settings.html", status=status, group=group, section="settings",
                              sections=[(name, rows) for name, rows in sections.items() if rows],
                              tags=[(tag, len(chats)) for tag, chats in tags.items()], here=request.path)

    async def settings_page(request: web.Request) -> web.Response:
        return await show(request, await console.group(request))

    async def save(request: web.Request) -> web.StreamResponse:
        group = await console.group(request, change=True)
        viewer = viewer_of(request)
        form = form_of(request)
        path = str(form.get("path") or "")
        raw = str(form.get("value") or "")
        reset = form.get("reset") == "1"
        scope = str(form.get("scope") or "this")
        fallback = f"/console/g/{group.id}/settings"
        if path not in {leaf.path for leaf in leaves(group.settings)}:
            console.flash(request, console.text(request, "web.settings.unknown", path=path[:100]))
            raise console.back(request, fallback)
        if path in SERVER_FILES and not viewer.operator:
            console.flash(request, console.text(request, "web.settings.server_file", path=path))
            raise console.back(request, fallback)
        if len(raw) > MAX_VALUE:
            return await show(request, group, status=400, typed={path: raw[:MAX_VALUE]},
                              problems={path: (console.text(request, "web.settings.too_long", path=path, limit=MAX_VALUE),)})
        chats = await targets(console, viewer, group, scope)
        if chats is None:
            console.flash(request, console.text(request, "web.settings.bad_scope", scope=scope[:100]))
            raise console.back(request, fallback)
        now = console.app.clock.now()
        async with console.app.sessions() as session, session.begin():
            changes = [plan(console, chat, await core_repo.stored_overrides(session, chat.id), path, raw, reset) for chat in chats]
            if any(c.changed for c in changes):
                if not await console.once(session, request):
                    console.flash(request, console.text(request, "web.form_used"))
                    raise console.back(request, fallback)
                for c in changes:
                    if not c.changed:
                        continue
                    if reset:
                        await core_repo.replace_overrides(session, c.chat_id, c.overrides, viewer.user_key, now)
                    else:
                        await core_repo.set_override(session, c.chat_id, path, c.value, viewer.user_key, now)
                    details = {"path": path, "value": c.value, **({"reset": True} if reset else {})}
                    if scope != "this":
                        details["scope"] = scope
                    await core_repo.audit(session, chat_id=c.chat_id, at=now, actor=viewer.user_key, action="setting", details=details)
        for c in changes:
            if c.changed:
                console.app.dispatcher.groups.forget_settings(c.chat_id)  # the next message reads the new settings
        if scope in ("", "this") and changes[0].problems:
            refused = console.text(request, "web.settings.refused", path=path)
            console.flash(request, "\n".join((refused, *changes[0].problems)))
            return await show(request, group, status=400, problems={path: changes[0].problems}, typed={path: raw})
        console.flash(request, *report(console, request, path, reset, changes, several=scope not in ("", "this")))
        raise console.back(request, fallback)

    return [web.get("/g/{chat}/settings", settings_page), web.post("/g/{chat}/settings", save)]


def report(console: WebConsole, request: web.Request, path: str, reset: bool, changes: list[Change], *, several: bool) -> list[str]:
    """One line per group: saved, reset, unchanged, or refused with the problems."""
    if not changes:
        return [console.text(request, "web.settings.no_groups")]
    lines = []
    for c in changes:
        if c.problems:
            text = "\n".join((console.text(request, "web.settings.refused", path=path), *c.problems))
        elif not c.changed:
            text = console.text(request, "web.settings.nothing_to_reset", path=path)
        elif reset:
            text = console.text(request, "web.settings.reset_done", path=path)
        else:
            text = console.text(request, "web.settings.saved", path=path, value=json.dumps(c.value, ensure_ascii=False)[:200])
        lines.append(console.text(request, "web.settings.in_group", group=c.title, text=text) if several else text)
    return lines


register({
    "web.settings.server_file": {
        "zh-CN": "{path} 指向服务器上的文件，只有实例的运营者（[web] operators）可以在这里修改；未做更改。",
        "en": "{path} names a file on the server: only the instance's operators ([web] operators) change it here; nothing was changed.",
    },
    "web.settings.title": {"zh-CN": "群设置", "en": "Group settings"},
    "web.settings.intro": {
        "zh-CN": "本群生效的设置。来源：「默认」为内置默认值，「配置文件」为配置文件（[defaults] 或 [groups.\"{key}\"]）中的值，「数据库」为在后台或用群命令修改并保存的值（优先于配置文件）。列表和字典请以 JSON 填写；文字直接填写。保存前按与配置文件相同的规则校验，机器人从下一条消息起使用新设置。",
        "en": "The settings in force in this group. Source: \"default\" is the built-in value, \"file\" the config file's ([defaults] or [groups.\"{key}\"]), \"database\" a value saved here or by a group command (it wins over the file). Lists and dicts are JSON; texts are plain. A change is checked by the same rules as the config file, and the bot uses it from the next message on.",
    },
    "web.settings.section.general": {"zh-CN": "基本", "en": "General"},
    "web.settings.section.rules": {"zh-CN": "群规与审核（rules）", "en": "Rules and moderation (rules)"},
    "web.settings.section.onboarding": {"zh-CN": "入群验证与问卷（onboarding）", "en": "Onboarding and questionnaire (onboarding)"},
    "web.settings.section.points": {"zh-CN": "积分（points）", "en": "Points (points)"},
    "web.settings.section.columns": {"zh-CN": "栏目（columns）", "en": "Columns (columns)"},
    "web.settings.section.stats": {"zh-CN": "统计（stats）", "en": "Statistics (stats)"},
    "web.settings.key": {"zh-CN": "设置项", "en": "Key"},
    "web.settings.value": {"zh-CN": "当前值", "en": "Value"},
    "web.settings.source": {"zh-CN": "来源", "en": "Source"},
    "web.settings.edit": {"zh-CN": "修改", "en": "Change"},
    "web.settings.source.default": {"zh-CN": "默认", "en": "default"},
    "web.settings.source.file": {"zh-CN": "配置文件", "en": "file"},
    "web.settings.source.database": {"zh-CN": "数据库", "en": "database"},
    "web.settings.underneath": {"zh-CN": "去掉数据库中的值后：{value}", "en": "Without the database's value: {value}"},
    "web.settings.scope.this": {"zh-CN": "仅本群", "en": "This group only"},
    "web.settings.scope.all_mine": {"zh-CN": "我管理的所有群", "en": "Every group I run"},
    "web.settings.scope.tag": {"zh-CN": "我管理的、带群标签「{tag}」的群（{count} 个）", "en": "My groups tagged \"{tag}\" ({count})"},
    "web.settings.reset": {"zh-CN": "删除数据库中的值", "en": "Remove the database's value"},
    "web.settings.saved": {"zh-CN": "已保存 {path} = {value}，机器人从下一条消息起使用。",
                           "en": "Saved {path} = {value}; the bot uses it from the next message on."},
    "web.settings.reset_done": {"zh-CN": "已删除数据库中的 {path}，恢复为配置文件或默认值。",
                                "en": "Removed {path} from the database; the file's or the default value applies again."},
    "web.settings.nothing_to_reset": {"zh-CN": "{path} 在数据库中没有保存的值，无需恢复。",
                                      "en": "{path} has no value in the database; nothing to take back."},
    "web.settings.refused": {"zh-CN": "{path} 的新值无效，未做任何更改：", "en": "The new value of {path} is not valid; nothing was changed:"},
    "web.settings.in_group": {"zh-CN": "「{group}」：{text}", "en": "\"{group}\": {text}"},
    "web.settings.no_groups": {"zh-CN": "没有符合范围的群，未做任何更改。", "en": "No group is in that scope; nothing was changed."},
    "web.settings.unknown": {"zh-CN": "没有设置项「{path}」。", "en": "There is no setting \"{path}\"."},
    "web.settings.bad_scope": {"zh-CN": "应用范围「{scope}」无效，未做任何更改。", "en": "The scope \"{scope}\" is not valid; nothing was changed."},
    "web.settings.too_long": {"zh-CN": "{path} 的新值太长（最多 {limit} 个字符），未做任何更改。",
                              "en": "The new value of {path} is too long (at most {limit} characters); nothing was changed."},
})
