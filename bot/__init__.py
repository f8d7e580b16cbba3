"""Faro: a messaging assistant for people on the move in Mexico."""

from bot.web import create_app

__all__ = ["create_app"]
