from bot.dispatch import Router

router = Router("rules", priority=100)
