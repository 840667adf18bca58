"""The console's review list, audit log and settings editor, over HTTP against the real App on
python-telegram-bot and the fake Bot API: what an admin sees and what the bot then does."""

from __future__ import annotations

import html as markup
import re

from sqlalchemy import select

from storage import core_repo
from storage.models import AuditEntry
from storage.rules_models import RulesSample
from tests.support.console import base, console_config, csrf_of, sign_in_link, signed_in
from tests.support.telegram_harness import free_port, running_telegram_app

AD = "加我薇信 abc12345 日赚500，车队接料"


def _config(port: int, **extra) -> dict:
    # The first strike is a mute here, so one ad gives a mute to undo.
    return {"defaults": {"language": "en", "rules": {"ladder": ["mute:1d", "kick"]}}, **console_config(port, language="en"),
            **extra}


async def _chat_id(h, chat: dict | None = None) -> int:
    async with h.app.sessions() as session:
        return (await core_repo.get_chat(session, "telegram", str((chat or h.chat)["id"]))).id


async def _post(http, url: str, page_html: str, **fields) -> tuple[int, str]:
    async with http.post(url, data={**csrf_of(page_html), **fields}) as response:
        return response.status, markup.unescape(await response.text())


def _row(html: str, audit_id: int) -> str:
    found = re.search(rf'<tr id="decision-{audit_id}".*?</tr>', html, re.S)
    assert found, f"decision #{audit_id} is not on the page"
    return found.group(0)


async def test_a_mute_is_reviewed_undone_and_labelled_from_the_console(db_url, tmp_path):
    port = free_port()
    async with running_telegram_app(db_url, str(tmp_path), _config(port)) as h:
        admin, spammer = h.user("admin"), h.user("spammer", username="deals_spammer")
        h.set_admins(admin)
        await h.send_text(spammer, "hello everyone")
        await h.send_text(spammer, AD)
        assert h.fake.member_status(h.chat["id"], spammer["id"]) == "restricted"
        chat_id = await _chat_id(h)
        async with h.app.sessions() as session:
            mute = (await session.scalars(select(AuditEntry).where(AuditEntry.chat_id == chat_id,
                                                                   AuditEntry.action == "mute"))).one()

        async with signed_in(await sign_in_link(h, admin)) as http:
            review_url = f"{base(port)}/console/g/{chat_id}/review"
            async with http.get(review_url) as page:
                assert page.status == 200
                html = markup.unescape(await page.text())
            row = _row(html, mute.id)
            assert "deals_spammer" in row or "spammer" in row
            assert "abc12345" in row, "the evidence is shown"
            assert "no contact solicitation" in row, "the rule is named in words"
            assert "the bot" in row and 'data-undone="0"' in row and "not labelled" in row
            assert re.search(rf'href="/console/g/{chat_id}/members/\d+"', row), "the member links to their page"

            # Undo: the real /undo, which lifts the mute at Telegram.
            status, html = await _post(http, f"{review_url}/{mute.id}/undo", html, next=f"/console/g/{chat_id}/review")
            assert status == 200
            assert f"Undid #{mute.id}" in html
            lifted = h.fake.last("restrictChatMember").params
            assert lifted["user_id"] == str(spammer["id"])
            assert lifted["permissions"] and all(lifted["permissions"].values())
            assert h.fake.member_status(h.chat["id"], spammer["id"]) == "member"
            row = _row(html, mute.id)
            assert 'data-undone="1"' in row and 'data-label="ham"' in row, "undone, and learned as a mistake"
            assert "/undo" not in row

            # The admins change their mind: it was spam after all.
            status, html = await _post(http, f"{review_url}/{mute.id}/label", html, label="spam")
            assert status == 200 and f"#{mute.id} marked as spam" in html
            assert 'data-label="spam"' in _row(html, mute.id)
            async with h.app.sessions() as session:
                sample = (await session.scalars(select(RulesSample).where(RulesSample.audit_id == mute.id))).one()
            assert sample.label == "spam" and sample.labelled_by == f"telegram:{admin['id']}"

            for name, title in (("review", "处理复核"), ("audit", "操作日志"), ("settings", "群设置")):
                async with http.get(f"{base(port)}/console/g/{chat_id}/{name}?lang=zh-CN") as page:
                    assert page.status == 200 and f"<h1>{title}</h1>" in markup.unescape(await page.text()), name
            async with http.get(f"{review_url}?lang=en") as page:
                assert "<h1>Moderation review</h1>" in await page.text()

            # Filters: undone only lists it; standing ones do not; a bad value is named, not a 500.
            async with http.get(f"{review_url}?undone=1") as page:
                assert f'id="decision-{mute.id}"' in markup.unescape(await page.text())
            async with http.get(f"{review_url}?undone=0&by=bot") as page:
                assert f'id="decision-{mute.id}"' not in markup.unescape(await page.text())
            async with http.get(f"{review_url}?by=robots") as page:
                assert page.status == 400 and 'The filter "by" is not valid' in markup.unescape(await page.text())

            # The audit log lists the undo and the label; filtered by action it shows only undos.
            audit_url = f"{base(port)}/console/g/{chat_id}/audit"
            async with http.get(audit_url) as page:
                html = markup.unescape(await page.text())
            assert {"undo", "label", "mute", "delete"} <= set(re.findall(r'data-action="([^"]+)"', html))
            async with http.get(f"{audit_url}?action=undo") as page:
                html = markup.unescape(await page.text())
            assert set(re.findall(r'data-action="([^"]+)"', html)) == {"undo"}
            assert f'"audit_id": {mute.id}' in html, "the details are shown"
            async with http.get(f"{audit_url}?target={spammer['id']}&actor=bot") as page:
                assert set(re.findall(r'data-action="([^"]+)"', markup.unescape(await page.text()))) == {"delete", "mute"}
            async with http.get(f"{audit_url}?from=2026-03-02&to=2026-03-02") as page:
                assert 'data-action="undo"' in markup.unescape(await page.text()), "the day is the group's"
            async with http.get(f"{audit_url}?from=2026-03-03") as page:
                assert "data-action=" not in markup.unescape(await page.text())
            for query, field in (("from=03/02/2026", '"from"'), ("to=2026-02-30", '"to"'), ("action=a%20b", '"action"'),
                                 ("page=0", "page number")):
                async with http.get(f"{audit_url}?{query}") as page:
                    assert page.status == 400, query
                    assert field in markup.unescape(await page.text()), query

            # A form without its CSRF token is refused, and nothing is done.
            async with http.post(f"{review_url}/{mute.id}/label", data={"label": "ham"}) as refused:
                assert refused.status == 403
            async with h.app.sessions() as session:
                assert (await session.get(RulesSample, sample.id)).label == "spam"


async def test_label_refuses_a_decision_of_another_group_or_without_a_sample(db_url, tmp_path):
    port = free_port()
    async with running_telegram_app(db_url, str(tmp_path), _config(port)) as h:
        admin, other = h.user("admin"), h.group(-1002222222222, "Other group")
        h.set_admins(admin)
        await h.send_text("spammer", AD)
        await h.send_text("spammer", AD, chat=other)
        elsewhere = await _chat_id(h, other)
        async with h.app.sessions() as session:
            theirs = (await session.scalars(select(AuditEntry).where(AuditEntry.chat_id == elsewhere,
                                                                     AuditEntry.action == "mute"))).one()
        await h.command(admin, f"/label {theirs.id} spam")
        assert f"#{theirs.id} is not a decision of this group" in h.bot_texts()[-1]
        async with h.app.sessions() as session:
            assert (await session.scalars(select(RulesSample.label).where(RulesSample.audit_id == theirs.id))).one() is None
        chat_id = await _chat_id(h)
        async with h.app.sessions() as session:
            delete = (await session.scalars(select(AuditEntry).where(AuditEntry.chat_id == chat_id,
                                                                     AuditEntry.action == "delete"))).one()
        await h.command(admin, f"/label {delete.id} ham")
        assert f"#{delete.id} has no stored sample" in h.bot_texts()[-1]
        await h.command(admin, "/label 1 maybe")
        assert "Usage: /label" in h.bot_texts()[-1]


async def test_a_setting_changed_in_the_console_is_stored_shown_and_used(db_url, tmp_path):
    port = free_port()
    async with running_telegram_app(db_url, str(tmp_path), _config(port, groups={})) as h:
        admin, member = h.user("admin"), h.user("member")
        h.set_admins(admin)
        await h.send_text(member, "I like kumquat jam")
        assert not h.calls("deleteMessage"), "kumquat is not forbidden yet"
        chat_id = await _chat_id(h)
        url = f"{base(port)}/console/g/{chat_id}/settings"
        async with signed_in(await sign_in_link(h, admin)) as http:
            async with http.get(url) as page:
                html = markup.unescape(await page.text())
            assert re.search(r'id="setting-rules.words" data-path="rules.words" data-source="default"', html)
            assert re.search(r'id="setting-rules.ladder" data-path="rules.ladder" data-source="file"', html), \
                "a value of the file's [defaults] is the file's"
            assert h.fake.token not in html and "[telegram]" not in html, "no secret, no instance section"

            status, html = await _post(http, url, html, path="rules.words", value='["kumquat"]', scope="this")
            assert status == 200 and "Saved rules.words" in html
            assert re.search(r'data-path="rules.words" data-source="database"', html)
            async with h.app.sessions() as session:
                assert (await core_repo.stored_overrides(session, chat_id))["rules"]["words"] == ["kumquat"]
                setting = (await session.scalars(select(AuditEntry).where(AuditEntry.chat_id == chat_id,
                                                                          AuditEntry.action == "setting"))).one()
            assert setting.actor == f"telegram:{admin['id']}"
            assert setting.details == {"path": "rules.words", "value": ["kumquat"]}

            punished = await h.send_text(member, "kumquat for sale")
            assert str(punished.message_id) in [c.params["message_id"] for c in h.calls("deleteMessage")], \
                "the bot uses the new setting at the next message"

            # An invalid value: refused with the key named, nothing stored.
            status, html = await _post(http, url, html, path="timezone", value="Mars/Base")
            assert status == 400
            assert "The new value of timezone is not valid" in html and "unknown time zone" in html
            async with h.app.sessions() as session:
                assert "timezone" not in await core_repo.stored_overrides(session, chat_id)

            # A text setting keeps a bare number as text; the reset takes the database's value back.
            status, html = await _post(http, url, html, path="rules.text", value="1")
            assert status == 200 and 'Saved rules.text = "1"' in html
            status, html = await _post(http, url, html, path="rules.words", value="", reset="1")
            assert status == 200 and "Removed rules.words from the database" in html
            assert re.search(r'data-path="rules.words" data-source="default"', html)
            async with h.app.sessions() as session:
                assert (await core_repo.stored_overrides(session, chat_id)) == {"rules": {"text": "1"}}

            # Without its CSRF token a change is refused.
            async with http.post(url, data={"path": "points.checkin_points", "value": "50"}) as refused:
                assert refused.status == 403
            async with h.app.sessions() as session:
                assert "points" not in await core_repo.stored_overrides(session, chat_id)


async def test_a_setting_goes_to_every_group_the_admin_runs_each_audited(db_url, tmp_path):
    port = free_port()
    tagged = {"telegram:-1002222222222": {"tags": ["north"]}, "telegram:-1003333333333": {"tags": ["north"]}}
    async with running_telegram_app(db_url, str(tmp_path), _config(port, groups=tagged)) as h:
        admin = h.user("admin")
        other = h.group(-1002222222222, "Second group")
        third = h.group(-1003333333333, "Not theirs")
        h.set_admins(admin)
        h.set_admins(admin, chat=other)
        h.set_admins("someone", chat=third)
        for chat in (h.chat, other, third):
            await h.send_text(admin, "hello", chat=chat)
        ids = [await _chat_id(h, chat) for chat in (h.chat, other, third)]
        url = f"{base(port)}/console/g/{ids[0]}/settings"
        async with signed_in(await sign_in_link(h, admin)) as http:
            async with http.get(url) as page:
                html = markup.unescape(await page.text())
            assert "Every group I run" in html
            status, html = await _post(http, url, html, path="points.checkin_points", value="25", scope="all_mine")
            assert status == 200
            assert html.count("Saved points.checkin_points = 25") == 2, "one line per group"
            assert 'My groups tagged "north" (1)' in html, "only the admin's own groups count"
            status, html = await _post(http, url, html, path="points.activity_points", value="3", scope="tag:north")
            assert status == 200 and '"Second group": Saved points.activity_points = 3' in html
        async with h.app.sessions() as session:
            stored = [await core_repo.stored_overrides(session, i) for i in ids]
            audited = list(await session.scalars(select(AuditEntry.chat_id).where(AuditEntry.action == "setting")))
        assert stored[0] == {"points": {"checkin_points": 25}}
        assert stored[1] == {"points": {"checkin_points": 25, "activity_points": 3}}
        assert stored[2] == {}, "a group the admin does not run is left alone, tagged or not"
        assert sorted(audited) == sorted([ids[0], ids[1], ids[1]]), "an audit row per group and change"
        await h.command("member", "/checkin", chat=other)
        assert "25" in h.bot_texts(other)[-1]


async def test_a_group_admin_cannot_point_the_bot_at_a_file_on_the_server(sqlite_url, tmp_path):
    port = free_port()
    async with running_telegram_app(sqlite_url, str(tmp_path), _config(port, groups={})) as h:
        admin = h.user("admin")
        h.set_admins(admin)
        await h.send_text(admin, "hi")
        chat_id = await _chat_id(h)
        url = f"{base(port)}/console/g/{chat_id}/settings"
        async with signed_in(await sign_in_link(h, admin)) as http:
            async with http.get(url) as page:
                html = markup.unescape(await page.text())
            for path in ("rules.model", "stats.chart_font"):
                status, html = await _post(http, url, html, path=path, value="/etc/passwd")
                assert status == 200 and f"{path} names a file on the server" in html
        async with h.app.sessions() as session:
            assert await core_repo.stored_overrides(session, chat_id) == {}
