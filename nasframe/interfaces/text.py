"""Text for people: values cut to fit a one-line message, counts with the right word."""

from __future__ import annotations


def shorten(value: object, limit: int = 80) -> str:
    """``value`` as text of at most ``limit`` characters (an ellipsis marks the cut), for messages.

    A user's value is echoed in an error so they can see what was refused; a pasted file or a 10,000-digit
    number would bury the one line that explains it.
    """
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def count(n: int, word: str, plural: str | None = None) -> str:
    """``1 epoch``, ``2 epochs``."""
    return f"{n} {word if n == 1 else plural or word + 's'}"
