"""The members list and a member's page of the web console, over HTTP with the real App on
python-telegram-bot against the fake Bot API: search, filters and paging; answers, points, strikes,
tags and the moderation / points actions as an admin sees them; refusals (no CSRF token, not an
admin of the group, a member of another group)."""

from __future__ import annotations

import html as markup
import re
from datetime import timedelta

from bot.events import UserRef
from storage import core_repo, onboarding_repo
from tests.support.console import base, console_config, csrf_of, sign_in_link, signed_in
from tests.support.telegram_harness import free_port, running_telegram_app

QUESTIONS = {"onboarding": {"questions": [
    {"id": "city", "text": {"zh-CN": "你在哪个城市？", "en": "Which city are you in?"}},
    {"id": "role", "kind": "choice", "text": {"zh-CN": "你的身份", "en": "You are"},
     "choices": [{"value": "parent", "label": {"zh-CN": "家长", "en": "A parent"}},
                 {"value": "teacher", "label": {"zh-CN": "老师", "en": "A teacher"}}]},
]}}


def config(port: int) -> dict:
    return console_config(port, language="en") | {"defaults": {"language": "en", **QUESTIONS}}


async def chat_id_of(h, chat: dict | None = None) -> int:
    async with h.app.sessions() as session:
        return (await core_repo.get_chat(session, "telegram", str((chat or h.chat)["id"]))).id


async def member_id_of(h, user: dict, chat: dict | None = None) -> int:
    async with h.app.sessions() as session:
        return (await core_repo.get_member(session, await chat_id_of(h, chat), str(user["id"]))).id


async def add_members(h, n: int) -> None:
    """`n` members stored as the bot stores them, "Member 000" the newest; every tenth tagged vip."""
    chat_id = await chat_id_of(h)
    now = h.app.clock.now()
    async with h.app.sessions() as session, session.begin():
        for i in range(n):
            user = UserRef("telegram", str(70_000 + i), name=f"Member {i:03}", username=f"m{i:03}")
            await core_repo.add_member(session, chat_id, user, now - timedelta(minutes=i + 1))
            if i % 10 == 0:
                member = await core_repo.get_member(session, chat_id, user.id)
                await core_repo.add_tags(session, member.id, ["vip"], "admin", now)


def names(html: str) -> list[str]:
    return re.findall(r'<tr class="member" data-member="\d+">\s*<td><a href="[^"]+">([^<]+)</a>', html)


def balance(html: str) -> int:
    return int(re.search(r'id="member-balance">(-?\d+)<', html).group(1))


async def get(http, url: str) -> tuple[int, str]:
    """The status and the page, its entities decoded (so a test reads the text a user reads)."""
    async with http.get(url) as response:
        return response.status, markup.unescape(await response.text())


async def test_the_members_list_searches_filters_and_pages(db_url, tmp_path):
    port = free_port()
    async with running_telegram_app(db_url, str(tmp_path), config(port)) as h:
        alice = h.user("alice")
        h.set_admins(alice)
        url = await sign_in_link(h, alice)
        bob = h.user("Bob Builder", username="bobby")
        await h.send_text(bob, "hello all")
        await add_members(h, 120)
        members = f"{base(port)}/console/g/{await chat_id_of(h)}/members"
        async with signed_in(url) as http:
            status, html = await get(http, members)
            assert status == 200
            assert "Page 1 of 3, 122 in all" in html  # alice, bob and the 120
            shown = names(html)
            assert len(shown) == 50 and shown[:3] == ["Bob Builder", "alice", "Member 000"]  # newest first

            _, html = await get(http, f"{members}?page=3")
            assert "Page 3 of 3, 122 in all" in html and names(html)[-1] == "Member 119" and len(names(html)) == 22

            _, html = await get(http, f"{members}?q=member+042")  # case-insensitive, by display name
            assert names(html) == ["Member 042"] and "1 in all" in html
            _, html = await get(http, f"{members}?q=%40BOBBY")  # by @username
            assert names(html) == ["Bob Builder"]
            _, html = await get(http, f"{members}?q=70077")  # by user id
            assert names(html) == ["Member 077"]

            _, html = await get(http, f"{members}?tag=vip")
            assert names(html) == [f"Member {i:03}" for i in range(0, 120, 10)] and "Page 1 of 1, 12 in all" in html

            # The pager keeps the filters.
            _, html = await get(http, f"{members}?q=Member&status=active")
            assert "Page 1 of 3, 120 in all" in html
            next_link = re.search(r'<a rel="next" href="([^"]+)"', html).group(1)
            assert next_link == "?q=Member&status=active&page=2"
            _, html = await get(http, members + next_link)
            assert "Page 2 of 3, 120 in all" in html and names(html)[0] == "Member 050"
            assert '<a rel="prev" href="?q=Member&status=active">' in html

            # Join dates are the group's days (Asia/Shanghai): the 120 joined before 09:00 local today.
            today = h.app.clock.now().date().isoformat()
            _, html = await get(http, f"{members}?joined_from={today}&joined_to={today}&q=Member")
            assert "120 in all" in html

            # Bad input is named and ignored, never an error page.
            status, html = await get(http, f"{members}?joined_from=2026-13-01&status=gone&page=x&tag=vip")
            assert status == 200
            assert "\"joined from\" is not a date as YYYY-MM-DD (2026-13-01)" in html
            assert "\"status\" has no value \"gone\"" in html and "\"page\" must be a whole number" in html
            assert "12 in all" in html  # the valid tag filter still applies

            # A page past the end shows the last one.
            _, html = await get(http, f"{members}?page=99")
            assert "Page 3 of 3" in html
            _, html = await get(http, f"{members}?page=99999999999999999999999")
            assert "Page 3 of 3" in html

            _, html = await get(http, f"{members}?lang=zh-CN&status=banned&joined_to=yesterday")
            assert "第 1 / 1 页，共 0 条" in html and "没有符合条件的成员。" in html
            assert "“入群至”不是 YYYY-MM-DD 格式的日期（yesterday），已忽略。" in html


async def test_a_member_page_with_answers_points_strikes_tags_and_actions(db_url, tmp_path):
    port = free_port()
    async with running_telegram_app(db_url, str(tmp_path), config(port)) as h:
        alice, bob = h.user("alice"), h.user("Bob Builder", username="bobby")
        h.set_admins(alice)
        url = await sign_in_link(h, alice)
        await h.send_text(bob, "hello all")
        bob_id = await member_id_of(h, bob)
        async with h.app.sessions() as session, session.begin():
            await onboarding_repo.save_answer(session, bob_id, "city", "Hangzhou", h.app.clock.now())
            await onboarding_repo.save_answer(session, bob_id, "role", "parent", h.app.clock.now())
        await h.command(alice, "/warn off topic", reply_to=(await h.send_text(bob, "buy my course")).message_id)
        page = f"{base(port)}/console/g/{await chat_id_of(h)}/members/{bob_id}"

        async with signed_in(url) as http:
            status, html = await get(http, page)
            assert status == 200 and "Bob Builder" in html and "@bobby" in html
            assert re.search(r"<th>Which city are you in\?</th><td>Hangzhou</td>", html)
            assert re.search(r"<th>You are</th><td>A parent</td>", html)  # a choice's label, not its value
            assert '<div class="value" id="member-strikes">1</div>' in html and "in force" in html
            start = balance(html)  # the points bob earned by posting

            async def post(path: str, fields: dict, html: str) -> tuple[int, str]:
                async with http.post(f"{page}{path}", data={**csrf_of(html), **fields}) as response:
                    return response.status, markup.unescape(await response.text())

            # Mute for a day from the page: the Bot API restricts bob, the group sees the notice.
            notices = len(h.bot_texts())
            status, html = await post("/act", {"do": "mute", "duration": "1d", "reason": "flooding the group"}, html)
            assert status == 200
            restricted = await h.fake.wait_for("restrictChatMember")
            assert str(restricted[-1].params["user_id"]) == str(bob["id"])
            assert any("@bobby was muted for 1 day by an admin, reason: flooding the group" in text
                       for text in h.bot_texts()[notices:])
            assert '<div class="flash">Mute: ' in html  # what the command answered, under the action's name

            # Award points: the balance and the ledger row show them; the same form twice awards once.
            form = csrf_of(html)
            for _ in range(2):
                async with http.post(f"{page}/act", data={**form, "do": "award", "amount": "30", "reason": "helpful answers"}) as r:
                    html = markup.unescape(await r.text())
            assert balance(html) == start + 30 and "already submitted" in html
            assert re.search(r'<td class="num good">\+30</td><td>admin</td><td>helpful answers</td>', html)
            _, html = await post("/act", {"do": "award", "amount": "lots"}, html)
            assert "\"Amount\" must be a whole number" in html and balance(html) == start + 30

            # Tags: added, shown, in the audit trail, removed.
            _, html = await post("/tags", {"add": "volunteer"}, html)
            assert 'Tag "volunteer" added.' in html and '<span class="tag" title="from admin">volunteer</span>' in html
            _, html = await post("/tags", {"remove": "volunteer"}, html)
            assert 'Tag "volunteer" removed.' in html and '>volunteer</span>' not in html
            async with h.app.sessions() as session:
                trail = [(e.action, e.actor, e.details.get("tag")) for e in
                         await core_repo.audit_entries(session, await chat_id_of(h), target_user_id=str(bob["id"]))]
            assert trail[:2] == [("untag", f"telegram:{alice['id']}", "volunteer"), ("tag", f"telegram:{alice['id']}", "volunteer")]
            assert {"mute", "award", "warn"} <= {action for action, _, _ in trail}

            # A form without its CSRF token is refused and changes nothing.
            async with http.post(f"{page}/tags", data={"add": "sneaky", "form_id": "x1"}) as response:
                assert response.status == 403
            async with http.post(f"{page}/act", data={"do": "award", "amount": "500", "form_id": "x2"}) as response:
                assert response.status == 403
            _, html = await get(http, page)
            assert "sneaky" not in html and balance(html) == start + 30
            assert len(h.fake.calls_to("restrictChatMember")) == 1

            # Unmute from the page lifts the restriction.
            before = len(h.fake.sent("restrictChatMember"))
            await post("/act", {"do": "unmute"}, html)
            await h.fake.wait_for("restrictChatMember", before + 1)

            for unknown in ("999999", "99999999999999999999", "x"):
                status, html = await get(http, f"{base(port)}/console/g/{await chat_id_of(h)}/members/{unknown}")
                assert status == 404 and "There is no such page or record." in html

            _, html = await get(http, f"{page}?lang=zh-CN")
            assert "<th>你在哪个城市？</th><td>Hangzhou</td>" in html and "<th>你的身份</th><td>家长</td>" in html
            assert "奖励积分" in html and "操作记录" in html and "helpful answers" in html


async def test_other_groups_members_are_refused(db_url, tmp_path):
    port = free_port()
    async with running_telegram_app(db_url, str(tmp_path), config(port)) as h:
        alice, carol, bob = h.user("alice"), h.user("carol"), h.user("bob")
        other = h.group(-1001000000077, "Other group")
        h.set_admins(alice)
        h.set_admins(carol, chat=other)
        await h.send_text(bob, "hi")
        await h.send_text(bob, "hi there", chat=other)
        alice_url = await sign_in_link(h, alice)
        carol_url = await sign_in_link(h, carol, chat=other)
        bob_here = await member_id_of(h, bob)
        bob_there = await member_id_of(h, bob, other)
        here = f"{base(port)}/console/g/{await chat_id_of(h)}"
        async with signed_in(carol_url) as http:
            status, html = await get(http, f"{here}/members/{bob_here}")
            assert status == 403 and "You are not an admin of this group" in html
            assert (await get(http, f"{here}/members"))[0] == 403
            status, _ = await get(http, f"{base(port)}/console/g/{await chat_id_of(h, other)}/members/{bob_there}")
            assert status == 200
        async with signed_in(alice_url) as http:
            status, html = await get(http, f"{here}/members/{bob_there}")  # bob's row in the other group
            assert status == 404 and "There is no such page or record." in html
            async with http.get(f"{here}/members/{bob_here}") as response:
                form = csrf_of(await response.text())
            async with http.post(f"{here}/members/{bob_there}/tags", data={**form, "add": "x"}) as response:
                assert response.status == 404
