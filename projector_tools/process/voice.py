"""The program's one voice on stderr: its name, its notes, its error and interrupt lines.

Every line ``projector-tools`` prints to stderr comes from here::

    >>> from projector_tools.process import voice
    >>> voice.error_line("logdir 'runs/x' does not exist")
    "projector-tools: error: logdir 'runs/x' does not exist"
    >>> voice.INTERRUPTED_LINE
    'projector-tools: interrupted'
"""

from __future__ import annotations

import sys

#: The command's name, the prefix of every line it prints to stderr.
PROG = "projector-tools"
#: The last line after a Ctrl-C.
INTERRUPTED_LINE = f"{PROG}: interrupted"
#: 128 + SIGINT, what shells report for a Ctrl-C'd command.
EXIT_STATUS = 130


def prefixed(message: str) -> str:
    """``message`` behind the program's prefix (once: an already prefixed line is kept)."""
    return message if message.startswith(PROG + ":") else f"{PROG}: {message}"


def error_line(message: str) -> str:
    """The one line a refused command prints: ``projector-tools: error: <message>``."""
    return f"{PROG}: error: {message}"


def note(message: str) -> None:
    """A note for the user, behind the program's prefix, on stderr."""
    print(prefixed(message), file=sys.stderr, flush=True)


def say(message: str) -> None:
    """A progress line as it is (a training epoch, a reader's count), on stderr."""
    print(message, file=sys.stderr, flush=True)
