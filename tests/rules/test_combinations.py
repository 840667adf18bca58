"""Combination signals (handlers/rules/engine.py): two independent kinds of weak evidence in one
message, phrases of two different trades, a short one-liner made of fraud or lewd phrases, 微 as a
WeChat homophone next to an ID, and reference numbers (订单号) that are not contacts.
Every evasion below is written by us in the style of group ads; every chat line is something a
member says in an ordinary group and must never be a violation."""

import pytest

from handlers.rules.engine import RuleEngine, Subject
from handlers.rules.settings import RulesSettings


def judge(text: str, **settings):
    return RuleEngine.for_settings(RulesSettings(**settings)).check(Subject(text=text))


EVERYDAY = [
    "稍微等下 12345678",  # 稍微 (a little) is not 微 (WeChat)
    "微软 MT6752 处理器",
    "我来接单，订单号 20260315001",
    "快递单号 773012345678 到了吗",
    "这周料理课取消了",
    "出租车好难打",
    "外围的座位满了",
    "今天开课了，科室主任讲",
    "中午吃快餐",
    "海外粉丝见面会",
    "下午三存两取",
    "这个养号游戏太肝了",
    "跑分软件是什么",
    "老师包教会吗",
    "直播粉丝好多啊",
    "车队今天集合，8点出发",
    "500+350+4700 一共多少",
]


@pytest.mark.parametrize("text", EVERYDAY)
def test_everyday_chat_is_allowed(text):
    verdict = judge(text)
    assert not verdict.violation, (text, verdict.score, verdict.hits)


# (message, a rule that must be among the hits)
EVASIONS = [
    ("收 TG 老号，量大", "combination"),  # an ad's shape (收 + goods) and an ad phrase
    ("盘口找车队", "short_message"),  # gambling and fraud phrases, nothing else
    ("跑芬 上卡", "short_message"),  # 跑芬 = 跑分
    ("看片网址 永久", "short_message"),
    ("加个微 QWE5678", "contact"),  # 微 right next to an ID is WeChat
    ("出海外粉 上包", "phrase:ads"),
    ("代收付 四方支付 白资", "phrase:fraud"),
    ("最高赠送 二存三存都送", "phrase:gambling"),
]


@pytest.mark.parametrize("text,rule", EVASIONS)
def test_combined_evasions_are_caught(text, rule):
    verdict = judge(text)
    assert verdict.violation, (text, verdict.score, verdict.hits)
    assert any(h.rule == rule for h in verdict.hits), verdict.hits


def test_the_combination_bonus_is_what_tips_a_two_kind_message():
    verdict = judge("收 TG 老号，量大")
    combo = [h for h in verdict.hits if h.rule == "combination"]
    assert combo and verdict.violation
    # Each piece of evidence alone stays below the threshold.
    assert not judge("收 TG 老号").violation
    assert not judge("量大").violation


def test_a_contact_cue_phrase_is_not_counted_twice():
    # 私聊我 is both a contact cue and an ad phrase: one kind of evidence, no bonus.
    verdict = judge("有问题私聊我")
    assert not any(h.rule == "combination" for h in verdict.hits), verdict.hits
    assert not verdict.violation


def test_a_single_phrase_in_a_short_message_is_still_only_evidence():
    for text in ("包教会", "跑分", "看片", "周料"):
        verdict = judge(text)
        assert verdict.hits and not verdict.violation, (text, verdict.hits)
        assert not any(h.rule == "short_message" for h in verdict.hits), verdict.hits


def test_a_reference_number_weighs_less_than_a_bare_number():
    plain = [h for h in judge("号码 20260315001").hits if h.rule == "id_like"]
    order = [h for h in judge("订单号 20260315001").hits if h.rule == "id_like"]
    assert plain and order and order[0].weight < plain[0].weight


def test_disabling_a_category_also_drops_its_short_message_boost():
    verdict = judge("盘口找车队", disabled_categories=["fraud"])
    assert not any(h.category == "fraud" for h in verdict.hits), verdict.hits


@pytest.mark.parametrize("text", ["主播看看奶", "我射你", "小骚货", "打 pao 吗", "露 xiong 了"])
def test_a_short_explicit_one_liner_is_a_porn_violation(text):
    verdict = judge(text)
    assert verdict.violation, (text, verdict.score, verdict.hits)
    assert any(h.rule == "short_message" and h.category == "porn" for h in verdict.hits), verdict.hits


@pytest.mark.parametrize("text", ["今天买盘很猛", "麦饼好吃", "网吧包夜去", "买黄金吗", "一炮而红"])
def test_a_short_message_with_a_selling_word_only_is_not_explicit(text):
    verdict = judge(text)
    assert not verdict.violation, (text, verdict.score, verdict.hits)
    assert not any(h.rule == "short_message" for h in verdict.hits), verdict.hits


def test_an_explicit_word_inside_a_long_chat_gets_no_short_boost():
    verdict = judge("昨天看直播的时候弹幕里有人一直刷大奶两个字，房管后来把他禁言了")
    assert not any(h.rule == "short_message" for h in verdict.hits), verdict.hits
