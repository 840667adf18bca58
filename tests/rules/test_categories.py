"""The category word lists (handlers/rules/data/qunzhu/) and the writing-style signals added for
recall: rare-variant hanzi, a phrase repeated three times, look-at-my-name, styled letters.
Every evasion below is written by us in the style of real group ads; every chat line is something a
member says in an ordinary group and must never be a violation on its own."""

import pytest

from handlers.rules.engine import RuleEngine, Subject, rare_hanzi
from handlers.rules.normalize import canonical
from handlers.rules.settings import RulesSettings


def judge(text: str):
    return RuleEngine.for_settings(RulesSettings()).check(Subject(text=text))


EVERYDAY = [
    "今晚一起打游戏吗",
    "这个价格是多少",
    "我在做兼职老师",
    "世界杯今晚谁踢？",
    "这个项目下周上线",
    "我在菲律宾出差，下周回",
    "服务器又挂了",
    "我的名字叫小王",
    "小白也能学会Python吗",
    "签名档改了",
    "哈哈哈哈哈哈哈哈",
    "加油加油加油加油",
    "收益率怎么算",
    "USDT 今天什么价",
    "他去柬埔寨旅游了",
    "老师包教会吗",
    "今天的收益不错，分红下个月发",
    "一对一辅导多少钱一小时",
    "有空可以约个饭",
    "网址发我一下",
    "这个网站打不开了",
    "我来接单，订单号 20260315001",
    "私信我吧，群里不方便说",
    "看盘看累了，休息一下",
    "①早睡 ②多喝水 ③少熬夜",
    "兼职做的时间比主职时间长",
    "我需要老板签字",
    "老板来了快跑",
    "出门记得带伞",
    "收到，谢谢",
    "哈.哈.哈.哈.哈",
    "一、二、三、四、五",
    "iPhone１５ 多少钱",
    "𝐇𝐞𝐥𝐥𝐨 𝐞𝐯𝐞𝐫𝐲𝐨𝐧𝐞",
    "他是相声名家，明天来演出",
    "邮件主题写：实习生+学校名称+姓名",
    "陪你到老ᚠᚠ",
    "网盘链接失效了，再发一次",
    "今天加了12345678个字",
    "工资加123456元",
    "这个要加1000000吗",
    "我需要你帮我一下，私聊",
]


@pytest.mark.parametrize("text", EVERYDAY)
def test_everyday_chat_with_category_words_is_allowed(text):
    verdict = judge(text)
    assert not verdict.violation, (text, verdict.hits)


EVASIONS = [
    ("柸朂佳投炷蛧跕，炷冊送彩金", "rare_hanzi"),  # 火星文 for 世界杯最佳投注网站, 注册送彩金
    ("偏门项目，小白可做，私我", None),
    ("世界杯投注站，首充送彩金", None),
    ("高价收银行卡，懂的加我", None),
    ("个人兼职，有空可约，一对一", None),
    ("私信了解私信了解私信了解", "repeated_phrase"),
    ("名字++喂 看片", "look_at_name"),
    ("FTX123 麦-P", None),
    ("看cc名 加抠", "look_at_name"),
    ("ＡＢＣ８８８ 寂寞姐妹", None),
    ("橡木稳定运行，保本合同，包教会", None),
    ("纯精聊 包司法 保量", None),
    ("黄播不要钱 懂的加", None),
    ("岀拨号vps 独立服务器", None),
    ("冰毒 k粉 到付", None),
    ("万部高清 永久免费", None),
    ("兼职日结，宝妈在家做", None),
    ("稳定出U，需要的老板私", "ad_shape"),
    ("出Ｕ 秒到账 量大 私", "ad_shape"),
    ("𝐇𝕌𝐗457", "styled_id"),  # the ID itself in mathematical letters
    ("ＫＴＡ６７９ 寂寞", "styled_id"),
    ("看❤片❤找❤我❤薇❤信", "interleaved"),
    ("看妹妹名字+++ 好看", "look_at_name"),  # the plus after the name says "add me"
    ("+CC名 是威", "look_at_name"),
    ("5566 7788 寂寞ᚰ", None),  # ID decorated with the runes ads use
    ("网站盘 需要的私", None),
    ("盗币 洗米 可接一道", None),
    ("喜欢大棒棒加：3057909741", "add_id"),  # 加 right before a long number
    ("需要网址的私聊", "ad_shape"),
    ("蔲 5427 049 资源", "contact"),  # 蔲 stands for 扣 (QQ)
]


@pytest.mark.parametrize("text,rule", EVASIONS)
def test_category_evasions_are_caught(text, rule):
    verdict = judge(text)
    assert verdict.violation, (text, verdict.score, verdict.hits)
    if rule:
        assert any(h.rule == rule for h in verdict.hits), verdict.hits


def test_rare_hanzi_counts_only_characters_outside_everyday_gb2312():
    assert rare_hanzi(canonical("今天天气不错")) == (0, 6)
    rare, total = rare_hanzi(canonical("迣鎅柸朂佳投炷"))
    assert total == 7 and rare >= 4  # 佳 投 炷 are in GB2312
    # A name or two with a rare character is ordinary chat, not a disguise.
    assert not any(h.rule == "rare_hanzi" for h in judge("我朋友叫王喆，明天一起吃饭吧").hits)


def test_a_single_category_word_is_evidence_not_a_violation():
    for text in ("包教会", "橡木", "投注", "精聊", "一对一", "岀"):
        verdict = judge(text)
        assert verdict.hits and not verdict.violation, (text, verdict.hits)


def test_laughter_and_cheering_are_not_repeated_phrases():
    for text in ("哈哈哈哈哈哈哈哈哈哈哈", "hhhhhhhhhhhhhhh", "666666", "冲冲冲冲冲冲", "gogogogogo"):
        assert not any(h.rule == "repeated_phrase" for h in judge(text).hits), text


def test_every_own_list_is_shipped_and_well_formed():
    from handlers.rules.engine import DATA, SHIPPED_LISTS

    shipped = {name for name, _, _ in SHIPPED_LISTS}
    for path in sorted((DATA / "qunzhu").glob("*.txt")):
        assert f"qunzhu/{path.name}" in shipped, f"{path.name} is not in SHIPPED_LISTS"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip() or line.startswith("#"):
                continue
            term, _, weight = line.partition("\t")
            assert term.strip() and term == term.strip(), f"{path.name}:{number}: {line!r}"
            if weight:
                assert 0 < float(weight) <= 1.0, f"{path.name}:{number}: weight {weight}"
