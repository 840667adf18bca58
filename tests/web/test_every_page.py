"""Every console page opens in both languages (the header's switch, remembered in a cookie), and the
console shares the health server's port when [health] is on."""

from __future__ import annotations

import re

from storage import core_repo
from tests.support.console import base, console_config, sign_in_link, signed_in
from tests.support.telegram_harness import free_port, running_telegram_app

NAV = {"zh-CN": ("成员", "处理复核", "操作日志"), "en": ("Members", "Review", "Audit log")}


async def test_every_page_opens_in_both_languages_on_the_health_servers_port(db_url, tmp_path):
    port = free_port()
    config = console_config(port) | {"health": {"enabled": True, "port": port}}
    async with running_telegram_app(db_url, str(tmp_path), config) as h:
        admin, member = h.user("admin"), h.user("member")
        h.set_admins(admin)
        await h.send_text(member, "hello")
        async with h.app.sessions() as session:
            chat = await core_repo.get_chat(session, "telegram", str(h.chat["id"]))
            row = await core_repo.get_member(session, chat.id, str(member["id"]))
        group = f"/console/g/{chat.id}"
        pages = ["/console/", "/console/sessions", f"{group}/", f"{group}/members", f"{group}/members/{row.id}",
                 f"{group}/review", f"{group}/answers", f"{group}/settings", f"{group}/columns", f"{group}/shop",
                 f"{group}/audit"]
        async with signed_in(await sign_in_link(h, admin)) as http:
            async with http.get(f"{base(port)}/healthz") as health:
                assert (health.status, await health.text()) == (200, "ok")
            for lang, other in (("en", "zh-CN"), ("zh-CN", "en")):
                async with http.get(f"{base(port)}/console/?lang={lang}") as switched:
                    assert switched.status == 200
                for path in pages:
                    async with http.get(f"{base(port)}{path}") as page:
                        html = await page.text()
                        assert page.status == 200, (path, lang, html[:300])
                    assert f'<html lang="{lang}">' in html, (path, lang)
                    if path.startswith(group):
                        assert all(word in html for word in NAV[lang]), (path, lang)
                        assert not any(re.search(rf">{re.escape(word)}<", html) for word in NAV[other]), (path, lang)
            async with http.get(f"{base(port)}{group}/answers.csv") as csv:
                assert csv.status == 200 and (await csv.read()).startswith("\ufeff".encode())
