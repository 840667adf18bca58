"""The console's content pages over HTTP (aiohttp client) against the real bot on python-telegram-bot
and the fake Bot API: questionnaire answers and their CSV, columns (next run, preview, pause, the
unknown posts to check), the shop's orders with "Fulfil" and the lotteries' verification data."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import re

from bot.clock import FakeClock
from bot.config import deep_merge
from storage import columns_repo, core_repo, points_repo
from tests.columns.helpers import utc
from tests.onboarding.helpers import config as onboarding_config
from tests.onboarding.test_telegram import button, question
from tests.support.console import base, console_config, csrf_of, sign_in_link, signed_in
from tests.support.fake_telegram import DEFAULT_CHAT_ID
from tests.support.harness import START
from tests.support.telegram_harness import free_port, running_telegram_app


async def chat_id_of(h) -> int:
    async with h.app.sessions() as session:
        chat = await core_repo.get_chat(session, "telegram", str(h.chat["id"]))
        return chat.id


async def page(http, url: str) -> str:
    async with http.get(url) as response:
        text = await response.text()
        assert response.status == 200, (response.status, text[:500])
        return text


async def post(http, url: str, form: dict, **fields) -> tuple[int, str]:
    """POST a form as its button would (the csrf and form_id of the page it came from)."""
    async with http.post(url, data={**form, **fields}, allow_redirects=True) as response:
        return response.status, await response.text()


def cells(html: str, table_id: str) -> list[list[str]]:
    """The text of each cell of each row of the table with that id."""
    table = re.search(rf'<table id="{table_id}"[^>]*>(.*?)</table>', html, re.S)
    assert table, f"no table #{table_id}"
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table.group(1), re.S)
    strip = lambda cell: re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cell)).strip()  # noqa: E731
    return [[strip(c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)] for row in rows]


async def answer_the_questionnaire(h, name: str) -> None:
    """`name` joins and answers: agrees, Osaka, the first choice three times, 12 years."""
    await h.join(h.user(name))
    message_id, message = question(h, name)
    await h.press(name, message_id, button(message, 0))
    await h.send_text(name, "Osaka")
    for _ in range(3):
        message_id, message = question(h, name)
        await h.press(name, message_id, button(message, 0))
    await h.send_text(name, "12")


async def test_answers_page_and_csv_list_a_members_answers(db_url, tmp_path):
    port = free_port()
    config = deep_merge(onboarding_config("en"), console_config(port))
    async with running_telegram_app(db_url, str(tmp_path), config) as h:
        alice = h.user("alice")
        h.set_admins(alice)
        await h.send_text(alice, "hi")
        await answer_the_questionnaire(h, "bob")
        await h.join(h.user("carol"))  # questioned, not answered yet
        chat = await chat_id_of(h)
        async with signed_in(await sign_in_link(h, alice)) as http:
            html = await page(http, f"{base(port)}/console/g/{chat}/answers?lang=en")
            rows = cells(html, "answers")
            header, by_name = rows[0], {r[0]: r for r in rows[1:]}
            assert header[:3] == ["Member", "Joined", "State"] and header[-1] == "Tags"
            assert header[3].startswith("Group rules") and "Which city do you live in?" in header
            bob = dict(zip(header, by_name["bob"]))
            assert bob["State"] == "answered" and bob["Which city do you live in?"] == "Osaka"
            assert bob["Which industry do you work in?"] == "Internet / IT" and header[3] in bob
            assert "A" in bob["Tags"].split() and "资深" in bob["Tags"]
            assert by_name["carol"][2] == "pending"
            async with h.app.sessions() as session:
                bob_member = await core_repo.get_member(session, chat, str(h.user("bob")["id"]))
            assert f'href="/console/g/{chat}/members/{bob_member.id}">bob</a>' in html

            found = cells(await page(http, f"{base(port)}/console/g/{chat}/answers?q=BO"), "answers")
            assert [r[0] for r in found[1:]] == ["bob"]

            async with http.get(f"{base(port)}/console/g/{chat}/answers.csv") as response:
                assert response.status == 200 and response.headers["Content-Type"].startswith("text/csv")
                assert "attachment" in response.headers["Content-Disposition"]
                raw = await response.read()
            assert raw.startswith(b"\xef\xbb\xbf")
            table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
            assert table[0][:6] == ["Member", "User ID", "Username", "Joined (Asia/Shanghai)", "State", "Member status"]
            exported = {r[0]: dict(zip(table[0], r)) for r in table[1:]}
            assert set(exported) == {"bob", "carol"}
            assert exported["bob"]["Which city do you live in?"] == "Osaka" and exported["bob"]["State"] == "answered"
            assert exported["bob"]["User ID"] == str(h.user("bob")["id"])

            # The header follows the viewer's language.
            async with http.get(f"{base(port)}/console/g/{chat}/answers.csv?lang=zh-CN") as response:
                zh = (await response.read()).decode("utf-8-sig")
            assert zh.splitlines()[0].startswith("成员,用户 ID,用户名,入群时间（Asia/Shanghai）,问卷状态")
            assert "你在哪个城市？" in zh.splitlines()[0] and "互联网/IT" in zh

        # bob is no admin: the answers are not his to see.
        async with signed_in(await sign_in_link(h, "bob")) as http:
            async with http.get(f"{base(port)}/console/g/{chat}/answers") as response:
                assert response.status == 403


COLUMN_SLOT = utc(2026, 3, 3, 0, 0)  # Tuesday 08:00 in Shanghai; the harness starts Monday 09:00


async def test_columns_page_shows_next_run_and_preview_and_pause_stops_the_post(db_url, tmp_path):
    port = free_port()
    config = deep_merge(console_config(port), {"columns": {"column": {"zaobao": {
        "title": "早报", "source": "morning", "times": ["08:00"], "groups": [f"telegram:{DEFAULT_CHAT_ID}"]}}}})
    clock = FakeClock(START)
    async with running_telegram_app(db_url, str(tmp_path), config, clock=clock) as h:
        alice = h.user("alice")
        h.set_admins(alice)
        await h.send_text(alice, "hi")
        chat = await chat_id_of(h)
        columns_url = f"{base(port)}/console/g/{chat}/columns"
        async with signed_in(await sign_in_link(h, alice)) as http:
            html = await page(http, f"{columns_url}?lang=en")
            section = html[html.index('id="column-zaobao"'):]
            assert re.search(r'class="next-run">2026-03-03 08:00 <span class="muted">\(Asia/Shanghai\)', section)
            assert "daily 08:00" in section
            preview = re.search(r'<pre class="preview">(.*?)</pre>', section, re.S).group(1)
            assert "早上好" in preview and "早报" in preview
            assert not any("早上好" in text for text in h.bot_texts()), "a preview must not be posted"

            status, text = await post(http, f"{columns_url}/zaobao/pause", csrf_of(html), next="/console/g/%d/columns" % chat)
            assert status == 200 and "paused in this group" in text
            clock.set(COLUMN_SLOT.replace(minute=1))
            await h.tick()
            assert not any("早上好" in t for t in h.bot_texts()), "a paused column posted"
            async with h.app.sessions() as session:
                posts = await columns_repo.posts_of(session, "zaobao", chat)
            assert [(p.status, p.detail) for p in posts if p.slot_at == COLUMN_SLOT] == [("skipped", "paused")]

            # Resumed, it posts at the next slot.
            html = await page(http, f"{columns_url}?lang=en")
            status, text = await post(http, f"{columns_url}/zaobao/resume", csrf_of(html))
            assert status == 200 and "running" in text
            clock.set(utc(2026, 3, 4, 0, 1))
            await h.tick()
            assert sum("早上好" in t for t in h.bot_texts()) == 1
            html = await page(http, f"{columns_url}?lang=en")
            recent = {r[0]: r[1:] for r in cells(html, "posts-zaobao")[1:]}
            assert recent["2026-03-04 08:00"][0] == "posted" and recent["2026-03-03 08:00"] == ["skipped", "", "paused"]


async def test_an_interrupted_column_post_is_listed_to_check_and_marked_checked(db_url, tmp_path):
    port = free_port()
    config = deep_merge(console_config(port), {
        "telegram": {"request_timeout": 1},
        "columns": {"column": {"zaobao": {"title": "早报", "source": "morning", "times": ["08:00"],
                                          "groups": [f"telegram:{DEFAULT_CHAT_ID}"]}}},
    })
    clock = FakeClock(utc(2026, 3, 1, 23, 59))
    async with running_telegram_app(db_url, str(tmp_path), config, clock=clock) as h:
        alice = h.user("alice")
        h.set_admins(alice)
        await h.send_text(alice, "hi")
        chat = await chat_id_of(h)
        h.fake.slow("sendMessage", 2.0, when=lambda p: "早上好" in str(p.get("text")))
        clock.set(utc(2026, 3, 2, 0, 0))
        await h.tick()
        await asyncio.sleep(1.5)  # Telegram got it after all; the bot cannot know
        columns_url = f"{base(port)}/console/g/{chat}/columns"
        async with signed_in(await sign_in_link(h, alice)) as http:
            html = await page(http, f"{columns_url}?lang=en")
            unknown = cells(html, "unknown-posts")
            assert len(unknown) == 2 and unknown[1][1] == "早报" and unknown[1][2] == "2026-03-02 08:00"
            assert "Checked in the group" in unknown[1][5]
            post_id = int(unknown[1][0])
            form = csrf_of(html)
            status, text = await post(http, f"{base(port)}/console/g/{chat}/column-posts/{post_id}/checked", form)
            assert status == 200 and f"Post #{post_id} is marked checked." in text
            assert "checked by telegram:%s" % alice["id"] in cells(text, "unknown-posts")[1][5]
            status, text = await post(http, f"{base(port)}/console/g/{chat}/column-posts/{post_id}/checked", form)
            assert "already submitted" in text  # the same form twice is done once
        async with h.app.sessions() as session:
            checks = await core_repo.audit_entries(session, chat, action="column_post_checked")
        assert [e.details["post"] for e in checks] == [post_id] and checks[0].actor == f"telegram:{alice['id']}"
        assert sum("早上好" in t for t in h.bot_texts()) == 1  # and it was never sent again


async def test_shop_page_lists_items_orders_and_draws_and_fulfils_an_order(db_url, tmp_path):
    port = free_port()
    config = deep_merge(console_config(port), {"defaults": {"language": "en", "points": {"activity_points": 0}}})
    async with running_telegram_app(db_url, str(tmp_path), config) as h:
        alice, bob = h.user("alice"), h.user("bob")
        h.set_admins(alice)
        await h.command(alice, "/shop add Sticker pack 10 5")
        await h.command(bob, "/checkin")
        await h.command(bob, "/redeem 1")
        assert "order #1" in h.bot_texts()[-1]
        await h.command(alice, "/lottery 1h 1 0 Mug")
        await h.command(bob, "/join_draw")
        await h.command(alice, "/lottery 2h 1 0 Cap")
        chat = await chat_id_of(h)
        shop_url = f"{base(port)}/console/g/{chat}/shop"
        async with signed_in(await sign_in_link(h, alice)) as http:
            html = await page(http, f"{shop_url}?lang=en")
            assert cells(html, "items")[1][:4] == ["1", "Sticker pack", "10", "4"]
            order = cells(html, "orders")[1]
            assert order[:4] == ["1", "Sticker pack", "bob", "10"] and order[5] == "pending" and order[6] == "Fulfil"
            draws = {r[1]: r for r in cells(html, "draws")[1:]}
            async with h.app.sessions() as session:
                mug = await points_repo.get_draw(session, chat, 1)
            assert draws["Mug"][3] == "1" and draws["Mug"][5] == "open"
            assert mug.seed_hash in draws["Mug"][7] and mug.seed not in html, "a draw's seed is secret until it is drawn"

            # A form without its CSRF token changes nothing.
            async with http.post(f"{shop_url}/orders/1/fulfil", data={"form_id": "x"}) as refused:
                assert refused.status == 403
            async with h.app.sessions() as session:
                assert [o.status for o, _, _ in await points_repo.orders(session, chat)] == ["pending"]

            status, text = await post(http, f"{shop_url}/orders/1/fulfil", csrf_of(html), next=f"/console/g/{chat}/shop?lang=en")
            assert status == 200 and "Order #1 “Sticker pack” handed over to" in text
            order = cells(text, "orders")[1]
            assert order[5].startswith("fulfilled") and f"telegram:{alice['id']}" in order[5] and "Fulfil" not in order[6]
            told = [t for t in h.bot_texts() if "Order #1" in t and "handed over" in t]
            assert len(told) == 1 and "bob" in told[0], "the member is told in the group"
            assert "No orders." in await page(http, f"{shop_url}?state=pending")
            assert cells(await page(http, f"{shop_url}?state=fulfilled"), "orders")[1][0] == "1"

            h.app.clock.advance(hours=1, minutes=1)
            await h.tick()
            html = await page(http, f"{shop_url}?lang=en")
            mug_row = {r[1]: r for r in cells(html, "draws")[1:]}["Mug"]
            async with h.app.sessions() as session:
                mug = await points_repo.get_draw(session, chat, 1)
            assert mug_row[5].startswith("drawn") and mug_row[6] == "bob"
            assert mug.seed in mug_row[7] and hashlib.sha256(mug.seed.encode()).hexdigest() == mug.seed_hash
            assert "✓ Checked" in mug_row[7] and str(bob["id"]) in mug_row[7]
            assert {r[1]: r for r in cells(html, "draws")[1:]}["Cap"][5] == "open"
