"""/stats counts who came in and who was removed apart, names rules in the group's language, and
/modlog shows the group's local time: through the console platform with the real routers."""

from datetime import date, datetime, timezone

import pytest

from storage import core_repo, metrics
from tests.onboarding.helpers import EXAMPLE, question_for
from tests.support.harness import running_app

UTC = timezone.utc
CONSENT_ONLY = {"questions": [q for q in EXAMPLE["questions"] if q["id"] == "rules"], "tag_rules": []}
AD = "加我薇信 abc12345 日赚500，车队接料"

LINES = {
    "zh-CN": {
        "onboarded": "完成入群问卷：2 人",
        "skip": "管理员放行（/skip）：1 人",
        "timeout": "未按时完成问卷被移出：1 人",
        "refused": "不同意群规被移出：1 人",
        "rules": "违反群规被移出：1 人",
        "admin": "管理员移出（/kick、/ban）：1 人",
        "violations": "违规（按规则）：禁止私加好友、留联系方式（加V/QQ/电话） 1 次",
    },
    "en": {
        "onboarded": "Completed the questionnaire: 2",
        "skip": "Let in by an admin (/skip): 1",
        "timeout": "Removed for not finishing the questionnaire in time: 1",
        "refused": "Removed for refusing the rules: 1",
        "rules": "Removed by the rules: 1",
        "admin": "Removed by an admin (/kick, /ban): 1",
        "violations": "Violations by rule: no contact solicitation (WeChat/QQ/phone): 1",
    },
}


def group_config(lang: str) -> dict:
    return {
        "defaults": {
            "language": lang,
            "onboarding": {**EXAMPLE, **CONSENT_ONLY},
            "rules": {"ladder": ["kick"], "newcomer_hours": 0},
        }
    }


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_each_way_in_and_out_is_its_own_line(db_url, tmp_path, lang):
    async with running_app(db_url, str(tmp_path), group_config(lang)) as (app, console):
        await console.join("admin")
        await console.join("tim")  # never answers: removed at the timeout
        await console.join("rex")  # refuses the rules
        await console.press("rex", question_for(console, "rex").id, 1)
        await console.join("sam")  # let in by an admin
        await console.say("admin", "/skip @sam")
        await console.join("ann")  # answers (then removed by an admin)
        await console.press("ann", question_for(console, "ann").id, 0)
        await console.join("spa")  # answers, then posts an ad: removed by the rules (ladder = kick)
        await console.press("spa", question_for(console, "spa").id, 0)
        app.clock.advance(minutes=11)
        await app.tick()
        assert not console.is_present("tim") and not console.is_present("rex")
        await console.say("spa", AD)
        assert not console.is_present("spa")
        await console.say("admin", "/kick @ann")  # removed by an admin
        assert not console.is_present("ann")
        await console.say("admin", "/stats")
        text = console.bot_messages()[-1].text
    lines = text.splitlines()
    want = LINES[lang]
    for key in ("onboarded", "skip", "timeout", "refused", "rules", "admin", "violations"):
        assert want[key] in lines, (key, text)
    # The old catch-all lines are gone.
    assert "未完成问卷被移出" not in text and "removed for not answering" not in text


async def test_figures_stored_under_the_old_keys_are_read_as_what_they_counted(db_url, tmp_path):
    config = {"defaults": {"language": "en"}}
    async with running_app(db_url, str(tmp_path), config) as (app, console):
        await console.join("admin")
        async with app.sessions() as session, session.begin():
            chat = await core_repo.get_chat(session, "console", "lobby")
            day = date(2026, 3, 1)
            # As releases before the split wrote them.
            await metrics.write_daily(session, {
                (chat.id, day, "removed", "onboarding_timeout"): 3,
                (chat.id, day, "removed", "onboarding_refused"): 1,
                (chat.id, day, "removed", "rules"): 2,
                (chat.id, day, "onboarded", ""): 5,
                (chat.id, day, "onboarded", "admin_skip"): 4,
                # And one day as this release writes them: the two add up.
                (chat.id, date(2026, 3, 2), "removed_by_rules", ""): 1,
                (chat.id, date(2026, 3, 2), "violations", "links"): 2,  # an old key
                (chat.id, date(2026, 3, 2), "violations", "link"): 1,
                (chat.id, date(2026, 3, 2), "violations", "contact"): 2,
            })
        await console.say("admin", "/stats")
        lines = console.bot_messages()[-1].text.splitlines()
    assert "Completed the questionnaire: 5" in lines
    assert "Let in by an admin (/skip): 4" in lines
    assert "Removed for not finishing the questionnaire in time: 3" in lines
    assert "Removed for refusing the rules: 1" in lines
    assert "Removed by the rules: 3" in lines
    assert not any(line.startswith("Removed by an admin") for line in lines)  # never counted before
    assert "Violations by rule: no links: 3; no contact solicitation (WeChat/QQ/phone): 2" in lines


async def test_modlog_names_rules_in_chinese_at_the_groups_local_time(db_url, tmp_path):
    # 2026-03-02 23:30 UTC is 03-03 07:30 in Shanghai.
    from bot.clock import FakeClock

    clock = FakeClock(datetime(2026, 3, 2, 23, 30, tzinfo=UTC))
    config = {"defaults": {"language": "zh-CN", "rules": {"newcomer_hours": 0}}}
    async with running_app(db_url, str(tmp_path), config, clock=clock) as (app, console):
        await console.join("admin")
        await console.join("spammer")
        await console.say("spammer", AD)
        async with app.sessions() as session, session.begin():
            chat = await core_repo.get_chat(session, "console", "lobby")
            # An entry as older releases wrote it: the rule id of the hit, no category in the details.
            await core_repo.audit(session, chat_id=chat.id, at=clock.now(), actor="bot", action="warn",
                                  target_user_id="spammer", rule="words:gambling", details={})
        await console.say("admin", "/modlog")
        text = console.bot_messages()[-1].text
    lines = text.splitlines()[1:]
    assert lines and all(" 03-03 07:30 " in line for line in lines), text
    assert any("[禁止私加好友、留联系方式（加V/QQ/电话）]" in line for line in lines), text
    assert any("警告 spammer [禁止发赌博内容]" in line for line in lines), text  # action and rule in Chinese
    assert "contact" not in text and "words:" not in text
