from bot.dispatch import Router

router = Router("points", priority=50)
