"""Template filters of the marketer's pages."""

from __future__ import annotations

from datetime import datetime

from django import template

from builder.page_selectors import edited_words

register = template.Library()


@register.filter
def ago(when: datetime | None) -> str:
    """'just now', '5 minutes ago', '2 days ago' ('' for no time)."""
    return edited_words(when) if when else ""
