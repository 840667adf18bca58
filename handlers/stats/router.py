from bot.dispatch import Router

router = Router("stats", priority=10)
