"""The web console (运营后台): sign-in links from the bot, sessions, and the pages operators and group
admins work in, served on the bot's HTTP server (bot/httpserver.py). See docs/web-console.md."""
