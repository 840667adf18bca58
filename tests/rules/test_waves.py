"""Spam waves across groups (handlers/rules/waves.py), on made-up ads written here."""

from datetime import UTC, datetime, timedelta
from zlib import crc32

import pytest

from handlers.rules.normalize import normalize
from handlers.rules.waves import (
    DEFAULT_TTL,
    MAX_ENTRIES,
    THRESHOLD,
    WaveMatch,
    WaveTracker,
    shingles,
    similarity,
    wave_shingles,
)

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)

AD = "专业车队接料，卡接回U，承接各种一道二道，欢迎实力金主来谈，支持担保上押，骗子勿扰，联系飞机@abc12345"
# A few words and the handle changed.
VARIANT = "实力车队接料，卡接回U，承接各种一道二道，欢迎金主来谈，支持担保上押，骗子勿扰，联系飞机@xyz67890"
# Only digits changed.
DIGITS = "专业车队接料，卡接回U，承接各种一道二道，欢迎实力金主来谈，支持担保上押，骗子勿扰，联系飞机@abc99871"
# Decorated: brackets, spaces, a full-width letter, an emoji.
DECORATED = "【专】【业】车队接料 卡接回Ｕ 承接各种一道二道 欢迎实力金主来谈 支持担保上押 骗子勿扰 联系✈️@abc12345"
OTHER_ADS = [
    "高价回收闲置显卡，当面交易，现金秒结，同城上门，价格公道，微信号13800138000",
    "兼职刷单日赚三百，无需押金，时间自由，宝妈学生都可以做，加我企鹅号987654321",
    "澳门首家线上赌场，注册就送八十八元彩金，首充一百送一百，提款秒到账，网址d9625点com",
    "出售各大平台实名认证账号，支持批量购买，售后无忧，诚信经营，频道t.me/sellacc888",
]
ORDINARY = [
    "今天下午三点开会，记得带上周的测试报告和电脑充电器，会议室在三楼东侧",
    "有人知道这个报错怎么解决吗？pip install 的时候提示找不到对应版本",
    "周末一起去爬山吧，天气预报说周六是晴天，早上八点在地铁站集合",
    "这个车队的比赛昨晚看了吗，最后一圈超车太精彩了，冠军实至名归",
]


def tracker(**kwargs) -> WaveTracker:
    t = WaveTracker(**kwargs)
    t.remember(AD, at=T0, chat_key="tg:-1001", rule="contact_ad", category="ad")
    return t


def test_a_variant_with_a_few_words_or_digits_changed_matches():
    t = tracker()
    for text in (VARIANT, DIGITS, DECORATED):
        m = t.match(text, at=T0 + timedelta(minutes=5), chat_key="tg:-1002")
        assert isinstance(m, WaveMatch), text
        assert THRESHOLD <= m.similarity < 1.0
        assert not m.exact
    assert t.match(AD, at=T0 + timedelta(minutes=5)).similarity == 1.0  # the same text, in any group
    assert similarity(AD, VARIANT) > THRESHOLD
    assert similarity(AD, DIGITS) > similarity(AD, VARIANT)


def test_unrelated_messages_and_other_ads_do_not_match():
    t = tracker()
    for text in ORDINARY + OTHER_ADS:
        assert t.match(text, at=T0 + timedelta(minutes=1)) is None, text
        assert similarity(AD, text) < THRESHOLD


def test_many_waves_each_variant_finds_its_own_original():
    t = WaveTracker()
    for i, ad in enumerate([AD, *OTHER_ADS]):
        assert t.remember(ad, at=T0, chat_key=f"tg:-{i}", rule=f"rule{i}", category="ad")
    m = t.match(VARIANT, at=T0)
    assert m.chat_key == "tg:-0" and m.rule == "rule0"
    m = t.match("兼职刷单日赚五百，无需押金，时间自由，宝妈学生都可以做，加我企鹅号123456789", at=T0)
    assert m is not None and m.chat_key == "tg:-2"
    assert all(t.match(text, at=T0) is None for text in ORDINARY)


def test_short_and_repetitive_messages_never_form_or_match_a_wave():
    t = tracker()
    for short in ("加v看片12345", "私聊我", "出cccccccccccc", "啦啦啦啦啦啦啦啦啦啦啦啦啦啦啦", "666666666666666666"):
        assert wave_shingles(short) is None
        assert t.remember(short, at=T0, chat_key="tg:-1001", rule="contact_ad", category="ad") is False
        assert t.match(short, at=T0) is None
    assert len(t) == 1
    # A short message inside the remembered ad does not match it either.
    assert t.match("骗子勿扰", at=T0) is None
    assert similarity("私聊我", "私聊我") == 0.0


def test_expiry_after_the_ttl():
    t = tracker(ttl=timedelta(hours=1))
    assert t.match(VARIANT, at=T0 + timedelta(minutes=59)) is not None
    assert t.match(VARIANT, at=T0 + timedelta(minutes=61)) is None
    assert len(t) == 0  # pruned by the match itself

    t = WaveTracker()
    t.remember(AD, at=T0, chat_key="a", rule="r", category="ad", ttl=timedelta(minutes=10))
    t.remember(OTHER_ADS[0], at=T0, chat_key="a", rule="r", category="ad")  # the default ttl
    assert t.ttl == DEFAULT_TTL == timedelta(hours=6)
    m = t.match(OTHER_ADS[0], at=T0)
    assert m.expires_at == T0 + DEFAULT_TTL
    assert t.prune(T0 + timedelta(minutes=9)) == 0
    assert t.prune(T0 + timedelta(minutes=10)) == 1
    assert len(t) == 1
    assert t.prune(T0 + DEFAULT_TTL) == 1
    assert len(t) == 0


def test_punishing_a_near_copy_again_refreshes_the_wave_and_keeps_the_original():
    t = tracker(ttl=timedelta(hours=1))
    copy = AD.replace("，", " ")[:-1] + "9"  # other separators, one digit changed
    assert similarity(AD, copy) >= 0.9
    assert t.remember(copy, at=T0 + timedelta(minutes=50), chat_key="tg:-1009", rule="admin", category="ad")
    assert len(t) == 1  # merged into the wave of AD
    m = t.match(VARIANT, at=T0 + timedelta(minutes=90), chat_key="tg:-1009")
    assert m is not None  # the refresh moved the expiry to 50 min + 1 h
    assert (m.chat_key, m.rule, m.seen_at, m.times_punished) == ("tg:-1001", "contact_ad", T0, 2)
    assert m.expires_at == T0 + timedelta(minutes=110)
    # A changed variant (below the merge similarity) is a wave of its own.
    assert t.remember(VARIANT, at=T0 + timedelta(minutes=91), chat_key="tg:-1009", rule="admin", category="ad")
    assert len(t) == 2


def test_the_cap_drops_the_oldest():
    t = WaveTracker(max_entries=3)
    for i, ad in enumerate(OTHER_ADS):
        t.remember(ad, at=T0 + timedelta(minutes=i), chat_key=f"g{i}", rule="r", category="ad")
    assert len(t) == 3 and t.dropped_by_cap == 1
    at = T0 + timedelta(minutes=5)
    assert t.match(OTHER_ADS[0], at=at) is None
    assert [t.match(ad, at=at).chat_key for ad in OTHER_ADS[1:]] == ["g1", "g2", "g3"]
    # Remembering a near-copy again makes a wave the newest: the next one to go is g2.
    t.remember(OTHER_ADS[1], at=at, chat_key="g9", rule="r", category="ad")
    t.remember(AD, at=at, chat_key="g4", rule="r", category="ad")
    assert t.match(OTHER_ADS[2], at=at) is None
    assert {t.match(text, at=at).chat_key for text in (OTHER_ADS[1], OTHER_ADS[3], AD)} == {"g1", "g3", "g4"}
    assert WaveTracker().max_entries == MAX_ENTRIES == 20_000


def test_a_match_names_the_original_group_rule_and_time():
    t = tracker()
    at = T0 + timedelta(minutes=3)
    m = t.match(VARIANT, at=at, chat_key="tg:-1002")
    assert (m.chat_key, m.rule, m.category, m.seen_at) == ("tg:-1001", "contact_ad", "ad", T0)
    assert m.same_chat is False
    assert m.sample.startswith("专业车队接料")
    assert t.match(VARIANT, at=at, chat_key="tg:-1001").same_chat is True
    assert t.match(VARIANT, at=at).same_chat is None


def test_normalised_views_are_accepted_and_give_the_same_answer():
    t = tracker()
    views = normalize(VARIANT)
    assert t.match(views, at=T0) == t.match(VARIANT, at=T0)
    assert t.remember(normalize(OTHER_ADS[0]), at=T0, chat_key="g", rule="r", category="ad")
    assert t.match(OTHER_ADS[0], at=T0).similarity == 1.0


def test_forget_by_text_or_by_group():
    t = tracker()
    t.remember(OTHER_ADS[0], at=T0, chat_key="tg:-1002", rule="r", category="ad")
    t.remember(OTHER_ADS[1], at=T0, chat_key="tg:-1002", rule="r", category="ad")
    assert t.forget(ORDINARY[0]) == 0
    assert t.forget(VARIANT, chat_key="tg:-1002") == 0  # the wave is from another group
    assert t.forget(VARIANT) == 1  # e.g. an admin reverted the punishment
    assert t.match(AD, at=T0) is None
    assert t.forget(chat_key="tg:-1002") == 2
    assert len(t) == 0
    with pytest.raises(ValueError):
        t.forget()


def test_shingles_are_crc32_of_character_trigrams_the_same_in_every_process():
    assert shingles("abcd") == {crc32("abc".encode("utf-32-le")), crc32("bcd".encode("utf-32-le"))}
    assert crc32("abc".encode("utf-32-le")) == 1937709347  # zlib's crc32: no per-process salt


def test_bad_arguments():
    with pytest.raises(ValueError):
        WaveTracker(ttl=timedelta(0))
    with pytest.raises(ValueError):
        WaveTracker(threshold=0)
    with pytest.raises(ValueError):
        WaveTracker(max_entries=0)
    with pytest.raises(ValueError):
        WaveTracker().remember(AD, at=T0, chat_key="g", rule="r", category="ad", ttl=timedelta(seconds=-1))
    assert WaveTracker().match(AD, at=T0) is None  # empty


def test_thousands_of_waves_still_find_the_variant_and_nothing_else():
    import random

    rng = random.Random(7)
    pool = [chr(c) for c in range(0x4E00, 0x4E00 + 2500)]
    t = WaveTracker()
    for i in range(3000):
        text = "".join(rng.choice(pool) for _ in range(rng.randint(15, 80)))
        t.remember(text, at=T0, chat_key=f"g{i % 50}", rule="r", category="ad")
    t.remember(AD, at=T0, chat_key="tg:-1001", rule="contact_ad", category="ad")
    assert len(t) == 3001
    at = T0 + timedelta(minutes=1)
    assert t.match(VARIANT, at=at).chat_key == "tg:-1001"
    assert all(t.match(text, at=at) is None for text in ORDINARY + OTHER_ADS)
    assert t.stats()["waves"] == 3001
