"""Errors the core raises for expected failures: each carries a message and, where useful, a way forward."""

from __future__ import annotations


def printable(text: str, *, newlines: bool = True) -> str:
    """``text`` fit for a terminal: control characters (an escape sequence from a report, a carriage return)
    shown as escapes such as ``\\x1b``; line breaks kept where ``newlines``."""
    return "".join(
        ch if ch.isprintable() or (newlines and ch == "\n") else ch.encode("unicode_escape").decode("ascii")
        for ch in text
    )


class LlamaflakeError(Exception):
    """An expected failure: shown to the user as one clear message, never as a traceback."""

    exit_code = 2
    output: str | None = None  # long output to scroll through (git's and a hook's), where there is some

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class AnswerError(LlamaflakeError):
    """An answer (host, variant, flag, cache) that cannot be used."""


class RepositoryError(LlamaflakeError):
    """The repository or flake cannot be read or is not in a usable state."""


class NixSyntaxError(LlamaflakeError):
    """A Nix file that does not parse, with the place of the first error."""

    def __init__(self, path: str, line: int, column: int, detail: str) -> None:
        super().__init__(f"{path}:{line}:{column}: syntax error: {detail}")
        self.path = path
        self.line = line
        self.column = column
        self.detail = detail
