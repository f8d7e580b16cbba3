"""The content pack: flows, data files with sourced facts, keywords and catalogs."""

from bot.content.pack import Content, load_content

__all__ = ["Content", "load_content"]
