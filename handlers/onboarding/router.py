from bot.dispatch import Router

router = Router("onboarding", priority=90)
