"""Demo scene of the onboarding feature: in a group of its own that uses the example questionnaire
of config.example.toml (shipped as bot/examples), a newcomer is restricted, answers with buttons and text, gets tags and the
welcome; another stays silent and is removed with a notice once the clock passes the deadline."""

from __future__ import annotations

from bot import examples
from storage import core_repo

CHAT_ID = "newcomers"


def example_questionnaire() -> dict:
    # The example config ships inside the package (bot/examples), so an installed Qunzhu finds it too.
    return examples.example_config()["defaults"]["onboarding"]


def _current_question(console, name: str):
    for message in reversed(console.bot_messages(CHAT_ID)):
        if f"@{name}" in message.text and message.text.count("/") and ("（" in message.text or "(" in message.text):
            return message
    raise RuntimeError(f"no question for {name} in the demo group")


async def scene(d) -> None:
    console, app = d.console, d.app
    chat = console.chat(CHAT_ID, "新人群 · Newcomers")
    async with app.sessions() as session, session.begin():
        row = await core_repo.ensure_chat(session, chat.ref, app.clock.now())
        await core_repo.set_override(session, row.id, "onboarding", example_questionnaire(), "demo", app.clock.now())

    d.narrate("Onboarding: mia joins a group with an entry questionnaire. She is muted until she has answered.")
    await console.join("mia", chat_id=CHAT_ID)
    d.narrate("Another member presses mia's button: only mia's presses count.")
    await console.press("leo", _current_question(console, "mia").id, 0)
    d.narrate("mia accepts the rules, then types her city (a first try is refused with the reason).")
    await console.press("mia", _current_question(console, "mia").id, 0)
    await console.say("mia", "1", chat_id=CHAT_ID)
    await console.say("mia", "深圳", chat_id=CHAT_ID)
    d.narrate("Industry, budget and goal by buttons, years as a number: she is tagged (A = able and willing) and welcomed.")
    await console.press("mia", _current_question(console, "mia").id, 0)
    await console.press("mia", _current_question(console, "mia").id, 1)
    await console.press("mia", _current_question(console, "mia").id, 0)
    await console.say("mia", "6", chat_id=CHAT_ID)
    d.narrate("An admin looks at her answers and tags (sent by direct message).")
    await console.say("admin", "/profile @mia", chat_id=CHAT_ID)

    d.narrate("sam joins and stays silent; eleven minutes later the deadline has passed.")
    await console.join("sam", chat_id=CHAT_ID)
    d.clock.advance(minutes=11)
    await d.app.tick()


SCENE = (20, "onboarding", scene)
