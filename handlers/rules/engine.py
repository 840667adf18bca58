"""The detectors: one pure function from a message (and a group's rule settings) to a verdict.

The bot (handlers/rules/router.py) and `qunzhu moderate` both call `RuleEngine.check`, so an admin
trying rules on the command line sees exactly what the bot would do.

Scoring: each detector yields `Hit`s with a weight. A hit of weight >= 1 (a link, an invite, a
contact ID with its cue word, an operator's own word or regex …) is a violation on its own. Weaker
evidence adds up; shipped word lists are capped below the threshold so they never are the sole
grounds for a penalty. Newcomers are judged more strictly (`newcomer_factor` lowers the threshold).

Every pass is linear in the message length: translate tables, Aho-Corasick automata, and regexes
without nested quantifiers over bounded tokens. `Verdict.work` counts the characters scanned so the
property tests can check it.
"""

from __future__ import annotations

import array
import logging
import pickle
import re
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import ahocorasick

from handlers.rules.normalize import (ANY_DIGIT, DIGIT_LIKE, Views, canonical, char_class, normalize, squeeze,
                                      utf16_letters)

log = logging.getLogger(__name__)

DATA = Path(__file__).parent / "data"
MAX_SCAN = 4096  # longer messages are judged on their first and last 2048 characters

# Categories a group can give its own action (settings.rules.actions).
from handlers.rules.settings import CATEGORIES  # noqa: E402,F401

# Shipped lists: (file, category, weight per term). The big third-party lists are noisy (they list
# 政府, 香港, QQ …): they only ever add a little evidence.
SHIPPED_LISTS: tuple[tuple[str, str, float], ...] = (
    ("qunzhu/ads.txt", "ads", 0.5),
    ("qunzhu/fraud.txt", "fraud", 0.5),
    ("qunzhu/gambling.txt", "gambling", 0.5),
    ("qunzhu/porn.txt", "porn", 0.5),
    ("qunzhu/insult.txt", "insult", 0.5),
    ("qunzhu/jobs.txt", "fraud", 0.5),
    ("qunzhu/services.txt", "ads", 0.5),
    ("qunzhu/drugs.txt", "ads", 0.5),
    ("qunzhu/doxxing.txt", "fraud", 0.5),
    ("qunzhu/en_ru.txt", "fraud", 0.5),
    ("fwwdn-sensitive-stop-words/广告.txt", "ads", 0.15),
    ("konsheng-sensitive-lexicon/广告类型.txt", "ads", 0.15),
    ("fwwdn-sensitive-stop-words/色情类.txt", "porn", 0.15),
    ("konsheng-sensitive-lexicon/色情类型.txt", "porn", 0.15),
    ("konsheng-sensitive-lexicon/色情词库.txt", "porn", 0.15),
    ("fwwdn-sensitive-stop-words/涉枪涉爆违法信息关键词.txt", "violence", 0.25),
    ("konsheng-sensitive-lexicon/涉枪涉爆.txt", "violence", 0.25),
    ("konsheng-sensitive-lexicon/暴恐词库.txt", "violence", 0.25),
    ("fwwdn-sensitive-stop-words/政治类.txt", "politics", 0.15),
    ("konsheng-sensitive-lexicon/政治类型.txt", "politics", 0.15),
    ("konsheng-sensitive-lexicon/反动词库.txt", "politics", 0.15),
    ("konsheng-sensitive-lexicon/新思想启蒙.txt", "politics", 0.15),
    ("konsheng-sensitive-lexicon/贪腐词库.txt", "sensitive", 0.05),
    ("konsheng-sensitive-lexicon/民生词库.txt", "sensitive", 0.05),
    ("konsheng-sensitive-lexicon/COVID-19词库.txt", "sensitive", 0.05),
    ("konsheng-sensitive-lexicon/其他词库.txt", "sensitive", 0.05),
    ("konsheng-sensitive-lexicon/补充词库.txt", "sensitive", 0.05),
    ("konsheng-sensitive-lexicon/GFW补充词库.txt", "sensitive", 0.05),
    ("konsheng-sensitive-lexicon/网易前端过滤敏感词库.txt", "sensitive", 0.05),
    ("konsheng-sensitive-lexicon/零时-Tencent.txt", "sensitive", 0.05),
)
DOMAIN_LISTS = ("fwwdn-sensitive-stop-words/网址.txt", "konsheng-sensitive-lexicon/非法网址.txt")
SHIPPED_WORDS_CAP = 0.9  # third-party and own weak words together never reach the threshold alone

TLDS = frozenset(
    """com cn net org me io cc xyz top vip info co tk ly gg app club site online shop ltd fr ru ws biz
    tv pw link live life win bet fun icu buzz work store tech space website asia hk tw us uk de jp kr
    in pro mobi name one ai so la to im sh gl red wang ink kim plus group""".split()
)
SHORTENERS = frozenset(
    """t.cn url.cn dwz.cn suo.im bit.ly tinyurl.com goo.gl is.gd ow.ly t.ly cutt.ly rb.gy urlz.fr
    s.id v.gd rebrand.ly shorturl.at tiny.cc 0x0.st u.nu reurl.cc ppt.cc""".split()
)
# TLDs that spam registers most (cheap, rarely used by real sites), and Telegram's own hosts: links
# to channels and bots are how Telegram ads travel.
SPAM_TLDS = frozenset("top xyz tk icu buzz win bet fun club site online shop ltd pw ws cc live vip cyou cfd sbs bond click rest lol quest wang ink kim red".split())
TELEGRAM_HOSTS = frozenset(("t.me", "telegram.me", "telegram.dog"))
SECOND_LEVEL = frozenset(("com", "net", "org", "gov", "edu", "co", "ac"))
PLAIN_LINK_WEIGHT = 0.6  # an ordinary-looking link from an established member: evidence, not a violation
SHORTENER_SUFFIXES = (".page.link", ".app.link", ".onelink.me")  # deep-link redirectors
INVITE_PATTERNS = ("t.me/+", "t.me/joinchat", "telegram.me/joinchat", "telegram.me/+", "chat.whatsapp.com",
                   "discord.gg", "discord.com/invite", "qm.qq.com", "jq.qq.com", "line.me/r/ti/g")
MINIPROGRAM_DOMAINS = ("pinduoduo.com", "yangkeduo.com", "pdd.com", "mobile.yangkeduo.com", "wxaurl.cn",
                       "servicewechat.com", "game.weixin.qq.com", "h5.qq.com")
MINIPROGRAM_WORDS = ("砍一刀", "帮我砍", "帮砍", "砍价", "助力", "拼多多", "小程序", "小游戏", "点一下就", "帮我点")
# A sign-up link carrying the poster's referral code (?ref=, ?invite_code=, &aff= …): the poster is paid
# per sign-up, so it is an ad (category ads, not link: a member allowed to post links, or an allowed
# site, does not make it less of one). Read on the lower-cased URL (inviteCode → invitecode).
_REFERRAL_PARAM = re.compile(
    r"[?&](?:(?:ref|referral|invite|invitation|aff|affiliate)(?:_?(?:code|id))?|inviter|code)=[^&#\s]"
)
_MINIPROGRAM_WORD = re.compile("|".join(map(re.escape, MINIPROGRAM_WORDS)))  # none of these: no word (speed)

# Contact cue words (matched on the squeezed view, look-alikes already mapped to Latin).
WECHAT_CUES = ("加v", "加微", "微信", "薇信", "威信", "徽信", "维信", "潍信", "v信", "vx", "wx", "weixin", "wechat",
               "喂心", "微心", "薇", "加威", "加薇", "vv", "加我v")
QQ_CUES = ("qq", "扣扣", "加抠", "加窛", "加扣", "企鹅", "乞鹅", "企俄", "企饿", "q群", "扣群", "球球", "加q", "丘丘")
TG_CUES = ("飞机", "纸飞机", "telegram", "电报", "tg号", "飞机号", "飞机联系", "电报联系")
GENERIC_CUES = ("私聊", "联系我", "联系方式", "私信", "加我", "找我", "滴滴我", "咨询", "联系", "带价", "详聊", "加好友", "私我")
ALL_CUES = WECHAT_CUES + QQ_CUES + TG_CUES + GENERIC_CUES
_GENERIC = frozenset(GENERIC_CUES)
_CUES = re.compile("|".join(re.escape(c) for c in sorted(ALL_CUES, key=len, reverse=True)))
_WORDY = re.compile(r"\w")

_TOKEN = re.compile(r"[a-z0-9][a-z0-9._\-/:%?=&+#~@]{0,2048}")
# The patterns here that must not follow a character test it once their first character is read
# ("@(?<![a-z0-9_.]@)" for "(?<![a-z0-9_.])@"): a pattern that starts with a character, not a
# look-behind, lets the regex engine skip to where that character is (speed).
_HANDLE = re.compile(r"@(?<![a-z0-9_.]@)([a-z][a-z0-9_]{3,31})")
_EMAIL = re.compile(r"[a-z0-9._\-]{1,64}@(?:qq|163|126|gmail|outlook|hotmail|yahoo|foxmail|sina)\.(?:com|cn)")
# "+V", "+Q", "+口", "➕薇": add me on WeChat/QQ, the app named by a letter or a homophone.
_PLUS_V = re.compile(r"[+➕]\s{0,3}(?:(?:v|vx|wx|q|qq)(?![a-z])|[口扣抠薇威微喂卫徽嶶溦伟胃])")
_DOT_WORD = re.compile(r"[a-z0-9\-]{2,64}(?:点|dot)(?:com|cn|net|top|xyz|vip|cc|me|org)(?![a-z])")
_DIGIT_RUN = re.compile(r"[0-9]{5,}")
# A WeChat/QQ cue written in hanzi and right after it a Latin ID without digits ("薇信ghhmdzz",
# "潍信:Sykjtq", "加微rrrrrren"); on the canonical text, written without a space in between (微信 app
# is English). xxx is a redaction, wechat/weixin the app's own name.
_CUE_LATIN_ID = re.compile(
    r"(?:加微|微信|薇信|威信|徽信|维信|潍信|v信|扣扣|企鹅)(?:号|是|id)?[:：]?"
    r"(?!\w*xxx|wechat|weixin)([a-z][a-z_\-]{4,19})(?![a-z0-9_\-])"
)
_LATIN_ID = re.compile(r"[a-z](?<![a-z0-9_].)[a-z0-9_\-]{5,19}(?![a-z0-9_])")
# Not right after a Cyrillic or Greek letter: in the squeezed view look-alikes are Latin, so the end
# of a Russian word before a number ("нужно 128" → "…ho128") would read as a code.
_CODE_ID = re.compile(r"[a-z](?<![a-z\u0370-\u03ff\u0400-\u04ff].)[a-z]{1,4}[0-9]{3,6}(?![0-9])")
# Homophones spammers write for 微/V and Q/扣/企鹅, and the porn-selling cues put next to IDs (片 盘 卖).
# Every alternative starts with its character and tests what precedes it once it is read
# ("微(?<![稍…]微)" for "(?<![稍…])微"): the regex engine then drops an alternative on its first
# character (speed).
_HOMO = ("(?:微(?<![稍轻细略卑精显式]微)(?![软笑博小米型波])|喂|韦|胃|威|薇|嶶|徾|徽|卫星|维信|危信"
         "|口(?<![门入出路人窗接端港胃开借进户伤缺突关隘渡海道岸洞闸井枪炮虎窟]口)(?![袋罩红味号令头碑气吻音腔语述算试岸径])"
         "|扣|抠|摳|窛|滱|寇|宼|冦|叩|蔻|蔲|筘|敲敲|鹅|乞儿|裙(?<![衣长短纱半百]裙)|维(?<=[加家伽佳嘉]维)|q(?<![a-z]q)(?![a-z]))")
_SELL = "[片篇盘卖]"
# Lewd words put right next to a bare ID ("2744 7053 妹B嫰", "妹吸奶 19476 71973"): a porn seller's contact.
_LEWD = ("(?:妹|奶(?<![牛酸羊豆椰奶]奶)(?![茶粉油酪昔片奶瓶嘴牛])|射(?<![映发注照辐反投放喷四]射)|插(?![件座头入口图槽队])"
         "|操(?![作场心控盘])|裸|骚|婊|逼|屄)")
_IDISH = r"(?:[a-z]{1,5}[0-9]{3,12}|[0-9]{5,20})"
_CODE = r"(?:[a-z]{1,5}[0-9]{3,12})"
# The same, possessive, for _HOMOPHONE_NEAR_ID: there an ID ends the match or is followed by at most
# a few characters and a cue that starts with neither a letter nor a digit, so an ID given back a
# letter or digit never lets the rest match where the whole ID did not; these find what _IDISH and
# _CODE find there without retrying every shorter ID (speed). Not so in _HOMOPHONE_TAIL.
_IDISH_WHOLE = r"(?:[a-z]{1,5}+[0-9]{3,12}+|[0-9]{5,20}+)"
_CODE_WHOLE = r"(?:[a-z]{1,5}+[0-9]{3,12}+)"
# A homophone cue or a lewd word right next to an ID ("喂心 cad571", "2744 7053 口", "妹吸奶 19476 71973"),
# at most 3 characters apart; a selling cue right next to a letter+digit code ("ct6085盘片"). Bounded
# repetitions: linear time. Read on the squeezed view with digit words inside numbers as digits.
_HOMOPHONE_NEAR_ID = re.compile(
    f"(?:{_HOMO}|{_LEWD})[^0-9]{{0,3}}{_IDISH_WHOLE}|{_IDISH_WHOLE}.{{0,3}}?(?:{_HOMO}|{_LEWD})"
    f"|{_SELL}[^0-9]{{0,2}}{_CODE_WHOLE}|{_CODE_WHOLE}.{{0,2}}?{_SELL}"
    r"|[0-9](?<![0-9].)[0-9]{2,5}[qv][0-9]{3,6}(?![0-9])"  # a Q or V splitting the number: "1542 Q 7049"
)
# A homophone cue that ends a short ad after its ID ("2396 8433寂寞少付口", "KMD252 老板-买-拼-微");
# searched in the last 40 characters only.
_HOMOPHONE_TAIL = re.compile(f"{_IDISH}.{{4,8}}?{_HOMO}$")
# Characters one of which every match of these two patterns contains (each alternative of _HOMO,
# _LEWD and _SELL has one, and the split number a q or v): text without any skips the search (speed).
_HOMO_CHARS = frozenset("微喂韦胃威薇嶶徾徽卫维危口扣抠摳窛滱寇宼冦叩蔻蔲筘敲鹅乞裙q")
_NEAR_ID_CHARS = _HOMO_CHARS | frozenset("妹奶射插操裸骚婊逼屄片篇盘卖v")
_HOMO_CHARS_RX, _NEAR_ID_CHARS_RX = re.compile(char_class(_HOMO_CHARS)), re.compile(char_class(_NEAR_ID_CHARS))
_IDISH_RX = re.compile(_IDISH)
_THREE_DIGITS = re.compile("[0-9]{3}")  # in every _IDISH and _TAG_ID
# Digits written as hanzi inside a run of digits ("5四2 7049", "k8八8k77"): read as digits for the
# homophone check (a lone 一 or 三 elsewhere stays a word).
_DIGIT_WORD = {"零": "0", "〇": "0", "一": "1", "二": "2", "两": "2", "三": "3", "四": "4", "五": "5",
               "六": "6", "七": "7", "八": "8", "九": "9"}
_DIGIT_WORD_IN_RUN = re.compile("[零〇一二两三四五六七八九](?<=[0-9].)(?=[0-9])")
# A name and an ID and next to nothing else ("韵 KMD255", "巧 T6787V 纯情", "兮 FTA676❤❤麦", "CC1777-染"):
# the way contact IDs are posted; a chat message naming a model number starts with a verb (买RTX4090,
# 用K50) and a number in chat ends with a particle or a unit (175呢, 300个). A licence plate (京A12345)
# is not a contact.
_TAG_ID = r"(?:[a-z]{1,5}[0-9]{3,6}[a-z]?|[0-9]{7,11})(?![0-9a-z])"
_NAME_TAG_ID = re.compile(  # used with .match: anchored at the start
    r"(?![买卖用换出收要是有在和跟装上玩选看把给等到比像与或新旧老这那哪个台款型号第送拿带租配连接刷升降去来下"
    r"一二三四五六七八九十零两])(?![京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][a-z][0-9a-z]{5,6}(?![0-9a-z]))"
    rf"[\u4e00-\u9fff]{_TAG_ID}.{{0,4}}$"
    rf"|{_TAG_ID}(?![呢吧啊吗了的呀哦嘛啦么哈元块个号位次])[\u4e00-\u9fff]$"
)
# "加小美微信送你一份理财资料", "想要福利的加老师VX免费领": add someone on WeChat or QQ for a gift. The ID
# follows in private, so this solicits contact without one. On the squeezed view: 加 (not 别加, 更加,
# 加了, 加油 …), a name of at most six characters, the app, and within twelve characters a gift offered
# (送…资料, 免费领, 领取…礼包, 有福利) or something to watch (看美女, 交换视频); or the gift named first
# (想要福利的加…, 免费领…加…, 看片加…). "我加了他微信" and "加个微信群" offer nothing. Bounded
# repetitions: linear time.
_ADD_SOMEONE_ON_APP = (
    r"加(?<![别不没勿莫更增参追附叠施强外]加)(?![了过油班速载工强热价钱分倍减法])[^加]{0,6}?"
    r"(?:微信|薇信|威信|v信|vx|wx|weixin|wechat|qq|扣扣|企鹅|薇|v(?![a-z])|q(?![a-z]))"
)
_GIFT = "(?:资料|礼包|福利|教程|课程|红包|干货|秘籍|源码|电子书|攻略|模板|素材)"
_CONTACT_LURE = re.compile(
    rf"{_ADD_SOMEONE_ON_APP}[^加]{{0,12}}?"
    rf"(?:免费[领送拿得学看进]|送(?![了过给])[^加]{{0,8}}?{_GIFT}|领取?[^加]{{0,6}}?{_GIFT}|[有拿领发](?:福利|礼包)"
    r"|看(?:美(?![食景剧图甲妆术颜容])|妹|女(?![儿装鞋包])|片|裸|真人)|交换视频|视频(?:聊|爱)|裸聊)"
    rf"|(?:想要|需要|要)[^加]{{0,4}}?{_GIFT}的?{_ADD_SOMEONE_ON_APP}"
    rf"|(?:看|要|卖|买)(?:片|美女)[^加]{{0,4}}?{_ADD_SOMEONE_ON_APP}"
    rf"|免费[领送拿][^加]{{0,10}}?{_ADD_SOMEONE_ON_APP}"
)
# Every match has 加 and 免, a gift word's first character or one of 看换视裸: text without them
# skips the search (speed).
_LURE_CHARS_RX = re.compile("[免资礼福教课红干秘源电攻模素看换视裸]")
# "加：3057909741", "加 w1786500633", "家752753636": 加 (add, or its homophones) right before a long number.
_ADD_ID = re.compile(r"[加家伽佳嘉][a-z]?([0-9]{6,12})(?![0-9个元块字万次人分米千百亿倍])")  # on the squeezed view
_RUNES = re.compile("[\u16a0-\u16ff]")
_SPAM_RUNES = re.compile("[\u16a1-\u16ff]")
_NAME_CUE = re.compile(r"名字|c名|cc名|q名|网名|看我名|简介")
# "look at my name/profile" (the contact is in the display name): 看姐姐名字, 名字要片吗
_LOOK_AT_NAME = re.compile(r"看我名|点简介|[姐妹]名字|名字[喂围威薇]|看(?!到).{0,4}(?:名字|名/字|简介|昵称|主页)|(?:名字|简介|昵称).{0,3}(?:看|加|要|买)")
_REPEAT_DIGIT = re.compile(r"([0-9])\1{4,}")
# "看cc名", "名字++喂", "名称是…": the contact is in the display name (on the squeezed view, so
# separators such as "+" or "·" in between do not hide it).
_NAME_PLUS = re.compile(
    r"(?:名字|名称)(?:家|[^\w]){0,4}(?:\+|➕|家)|[名茗佲][^\w]{0,4}(?:\+|➕)"  # 名字+++ / 名字家 (家 = 加)
    r"|(?:\+|➕)[^\w]{0,2}c{0,2}[^\w]{0,2}[名茗佲]"  # +C名 / +CC.名字
    r"|[名茗佲][^+\n]{0,6}?是(?:威|q|v|微|薇|喂|卫)"  # 看名，是威哦
)
# Every match of _LOOK_AT_NAME, _LOOK_AT_NAME_SQ, _NAME_PLUS and _NAME_CUE has one of these (页 of 主页).
# The squeezed view's hanzi are the text's (plus 信 and 微), so testing the text is enough (speed).
_NAME_CHARS = frozenset("名茗佲铭简昵页")
_NAME_CHARS_RX = re.compile(char_class(_NAME_CHARS))
_LOOK_AT_NAME_SQ = re.compile(
    r"看(?:我|姐姐?|妹妹?|发言)?的?c{0,2}的?[名茗佲铭](?!单|额|次|牌|气|人|义|著|片|画|校|言|场)"
    r"|c{1,2}[名茗佲铭]|[名茗佲][字称]?[喂围威薇胃卫危扣口抠窛]|名称是"
)
# Styled letters and digits (𝐇𝕌𝐗, full-width ＡＢＣ１２, 🇰🇺, Ⓥ): spammers use them to dodge filters.
# Circled numbers ①-⑳ are left out: ordinary lists use them.
_STYLED = re.compile("[\U0001d400-\U0001d7ff\U0001f1e6-\U0001f1ff\uff21-\uff3a\uff41-\uff5a\uff10-\uff19"
                     "\u2474-\u24ff\U0001f100-\U0001f1ff\u2776-\u2793]")
# A digit-like character (the BMP ones as a fast bitmap class; anything past U+FFFF counts, which
# only makes the gates below let more through).
_DIGIT_LIKE_BMP = char_class(c for c in DIGIT_LIKE if c < "\U00010000")
_DIGIT_LIKE_RX = re.compile(  # the long range list of the others is only read for characters past U+FFFF
    _DIGIT_LIKE_BMP + "|(?=[\U00010000-\U0010ffff])" + char_class(c for c in DIGIT_LIKE if c >= "\U00010000"))


# Three characters each digit-like or past U+FFFF, in one scan of bitmap classes.
_THREE_DIGIT_LIKE_OR_ASTRAL = re.compile(
    "{0}{1}*+{0}{1}*+{0}".format(_DIGIT_LIKE_BMP[:-1] + "\U00010000-\U0010ffff]",
                                 "[^" + _DIGIT_LIKE_BMP[1:-1] + "\U00010000-\U0010ffff]"))
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _three_digit_like(text: str) -> bool:
    """At least three digit-like characters: one scan, then, only when a character past U+FFFF (most
    are emoji) was one of the three, three searches, not a list of them all (long text)."""
    m = _THREE_DIGIT_LIKE_OR_ASTRAL.search(text)
    if m is None:
        return False
    if _ASTRAL.search(text, m.start(), m.end()) is None:
        return True
    m = _DIGIT_LIKE_RX.search(text)
    m = m and _DIGIT_LIKE_RX.search(text, m.end())
    return bool(m and _DIGIT_LIKE_RX.search(text, m.end()))


# The cheap "ID-like run or contact cue" check of the contact detectors: without a cue, every hit
# needs one of these characters in the text (a digit-like one for IDs, @ for handles and e-mail,
# + or 🐧 for "+V", a name word) or a decoration (runes, ☎, styled letters) in the raw text.
_CONTACT_CHARS_RX = re.compile(
    _DIGIT_LIKE_BMP[:-1] + re.escape("@+➕") + "".join(sorted(_NAME_CHARS)) + "]|[\U00010000-\U0010ffff]")
_DECORATION_RX = re.compile(_STYLED.pattern[:-1] + "\u16a0-\u16ff☎✆]")
# The same 3-12 characters three times in a row ("私信我了解私信我了解私信我了解"); only the first
# 240 characters are looked at, so the bounded backtracking stays constant per message.
_REPEAT_UNIT = re.compile(r"(.{3,12})\1\1")
# A text wall: a long message that is mostly one short unit over and over (a phrase pasted a
# hundred times to push the chat away) is flooding, whatever the phrase says. Long: this many
# characters once spaces are gone; mostly: one unit of at most TEXT_WALL_UNIT characters (a phrase,
# or a whole ad paragraph pasted over and over) covers this share of it, spaces and line breaks
# aside, at least TEXT_WALL_REPEATS times (a message pasted twice is no wall); or covers
# TEXT_WALL_SPAN characters, however long the rest (a wall after a long intro, or two walls). An
# article, a list of different lines or code has no such unit.
TEXT_WALL_CHARS = 500
TEXT_WALL_UNIT = 200
TEXT_WALL_REPEATS = 4
TEXT_WALL_SHARE = 0.8
TEXT_WALL_SPAN = 2000
# Hanzi interleaved with decorations to break word filters: 色❤单❤身❤男, 服.务.器.出.租
_INTERLEAVED = re.compile(r"(?:[\u4e00-\u9fff][^\w\s，。！？、；：,!?~～…]){4,}")
# A decoration right after a hanzi: where the first one is, a match can start at the earliest; written
# to start with the decoration, so the regex engine skips to decorations (speed).
_HANZI_THEN_DECORATION = re.compile(r"[^\w\s，。！？、；：,!?~～…](?<=[\u4e00-\u9fff][^\w\s，。！？、；：,!?~～…])")
# How Telegram market ads are put together, on the squeezed view: "出U" / "收卡" at the start, "私" as
# the last word (= DM me), "需要的老板" / "老哥来" addressing buyers. Each is weak evidence alone.
_AD_SHAPES: tuple[tuple[re.Pattern, float, str, frozenset[str]], ...] = (
    # The last item: characters one of which every match contains; a message without any skips
    # the search (speed).
    (re.compile(r"^(?:出|岀|收)(?:[a-z]|[^去来了现门国差发生席名手家院口到拾视藏音据入获看费货益录养藏])"), 0.5,
     "出/收 + goods", frozenset("出岀收")),
    (re.compile(r"^.{2,40}(?<![隐无自看])私$"), 0.5, "ends with 私 (DM me)", frozenset("私")),
    (re.compile(r"(?:需要|要|买)的?(?:老板|老哥|兄弟)"), 0.5, "需要的老板", frozenset("老兄")),
    (re.compile(r"(?:老板|老哥)(?:来|私|联系|滴滴|dd)"), 0.4, "老板来/私", frozenset("老")),
    (re.compile(r"(?:需要|要(?!是)|买|卖)[^，。,.]{0,6}的?(?:私聊|私我|私信|加我|联系我|滴滴|dd|找我|滴我)"), 0.3, "要…的私聊",
     frozenset("要买卖")),
    # A price per unit of work or goods ("270一单", "1.2一张", "一小时300"): how trade ads quote.
    (re.compile(r"[0-9]{2,5}(?:元|块|u|p|r|rmb)?(?:一|每|/)(?:单|小时|天|条|张|号|个号|w)|(?:一|每)(?:单|小时)[0-9]{2,5}"),
     0.3, "price per unit", frozenset("一每/")),
)
_AD_SHAPE_RX = re.compile(char_class(frozenset().union(*(needs for *_, needs in _AD_SHAPES))))
# The characters each shape needs as a class: one C scan a shape (speed).
_AD_SHAPE_GATES = tuple((pattern, weight, label, re.compile(char_class(needs)))
                        for pattern, weight, label, needs in _AD_SHAPES)


def _gb2312_common() -> frozenset[str]:
    """The 6,763 hanzi of GB2312: everyday simplified Chinese. Text full of hanzi outside it
    (迣鎅柸朂佳投炷 for 世界杯最佳投注) is written to dodge filters."""
    out = set()
    for hi in range(0xB0, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                out.add(bytes((hi, lo)).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    return frozenset(out)


_COMMON_HANZI = _gb2312_common()


_HANZI = re.compile("[\u3400-\u4dbf\u4e00-\u9fff]")


# "Holds a hanzi outside GB2312", in one C scan (speed); the 20,823 characters are not kept as a set
# (3.6 MB): `_is_rare_hanzi` asks the ranges and GB2312 instead.
_RARE_HANZI_RX = re.compile(char_class(
    ch for ch in map(chr, (*range(0x3400, 0x4DC0), *range(0x4E00, 0xA000))) if ch not in _COMMON_HANZI))


def rare_hanzi(text: str) -> tuple[int, int]:
    """(hanzi outside GB2312, all hanzi) in a canonical text."""
    hanzi = _HANZI.findall(text)
    if len(hanzi) < 3:
        return 0, len(hanzi)  # too few to judge (the rule needs three rare ones); skips the count
    return len(hanzi) - sum(map(_COMMON_HANZI.__contains__, hanzi)), len(hanzi)


# Outside GB2312 but everyday in Cantonese and Japanese chat (佢嘅, 12345円) or in Mandarin chat (妳).
_EVERYDAY_RARE = frozenset("嘅咗冇啲嘢喺嚟佢哋嘥揾搵攞咁噉喎嚿冚嗮瞓噃啱屌妳円転発売読駅様価")


def _is_rare_hanzi(ch: str) -> bool:
    return (("\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf") and ch not in _COMMON_HANZI
            and ch not in _EVERYDAY_RARE)


def _rare_next_to_id(sq: str) -> str:
    """An ID with a hanzi outside GB2312 at most 3 characters before or after it (籹水奶 2744 7053):
    such characters are written to dodge filters, so the ID is a disguised contact. Looks at the
    first 16 IDs only."""
    if _RARE_HANZI_RX.search(sq) is None:
        return ""  # no hanzi outside GB2312 at all (speed)
    for i, m in enumerate(_IDISH_RX.finditer(sq)):
        if i >= 16:
            break
        for ch in reversed(sq[max(0, m.start() - 3):m.start()]):
            if ch.isdigit():
                break
            if _is_rare_hanzi(ch):
                return ch + m.group(0)
        for ch in sq[m.end():m.end() + 3]:
            if _is_rare_hanzi(ch):
                return m.group(0) + ch
    return ""


_ORDER_NO = re.compile(r"单号|订单|编号|学号|工号|房间号|快递|物流|order|发票")
_ROUND = re.compile(r"^[0-9]{1,3}0{3,}$")  # 10000, 15000: quantities, not IDs
# Five-digit service numbers written as such (10086 and the other carriers' 100xx, banks' 95xxx,
# 12306/12315 …): public hotlines, not a member's contact.
_SERVICE_NO = re.compile(r"^(?:100[0-9]{2}|95[0-9]{3}|123(?!45)[0-9]{2})$")
_FIVE_DIGITS = re.compile(r"[0-9](?<![0-9].)[0-9]{4}(?![0-9])")
_MOBILE = re.compile(r"^(?:0{0,2}86)?(1[3-9][0-9]{9})$")


_CONTACT_RULES = frozenset({"contact", "handle", "add_id", "look_at_name", "styled_id", "contact_lure"})
# A weak contact cue (联系, 私聊) and a reference number (订单号 …) do not count as a contact kind.
_KIND_MIN = {"contact_cue": 0.4, "id_like": 0.4}
_SHAPE_RULES = frozenset({"ad_shape", "interleaved", "rare_hanzi", "repeated_phrase", "invisible_chars"})
COMBINATION_BONUS = 0.1
SHORT_MESSAGE = 12  # squeezed characters
SHORT_BOOST = {"fraud": 0.3, "porn": 0.3}
# Own porn phrases this heavy are explicit (口交, 射你, 大奶 …): a one-liner that is little
# more than one of them is a lewd remark posted for itself, not a word inside a chat.
SHORT_EXPLICIT = 0.6
SHORT_EXPLICIT_BOOST = 0.4
# What makes a phrase explicit: it names a sexual body part or act (or porn itself). Selling words of
# the same list (卖盘, 买黄, 麦饼, 包夜, 上门服务) are everyday words alone and stay evidence.
_EXPLICIT = re.compile(r"[奶乳胸屌逼批屄淫骚裸勃慰撸舔插射]|叽叽|[鸡肌机]巴|阴[茎道蒂唇]|屁眼|[性口肛]交|吞精|破处|[螺果棵]聊|自味|[ah黄簧]片|[约打]炮|[约一打]pa[o0]|xiong|下面痒")


def _independent_kinds(hits: list["Hit"]) -> tuple[int, set[str]]:
    """(how many independent kinds of evidence the hits show, the categories of own-list phrases).
    Kinds: a contact (an ID, a handle, a strong cue word), an own-list phrase that is not itself a
    contact cue (私聊我 counts once), an ad's shape or disguise. The "+" next to a number (500+350)
    is too common to count as a disguise."""
    kinds, categories = set(), set()
    for h in hits:
        if h.rule in _CONTACT_RULES or (h.rule in _KIND_MIN and h.weight >= _KIND_MIN[h.rule]):
            kinds.add("contact")
        elif h.rule.startswith("phrase:") and h.weight >= 0.2 and not _CUES.search(h.evidence):
            categories.add(h.category)
            if h.weight >= 0.3:
                kinds.add("phrase")
        elif h.rule in _SHAPE_RULES or (h.rule == "disguise" and h.evidence != "+"):
            kinds.add("shape")
    return len(kinds), categories


class Hit(NamedTuple):  # a named tuple: built several times per message, ~4x cheaper than a frozen dataclass
    rule: str  # e.g. "link", "invite", "contact", "words:ads", "custom_word"
    category: str
    weight: float
    evidence: str

    def as_dict(self) -> dict:
        return {"rule": self.rule, "category": self.category, "weight": round(self.weight, 3), "evidence": self.evidence}


# tuple.__new__(Hit, (rule, category, weight, evidence)) makes the Hit without the Python-level
# __new__ of a named tuple (speed, where hits are made in a loop).
_new_tuple = tuple.__new__


@dataclass
class Verdict:
    hits: list[Hit] = field(default_factory=list)
    score: float = 0.0
    threshold: float = 1.0
    work: int = 0  # characters scanned, summed over every pass (linear-time check)

    @property
    def violation(self) -> bool:
        return self.score >= self.threshold - 1e-9

    def lead_with(self, hits: list[Hit]) -> None:
        """Evidence found outside the engine (flood, a wave, the model): first in the list, and counted."""
        self.hits[:0] = hits
        self.score += sum(h.weight for h in hits)

    @property
    def primary(self) -> Hit | None:
        """The hit that names the violation: the heaviest, the first found on a tie."""
        if not self.hits:
            return None
        return max(self.hits, key=lambda h: (min(h.weight, 1.0), -self.hits.index(h)))

    @property
    def category(self) -> str | None:
        hit = self.primary
        return hit.category if hit else None

    def evidence(self, limit: int = 300) -> str:
        text = "; ".join(f"{h.rule}: {h.evidence}" for h in self.hits)
        return text[:limit]


class Subject(NamedTuple):  # built for every message: a named tuple is cheap to make (speed)
    """What is judged: a message's text, the texts decoded from its images, its cards."""

    text: str = ""
    qr_texts: tuple[str, ...] = ()
    card_kinds: tuple[str, ...] = ()  # media kinds such as miniprogram, link_card, contact
    newcomer: bool = False
    known_handles: frozenset[str] = frozenset()  # @usernames of group members (not outsiders)
    links_allowed: bool = False  # the member has earned the right to post links (points level)


# --- word lists ---------------------------------------------------------------------------------

class _Term(NamedTuple):
    term: str
    category: str
    weight: float
    shipped: bool  # from a third-party list: weak evidence, capped


_ASCII_LETTER = re.compile("[a-z]")


class PackedStrings:
    """A read-only list of strings kept as one string and their offsets (item i is
    text[offsets[i]:offsets[i + 1]]): 48,000 short str objects cost 3.8 MB, this a tenth of it. An
    item is sliced out when asked for (only for found terms)."""

    def __init__(self, items: list[str]):
        self.text = "".join(items)
        self.offsets = array.array("I", [0])
        for item in items:
            self.offsets.append(self.offsets[-1] + len(item))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> str:
        return self.text[self.offsets[i]:self.offsets[i + 1]]


class WordMatcher:
    """Two Aho-Corasick automata: CJK-bearing terms on the squeezed view, pure-Latin terms on the
    canonical text with word boundaries (so 'ly' does not match inside 'only'); the CJK one reads
    UTF-16 bytes (`utf16_letters`, the view's `squeezed_letters`): pyahocorasick looks a node's
    children up one by one, and with thousands of first characters at its root every character of a
    message was slow; with 256 letters at most a node it is twice the steps, each fast (half the
    time, a C-level conversion). A match in step with the characters ends at an odd place; one
    starting inside a character ends at an even place and is dropped.

    The automata store integers (STORE_INTS, kept in C): a term's index into `keys`, `kind` (2 bytes
    a term: which (rule, category, weight) of the few in `kinds`) and `terms` (only the terms written
    otherwise than their key); the Hit is made when the term is found. A Python tuple per term as the
    payload took 26 of the shipped lists' 43 MB, a str object per key another 3.8. `rule` names the
    hits; by default words:/phrase: and the category."""

    def __init__(self, terms, rule: str | None = None):
        self.cjk = ahocorasick.Automaton(ahocorasick.STORE_INTS)
        self.latin = ahocorasick.Automaton(ahocorasick.STORE_INTS)
        keys: list[str] = []
        self.terms: dict[int, str] = {}
        self.kind = array.array("H")
        self.kinds: list[tuple[str, str, float]] = []
        best: tuple[dict[str, _Term], dict[str, _Term]] = ({}, {})  # CJK, Latin: key → the heaviest term
        for t in terms:
            latin = t.term.isascii()
            key = squeeze(t.term) if not latin else t.term
            if not key or (latin and len(key) < 2) or (t.shipped and len(key) < 2):
                continue  # single characters of third-party lists (女, 把, 三 …) are noise
            known = best[latin].get(key)
            if known is None or t.weight > known.weight:  # the first of equals
                best[latin][key] = t
        kinds: dict[tuple[str, str, float], int] = {}
        for automaton, chosen in zip((self.cjk, self.latin), best):
            for key, t in chosen.items():
                kind = (rule or f"{'words' if t.shipped else 'phrase'}:{t.category}", t.category, t.weight)
                automaton.add_word(key if automaton is self.latin else utf16_letters(key), len(keys))
                if t.term != key:
                    self.terms[len(keys)] = t.term
                keys.append(key)
                self.kind.append(kinds.setdefault(kind, len(kinds)))
        self.kinds = list(kinds)
        self.keys = PackedStrings(keys)
        # Every CJK key's first character: a message without any holds none (speed; a group's own
        # few words are then one scan, not a pass of the automaton).
        self.cjk_first = re.compile(char_class(key[0] for key in best[False]) if best[False] else "(?!)")
        self.has_cjk, self.has_latin = len(self.cjk) > 0, len(self.latin) > 0
        if self.has_cjk:
            self.cjk.make_automaton()
        if self.has_latin:
            self.latin.make_automaton()

    def find(self, views: Views) -> dict[str, Hit]:
        """Key → hit of every term found, in the order first found."""
        # Indexes found, first occurrence first; distinct indexes have distinct keys (the CJK and
        # the Latin keys are apart), so each key is sliced out only once, at the end.
        found: dict[int, None] = {}
        if self.has_cjk and not views.squeezed.isascii() and self.cjk_first.search(views.squeezed):
            found = dict.fromkeys([i for end, i in self.cjk.iter(views.squeezed_letters) if end & 1])
        if self.has_latin and _ASCII_LETTER.search(views.text):
            text = views.text
            n = len(text)
            offsets = self.keys.offsets  # a key's length without slicing it out
            for end, i in self.latin.iter(text):
                if i in found:
                    continue  # found already: storing it again changes nothing (speed in long text)
                start = end - (offsets[i + 1] - offsets[i]) + 1
                if start > 0 and (text[start - 1].isascii() and text[start - 1].isalnum()):
                    continue
                if end + 1 < n and (text[end + 1].isascii() and text[end + 1].isalnum()):
                    continue
                found[i] = None
        if not found:
            return {}
        # Sliced and built here, not through PackedStrings.__getitem__ and Hit() (speed).
        packed, offsets, kinds, kind, terms = self.keys.text, self.keys.offsets, self.kinds, self.kind, self.terms
        hits = {}
        for i in found:
            key = packed[offsets[i]:offsets[i + 1]]
            hits[key] = _new_tuple(Hit, (*kinds[kind[i]], terms.get(i, key)))
        return hits


def _read_list(path: Path, default_weight: float) -> list[tuple[str, float]]:
    out = []
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        log.warning("word list %s cannot be read; skipped", path)
        return out
    for line in lines:
        line = line.strip().lstrip("\ufeff")
        if not line or line.startswith("#"):
            continue
        term, _, weight = line.partition("\t")
        try:
            w = float(weight) if weight.strip() else default_weight
        except ValueError:
            w = default_weight
        for part in term.split("+") if "+" in term and len(term) > 1 else [term]:
            # "A+B" combinations in the lists: each part alone is weaker evidence.
            part = canonical(part.strip())
            if part:
                out.append((part, w if "+" not in term else w / 2))
    return out


# Built once, at start-up (`load_word_lists`, the router's on_startup hook), shared by every engine.
# The lock makes a second caller wait for the first build instead of doing it again.
_LOAD_LOCK = threading.Lock()


def shipped_matcher() -> WordMatcher:
    with _LOAD_LOCK:
        return _shipped()[0]


def shipped_bad_domains() -> frozenset[str]:
    with _LOAD_LOCK:
        return _shipped()[1]


def load_word_lists() -> None:
    """Load the shipped word lists (about a second); later calls return at once."""
    with _LOAD_LOCK:
        _shipped()


def _shipped_terms():
    for name, category, weight in SHIPPED_LISTS:
        own = name.startswith("qunzhu/")  # Qunzhu's own precise phrases; third-party lists are capped
        for term, w in _read_list(DATA / name, weight):
            yield _Term(term, category, w, not own)


def _bad_domains() -> frozenset[str]:
    out: set[str] = set()
    for name in DOMAIN_LISTS:
        for term, _ in _read_list(DATA / name, 1.0):
            out.add(term.removeprefix("www."))
    return frozenset(out)


def build_shipped() -> tuple[WordMatcher, frozenset[str]]:
    """The shipped word lists' matcher and bad-domain set, built in this process."""
    return WordMatcher(_shipped_terms()), _bad_domains()


@lru_cache(maxsize=1)
def _shipped() -> tuple[WordMatcher, frozenset[str]]:
    return _built_in_child() or build_shipped()


# A child process builds them and hands them over pickled. Built here, their 100,000 transient
# terms leave ~15 MB of freed but fragmented heap behind the 17 MB kept (resident memory of every
# running bot); unpickled, they arrive compact. The child is our own: its pickle is trusted.
_BUILD_IN_CHILD = (
    "import pickle, sys\n"
    "sys.path.insert(0, sys.argv[1])\n"
    "from handlers.rules import engine\n"
    "sys.stdout.buffer.write(pickle.dumps((engine.__file__, engine.build_shipped()), protocol=5))\n"
)
CHILD_BUILD_TIMEOUT = 120


def _built_in_child() -> tuple[WordMatcher, frozenset[str]] | None:
    # The child must run this very code: -P keeps the working directory off its path (another
    # checkout there would be imported instead), and this file's root goes first; the answer names
    # the file the child used, and anything else is refused.
    root = str(Path(__file__).resolve().parents[2])
    built = None
    # Read as it arrives (not gathered into one 12 MB bytes first: the peak); stderr to a file, so
    # a chatty child cannot block on a full pipe.
    with tempfile.TemporaryFile() as errors:
        try:
            with subprocess.Popen([sys.executable, "-P", "-c", _BUILD_IN_CHILD, root], stdout=subprocess.PIPE,
                                  stderr=errors) as child:
                deadline = threading.Timer(CHILD_BUILD_TIMEOUT, child.kill)  # a stuck child ends the read
                deadline.start()
                try:
                    built = pickle.load(child.stdout)
                except Exception as exc:  # a truncated answer: build here rather than start without the lists
                    log.warning("word lists: the child's answer could not be read (%s)", exc)
                finally:
                    deadline.cancel()
                code = child.wait()
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("word lists: building them in a child process failed (%s); building them here", exc)
            return None
        errors.seek(0)
        for line in errors.read().decode("utf-8", "replace").splitlines():
            log.warning("word lists: %s", line)  # e.g. a list that cannot be read
    if code != 0:
        log.warning("word lists: the child process building them exited with %s; building them here", code)
        return None
    if not (isinstance(built, tuple) and len(built) == 2 and isinstance(built[1], tuple)
            and isinstance(built[1][0], WordMatcher)):
        log.warning("word lists: the child's answer is not the lists; building them here")
        return None
    if Path(built[0]).resolve() != Path(__file__).resolve():
        log.warning("word lists: the child built them with %s, not this %s; building them here", built[0], __file__)
        return None
    return built[1]


# --- the engine ---------------------------------------------------------------------------------

def _domain_allowed(domain: str, allowed: frozenset[str]) -> bool:
    parts = domain.split(".")
    return any(".".join(parts[i:]) in allowed for i in range(len(parts) - 1))


def _url_domain(token: str) -> tuple[str, str] | None:
    """('example.com', 'example.com/path') for a token that is a URL or a bare domain, else None."""
    t = token
    for prefix in ("https://", "http://", "hxxps://", "hxxp://"):
        if t.startswith(prefix):
            t = t[len(prefix):]
            break
    host = t.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if "@" in host:
        return None  # e-mail addresses are contacts, not links
    host = host.split(":", 1)[0].strip(".-")
    if "." not in host:
        return None
    labels = host.split(".")
    if any(not label for label in labels):
        return None
    tld = labels[-1]
    if tld not in TLDS or not labels[-2] or labels[-2].isdigit() and len(labels) == 2:
        # "1.5.com"? "3.cn"? numbers-only second level are prices/versions, not sites.
        if not (tld in TLDS and token.startswith(("http", "www."))):
            return None
    if host.startswith("www."):
        host = host[4:]
    return host, t


def _suspicious_host(host: str) -> bool:
    """A host that looks like an ad's: a Telegram link, a cheap spam TLD, digits in the site's name
    (776mz.com, 110k.cc, 3w.66778.com)."""
    if host in TELEGRAM_HOSTS:
        return True
    labels = host.split(".")
    if labels[-1] in SPAM_TLDS:
        return True
    name = labels[-3] if len(labels) >= 3 and labels[-2] in SECOND_LEVEL else labels[-2]
    return any(ch.isdigit() for ch in name)


def _contact_lure(sq: str, verdict: Verdict) -> Hit | None:
    """A Hit when the squeezed text asks to add someone on WeChat/QQ for a gift or something to
    watch (`_CONTACT_LURE`)."""
    if "加" not in sq or _LURE_CHARS_RX.search(sq) is None:
        return None  # no 加, or nothing offered (speed)
    verdict.work += 2 * len(sq)
    m = _CONTACT_LURE.search(sq)
    return Hit("contact_lure", "contact", 1.0, m.group(0)) if m else None


def _text_wall(text: str, verdict: Verdict) -> Hit | None:
    """A Hit when `text` is long and mostly one repeated unit. At three places of the text the next
    occurrence of the 8 characters found there, at most TEXT_WALL_UNIT characters on, gives the
    unit's length (a wall repeats its unit everywhere, so any place shows some rotation of it);
    the unit is then counted with str.count. Linear: at most three scans of the text."""
    body = "".join(text.split())
    n = len(body)
    verdict.work += len(text)
    if n < TEXT_WALL_CHARS:
        return None
    for start in (n // 4, n // 2, (3 * n) // 4):
        probe = body[start:start + 8]
        again = body.find(probe, start + 1, start + TEXT_WALL_UNIT + len(probe))
        verdict.work += TEXT_WALL_UNIT + len(probe)
        if again < 0:
            continue
        unit = body[start:again]
        count = body.count(unit)
        verdict.work += n
        covered = count * len(unit)
        if count >= TEXT_WALL_REPEATS and (covered >= TEXT_WALL_SHARE * n or covered >= TEXT_WALL_SPAN):
            return Hit("text_wall", "flood", 1.0, f"{n} characters, mostly {unit[:20]!r} x{count}")
    return None


class RuleEngine:
    """Compiled rules of one group. Build with `RuleEngine.for_settings(settings.rules)` (cached)."""

    def __init__(self, settings):
        self.settings = settings
        self.allowed_domains = frozenset(d.lower().removeprefix("www.") for d in settings.allowed_domains)
        self.blocked_domains = frozenset(d.lower().removeprefix("www.") for d in settings.blocked_domains)
        self.allowed_words = frozenset(squeeze(canonical(w)) for w in settings.allowed_words)
        self.shipped = shipped_matcher() if settings.shipped_lists else None
        self.custom = _custom_matcher(tuple(settings.words)) if settings.words else None
        self.regexes = [re.compile(p, re.IGNORECASE) for p in settings.regexes]
        self.bad_domains = shipped_bad_domains() if settings.shipped_lists else frozenset()
        # Per message only looked up (speed): the thresholds, the disabled categories without and
        # with "link" (a member allowed to post links).
        self.threshold = float(settings.threshold)
        self.newcomer_threshold = settings.threshold * settings.newcomer_factor
        self.disabled = frozenset(settings.disabled_categories)
        self.disabled_links = self.disabled | {"link"}

    @staticmethod
    def for_settings(settings) -> "RuleEngine":
        return _engine_cached(tuple(_hashable(getattr(settings, name)) for name in _ENGINE_FIELDS))

    def check(self, subject: Subject) -> Verdict:
        raw = subject.text
        if len(raw) > MAX_SCAN:
            raw = raw[: MAX_SCAN // 2] + "\n" + raw[-MAX_SCAN // 2:]
        views = normalize(raw)
        hits: list[Hit] = []
        verdict = Verdict(hits=hits, threshold=self.newcomer_threshold if subject.newcomer else self.threshold,
                          work=len(raw) * 4)  # canonical, squeeze, skeleton, invisible scan

        if views.had_invisible and _WORDY.search(views.text):
            hits.append(Hit("invisible_chars", "ads", 0.4, "zero-width/invisible characters"))

        link_hits, url_spans = self._links(views, subject, verdict)
        hits += link_hits
        hits += self._structure(views, verdict)
        verdict.work += 3 * len(views.text)  # the date, day-range and amount scans
        contact_hits = self._contacts(_without(views, url_spans + _not_id_spans(views.text)), subject, verdict)
        hits += contact_hits
        if not (contact_hits and any(h.weight >= 1.0 for h in contact_hits)):  # a contact already shown needs no lure
            lure = _contact_lure(views.squeezed, verdict)
            if lure is not None:
                hits.append(lure)
        for card in subject.card_kinds:
            if card in ("miniprogram", "link_card", "game"):
                hits.append(Hit("miniprogram_card", "miniprogram", 1.0, f"[{card}]"))
            elif card == "contact":
                hits.append(Hit("contact_card", "contact", 1.0, "[contact card]"))
        for qr in subject.qr_texts:
            hits += self._qr(qr, subject, verdict)
        # After the others: a wall of ads or contacts is named by what it advertises.
        wall = _text_wall(views.text, verdict) if len(views.text) >= TEXT_WALL_CHARS else None
        if wall is not None:
            hits.append(wall)

        shipped_score = 0.0
        if self.shipped is not None:
            verdict.work += len(views.squeezed) + len(views.text)
            found = self.shipped.find(views)
            if self.allowed_words:
                hits += [hit for key, hit in found.items() if key not in self.allowed_words]
            else:
                hits += found.values()
        short = bool(hits) and len(views.squeezed) <= SHORT_MESSAGE  # no hit, nothing to boost
        explicit = short and any(
            h.rule == "phrase:porn" and SHORT_EXPLICIT <= h.weight < 1.0 and _EXPLICIT.search(h.evidence) for h in hits
        )
        if explicit:
            # "主播看看奶", "我射你", "小骚货": an explicit word is the whole message.
            hits.append(Hit("short_message", "porn", SHORT_EXPLICIT_BOOST, "short explicit one-liner"))
        elif short and sum(h.category != "sensitive" for h in hits) >= 2:
            # A one-liner that is little more than a fraud or lewd phrase and one more piece of
            # evidence ("跑分车队", "看片网址") is posted for them: it weighs more than the same
            # words inside a long chat. One word alone ("包教会吗") stays evidence.
            for category, bonus in SHORT_BOOST.items():
                rule = f"phrase:{category}"
                if any(h.rule == rule and h.weight >= 0.4 and not _CUES.search(h.evidence) for h in hits):
                    hits.append(Hit("short_message", category, bonus, f"short {category} one-liner"))
                    break
        if self.custom is not None:
            verdict.work += len(views.squeezed) + len(views.text)
            hits += self.custom.find(views).values()
        for pattern in self.regexes:
            verdict.work += len(views.text)
            m = pattern.search(views.text)
            if m:
                hits.append(Hit("custom_regex", "custom", 1.0, m.group(0)[:80] or pattern.pattern))

        disabled = self.disabled_links if subject.links_allowed else self.disabled
        if disabled:
            hits = [h for h in hits if h.category not in disabled]
        score = 0.0
        for h in hits:
            if h.rule.startswith("words:"):
                shipped_score += h.weight
            else:
                score += h.weight
        score += min(shipped_score, SHIPPED_WORDS_CAP)
        if hits and score < verdict.threshold and "ads" not in disabled:
            kinds, categories = _independent_kinds(hits)
            if len(categories) >= 2:
                # Phrases of two different trades in one message (盘口 + 代收, 看片 + 网址).
                hits.append(Hit("combination", "ads", 2 * COMBINATION_BONUS, "+".join(sorted(categories))))
                score += 2 * COMBINATION_BONUS
            elif kinds >= 2:
                # Two different kinds of weak evidence (a contact-like ID, an ad phrase, an ad's
                # shape) in one message are more than their sum: chat rarely has two at once.
                hits.append(Hit("combination", "ads", COMBINATION_BONUS, "contact/phrase/shape together"))
                score += COMBINATION_BONUS
        verdict.hits = hits
        verdict.score = round(score, 6) if score else score  # most messages score 0.0 (speed)
        return verdict

    # --- text structure ----------------------------------------------------------------------
    def _structure(self, views: Views, verdict: Verdict) -> list[Hit]:
        """Signals of how a message is written rather than what it says: hanzi outside everyday
        GB2312 (火星文 written to dodge word filters), a phrase repeated three times in a row."""
        hits: list[Hit] = []
        text = views.text
        verdict.work += len(text) + min(len(views.squeezed), 240) * 12
        rare, total = rare_hanzi(text) if _RARE_HANZI_RX.search(text) else (0, 0)  # none: skip the count
        if rare >= 3 and total and rare / total >= 0.2:
            weight = 1.0 if rare >= 5 and rare / total >= 0.35 else 0.5
            hits.append(Hit("rare_hanzi", "ads", weight, f"{rare} of {total} hanzi are rare variants"))
        sq = views.squeezed[:240]
        verdict.work += len(sq) * len(_AD_SHAPES)
        # Patterns whose characters are absent are skipped.
        for pattern, weight, label, needs in _AD_SHAPE_GATES if _AD_SHAPE_RX.search(sq) else ():
            if needs.search(sq) and pattern.search(sq):
                hits.append(Hit("ad_shape", "ads", weight, label))
        first = _HANZI_THEN_DECORATION.search(text, 0, 512) if len(text) >= 8 else None
        m = _INTERLEAVED.search(text, first.start() - 1, 512) if first else None
        if m and len({ch for ch in m.group(0) if "\u4e00" <= ch <= "\u9fff"}) >= 3:
            hits.append(Hit("interleaved", "ads", 0.5, m.group(0)[:40]))
        # Three units of three at least. A match of 3 units of length L has at most L distinct
        # characters, so sq has at least 2L >= 6 repeats; an ASCII phrase never counts (speed).
        m = (_REPEAT_UNIT.search(sq) if len(sq) >= 9 and not sq.isascii() and len(set(sq)) <= len(sq) - 6
             else None)
        if m and len(set(m.group(1))) >= 2 and not m.group(1).isascii():
            hits.append(Hit("repeated_phrase", "ads", 0.3, m.group(1)))
        return hits

    # --- links -------------------------------------------------------------------------------
    def _links(self, views: Views, subject: Subject, verdict: Verdict) -> tuple[list[Hit], list[tuple[int, int]]]:
        """The link hits, and the spans of views.text that are links (their digits are not contact IDs)."""
        hits: list[Hit] = []
        spans: list[tuple[int, int]] = []
        text = views.text
        verdict.work += len(text)
        if "." in text:  # every URL has a dot (speed)
            self._url_hits(text, subject, verdict, hits, spans)
        verdict.work += len(views.squeezed)
        for m in _DOT_WORD.finditer(views.squeezed) if ("点" in views.squeezed or "dot" in views.squeezed) else ():
            host = m.group(0).replace("点", ".").replace("dot", ".")
            if not _domain_allowed(host, self.allowed_domains):
                hits.append(Hit("link", "link", 1.0, m.group(0)))
        sq = views.squeezed
        if "小程序://" in text:  # a shared mini-program path (#小程序://…)
            hits.append(Hit("miniprogram", "miniprogram", 1.0, "小程序://"))
        for word in MINIPROGRAM_WORDS if _MINIPROGRAM_WORD.search(sq) else ():
            if word in sq:
                weight = 1.0 if word in ("砍一刀", "帮我砍", "帮砍") else 0.5
                hits.append(Hit("miniprogram", "miniprogram", weight, word))
        return hits, spans

    def _url_hits(self, text: str, subject: Subject, verdict: Verdict, hits: list[Hit],
                  spans: list[tuple[int, int]]) -> None:
        """Adds the hits of the URLs in `text` to `hits`, and their spans to `spans`."""
        seen: set[tuple[str, str]] = set()
        judged: dict[str, tuple[Hit, ...]] = {}  # a long message repeats its links: each judged once (speed)
        # A group with an allowlist means "only these sites"; newcomers' links always count.
        strict = self.settings.links == "all" or bool(self.allowed_domains) or subject.newcomer
        for m in _TOKEN.finditer(text):
            token = m.group(0)
            if "." not in token:  # nor after stripping: skipped without the strip (speed)
                verdict.work += len(token)
                continue
            token = token.rstrip(".,;:!?)]}>'\"-")
            verdict.work += len(token)
            if "." not in token:
                continue
            if token in judged:
                found = judged[token]
            else:
                found = judged[token] = self._judge_url(token, strict)
            if found:
                spans.append((m.start(), m.start() + len(token)))
            for hit in found:
                if (hit.rule, hit.evidence) in seen:
                    continue
                seen.add((hit.rule, hit.evidence))
                if hit.weight < 1.0 and any(h.rule == "link" for h in hits):
                    continue  # ordinary links count once: two doc links are not more of an ad than one
                hits.append(hit)

    def _judge_url(self, token: str, strict: bool) -> tuple[Hit, ...]:
        """What a URL is (nothing for an allowed or unreadable one), then a referral if it carries a
        referral code."""
        for pattern in INVITE_PATTERNS:
            if pattern in token:
                if _domain_allowed(pattern.split("/", 1)[0], self.allowed_domains) and pattern not in ("t.me/+", "t.me/joinchat"):
                    return ()
                return (Hit("invite", "invite", 1.0, token[:120]),)
        parsed = _url_domain(token)
        if parsed is None:
            return ()
        host, rest = parsed
        site = self._judge_site(host, token[:120], strict)
        if _REFERRAL_PARAM.search(rest) is None:
            return (site,) if site else ()
        # The poster is paid per sign-up: an ad whatever the site, an allowed one too. After the
        # site's own hit, which names a newcomer's link (a link violation, as all their links are).
        referral = Hit("referral", "ads", 1.0, token[:120])
        return (site, referral) if site else (referral,)

    def _judge_site(self, host: str, evidence: str, strict: bool) -> Hit | None:
        """The hit of a link to `host`: None for an allowed site."""
        if host in self.blocked_domains or _domain_allowed(host, self.blocked_domains):
            return Hit("blocked_domain", "link", 1.0, evidence)
        if _domain_allowed(host, self.allowed_domains):
            return None
        if host in SHORTENERS or host.endswith(SHORTENER_SUFFIXES):
            return Hit("shortlink", "link", 1.0, evidence)
        if any(host == d or host.endswith("." + d) for d in MINIPROGRAM_DOMAINS):
            return Hit("miniprogram_link", "miniprogram", 1.0, evidence)
        if host in self.bad_domains:
            return Hit("bad_domain", "link", 1.0, evidence)
        weight = 1.0 if strict or _suspicious_host(host) else PLAIN_LINK_WEIGHT
        return Hit("link", "link", weight, evidence)

    # --- contacts ----------------------------------------------------------------------------
    def _contacts(self, views: Views, subject: Subject, verdict: Verdict) -> list[Hit]:
        hits: list[Hit] = []
        sq, text = views.squeezed, views.text
        verdict.work += 3 * len(sq) + 4 * len(text)  # the digit skeleton is no longer than the text
        found_cues = _CUES.findall(sq)
        cues = list(dict.fromkeys(found_cues)) if found_cues else []
        if "🐧" in text or (("+" in text or "➕" in text) and _PLUS_V.search(text)):
            cues.append("🐧" if "🐧" in text else "+v")
        if not cues and _CONTACT_CHARS_RX.search(text) is None and _DECORATION_RX.search(views.raw) is None:
            return hits  # no cue, no digit, no @ or +, no name word, no decoration: nothing below can hit (speed)
        strong_cue = not _GENERIC.issuperset(cues)

        # Most chat has no digit at all: the ID patterns below need one (speed, not meaning).
        sq_digits = ANY_DIGIT.search(sq) is not None
        # ⓿➃肆 count in the skeleton too. Its patterns need a run of five digits, and look-alikes (1o1o1)
        # count only between digits, so text with fewer than three digit-like characters has no such
        # run and its skeleton is not even built (speed).
        skeleton_digits = _three_digit_like(text)
        digits = views.digits if skeleton_digits else ""
        # Numbers: phones alone; QQ-like runs with a cue.
        phones, runs = [], []
        literal5 = None  # five-digit numbers written as such, found when a service number needs them (speed)
        for run in _DIGIT_RUN.findall(digits) if skeleton_digits else ():
            mobile = _MOBILE.match(run)
            if mobile:
                phones.append(mobile.group(1))
            elif len(run) <= 20 and not _ROUND.match(run):
                if _SERVICE_NO.match(run):
                    if literal5 is None:
                        literal5 = frozenset(_FIVE_DIGITS.findall(text))
                    if run in literal5:
                        continue
                runs.append(run)
        for phone in phones[:3]:
            hits.append(Hit("phone", "contact", 1.0, phone))
        ids: list[str] = []
        for word in _LATIN_ID.findall(text) if sq_digits else ():
            if ANY_DIGIT.search(word):  # a Latin ID starts with a letter: one digit makes it mixed
                ids.append(word)
        codes = _CODE_ID.findall(sq) if sq_digits else []  # no group: the matches themselves

        handles = []
        if "@" in text:
            for m in _HANDLE.finditer(text):
                name = m.group(1)
                if name in subject.known_handles:
                    continue
                handles.append(name)
            for email in _EMAIL.findall(text)[:2]:
                hits.append(Hit("email", "contact", 1.0, email))

        if handles:
            weight = 1.0 if (cues or any(h.endswith("bot") for h in handles)) else 0.5
            hits.append(Hit("handle", "contact", weight, "@" + handles[0]))
        # Homophones spammers write for 微/V and Q/扣 (喂心, 伽韦, +口 …): a cue only next to an ID,
        # or closing a message that has one. A rare variant hanzi next to an ID (籹 2744 7053, 澽KTM657)
        # and a lone name before an ID (韵 KMD255) are disguised cues too.
        verdict.work += 3 * len(sq)
        if sq_digits:
            sqd = _DIGIT_WORD_IN_RUN.sub(lambda m: _DIGIT_WORD[m.group(0)], sq)
            if _THREE_DIGITS.search(sqd) is None:
                homophone = ""  # every pattern below needs an ID, which has three digits in a row (speed)
            else:
                tail = sqd[-40:]
                m = ((_HOMOPHONE_NEAR_ID.search(sqd) if _NEAR_ID_CHARS_RX.search(sqd) else None)
                     or _NAME_TAG_ID.match(sqd)
                     or (None if not _HOMO_CHARS_RX.search(tail) or _ORDER_NO.search(sq) else _HOMOPHONE_TAIL.search(tail)))
                homophone = m.group(0) if m else _rare_next_to_id(sqd)
        else:
            sqd, homophone = sq, ""  # every homophone pattern needs an ID next to it
        evidence_id = (codes or runs or ids or [""])[0]
        if homophone and not evidence_id:
            # The ID the homophone sits next to, when it only reads as one with 八 as 8 ("威信k8八8k77")
            # or a strong cue names the app ("+微芯T4411"). A letter and a few digits next to a weak
            # homophone alone (连衣裙D2986) are too often an item code.
            found = _IDISH_RX.search(homophone)
            if found and (sqd != sq or strong_cue):
                evidence_id = found.group(0)
        if strong_cue and not evidence_id:
            latin = _CUE_LATIN_ID.search(text)
            evidence_id = latin.group(1) if latin else ""
        if cues and all(c in TG_CUES for c in cues) and not homophone:
            # 飞机/电报 are also planes and telegrams: only a handle or a Latin ID makes them a contact.
            evidence_id = next((i for i in ids if not _CODE_ID.fullmatch(i)), "")
        if cues or homophone:
            cue = cues[0] if cues else homophone
            if evidence_id and (strong_cue or homophone):
                hits.append(Hit("contact", "contact", 1.0, f"{cue} {evidence_id}"))
            elif evidence_id:
                hits.append(Hit("contact", "contact", 0.8, f"{cue} {evidence_id}"))
            elif strong_cue:
                hits.append(Hit("contact_cue", "contact", 0.4, cue))
            elif cues:
                hits.append(Hit("contact_cue", "contact", 0.2, cue))
        elif evidence_id:
            # An ID-like token alone: a product code, an order number … or a disguised contact.
            weight = 0.6 if codes else 0.5 if runs and not phones else 0.4
            if codes and len(text) <= 25:
                weight = 0.7  # a short message that is little more than a code (纵KTM657): a contact
            if _ORDER_NO.search(sq):
                weight = 0.3  # 订单号 20260315001, 快递单号 …: a reference number, not a contact
            hits.append(Hit("id_like", "contact", weight, evidence_id))
        add_id = _ADD_ID.search(sqd) if sq_digits else None
        if add_id and not _ROUND.match(add_id.group(1)) and not any(h.weight >= 1.0 for h in hits if h.category == "contact"):
            hits.append(Hit("add_id", "contact", 0.6, add_id.group(0)))
        # Decorations spammers use to break filters; harmless alone.
        raw = views.raw
        deco = 0.0
        if _SPAM_RUNES.search(raw):
            deco += 0.5  # ᚰ ᛀ … decorate ads; ᚠ alone is a common chat decoration (a platform emoticon)
        elif "\u16a0" in raw:
            deco += 0.2
        if "☎" in raw or "✆" in raw:
            deco += 0.4
        plus = 0.3 if "+" in text and evidence_id else 0.0
        if _NAME_CHARS_RX.search(text) is None:
            name = name_plus = name_cue = None  # none of the name patterns can match (speed)
        else:
            name = _LOOK_AT_NAME.search(text) or _LOOK_AT_NAME_SQ.search(sq)
            name_plus = _NAME_PLUS.search(text)
            name_cue = _NAME_CUE.search(sq)
        if name:
            # "看姐姐名字+++": the plus sign says "add me" — the name is the contact.
            hits.append(Hit("look_at_name", "contact", 1.0 if name_plus else 0.7, name.group(0)))
        elif name_plus:
            hits.append(Hit("look_at_name", "contact", 0.6, name_plus.group(0)))
        elif name_cue:
            deco += 0.3
        if skeleton_digits and _REPEAT_DIGIT.search(digits):
            deco += 0.2
        styled = len(_STYLED.findall(raw, 0, 512))
        if styled:
            deco += 0.3
        if styled >= 3 and evidence_id and (not evidence_id.isdigit() or len(evidence_id) >= 7):
            # The ID itself written in styled letters (𝐇𝕌𝐗457, ＵＸ４４４１): a disguised contact.
            hits.append(Hit("styled_id", "contact", 0.5, evidence_id))
        if deco:
            hits.append(Hit("disguise", "ads", min(deco + plus, 0.6), "decorated/disguised text"))
        elif plus:
            hits.append(Hit("disguise", "ads", plus, "+"))  # "+" next to an ID: weak, and not a shape
        return hits

    def _qr(self, content: str, subject: Subject, verdict: Verdict) -> list[Hit]:
        views = normalize(content[:MAX_SCAN])
        verdict.work += len(content[:MAX_SCAN]) * 4
        link_hits, _ = self._links(views, subject, verdict)
        found = link_hits + self._contacts(views, subject, verdict)
        out = []
        for h in found:
            if h.weight >= 1.0 or content.lower().startswith(("http", "weixin://", "wxp://")):
                out.append(Hit(f"qr_{h.rule}", "qr", 1.0, h.evidence))
        if not out and content.lower().startswith(("weixin://", "wxp://", "https://u.wechat.com", "https://weixin.qq.com/g/")):
            out.append(Hit("qr_wechat", "qr", 1.0, content[:120]))
        return out


# Dates and times as people write them (2026-03-05, 2024.05.06, 2024年5月6日, 10:30, 10:30-11:45):
# joined across their separators they would read as an 8-digit ID.
# Read as: (?<![0-9])(?:(?:19|20)[0-9]{2}…日?|(?:[01]?[0-9]|2[0-3])[:：][0-5][0-9](?:[:：][0-5][0-9])?)(?![0-9]),
# written to start with the first digit (the look-behinds test it once read) so the search skips
# to digits (speed).
_DATE_OR_TIME = re.compile(
    r"[0-9](?<![0-9].)(?:(?:(?<=1)9|(?<=2)0)[0-9]{2}\s?[-./年]\s?(?:0?[1-9]|1[0-2])\s?[-./月]\s?(?:0?[1-9]|[12][0-9]|3[01])日?"
    r"|(?:(?<=[01])[0-9]||(?<=2)[0-3])[:：][0-5][0-9](?:[:：][0-5][0-9])?)(?![0-9])"
)


# Day ranges (12.25-1.5, 3/15~3/20): joined they read as a six-digit ID too.
_DAY = r"(?:1[0-2]|0?[1-9])[./](?:3[01]|[12][0-9]|0?[1-9])"
_DAY_RANGE = re.compile(rf"(?<![0-9])(?<![0-9][./]){_DAY}\s?[-~～至到]\s?{_DAY}(?![0-9])(?![./][0-9])")
_DAY_RANGE_GATE = re.compile(r"[./][0-9]{1,2}\s?[-~～至到]")  # in every day range; a fast scan (speed)
# Amounts of money (168.32元, ¥1999.00, 3,280元, 售价 1299.00, 8000-12000元, 12.5%): a currency sign or
# a price word before the number, or a unit after it. A number glued to digits before it (2744 7053元,
# 7.5.9.3元) or after it (价格 2744 7053) is an ID whatever follows, and so is one of seven digits or
# more without thousands separators (QQ IDs are 5-11 digits; chat prices rarely reach millions). A
# sign right after a letter or digit (ＫＵ€537) decorates an ID. Two patterns, each starting with a
# character and testing what precedes it once it is read: the regex engine then skips to those
# characters (speed).
_MONEY = r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]{1,6})(?:\.[0-9]{1,2})?(?![0-9])"
_MONEY_AFTER_FIRST_DIGIT = r"(?:[0-9]{0,2}(?:,[0-9]{3})+|[0-9]{0,5})(?:\.[0-9]{1,2})?(?![0-9])"
_MONEY_RANGE = rf"(?:\s?[-~～至到]\s?{_MONEY})?"
# Words before an amount, and the units after one (shared with the gates below).
_PRICE_WORDS = "人民币|合计|总计|共计|一共|花了|付了|收款|付款|转账|工资|月薪|年薪|底薪"
_UNITS = "元|块|圆|刀|美元|美金|港币|港元|欧元|日元|英镑|人民币|rmb|cny|usdt|usd|%|万|亿"
_AMOUNT_AFTER_SIGN = re.compile(
    r"(?:¥(?<![0-9a-z].)|\$(?<![0-9a-z].)|€(?<![0-9a-z].)|£(?<![0-9a-z].)|rmb(?<![0-9a-z]...)|cny(?<![0-9a-z]...)"
    rf"|usd(?<![0-9a-z]...)|价格?|价钱|{_PRICE_WORDS})"
    rf"[:：]?\s?{_MONEY}{_MONEY_RANGE}(?![\s\-_·/.,]?[0-9])"
)
_AMOUNT_BEFORE_UNIT = re.compile(
    rf"[0-9](?<![0-9a-z].)(?<![0-9][\s\-_·/.,].){_MONEY_AFTER_FIRST_DIGIT}{_MONEY_RANGE}"
    rf"\s?(?:{_UNITS})"
)
# The sign or price word every amount after a sign starts with, and the unit in every amount before a
# unit: text without any skips that search (speed; literals the regex engine skips to).
_AMOUNT_SIGNS = re.compile(f"[¥$€£价]|rmb|cny|usd|{_PRICE_WORDS}")
_AMOUNT_UNITS = re.compile(_UNITS)


def _not_id_spans(text: str) -> list[tuple[int, int]]:
    """Spans of dates, times, day ranges and amounts: numbers that are no contact ID."""
    if ANY_DIGIT.search(text) is None:
        return []  # no digit: none of them (speed)
    spans = []
    if ":" in text or "：" in text or _ANY_DIGIT_4.search(text):  # else no time and no date (speed)
        spans += [m.span() for m in _DATE_OR_TIME.finditer(text)]
    if ("." in text or "/" in text) and _DAY_RANGE_GATE.search(text):
        spans += [m.span() for m in _DAY_RANGE.finditer(text)]
    if _AMOUNT_SIGNS.search(text):
        spans += [m.span() for m in _AMOUNT_AFTER_SIGN.finditer(text)]
    if _AMOUNT_UNITS.search(text):
        spans += [m.span() for m in _AMOUNT_BEFORE_UNIT.finditer(text)]
    return spans


_ANY_DIGIT_4 = re.compile("[0-9]{4}")


def _without(views: Views, spans: list[tuple[int, int]]) -> Views:
    """The views with the link, date, time and amount spans blanked out: a number in a URL's path (an
    article id), a date or a price is not a contact ID."""
    if not spans:
        return views
    text, end = [], 0
    for start, stop in sorted(spans):
        if start < end:
            continue  # a date inside a link already blanked
        text.append(views.text[end:start])
        text.append(" ")
        end = stop
    text.append(views.text[end:])
    stripped = "".join(text)
    return Views(views.raw, stripped, squeeze(stripped))  # the digit skeleton is built when needed


# What a compiled engine depends on: groups that differ only elsewhere (rules text, ladder, actions …)
# share one engine.
_ENGINE_FIELDS = ("shipped_lists", "threshold", "links", "allowed_domains", "blocked_domains", "words",
                  "allowed_words", "regexes", "disabled_categories", "newcomer_factor")


def _hashable(value):
    return tuple(value) if isinstance(value, list) else value


# Engines are cheap to build once the word lists are loaded (shared, never rebuilt); the cache is
# sized for thousands of differently configured groups so it does not thrash.
@lru_cache(maxsize=4096)
def _engine_cached(key: tuple) -> RuleEngine:
    from handlers.rules.settings import RulesSettings

    return RuleEngine(RulesSettings(**dict(zip(_ENGINE_FIELDS, key))))


@lru_cache(maxsize=4096)
def _custom_matcher(words: tuple[str, ...]) -> WordMatcher:
    """A group's own words, shared by every group with the same list."""
    return WordMatcher([_Term(canonical(w), "custom", 1.0, False) for w in words], rule="custom_word")


def decode_qr(data: bytes) -> list[str]:
    """Texts of the QR codes (and other barcodes) in an image. Raises ValueError on a file that
    is not a readable image."""
    import io

    import zxingcpp
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            image = image.convert("RGB")
            if max(image.size) > 2000:
                image.thumbnail((2000, 2000))
            results = zxingcpp.read_barcodes(image)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ValueError(f"not a readable image: {exc}") from None
    return [r.text for r in results if r.text]
