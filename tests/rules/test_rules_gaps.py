"""Rules gaps seen on real spam, judged as a group would see them (the verdict and its category, and
what `qunzhu moderate` prints): contact solicitation without an ID, referral links, text walls, and
amounts, prices and dates that are not contact IDs. Each with ordinary messages that stay allowed."""

import pytest

from handlers.rules.cli import default_settings, moderate_texts
from handlers.rules.engine import RuleEngine, Subject
from handlers.rules.settings import RulesSettings


def judge(text: str, settings: RulesSettings | None = None, **subject):
    return RuleEngine.for_settings(settings or RulesSettings()).check(Subject(text=text, **subject))


def moderated(*texts: str) -> list[dict]:
    return moderate_texts(list(texts), default_settings())


def assert_allowed(text: str, settings: RulesSettings | None = None) -> None:
    verdict = judge(text, settings)
    assert not verdict.violation, (text, verdict.hits)


# --- adding someone on WeChat/QQ for a gift, no ID -------------------------------------------------

@pytest.mark.parametrize("text", [
    "加小美微信送你一份理财资料",
    "想要福利的加老师VX免费领",
    "加助理V信领取新人礼包",
    "加我微信送你教程",
    "需要资料的加我微信",
    "免费领取资料，加客服微信",
    "加 小美 V·信 送你一份资料",  # separators between the letters
    "加qq群免费领课程",
    "添加客服微信免费领资料",
    "加微信看美女",
    "看片加我微信",
])
def test_adding_someone_for_a_gift_is_contact_solicitation(text):
    verdict = judge(text)
    assert verdict.violation and verdict.category == "contact", verdict.hits
    assert verdict.primary.rule == "contact_lure"
    [result] = moderated(text)
    assert result["verdict"] == "violation" and result["category"] == "contact"
    assert result["action"]["action"] != "allow"


@pytest.mark.parametrize("text", [
    "我加了他微信",
    "加个微信群聊聊工作",
    "你加一下他微信吧",
    "你别忘了加我WX就行了",
    "别加他微信，说送资料的都是骗子",  # a warning, not an offer
    "我加了他微信，他送了我一份资料",  # what happened, not an offer
    "加个微信，资料我发你",
    "加油！微信红包收到了",
    "加他微信看美食推荐",
    "他更加喜欢微信送红包",  # 更加 is "more", nobody is added
    "增加微信支付送红包功能",
])
def test_talk_about_adding_someone_without_a_lure_stays_allowed(text):
    assert_allowed(text)
    [result] = moderated(text)
    assert result["verdict"] == "allow" and result["action"]["action"] == "allow"


def test_a_lure_with_an_id_is_named_by_the_id():
    verdict = judge("加小美微信 abc12345 送你一份理财资料")
    assert verdict.violation and verdict.category == "contact"
    assert verdict.primary.rule == "contact" and not any(h.rule == "contact_lure" for h in verdict.hits)


# --- referral links ---------------------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "https://www.binance.com/register?ref=ABC123",
    "https://example.com/signup?invite_code=XYZ789",
    "https://example.com/signup?inviteCode=XYZ789",
    "https://example.com/?code=8899",
    "https://example.com/?lang=zh&aff=123",
    "https://example.com/join?invite=abc",
    "https://example.com/#/register?invite=abc",  # a single-page site's route
    "example.com/signup?ref=abc",  # no scheme
])
def test_a_referral_link_on_an_ordinary_site_is_an_ad(url):
    for text in (url, f"注册就送 {url}", f"Join here: {url}"):
        verdict = judge(text)
        assert verdict.violation and verdict.category == "ads", (text, verdict.hits)
        assert verdict.primary.rule == "referral"
    [result] = moderated(f"注册就送 {url}")
    assert result["verdict"] == "violation" and result["rule"] == "referral" and result["category"] == "ads"


def test_the_same_sites_without_a_referral_code_stay_allowed_for_established_members():
    for text in ("https://example.com/signup", "https://example.com/?lang=zh", "https://github.com/foo/bar?tab=readme",
                 "看看这个 https://docs.python.org/3/library/re.html", "https://example.com/?preference=1",
                 "https://example.com/?code="):
        assert_allowed(text)


def test_an_allowed_site_with_a_referral_code_is_still_a_referral():
    # allowed_domains passes the site's ordinary links; a referral code on it is an ad all the same.
    settings = RulesSettings(allowed_domains=["binance.com"])
    assert_allowed("https://www.binance.com/zh-CN/markets", settings)
    verdict = judge("https://www.binance.com/register?ref=ABC123", settings)
    assert verdict.violation and verdict.category == "ads" and verdict.primary.rule == "referral"


def test_a_member_allowed_to_post_links_still_may_not_post_referral_links():
    # The points level that allows links drops the link category; a referral is an ad, not a link.
    assert not judge("https://spam.example.xyz/buy", newcomer=False, links_allowed=True).violation
    verdict = judge("https://example.com/signup?invite_code=XYZ789", links_allowed=True)
    assert verdict.violation and verdict.category == "ads"


def test_a_newcomers_referral_link_is_a_link_as_all_their_links_are():
    # Newcomers' links are link violations (newcomer_link_action removes them); the referral is named too.
    verdict = judge("https://example.com/signup?ref=abc", newcomer=True)
    assert verdict.violation and verdict.category == "link"
    assert any(h.rule == "referral" for h in verdict.hits)
    [result] = moderate_texts(["https://example.com/signup?ref=abc"], default_settings(), newcomer=True)
    assert result["category"] == "link" and result["action"]["action"] == "kick"
    # With links = "all" the link itself is the violation; the referral is named as well.
    verdict = judge("https://example.com/signup?ref=abc", RulesSettings(links="all"))
    assert verdict.violation and {"link", "referral"} <= {h.rule for h in verdict.hits}


# --- text walls ---------------------------------------------------------------------------------------

def wall(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


AD_PARAGRAPH = (
    "各位老板好，本店新到一批优质货源，品类齐全，价格公道，支持先看后付，全国包邮，七天无理由退换，"
    "欢迎大家多多关注多多支持，有任何问题随时在群里留言，我们会第一时间为您解答，感谢大家一直以来的信任！"
)
VARIED = "".join(
    f"第{i}天：{place}的{thing}{feeling}，{when}再去一次。\n"
    for i, (place, thing, feeling, when) in enumerate(
        [(p, t, f, w) for p in ("杭州", "成都", "西安", "厦门", "青岛", "长沙", "昆明")
         for t in ("早餐", "博物馆", "夜市", "老街", "湖边", "书店")
         for f, w in [("很有意思", "明年"), ("人太多了", "淡季")]], 1)
)


@pytest.mark.parametrize("text", [
    wall("刷屏刷屏大家快看过来", 6000),
    wall(AD_PARAGRAPH, 4000),  # a whole paragraph of about 100 characters pasted over and over
    wall(AD_PARAGRAPH + "联系群主了解更多详情，谢谢各位，祝大家生意兴隆、财源广进！" * 2, 4000),  # ~190 characters
    VARIED[:1500] + wall("我要刷屏 ", 3000),  # a long intro, then thousands of characters of one phrase
    wall("第一句话在这里", 3000) + wall("第二句话不一样的", 3000),  # two walls in one message
])
def test_one_phrase_repeated_for_thousands_of_characters_is_flood(text):
    verdict = judge(text)
    assert verdict.violation and verdict.category == "flood" and verdict.primary.rule == "text_wall", verdict.hits
    assert verdict.work <= 40 * len(text)  # linear
    [result] = moderated(text)
    assert result["verdict"] == "violation" and result["category"] == "flood"
    assert result["action"]["action"] == "warn"  # flood goes the ladder's way, as the router's flood hits do


def test_long_varied_messages_are_not_walls():
    assert len(VARIED) > 1500
    for text in (VARIED, VARIED[:600], AD_PARAGRAPH * 2, (AD_PARAGRAPH * 3)[:400] + VARIED[:200]):
        verdict = judge(text)
        assert not any(h.rule == "text_wall" for h in verdict.hits), (text[:60], verdict.hits)
        assert verdict.work <= 40 * len(text)


def test_the_wall_check_stays_linear_in_the_message_length():
    for unit in ("刷屏刷屏大家快看过来", AD_PARAGRAPH):
        short, long = judge(wall(unit, 1000)), judge(wall(unit, 2000))
        assert long.work <= 2.2 * short.work + 200
    short, long = judge(VARIED[:1000]), judge(VARIED[:2000])
    assert long.work <= 2.2 * short.work + 200


# --- amounts, prices and dates are not contact IDs ------------------------------------------------

@pytest.mark.parametrize("text", [
    "今天花了168.32元",
    "¥1999.00",
    "3,280元",
    "价格 12,800元 包邮",
    "售价：1299.00",
    "$1,999.99",
    "RMB 2,999",
    "一共 1,234.56 块",
    "微信转账 520.00元",
    "微信付款168.32元",
    "这个卖 ¥1,299.00 微信可以付款",
    "QQ音乐会员 15.00元/月",
    "微信 价格1000-2000元",
    "微信群里说月薪 8000-12000元",
    "会议 2026-03-05 10:30-11:45，微信群里通知",
    "活动时间 12.25-1.5，详情看微信群",
    "微信群 3.15-3.20 开会",
    "2024年5月6日 14:30 QQ群见",
])
def test_amounts_prices_and_dates_are_not_contact_ids(text):
    verdict = judge(text)
    assert not any(h.category == "contact" and h.weight >= 0.5 for h in verdict.hits), verdict.hits
    assert not verdict.violation
    assert moderated(text)[0]["verdict"] == "allow"


@pytest.mark.parametrize("text", [
    "QQ 2744 7053",
    "qq 2744.7053",
    "微信 abc-123-456",
    "电话 138-1234-5678",
    "➕扣扣：7.5.9.3.3.3.0.1.8",
    "QQ 2744 7053元",  # a unit after a split ID does not make it an amount
    "微信 27447053元",  # nor after eight digits
    "微信价格 2744 7053",  # a price word before a split ID neither
    "君-伟心 ＫＵ€５３７",  # a currency sign decorating a code
])
def test_real_ids_written_with_separators_still_are(text):
    verdict = judge(text)
    assert verdict.violation and verdict.category == "contact", verdict.hits
    assert moderated(text)[0]["category"] == "contact"
