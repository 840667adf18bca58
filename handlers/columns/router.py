from bot.dispatch import Router

router = Router("columns", priority=30)
