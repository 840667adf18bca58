"""The speed rewrites of the rules engine give exactly what the plain forms give (issue 19): the
word automaton reading UTF-16 bytes, the regex squeeze, and the patterns rewritten to start with a
character instead of a look-behind."""

import re

from hypothesis import given, settings, strategies as st

from handlers.rules import engine, normalize
from handlers.rules.engine import Subject, WordMatcher, _Term
from handlers.rules.normalize import Views
from handlers.rules.settings import RulesSettings

# Letters of the rewritten patterns' alphabets, and anything else.
PIECES = st.text(alphabet=st.sampled_from(list("0123456789_ab@.:：-/年月日 一三九zqw\ue000\ue005") + ["\u0400", "з", "ł"]))
TEXT = st.one_of(st.text(), PIECES)


def test_a_word_matches_whole_characters_only():
    matcher = WordMatcher([_Term("中", "custom", 1.0, False)], rule="custom_word")  # UTF-16: 4E 2D
    assert list(matcher.find(Views("", "", "中"))) == ["中"]
    # 奎 (59 4E) then ⴀ (2D 00): the bytes 4E 2D straddle the two characters.
    assert matcher.find(Views("", "", "奎ⴀ")) == {}


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_squeeze_is_the_translate_table(text):
    plain = text.translate(normalize._SQUEEZE_TABLE)
    plain = normalize._DIGIT_LETTER_BEFORE_DIGIT.sub(lambda m: normalize._DIGIT_LETTERS[m.group(0)], plain)
    assert normalize.squeeze(text) == plain


LOOK_BEHIND_FIRST = {  # the rewritten pattern → the form it was written from
    engine._DATE_OR_TIME: r"(?<![0-9])(?:(?:19|20)[0-9]{2}\s?[-./年]\s?(?:0?[1-9]|1[0-2])\s?[-./月]\s?"
    r"(?:0?[1-9]|[12][0-9]|3[01])日?|(?:[01]?[0-9]|2[0-3])[:：][0-5][0-9](?:[:：][0-5][0-9])?)(?![0-9])",
    engine._FIVE_DIGITS: r"(?<![0-9])[0-9]{5}(?![0-9])",
    engine._LATIN_ID: r"(?<![a-z0-9_])[a-z][a-z0-9_\-]{5,19}(?![a-z0-9_])",
    engine._CODE_ID: r"(?<![a-z\u0370-\u03ff\u0400-\u04ff])[a-z]{2,5}[0-9]{3,6}(?![0-9])",
    engine._HANDLE: r"(?<![a-z0-9_.])@([a-z][a-z0-9_]{3,31})",
    engine._DIGIT_WORD_IN_RUN: "(?<=[0-9])[零〇一二两三四五六七八九](?=[0-9])",
    normalize._SEP_BETWEEN: r"(?<=[0-9\ue000-\ue009])_+(?=[0-9\ue000-\ue009])",
    normalize._LOOKALIKE_IN_RUN: r"(?<=[0-9])[\ue000-\ue009]+(?=[0-9])",
}


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_patterns_starting_with_a_character_find_what_their_look_behind_forms_find(text):
    for rewritten, plain in LOOK_BEHIND_FIRST.items():
        assert [(m.span(), m.groups()) for m in rewritten.finditer(text)] == \
            [(m.span(), m.groups()) for m in re.finditer(plain, text)], plain


def test_the_contact_gate_lets_every_contact_through():
    check = engine.RuleEngine.for_settings(RulesSettings()).check
    for text in ("加我薇信 abc12345", "@someone_here", "看我名字", "ᛀᛀ好", "☎ 找我", "＋ｖ", "⓿➃肆5678", "🐧 扣"):
        assert any(h.category == "contact" or h.rule == "disguise" for h in check(Subject(text=text)).hits), text
