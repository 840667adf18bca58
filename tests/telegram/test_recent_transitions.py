"""The join/leave de-duplication of the Telegram adapter stays O(1) a join in a raid: entries
expire from the front, the map is never rebuilt (counted, not timed)."""

from __future__ import annotations

from bot.platforms.recent import RecentTransitions

WINDOW = 120.0


def test_the_second_report_of_a_transition_is_not_news_within_the_window():
    recent = RecentTransitions(WINDOW)
    assert recent.is_news(("g", "u"), "join", 0.0)
    assert not recent.is_news(("g", "u"), "join", 1.0)  # the service message after chat_member
    assert recent.is_news(("g", "u"), "leave", 2.0)
    assert recent.is_news(("g", "u"), "join", 3.0)
    assert recent.is_news(("g", "u"), "join", 3.0 + WINDOW)  # a join again, long after


def test_fifty_thousand_joins_touch_each_entry_a_bounded_number_of_times():
    recent = RecentTransitions(WINDOW)
    store = recent._last
    joins = 50_000
    for i in range(joins):
        now = i * 0.01  # 100 joins a second: 12,000 inside the window at any time
        assert recent.is_news(("raid", str(i)), "join", now)
        assert not recent.is_news(("raid", str(i)), "join", now)
    assert recent._last is store  # never replaced by a rebuilt copy
    inside = int(WINDOW / 0.01)
    assert inside - 1 <= len(recent) <= inside + 1
    # Each join is stored once and dropped at most once: the work is linear in the joins.
    assert recent.expired + len(recent) == joins
