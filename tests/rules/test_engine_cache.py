"""Compiled rules are shared: word lists load once, and many differently configured groups neither
rebuild the automata nor thrash the engine cache (issue 19)."""

import threading

from handlers.rules import engine as rules_engine
from handlers.rules.engine import RuleEngine, Subject, load_word_lists, shipped_matcher
from handlers.rules.settings import RulesSettings


def test_word_lists_load_once_however_often_and_from_however_many_threads():
    threads = [threading.Thread(target=load_word_lists) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    load_word_lists()
    assert rules_engine._shipped.cache_info().misses == 1
    assert RuleEngine.for_settings(RulesSettings()).shipped is shipped_matcher()


def test_a_thousand_differently_configured_groups_build_no_automaton_per_message(monkeypatch):
    load_word_lists()
    builds = []

    class CountingMatcher(rules_engine.WordMatcher):
        def __init__(self, *args, **kwargs):
            builds.append(args)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(rules_engine, "WordMatcher", CountingMatcher)
    # 1,000 groups: each its own allowed site (1,000 different engines, more than the old cache's
    # 256), ten word lists of their own between them, and texts and ladders that do not matter.
    groups = [RulesSettings(text=f"group {i}", allowed_domains=[f"site{i}.example"], words=[f"缓存测试词{i % 10}"],
                            ladder=["warn", "kick"] if i % 2 else ["warn"]) for i in range(1000)]
    shipped = shipped_matcher()
    for _ in range(3):  # three messages in every group, round-robin: the worst case for a small cache
        engines = [RuleEngine.for_settings(s) for s in groups]
        for engine in engines:
            assert engine.check(Subject(text="缓存测试词3 在这里")).hits is not None
    assert len(builds) == 10  # one automaton per distinct word list, none per message
    assert all(e.shipped is shipped for e in engines)  # the shipped automata are never rebuilt
    assert rules_engine._shipped.cache_info().misses == 1
    assert len({id(e) for e in engines}) == 1000
    assert all(a is b for a, b in zip(engines, (RuleEngine.for_settings(s) for s in groups)))
    # The custom word is found in the groups that have it, and only there.
    assert [i for i, e in enumerate(engines[:30]) if e.check(Subject(text="缓存测试词3")).category == "custom"] == [3, 13, 23]


def test_groups_that_differ_only_outside_the_rules_share_one_engine():
    a = RulesSettings(text="规则 A", ladder=["warn"], exempt=["1"], notice_template="{{ member }}")
    b = RulesSettings(text="rules B", actions={"ads": "kick"}, newcomer_hours=2)
    assert RuleEngine.for_settings(a) is RuleEngine.for_settings(b) is RuleEngine.for_settings(RulesSettings())
    assert RuleEngine.for_settings(RulesSettings(threshold=2.0)) is not RuleEngine.for_settings(a)


def test_the_lists_built_in_a_child_process_match_the_same_as_built_here():
    """The bot takes its word lists from a child process (a compact heap); what it is handed must
    find what building them here finds."""
    built = rules_engine._built_in_child()
    assert built is not None, "the child build failed (the bot would fall back to building here)"
    child, child_domains = built
    here, here_domains = rules_engine.build_shipped()
    assert len(child.keys) == len(here.keys) > 40_000
    assert child_domains == here_domains
    texts = ["加微信领取福利，代开发票，刷单兼职日结", "免费看片 色情直播 约炮", "usdt 出U 收U 私聊 passive income, dm me",
             "今天天气不错，我们下午去开会"]
    for text in texts:
        views = rules_engine.normalize(text)
        assert child.find(views) == here.find(views)
    assert child.find(rules_engine.normalize(texts[0]))  # the texts do hit the lists


def test_a_failing_child_build_is_said_and_the_lists_are_built_here(monkeypatch, caplog):
    monkeypatch.setattr(rules_engine, "_BUILD_IN_CHILD", "import sys; print('disk on fire', file=sys.stderr); sys.exit(3)")
    matcher, domains = rules_engine._shipped.__wrapped__()  # what start-up does, past the once-a-process cache
    assert "word lists: disk on fire" in caplog.text and "exited with 3; building them here" in caplog.text
    assert len(matcher.keys) > 40_000 and domains  # the bot starts with its lists all the same


def test_a_stuck_child_build_is_ended_and_the_lists_are_built_here(monkeypatch, caplog):
    monkeypatch.setattr(rules_engine, "_BUILD_IN_CHILD", "import time; time.sleep(60)")
    monkeypatch.setattr(rules_engine, "CHILD_BUILD_TIMEOUT", 0.5)
    assert rules_engine._built_in_child() is None
    assert "could not be read" in caplog.text and "building them here" in caplog.text


def test_lists_a_child_built_from_another_copy_of_the_code_are_refused(monkeypatch, caplog):
    """A child that imported another checkout (its working directory, an older install) would hand
    over objects of other classes under these names: refused, the lists are built here."""
    other = ("import pickle, sys\nsys.path.insert(0, sys.argv[1])\nfrom handlers.rules import engine\n"
             "sys.stdout.buffer.write(pickle.dumps(('/elsewhere/handlers/rules/engine.py', engine.build_shipped())))\n")
    monkeypatch.setattr(rules_engine, "_BUILD_IN_CHILD", other)
    assert rules_engine._built_in_child() is None
    assert "built them with /elsewhere/handlers/rules/engine.py" in caplog.text
