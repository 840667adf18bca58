"""The web console in a real browser (Playwright driving chromium) against the real bot on
python-telegram-bot and the fake Bot API: sign-in with the DMed link, the overview, the dashboard's
charts, refusals (used and expired links, a form without its CSRF token)."""

from __future__ import annotations

from tests.support.console import artifacts, base, browser, console_config, sign_in_link
from tests.support.telegram_harness import free_port, running_telegram_app

OTHER_GROUP = -1001000000077


async def _signed_in_page(page, url: str, port: int) -> None:
    await page.goto(url)
    await page.click("#sign-in")
    await page.wait_for_url(f"{base(port)}/console/")


async def _two_groups(h):
    """alice runs the test group (a week of joins and chat); bob runs another group alice only chats in."""
    alice, bob = h.user("alice"), h.user("bob")
    other = h.group(OTHER_GROUP, "Bob's group")
    h.set_admins(alice)
    h.set_admins(bob, chat=other)
    h.app.clock.advance(days=-6)
    for day in range(7):
        for n in range(day % 3 + 1):
            newcomer = h.user(f"member{day}{n}")
            await h.join(newcomer)
            await h.send_text(newcomer, f"大家好，我是第 {day} 天来的")
        for text in ("早上好", "今天有什么新闻", "hello")[: day % 3 + 1]:
            await h.send_text(alice, text)
        h.app.clock.advance(days=1)
    h.app.clock.advance(days=-1)
    await h.send_text(bob, "hi all")
    await h.send_text(alice, "hi bob", chat=other)
    await h.send_text(bob, "hi alice", chat=other)
    return alice, bob, other


async def test_an_admin_signs_in_with_the_link_and_sees_only_their_groups_and_the_charts(sqlite_url, tmp_path):
    port = free_port()
    async with running_telegram_app(sqlite_url, str(tmp_path), console_config(port)) as h:
        alice, _, _ = await _two_groups(h)
        url = await sign_in_link(h, alice)
        assert "我已私信你" in " ".join(h.bot_texts()) or "登录链接已私信" in " ".join(h.bot_texts())
        assert all("/console/login/" not in text for text in h.bot_texts()), "the link must never be posted in the group"
        async with browser() as page:
            await _signed_in_page(page, url, port)
            groups = await page.inner_text("#groups")
            assert "Test group" in groups
            assert "Bob's group" not in groups
            await page.click("text=Test group")
            await page.wait_for_selector("#activity-chart")
            for chart in ("activity-chart", "retention-chart"):
                await page.wait_for_function(
                    f"() => {{ const i = document.getElementById('{chart}'); return i.complete && i.naturalWidth > 300; }}")
            assert await page.inner_text("#members-now") == "15"  # alice, bob and 13 newcomers
            await page.screenshot(path=str(artifacts() / "console-dashboard.png"), full_page=True)
            # The other language, by the switch in the header.
            await page.click("a.lang")
            assert "Group dashboard" in await page.inner_text("main")


async def test_a_used_or_expired_link_is_refused(sqlite_url, tmp_path):
    port = free_port()
    async with running_telegram_app(sqlite_url, str(tmp_path), console_config(port)) as h:
        alice = h.user("alice")
        h.set_admins(alice)
        await h.send_text(alice, "hi")
        used = await sign_in_link(h, alice)
        expired = await sign_in_link(h, alice)
        async with browser() as page:
            await _signed_in_page(page, used, port)
        async with browser() as page:  # someone else with the same link, later
            answer = await page.goto(used)
            assert answer.status == 410
            assert "已使用或已过期" in await page.inner_text("main")
            h.app.clock.advance(minutes=11)
            answer = await page.goto(expired)
            assert answer.status == 410
            # Not signed in: the console asks for a link.
            answer = await page.goto(f"{base(port)}/console/")
            assert answer.status == 401 and "/console" in await page.inner_text("main")


async def test_a_form_posted_without_its_csrf_token_is_refused_and_changes_nothing(sqlite_url, tmp_path):
    port = free_port()
    async with running_telegram_app(sqlite_url, str(tmp_path), console_config(port)) as h:
        alice = h.user("alice")
        h.set_admins(alice)
        await h.send_text(alice, "hi")
        url = await sign_in_link(h, alice)
        async with browser() as page:
            await _signed_in_page(page, url, port)
            await page.goto(f"{base(port)}/console/sessions")
            # The page's own revoke form, its hidden csrf field taken out, as a forged cross-site post would be.
            await page.evaluate("document.querySelector('form[action$=\"/revoke\"] input[name=csrf]').remove()")
            async with page.expect_navigation():
                await page.click("form[action$='/revoke'] button")
            assert "表单已失效" in await page.inner_text("main")
            answer = await page.goto(f"{base(port)}/console/sessions")
            assert answer.status == 200, "the session must still be there"
            # With the token the same form works: the session is revoked and the browser is signed out.
            async with page.expect_navigation():
                await page.click("form[action$='/revoke'] button")
            answer = await page.goto(f"{base(port)}/console/")
            assert answer.status == 401


AD = "加我薇信 abc12345 日赚500，车队接料"


async def _group_id(h) -> int:
    from storage import core_repo

    async with h.app.sessions() as session:
        return (await core_repo.get_chat(session, "telegram", str(h.chat["id"]))).id


async def test_undoing_a_mute_in_the_review_list_unmutes_the_member_at_telegram(db_url, tmp_path):
    port = free_port()
    config = {"defaults": {"rules": {"ladder": ["mute:1d", "kick"]}}} | console_config(port)
    async with running_telegram_app(db_url, str(tmp_path), config) as h:
        admin, spammer = h.user("admin"), h.user("spammer")
        h.set_admins(admin)
        await h.send_text(spammer, "大家好")
        await h.send_text(spammer, AD)
        assert h.fake.member_status(h.chat["id"], spammer["id"]) == "restricted"
        url = await sign_in_link(h, admin)
        async with browser() as page:
            await _signed_in_page(page, url, port)
            await page.goto(f"{base(port)}/console/g/{await _group_id(h)}/review")
            row = page.locator("tr[data-action=mute]", has_text="abc12345")
            assert await row.count() == 1
            async with page.expect_navigation():
                await row.locator("form.undo button").click()
            assert "撤销" in await page.inner_text(".flash")
            assert h.fake.member_status(h.chat["id"], spammer["id"]) == "member"
            lifted = h.fake.last("restrictChatMember").params
            assert lifted["user_id"] == str(spammer["id"]) and all(lifted["permissions"].values())
            assert await page.locator("tr[data-action=mute][data-undone='1']", has_text="abc12345").count() == 1


async def test_a_setting_changed_in_the_browser_is_used_at_the_next_message(db_url, tmp_path):
    port = free_port()
    async with running_telegram_app(db_url, str(tmp_path), console_config(port)) as h:
        admin, member = h.user("admin"), h.user("member")
        h.set_admins(admin)
        before = await h.send_text(member, "我喜欢金桔酱")
        assert not h.calls("deleteMessage")
        url = await sign_in_link(h, admin)
        async with browser() as page:
            await _signed_in_page(page, url, port)
            await page.goto(f"{base(port)}/console/g/{await _group_id(h)}/settings")
            row = page.locator("tr[data-path='rules.words']")
            await row.locator("[name=value]").fill('["金桔"]')
            async with page.expect_navigation():
                await row.locator("button:not([name=reset])").click()
            assert await page.locator("tr[data-path='rules.words']").get_attribute("data-source") == "database"
        punished = await h.send_text(member, "金桔便宜卖")
        deleted = [c.params["message_id"] for c in h.calls("deleteMessage")]
        assert str(punished.message_id) in deleted and str(before.message_id) not in deleted
