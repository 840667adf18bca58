"""The fast paths of the rules engine give exactly what the plain forms give (issue 19, chat speed):
the canonical shortcuts for stable and full-width text, the digit skeleton of the stretches near
digits, the possessive homophone pattern, and the cheap gates in front of searches."""

import re

from hypothesis import given, settings, strategies as st

from handlers.rules import engine, normalize

PLAIN_HOMO = (
    "(?:(?<![稍轻细略卑精显式])微(?![软笑博小米型波])|喂|韦|胃|威|薇|嶶|徾|徽|卫星|维信|危信|(?<![门入出路人窗接端港胃开借进户伤缺"
    "突关隘渡海道岸洞闸井枪炮虎窟])口(?![袋罩红味号令头碑气吻音腔语述算试岸径])|扣|抠|摳|窛|滱|寇|宼|冦|叩|蔻|蔲|筘|敲敲|鹅|乞儿|"
    "(?<![衣长短纱半百])裙|(?<=[加家伽佳嘉])维|(?<![a-z])q(?![a-z]))"
)
PLAIN_LEWD = ("(?:妹|(?<![牛酸羊豆椰奶])奶(?![茶粉油酪昔片奶瓶嘴牛])|(?<![映发注照辐反投放喷四])射|插(?![件座头入口图槽队])"
              "|操(?![作场心控盘])|裸|骚|婊|逼|屄)")
PLAIN_NEAR_ID = re.compile(
    f"(?:{PLAIN_HOMO}|{PLAIN_LEWD})[^0-9]{{0,3}}{engine._IDISH}|{engine._IDISH}.{{0,3}}?(?:{PLAIN_HOMO}|{PLAIN_LEWD})"
    f"|{engine._SELL}[^0-9]{{0,2}}{engine._CODE}|{engine._CODE}.{{0,2}}?{engine._SELL}"
    r"|(?<![0-9])[0-9]{3,6}[qv][0-9]{3,6}(?![0-9])"
)
PLAIN_TAIL = re.compile(f"{engine._IDISH}.{{4,8}}?{PLAIN_HOMO}$")

# Digits, letters, the cues' characters and what precedes them, separators, look-alikes, styled digits.
CONTACTISH = st.text(alphabet=st.sampled_from(
    list("0123456789" * 3 + "abloqvxz 微喂口扣卖片奶射维加稍门袋衣裙星信-_.:·，一三九肆⓿➃①○|")
    + ["\U0001d7d0", "\U0001f600", "з", "ł"]), max_size=60)
# Stable characters, upper-case ASCII, full-width forms and characters that need the full pass.
CANONISH = st.text(alphabet=st.sampled_from(
    list("大家好点點發ᚰᚠ·ᴥ≧₳αабcABZ，：！？（）Ａ１　\u200b\ufe0f\u0301ｶﾞΣİ\u00a0😀") + ["𝐗"]), max_size=30)


def _plain_canonical(text: str) -> str:
    """The canonical text by the full passes alone, to a fixed point."""
    out = normalize._INVISIBLE_OR_SURROGATE.sub("", text)
    for _ in range(6):
        again = normalize._canon_once(out)
        if again == out:
            break
        out = again
    return out


@settings(max_examples=400, deadline=None)
@given(CANONISH)
def test_the_canonical_shortcuts_give_the_full_passes(text):
    assert normalize.canonical(text) == _plain_canonical(text)


@settings(max_examples=400, deadline=None)
@given(st.one_of(CONTACTISH, st.text()))
def test_the_skeleton_of_the_stretches_has_the_whole_skeletons_runs(text):
    text = normalize.canonical(text)
    whole, stretches = normalize.digit_skeleton(text), normalize.digit_stretches(text)
    assert engine._DIGIT_RUN.findall(whole) == engine._DIGIT_RUN.findall(stretches)
    assert bool(engine._REPEAT_DIGIT.search(whole)) == bool(engine._REPEAT_DIGIT.search(stretches))


@settings(max_examples=400, deadline=None)
@given(CONTACTISH)
def test_the_homophone_patterns_find_what_their_plain_forms_find(text):
    for fast, plain in ((engine._HOMOPHONE_NEAR_ID, PLAIN_NEAR_ID), (engine._HOMOPHONE_TAIL, PLAIN_TAIL)):
        a, b = fast.search(text), plain.search(text)
        assert (a and (a.span(), a.group())) == (b and (b.span(), b.group())), plain.pattern


@settings(max_examples=400, deadline=None)
@given(st.one_of(CONTACTISH, st.text()))
def test_three_digit_like_counts_digit_like_characters(text):
    assert engine._three_digit_like(text) == (sum(ch in normalize.DIGIT_LIKE for ch in text) >= 3)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("大家好a1 .-❤·，,!¥价元万一共rmb") + ["\U0001f600"]), max_size=80))
def test_the_gates_let_every_match_through(text):
    assert engine._INTERLEAVED.search(text) is None or engine._HANZI_THEN_DECORATION.search(text)
    assert engine._AMOUNT_AFTER_SIGN.search(text) is None or engine._AMOUNT_SIGNS.search(text)
    assert engine._AMOUNT_BEFORE_UNIT.search(text) is None or engine._AMOUNT_UNITS.search(text)
