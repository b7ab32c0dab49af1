"""Exception types of projector_tools.

Every error a user can cause is one of these, with a message that names the
thing that is wrong and how to fix it. The CLI prints the message on one
line and exits with status 1 (no traceback unless ``--debug``).
"""

from __future__ import annotations


class ProjectorToolsError(Exception):
    """Base class of every error raised on purpose by projector_tools."""


class InputError(ProjectorToolsError, ValueError):
    """The caller's input (array, labels, model, file) cannot be exported."""


class ShapeMismatchError(InputError):
    """Labels and matrix rows differ in number."""


class LogdirError(ProjectorToolsError, OSError):
    """The log directory cannot be used (it is a file, not writable, ...)."""


class SourceError(InputError):
    """A source file given to the CLI cannot be read as what it claims to be."""


class DatasetUnavailableError(ProjectorToolsError):
    """A dataset needs a download that cannot happen here (offline, ...)."""


class OutsideLogdirError(InputError):
    """A path read from a run (config, state file, metadata) leads outside its logdir."""


class MissingDependencyError(ProjectorToolsError, ImportError):
    """An optional extra (e.g. ``projector_tools[layout]``) is not installed."""
