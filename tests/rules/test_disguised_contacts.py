"""Contact IDs disguised with homophones, digit words, rare variant hanzi and name tags — and the
everyday numbers next to the same characters that must still pass."""

import pytest

from handlers.rules.engine import RuleEngine, Subject
from handlers.rules.normalize import normalize
from handlers.rules.settings import RulesSettings


def judge(text: str):
    return RuleEngine.for_settings(RulesSettings()).check(Subject(text=text))


def test_rare_variant_hanzi_for_contact_words_are_read_in_the_squeezed_view():
    assert normalize("私/訫我").squeezed == "私信我"
    assert normalize("媺号ccЗ4367").squeezed == "微号cc34367"
    assert normalize("嶶 765510103").squeezed == "微765510103"
    # Cyrillic з is a 3 only right before a digit: Russian words stay words
    assert "103" not in normalize("порядка 10 записей").squeezed


@pytest.mark.parametrize(
    "text",
    [
        "家看筘─5四2 7049",  # 筘 = 扣 (QQ), 四 = 4 inside the number
        "威信k8八8k77",
        "2396 8433寂寞少付口",  # the homophone closes the message
        "2744 7053 籹水奶",  # a rare variant hanzi next to the ID
        "澽KTM657",
        "巧 T6787V 纯情",  # a name and an ID and next to nothing else
        "韵 KMD255",
        "CC1777-染",
        "家752753636企.",  # 家 = 加
        "妹吸奶 19476 71973",  # a lewd word right next to the ID
    ],
)
def test_disguised_contacts_are_caught(text):
    verdict = judge(text)
    assert verdict.violation, verdict.hits


@pytest.mark.parametrize(
    "text",
    [
        "端口改成 10086 就行",
        "快递 75312345678 放在门口",
        "拿铁 23456 号 请到窗口",
        "奶茶 12345678 号",
        "我家小区 12345 号楼门口",
        "车牌 京A12345 停在楼下",
        "京A12345",
        "买RTX4090",
        "型号 RTX4090 现在多少钱",
        "航班 CA1234 延误了",
        "159 170-175呢",
        "欧美大牌同款刺绣花朵收腰牛仔连衣裙D2975",
        "微软将gb2312和gbk映射为gb18030",
        "佢嘅單號係 12345678",
        "12345円の商品",
    ],
)
def test_everyday_numbers_next_to_the_same_characters_pass(text):
    verdict = judge(text)
    assert not verdict.violation, verdict.hits
