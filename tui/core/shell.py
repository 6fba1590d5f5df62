"""Quoting for the shell commands llamaflake prints for the user to paste."""

from __future__ import annotations

import re
import shlex

_PLAIN = re.compile(r"[A-Za-z0-9_@%+=:,./#-]+", re.ASCII)


def shell_quote(word: str) -> str:
    """One word as the shell reads it back exactly: bare where it is plain (``.#carbon``), else quoted."""
    if _PLAIN.fullmatch(word) and not word.startswith("#"):
        return word
    return shlex.quote(word)


def shell_join(words: list[str]) -> str:
    """A command line of ``words``, each quoted with :func:`shell_quote`."""
    return " ".join(shell_quote(w) for w in words)
