"""The training run's own files: ``run.json`` and the check that a new run starts empty.

``run.json`` records the options of a run (reused by ``--resume``), its
vocabulary file and how many epochs are done. It is written under a
temporary dot name and renamed into place (:func:`write_run_file`), so an
interrupted write leaves nothing that makes the logdir look like something
other than a run (:func:`check_fresh_logdir` and ``--resume`` ignore dot
names).

    >>> import tempfile
    >>> logdir = tempfile.mkdtemp()
    >>> check_fresh_logdir(logdir)   # empty: a new run may start here
    >>> write_run_file(logdir, {"epochs_done": 2})
    >>> read_run_file(logdir)
    {'epochs_done': 2}
"""

from __future__ import annotations

import json
import os
from typing import Any

from projector_tools import fsio
from projector_tools.errors import LogdirError, SourceError
from projector_tools.run.budgets import MAX_STATE_BYTES, json_loads

RUN_FILE = "run.json"
CHECKPOINT_DIR = "checkpoints"


def read_run_file(logdir: str) -> dict[str, Any] | None:
    """The run's record, or None when ``logdir`` has no ``run.json``."""
    path = os.path.join(logdir, RUN_FILE)
    if not os.path.isfile(path):
        return None
    try:  # a logdir handed over may hold any run.json: deep JSON was a RecursionError traceback
        record = json_loads(fsio.read_bytes(path, limit=MAX_STATE_BYTES), path)
    except SourceError as exc:
        raise LogdirError(f"{exc}; it records the run's options") from None
    if not isinstance(record, dict):
        raise LogdirError(f"{path!r} is not a record of a run's options (a JSON object)")
    return record


def write_run_file(logdir: str, data: dict[str, Any]) -> None:
    """Write the run's record atomically (its temporary name is a dot name)."""
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    fsio.atomic_write(os.path.join(logdir, RUN_FILE), text, tmp=os.path.join(logdir, "." + RUN_FILE + ".tmp"))


def check_fresh_logdir(logdir: str) -> None:
    """Refuse a ``logdir`` that is a file or holds anything but dot names."""
    if os.path.isfile(logdir):
        raise LogdirError(f"--logdir {logdir!r} is a file; give a directory for the run")
    if not os.path.isdir(logdir):
        return
    entries = [e for e in os.listdir(logdir) if not e.startswith(".")]
    if not entries:
        return
    if RUN_FILE in entries or CHECKPOINT_DIR in entries:
        raise LogdirError(
            f"{logdir!r} already holds a training run; continue it with --resume, "
            "or train into a new --logdir"
        )
    raise LogdirError(
        f"{logdir!r} is not empty ({', '.join(sorted(entries)[:5])}); train into a new, "
        "empty --logdir so that TensorBoard shows only this run"
    )
