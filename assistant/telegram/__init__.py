"""Telegram: python-telegram-bot inside the service's event loop, an owners-only chat gate,
and the outbox delivery loop. The commands themselves live in `assistant.chat.commands`."""
