"""The one rule every read of a path taken from a run follows: stay inside the logdir.

A logdir received from someone else is data, not instructions: no path
taken from a run (config entries, the ``checkpoint`` state file, metadata,
tensor files, sprites, a symlink inside the run) is read unless it stays
inside the logdir after resolving ``..`` and symlinks (:func:`inside_logdir`).

    >>> inside_logdir("gs://b/logdir/run/../other", "gs://b/logdir")
    True
    >>> inside_logdir("gs://b/logdir/../elsewhere", "gs://b/logdir")
    False
"""

from __future__ import annotations

import os

from projector_tools import fsio
from projector_tools.errors import OutsideLogdirError


def inside_logdir(path: str, logdir: str) -> bool:
    """True when ``path`` is ``logdir`` or below it, after resolving ``..`` and
    (for local paths) every symlink, including ``path`` itself.

        >>> inside_logdir("runs/a/../../etc/passwd", "runs")
        False

    Every read of a path taken from a run goes through this check, so that a
    logdir received from someone else cannot make ``doctor --fix``,
    ``neighbors`` or ``plot`` read (or copy into the run) a file elsewhere.
    """
    if fsio.is_remote(path) or fsio.is_remote(logdir):
        if not (fsio.is_remote(path) and fsio.is_remote(logdir)):
            return False
        base = fsio.normpath(logdir).rstrip("/")
        target = fsio.normpath(path).rstrip("/")
        return target == base or target.startswith(base + "/")
    base = os.path.realpath(os.path.expanduser(logdir))
    target = os.path.realpath(os.path.expanduser(path))
    try:
        return os.path.commonpath([base, target]) == base
    except ValueError:  # different drives
        return False


def require_inside(path: str, logdir: str | None, what: str) -> str:
    """``path`` if it may be read (see :func:`inside_logdir`), else raise
    :class:`~projector_tools.errors.OutsideLogdirError` naming it."""
    if logdir is not None and not inside_logdir(path, logdir):
        raise OutsideLogdirError(
            f"{what} {path!r} leads outside the logdir {logdir!r} (after resolving '..' and "
            "symlinks); a path read from a run is not followed outside it. Copy the file into "
            "the run, or run `projector-tools doctor --fix` on the logdir"
        )
    return path


def checkpoint_inside(prefix: str, logdir: str | None) -> bool:
    """True when the checkpoint ``prefix`` and each of its files stay inside ``logdir``."""
    if logdir is None:
        return True
    if not inside_logdir(prefix, logdir):
        return False
    return all(inside_logdir(f, logdir) for f in fsio.gfile().glob(prefix + ".*"))


def require_inside_source(path: str, folder: str, what: str, allow_outside: bool = False) -> str:
    """``path`` if it stays inside the source ``folder`` the user named (or
    ``allow_outside``), else an :class:`~projector_tools.errors.OutsideLogdirError`:
    a file inside a source (a safetensors index, a ``checkpoint`` state file)
    does not make the tool open a file elsewhere.

        >>> require_inside_source("model/../../etc/passwd", "model", "shard")
        Traceback (most recent call last):
        ...
        projector_tools.errors.OutsideLogdirError: shard 'model/../../etc/passwd' leads outside the source folder 'model' (after resolving '..' and symlinks); a path read from a source is not followed outside it. Name that file yourself, or pass --allow-outside
    """
    if not allow_outside and not inside_logdir(path, folder):
        raise OutsideLogdirError(
            f"{what} {path!r} leads outside the source folder {folder!r} (after resolving '..' and "
            "symlinks); a path read from a source is not followed outside it. Name that file "
            "yourself, or pass --allow-outside"
        )
    return path
