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


def first_line(exc: BaseException, limit: int = 300) -> str:
    """An exception as one line: its message's first line (shortened), or its type when it has none.

    Cluster engines raise errors whose messages run to pages (a remote traceback, an sbatch transcript);
    the study's progress line and its failure summary need the sentence that says what happened.
    """
    lines = str(exc).strip().splitlines()
    return shorten(lines[0], limit) if lines else type(exc).__name__
