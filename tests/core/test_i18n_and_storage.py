import string

from bot.events import ChatMigrated, ChatRef
from bot.i18n import LANGUAGES, catalogue
from handlers import all_routers
from storage import core_repo
from tests.support.harness import running_app


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_text_exists_in_both_languages_with_the_same_placeholders():
    all_routers()  # importing the features registers their texts
    texts = catalogue()
    assert texts, "no texts registered"
    for key, by_lang in texts.items():
        assert set(LANGUAGES) <= set(by_lang), key
        assert _fields(by_lang["zh-CN"]) == _fields(by_lang["en"]), key


async def test_help_answers_in_the_groups_language(sqlite_url, tmp_path):
    config = {"groups": {"console:lobby": {"language": "en"}}}
    async with running_app(sqlite_url, str(tmp_path), config) as (app, console):
        await console.say("alice", "/help")
        assert console.bot_messages()[-1].text.startswith("Commands:")
        await console.say("alice", "/help", chat_id="other")
        assert console.bot_messages("other")[-1].text.startswith("可用命令")


async def test_chat_migration_keeps_members_tags_and_audit(db_url, tmp_path):
    async with running_app(db_url, str(tmp_path)) as (app, console):
        await console.say("alice", "hello")
        async with app.sessions() as session, session.begin():
            chat = await core_repo.get_chat(session, "console", "lobby")
            alice = await core_repo.get_member(session, chat.id, "alice")
            await core_repo.add_tags(session, alice.id, ["A"], "admin", app.clock.now())
            await core_repo.audit(session, chat_id=chat.id, at=app.clock.now(), actor="bot", action="warn", target_user_id="alice")
        old = console.default_chat
        new = ChatRef("console", "lobby-v2", "Upgraded")
        await app.dispatch(ChatMigrated(old, console.user("system"), app.clock.now(), new_chat=new))
        async with app.sessions() as session:
            assert await core_repo.get_chat(session, "console", "lobby") is None
            moved = await core_repo.get_chat(session, "console", "lobby-v2")
            assert moved.id == chat.id and moved.previous_external_id == "lobby"
            alice = await core_repo.get_member(session, moved.id, "alice")
            assert await core_repo.tags_of(session, alice.id) == ["A"]
            assert [e.action for e in await core_repo.audit_entries(session, moved.id)] == ["warn"]


async def test_stored_settings_are_validated_and_merged(db_url, tmp_path):
    async with running_app(db_url, str(tmp_path)) as (app, console):
        await console.say("alice", "hi")
        async with app.sessions() as session, session.begin():
            chat = await core_repo.get_chat(session, "console", "lobby")
            await core_repo.set_override(session, chat.id, "language", "en", "console:admin", app.clock.now())
        await console.say("alice", "/help")
        assert console.bot_messages()[-1].text.startswith("Commands:")
