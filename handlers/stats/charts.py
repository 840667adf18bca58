"""PNG charts for /stats and `qunzhu chart`, drawn with matplotlib's object API on the Agg canvas
(no pyplot, no display, safe to run in a worker thread).

Chinese labels need a font with CJK glyphs: `[defaults.stats] chart_font` names one, else a few
common installed families are tried; without any, the chart is labelled in English."""

from __future__ import annotations

import io
import logging
from datetime import date, timedelta
from pathlib import Path

from bot.i18n import register, t

log = logging.getLogger(__name__)

CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Sarasa Gothic SC",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Heiti SC",
    "AR PL UMing CN",
    "Droid Sans Fallback",
)

register(
    {
        "stats.chart.activity_title": {"zh-CN": "{group} · 每日活跃（{start} 至 {end}）", "en": "{group} · daily activity ({start} to {end})"},
        "stats.chart.messages": {"zh-CN": "发言数", "en": "messages"},
        "stats.chart.active": {"zh-CN": "活跃人数", "en": "active members"},
        "stats.chart.joins": {"zh-CN": "加入", "en": "joined"},
        "stats.chart.leaves": {"zh-CN": "退出", "en": "left"},
        "stats.chart.members_axis": {"zh-CN": "人数", "en": "members"},
        "stats.chart.retention_title": {
            "zh-CN": "{group} · 新人留存（{since} 起加入的 {size} 人）",
            "en": "{group} · retention of the {size} members who joined since {since}",
        },
        "stats.chart.day_axis": {"zh-CN": "入群后第几天", "en": "days after joining"},
        "stats.chart.share_axis": {"zh-CN": "占比 %", "en": "share %"},
        "stats.chart.present": {"zh-CN": "仍在群内", "en": "still in the group"},
        "stats.chart.retained": {"zh-CN": "仍在群内且近 7 天发过言", "en": "still in and posted in the last 7 days"},
        "stats.chart.cohort": {"zh-CN": "加入 {size} 人（{since} 起）", "en": "{size} joined (since {since})"},
        "stats.chart.no_data": {"zh-CN": "暂无数据", "en": "no data yet"},
        "stats.chart.all_groups": {"zh-CN": "全部 {n} 个群", "en": "all {n} groups"},
    }
)


def pick_font(language: str, chart_font: str | None = None) -> tuple[str, str | None]:
    """(language to label the chart in, font family or None for matplotlib's default)."""
    from matplotlib import font_manager

    if chart_font:
        path = Path(chart_font).expanduser()
        try:
            font_manager.fontManager.addfont(str(path))
            family = font_manager.FontProperties(fname=str(path)).get_name()
            return language, family
        except (OSError, RuntimeError, ValueError) as exc:
            log.warning("stats.chart_font: cannot load %s (%s); trying installed fonts", path, exc)
    if language == "en":
        return "en", None
    installed = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in installed:
            return language, family
    return "en", None


def _label(lang: str, family: str | None, group: str | None, group_key: str, all_groups: int) -> str:
    if group is None:
        return t(lang, "stats.chart.all_groups", n=all_groups)
    if family is None and any(ord(c) >= 0x2E80 for c in group):
        return group_key  # a Chinese title without a font that has its glyphs
    return group


def _figure(family: str | None):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 6), dpi=100)
    FigureCanvasAgg(fig)
    fig.set_layout_engine("tight")
    return fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _rc(family: str | None):
    import matplotlib

    params = {"axes.unicode_minus": False}
    if family:
        params["font.family"] = [family, "DejaVu Sans"]
    return matplotlib.rc_context(params)


def activity_png(
    series: dict[str, list[int]],
    start: date,
    *,
    group: str | None,
    group_key: str = "",
    all_groups: int = 0,
    language: str = "zh-CN",
    chart_font: str | None = None,
) -> bytes:
    """Messages per day (bars) and active members (line) above; joins and leaves below."""
    lang, family = pick_font(language, chart_font)
    with _rc(family):
        return _png(_activity(series, start, group=group, group_key=group_key, all_groups=all_groups, lang=lang, family=family))


def activity_figure(series: dict[str, list[int]], start: date, *, group: str | None, group_key: str = "",
                    all_groups: int = 0, language: str = "zh-CN", chart_font: str | None = None):
    """The activity chart as a matplotlib Figure, drawn (its ticks are final), for inspection."""
    lang, family = pick_font(language, chart_font)
    with _rc(family):
        fig = _activity(series, start, group=group, group_key=group_key, all_groups=all_groups, lang=lang, family=family)
        fig.canvas.draw()
        return fig


def _activity(series, start, *, group, group_key, all_groups, lang, family):
    from matplotlib.ticker import MaxNLocator

    group = _label(lang, family, group, group_key, all_groups)
    days = len(series.get("messages", []))
    x = [start + timedelta(days=i) for i in range(days)]
    fig = _figure(family)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.2]})
    end = start + timedelta(days=max(days - 1, 0))
    top.set_title(t(lang, "stats.chart.activity_title", group=group, start=f"{start:%Y-%m-%d}", end=f"{end:%Y-%m-%d}"))
    top.bar(x, series.get("messages", [0] * days), color="#4C72B0", label=t(lang, "stats.chart.messages"))
    top.set_ylabel(t(lang, "stats.chart.messages"))
    twin = top.twinx()
    twin.plot(x, series.get("active", [0] * days), color="#DD8452", marker="o", markersize=3, label=t(lang, "stats.chart.active"))
    twin.set_ylabel(t(lang, "stats.chart.active"))
    twin.set_ylim(bottom=0)
    handles = top.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    top.legend(handles, [h.get_label() for h in handles], loc="upper left")
    bottom.bar(x, series.get("joins", [0] * days), color="#55A868", label=t(lang, "stats.chart.joins"))
    bottom.bar(x, [-v for v in series.get("leaves", [0] * days)], color="#C44E52", label=t(lang, "stats.chart.leaves"))
    bottom.axhline(0, color="#333333", linewidth=0.8)
    bottom.set_ylabel(t(lang, "stats.chart.members_axis"))
    bottom.legend(loc="upper left")
    for axis in (top.yaxis, twin.yaxis, bottom.yaxis):  # counts: no 0.5 message, no 1.5 member
        axis.set_major_locator(MaxNLocator(integer=True))
    fig.autofmt_xdate()
    if not any(series.get("messages", [])):
        top.text(0.5, 0.5, t(lang, "stats.chart.no_data"), transform=top.transAxes, ha="center", va="center", fontsize=16, color="#888888")
    return fig


def retention_png(
    points: list[tuple[int, int, float, float]],
    size: int,
    since: date,
    *,
    group: str | None,
    group_key: str = "",
    all_groups: int = 0,
    language: str = "zh-CN",
    chart_font: str | None = None,
) -> bytes:
    """Share of a join cohort still in the group, and still in and active, by days after joining."""
    lang, family = pick_font(language, chart_font)
    with _rc(family):
        return _png(_retention(points, size, since, group=group, group_key=group_key, all_groups=all_groups, lang=lang, family=family))


def retention_figure(points: list[tuple[int, int, float, float]], size: int, since: date, *, group: str | None,
                     group_key: str = "", all_groups: int = 0, language: str = "zh-CN", chart_font: str | None = None):
    """The retention chart as a matplotlib Figure, drawn (its ticks are final), for inspection."""
    lang, family = pick_font(language, chart_font)
    with _rc(family):
        fig = _retention(points, size, since, group=group, group_key=group_key, all_groups=all_groups, lang=lang, family=family)
        fig.canvas.draw()
        return fig


def _retention(points, size, since, *, group, group_key, all_groups, lang, family):
    from matplotlib.ticker import MaxNLocator

    group = _label(lang, family, group, group_key, all_groups)
    fig = _figure(family)
    ax = fig.subplots()
    ax.set_title(t(lang, "stats.chart.retention_title", group=group, since=f"{since:%Y-%m-%d}", size=size))
    xs = [p[0] for p in points]
    ax.plot(xs, [p[2] * 100 for p in points], color="#4C72B0", marker="o", markersize=3, label=t(lang, "stats.chart.present"))
    ax.plot(xs, [p[3] * 100 for p in points], color="#DD8452", marker="o", markersize=3, label=t(lang, "stats.chart.retained"))
    for day in (7, 30):
        ax.axvline(day, color="#999999", linestyle=":", linewidth=1)
    ax.set_xlim(0, 30)
    ax.set_ylim(0, 105)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole days after joining
    if points:
        # The cohort's label next to its joins: at day 0, where every joiner is still in.
        first = points[0]
        ax.annotate(t(lang, "stats.chart.cohort", size=size, since=f"{since:%m-%d}"), xy=(first[0], first[2] * 100),
                    xytext=(8, -14), textcoords="offset points", ha="left", va="top", fontsize=10, color="#4C72B0")
    ax.set_xlabel(t(lang, "stats.chart.day_axis"))
    ax.set_ylabel(t(lang, "stats.chart.share_axis"))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right")
    if not points:
        ax.text(0.5, 0.5, t(lang, "stats.chart.no_data"), transform=ax.transAxes, ha="center", va="center", fontsize=16, color="#888888")
    return fig
