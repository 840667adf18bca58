"""A text wall (a long message that is mostly one phrase pasted over and over) is flooding; long
ordinary messages (an article, a list of different lines, code) are not."""

from pathlib import Path

import pytest

from handlers.rules.engine import RuleEngine, Subject
from handlers.rules.settings import RulesSettings
from tests.support.harness import running_app

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[2]


def judge(text: str):
    return RuleEngine.for_settings(RulesSettings()).check(Subject(text=text))


def wall(unit: str, size: int = 6000) -> str:
    return (unit * (size // len(unit) + 1))[:size]


ARTICLE = (
    "上周末我们在杭州办了第一次线下交流会，来了三十多位群友。上午由老王分享了他做社区运营五年的经验："
    "一开始只是几个朋友拉的小群，后来因为坚持每天整理行业新闻，慢慢有了口碑。他说最重要的不是拉新，"
    "而是让老成员愿意留下来，比如每周固定一个话题、给认真回答问题的人一点小奖励、遇到争吵及时出面调解。"
    "下午是自由讨论，大家聊到了很多实际问题：新人进群不说话怎么办？有人发广告要不要直接移出？"
    "群规写得太长没人看又怎么办？有位做教育的群友提到，她会在新人进群时单独打个招呼，问问对方想了解什么，"
    "再把相关的老成员介绍给他，这样冷启动就容易多了。也有人担心机器人管理太死板，误伤正常发言，"
    "所以建议处罚前先警告一次，并且让管理员可以撤销。最后我们约定下个月在上海再聚一次，"
    "主题是怎样做好群内的知识沉淀，欢迎大家提前报名，也欢迎推荐合适的分享嘉宾。会后有十几位群友留下来一起吃了晚饭，"
    "聊到很晚才散。感谢场地方提供的会议室，也感谢帮忙签到、拍照和整理笔记的几位志愿者，笔记稍后会发在群文件里。"
)

ENGLISH = (
    "Thanks everyone who came to the meetup on Saturday. We started with a short round of introductions, "
    "then Anna walked us through how she moved her team's documentation from a wiki to plain Markdown in a "
    "repository, with reviews like for code. The main lesson was that nobody reads a page nobody owns, so "
    "every page now names an owner and a date when it was last checked. Ben showed the small script that "
    "warns when a page has not been touched for six months. After the break we split into three groups: "
    "onboarding new members, keeping discussions on topic, and handling the occasional spammer without "
    "scaring away honest newcomers. Notes from each group are in the shared folder; please add anything "
    "we missed. Next time we meet in March, and we are looking for someone to host. Drop me a line if your "
    "office has a room for about thirty people and a projector that works."
)


@pytest.mark.parametrize(
    "text",
    [
        wall("刷屏刷屏大家快看过来"),                      # the 6,000-character wall of the issue
        "大家注意！！！\n" + wall("我要刷屏 ", 5000),          # a line before, spaces inside
        wall("哈"),                                          # one character
        wall("GO GO GO! "),                                  # Latin and punctuation
        "\n".join(["好消息好消息"] * 600),                  # one line pasted 600 times
        wall("😀🔥"),                                        # emoji
        wall("小明是个好人，小明是个好人，小明是个大好人。"),  # a longer unit, almost periodic
    ],
)
def test_a_text_wall_is_flooding(text):
    verdict = judge(text)
    assert verdict.violation, verdict.hits
    assert verdict.primary.category == "flood" and verdict.primary.rule == "text_wall"
    assert verdict.score >= 1.0


def test_a_wall_of_an_ad_is_named_by_what_it_advertises():
    verdict = judge(wall("加我薇信 abc12345 日赚500，"))
    assert verdict.violation and verdict.primary.category != "flood"
    assert any(h.rule == "text_wall" for h in verdict.hits)


def test_long_ordinary_messages_are_not_walls():
    ham = [line for line in (DATA / "tg-spam-ham-samples.txt").read_text("utf-8").splitlines() if line.strip()]
    code = (ROOT / "handlers" / "rules" / "enforce.py").read_text("utf-8")[:4000]
    listing = "\n".join(f"{i}. {name} 报名 {i * 3 % 7 + 1} 人" for i, name in enumerate(
        ["张三", "李四", "王五", "赵六", "钱七", "孙八", "周九", "吴十", "郑一", "冯二"] * 6, 1))
    for text in (ARTICLE + "\n" + ARTICLE[:200], ENGLISH, "\n".join(ham[:120]), code, listing, ARTICLE + "\n\n" + ARTICLE):
        assert len("".join(text.split())) >= 500
        verdict = judge(text)
        assert not any(h.rule == "text_wall" for h in verdict.hits), (text[:80], verdict.hits)
        assert verdict.category != "flood"


def test_a_shorter_repetition_is_no_wall():
    # "哈哈哈…" in a normal reply, 40 times a phrase: long only past TEXT_WALL_CHARS.
    for text in ("哈" * 60, "加油" * 100):
        assert not any(h.rule == "text_wall" for h in judge(text).hits)


async def test_in_a_group_the_wall_is_deleted_and_announced_as_flooding(db_url, tmp_path):
    config = {"defaults": {"language": "zh-CN", "rules": {"newcomer_hours": 0}}}
    async with running_app(db_url, str(tmp_path), config) as (app, console):
        await console.join("wally")
        message_id, _ = await console.say("wally", wall("刷屏刷屏大家快看过来"))
        assert console.messages[message_id].deleted
        notice = console.bot_messages()[-1].text
        assert "@wally" in notice and "禁止刷屏" in notice
