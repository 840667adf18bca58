"""Moderation that learns, end to end on the console platform (real App, routers, SQLite and
PostgreSQL): the model's own path and its limits, /spam and the admins' labels, spam waves across
groups, display names."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from handlers.rules import model as spam_model
from storage import core_repo, onboarding_repo
from storage.rules_models import RulesSample
from tests.onboarding.helpers import config as onboarding_config
from tests.support.harness import running_app

ROOT = Path(__file__).resolve().parents[2]
AD = "加我薇信 abc12345 日赚500，车队接料"
# Spam the shipped rules let through (no ID, no link): only a model, a wave or an admin catches it.
SOFT_SPAM = "内部渠道最新一期的理财资料已经整理好了，需要的朋友私聊我免费分享，名额有限先到先得"
SOFT_VARIANT = "内部渠道最新一期的投资资料已经整理好了，需要的朋友私聊我免费分享，名额有限先到先得哦"


def trap_model(path: Path, text: str) -> Path:
    """A model that flags `text` (and little else): every feature of it weighs +1, the bias -8."""
    feats = spam_model.features(text)
    assert len(feats) > 60
    spam_model.save(spam_model.Model(bias=-8.0, weights={f: 1.0 for f in feats}, threshold=0.5), path)
    return path


async def samples(app) -> list[RulesSample]:
    async with app.sessions() as session:
        return list(await session.scalars(select(RulesSample).order_by(RulesSample.id)))


async def settle_in(console, name: str, chat_id: str | None = None) -> None:
    """Join and post past the newcomer window (newcomers' rules are stricter)."""
    await console.join(name, chat_id=chat_id)
    for text in ("大家好", "今天天气真好", "晚上吃什么", "刚下班"):
        await console.say(name, text, chat_id=chat_id)
        console.sink.clock.advance(minutes=1)


async def test_the_model_alone_deletes_and_warns_but_never_removes(db_url, tmp_path):
    model = trap_model(tmp_path / "model.json", SOFT_SPAM)
    config = {"defaults": {"rules": {"model": str(model)}}}
    async with running_app(db_url, str(tmp_path), config) as (app, console):
        await settle_in(console, "bob")
        # Four strikes already: the ladder's next step would remove bob.
        for text in ("联系QQ 123456789 有意私聊", "加我薇信 abc12345", "https://spam.example.xyz/buy 点击加入",
                     "加V: qwe98765 日结"):
            await console.say("bob", text)
            app.clock.advance(days=16)
            if console.is_muted("bob"):
                app.clock.advance(days=16)
        assert console.is_present("bob")
        message_id, result = await console.say("bob", SOFT_SPAM)
        assert result.stopped_by == "rules"
        assert console.messages[message_id].deleted
        assert console.is_present("bob") and not console.is_muted("bob")
        notice = console.bot_messages()[-1].text
        assert "@bob" in notice and "系统自动判断" in notice
        # The decision waits on the admins' review list, with its evidence.
        await console.say("admin", "/review")
        review = console.bot_messages()[-1].text
        assert "待复核" in review and "模型判断为垃圾消息" in review
        stored = [s for s in await samples(app) if s.source == "model"]
        assert len(stored) == 1 and stored[0].label is None
        assert stored[0].features == sorted(spam_model.features(SOFT_SPAM))  # hashed grams, not the text
        # Ordinary chat is not touched by the model.
        ok, result = await console.say("bob", "周末一起去爬山吗？")
        assert not console.messages[ok].deleted


async def test_undo_of_an_automatic_decision_is_a_ham_sample(db_url, tmp_path):
    async with running_app(db_url, str(tmp_path)) as (app, console):
        await settle_in(console, "carol")
        message_id, _ = await console.say("carol", AD)
        assert console.messages[message_id].deleted
        [sample] = await samples(app)
        assert sample.source == "rules" and sample.label is None and sample.audit_id
        await console.say("admin", f"/undo {sample.audit_id}")
        assert "模型会从中学习" in console.bot_messages()[-1].text
        [sample] = await samples(app)
        assert sample.label == "ham" and sample.labelled_by == "console:admin"


async def test_spam_command_punishes_learns_and_catches_the_wave_in_another_group(db_url, tmp_path):
    async with running_app(db_url, str(tmp_path)) as (app, console):
        await settle_in(console, "dave")
        await settle_in(console, "erin", chat_id="second")
        message_id, result = await console.say("dave", SOFT_SPAM)
        assert not console.messages[message_id].deleted  # the rules alone let it through
        await console.say("admin", "/spam", reply_to=message_id)
        assert console.messages[message_id].deleted
        assert any("已记为垃圾消息并学习" in m.text for m in console.bot_messages())
        [sample] = await samples(app)
        assert sample.label == "spam" and sample.source == "admin"
        assert sample.features == sorted(spam_model.features(SOFT_SPAM))
        # The same ad with a few words changed, in the other group: caught at once.
        variant, result = await console.say("erin", SOFT_VARIANT, chat_id="second")
        assert console.messages[variant].deleted and result.stopped_by == "rules"
        notice = console.bot_messages("second")[-1].text
        assert "@erin" in notice
        async with app.sessions() as session:
            chat = await core_repo.get_chat(session, "console", "second")
            entries = await core_repo.audit_entries(session, chat.id)
        assert any(e.details.get("evidence_from") == "wave" for e in entries)
        # The wave belongs to the first group's decision: once an admin undoes it, it stops.
        first = next(s for s in await samples(app) if s.source == "admin")
        await console.say("admin", f"/undo {first.audit_id}")
        again, _ = await console.say("erin", SOFT_VARIANT + "！", chat_id="second")
        assert not console.messages[again].deleted


async def test_a_newcomer_with_an_ad_in_the_display_name(db_url, tmp_path):
    config = {"defaults": {"rules": {"display_names": "remove"}}}
    async with running_app(db_url, str(tmp_path), config) as (app, console):
        await console.join("加薇信abc12345领福利")
        assert not console.is_present("加薇信abc12345领福利")
        assert "移出本群" in console.bot_messages()[-1].text
        await console.join("王小明")
        assert console.is_present("王小明")


async def test_a_display_name_ad_makes_onboarding_strict(db_url, tmp_path):
    async with running_app(db_url, str(tmp_path), onboarding_config()) as (app, console):
        await console.join("加薇信abc12345领福利")
        await console.join("王小明")
        async with app.sessions() as session:
            chat = await core_repo.get_chat(session, "console", console.default_chat.id)
            flagged = await core_repo.get_member(session, chat.id, "加薇信abc12345领福利")
            plain = await core_repo.get_member(session, chat.id, "王小明")
            assert (await onboarding_repo.get_run(session, flagged.id)).strict
            assert not (await onboarding_repo.get_run(session, plain.id)).strict
        told = [m.text for m in console.dms("admin") if "昵称含广告或联系方式" in m.text]
        assert len(told) == 1 and "加薇信abc12345领福利" in told[0]  # the admins hear of the flagged one only


async def test_a_message_pointing_at_the_senders_name_is_judged_with_it(db_url, tmp_path):
    async with running_app(db_url, str(tmp_path)) as (app, console):
        await settle_in(console, "VX abc12345")
        message_id, _ = await console.say("VX abc12345", "想要资料的看我名字")
        assert console.messages[message_id].deleted
        ok, _ = await console.say("VX abc12345", "今天的直播几点开始")
        assert not console.messages[ok].deleted


def write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["label", "text"])
        writer.writerows(rows)
    return path


HAM = ["今天加班到十点，好累", "周末一起去爬山吗", "这家店的牛肉面真不错", "明天下午三点开会，别迟到",
       "孩子今天第一次自己骑车", "晚上看球吗，八点开始", "地铁又晚点了，郁闷", "谁知道附近哪里修手机",
       "刚买的咖啡机很好用", "下雨了记得带伞", "新版本的界面改了好多", "这个周末搬家，累死了",
       "老师布置的作业太多了", "楼下新开了一家书店", "今天的直播几点开始", "你们用什么输入法",
       # Long ordinary messages with the words of SOFT_SPAM: the base model takes them for chat.
       "上周的会议资料我已经整理好了，需要的朋友可以私聊我，我发给你们", "最新一期的读书会资料整理好了，欢迎大家分享给朋友",
       "名额有限，周六的羽毛球活动先到先得，想来的朋友报个名", "内部培训的资料整理好了，需要的同事私聊我免费分享"]
SPAM = ["加我微信abc123日赚三百", "兼职刷单日结工资，有意者联系", "低价出售各类账号，需要联系",
        "代开发票，正规渠道，详询客服", "网赚项目，手机操作，当天回本", "博彩平台注册就送彩金",
        "高额返利，稳赚不赔，速来", "出售微信号QQ号，批量优惠", "贷款秒批，无需征信，私信我",
        "招募代理，躺赚佣金，速度上车"]


def base_rows() -> list[tuple[str, str]]:
    """A made-up labelled base: ordinary chat and ordinary ads, none like SOFT_SPAM."""
    rows = []
    for i in range(12):
        rows += [("ham", f"{text}{'～' * (i % 3)}{i}") for text in HAM]
        rows += [("spam", f"{text}{'！' * (i % 3)}{i}") for text in SPAM]
    return rows


async def test_spam_labels_and_a_retrain_catch_a_variant_the_model_missed(db_url, tmp_path):
    from handlers.rules import learning

    base = write_csv(tmp_path / "base.csv", base_rows())
    config = {"learning": {"base_data": str(base), "output": str(tmp_path / "model.json")},
              "defaults": {"rules": {"model": str(tmp_path / "model.json"), "waves": False}}}
    async with running_app(db_url, str(tmp_path), config) as (app, console):
        assert await learning.retrain(app.config, app.sessions, say=lambda _: None)  # no model yet: written
        await settle_in(console, "frank")
        before, _ = await console.say("frank", SOFT_VARIANT)
        assert not console.messages[before].deleted  # neither the rules nor the base model see it
        for i, text in enumerate((SOFT_SPAM, SOFT_SPAM.replace("理财", "炒股"), SOFT_SPAM.replace("朋友", "宝子"))):
            app.clock.advance(minutes=10)
            message_id, _ = await console.say("frank", text)
            await console.say("admin", "/spam", reply_to=message_id)
            app.clock.advance(days=40)  # strikes expire: frank stays to post again
        labels = [(s.label, s.source) for s in await samples(app)]
        assert labels.count(("spam", "admin")) == 3
        lines: list[str] = []
        assert await learning.retrain(app.config, app.sessions, say=lines.append)
        assert any("cross-validated" in line for line in lines)
        variant, result = await console.say("frank", SOFT_VARIANT + "！")
        assert console.messages[variant].deleted and console.is_present("frank")
        async with app.sessions() as session:
            chat = await core_repo.get_chat(session, "console", console.default_chat.id)
            [entry] = await core_repo.audit_entries(session, chat.id, action="warn", limit=1)
        assert entry.details.get("evidence_from") == "model"


async def test_rules_train_from_db_adds_the_admins_labels(sqlite_url, tmp_path):
    """`qunzhu rules-train --from-db -c FILE`, as an operator runs it next to the bot's database."""
    base = write_csv(tmp_path / "base.csv", base_rows())
    config = {"learning": {"base_data": str(base), "output": str(tmp_path / "model.json")}}
    async with running_app(sqlite_url, str(tmp_path), config) as (app, console):
        await settle_in(console, "gina")
        message_id, _ = await console.say("gina", SOFT_SPAM)
        await console.say("admin", "/spam", reply_to=message_id)
        config_file = tmp_path / "bot.toml"
        config_file.write_text(
            f'[bot]\ndata_dir = "{tmp_path}"\n[database]\nurl = "{sqlite_url}"\n'
            f'[learning]\nbase_data = "{base}"\noutput = "{tmp_path / "model.json"}"\n', encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "bot.cli", "rules-train", "--from-db", "-c", str(config_file)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    trained_on = re.search(r"(\d+) admins' samples \((\d+) samples kept aside", done.stdout)
    assert trained_on and int(trained_on[1]) + int(trained_on[2]) == 1, done.stdout
    assert "cross-validated: precision" in done.stdout and "wrote" in done.stdout
    trained = spam_model.load(tmp_path / "model.json")
    assert trained.score(SOFT_SPAM) > trained.score("周末一起去爬山吗")
    # A bad invocation names what is missing.
    missing = subprocess.run([sys.executable, "-m", "bot.cli", "rules-train", "--from-db"],
                             capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert missing.returncode == 2 and "-c FILE" in missing.stderr


async def test_a_model_file_that_cannot_be_read_is_reported_once_and_the_rules_go_on(db_url, tmp_path):
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    config = {"defaults": {"rules": {"model": str(tmp_path / "broken.json")}}}
    async with running_app(db_url, str(tmp_path), config) as (app, console):
        await settle_in(console, "hank")
        ad, _ = await console.say("hank", AD)
        ok, _ = await console.say("hank", SOFT_SPAM)
        assert console.messages[ad].deleted and not console.messages[ok].deleted
        told = [m.text for m in console.dms("admin") if "rules.model" in m.text]
        assert len(told) == 1 and "broken.json" in told[0] and "只按规则判断" in told[0]


async def test_the_schedule_retrains_once_labels_come_in(sqlite_url, tmp_path):
    base = write_csv(tmp_path / "base.csv", base_rows())
    output = tmp_path / "model.json"
    config = {"learning": {"enabled": True, "base_data": str(base), "output": str(output), "every_hours": 24}}
    async with running_app(sqlite_url, str(tmp_path), config) as (app, console):
        state = app.__dict__.get("_rules_learning") or {}
        assert state.get("task") is None and not output.exists()  # no label yet: nothing to learn from
        await settle_in(console, "ivan")
        message_id, _ = await console.say("ivan", SOFT_SPAM)
        await console.say("admin", "/spam", reply_to=message_id)
        await app.tick()
        await app._rules_learning["task"]
        assert output.exists()
        written = output.stat().st_mtime_ns
        await app.tick()  # within every_hours: not again
        assert app._rules_learning["task"].done() and output.stat().st_mtime_ns == written
