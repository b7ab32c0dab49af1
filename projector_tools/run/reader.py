"""Seeing a logdir the way TensorBoard 2.21's Projector plugin sees it.

The rules, read from ``tensorboard/plugins/projector/projector_plugin.py``:

* runs are the directories holding event files (``*tfevents*``); the logdir
  itself is always looked at too, as run ``.``;
* a run's ``projector_config.pbtxt`` is read from the run directory, and a
  second one from ``run/plugins/org_tensorflow_tensorboard_projector/``
  (which wins when it loads);
* the checkpoint is the config's ``model_checkpoint_path`` (resolved against
  TensorBoard's own working directory!), else the latest checkpoint of the
  run directory, else that of its *parent*;
* a run without a checkpoint (and without ``tensor_path`` tensors) is not
  listed at all;
* the tensor drop-down lists the config's entries plus every 2-D tensor of
  the checkpoint except ``.OPTIMIZER_SLOT`` ones; a ``:0`` suffix is ignored;
* metadata paths resolve against the config's directory and must stay inside
  it.

A logdir received from someone else is data, not instructions: no path
taken from a run (config entries, the ``checkpoint`` state file, metadata,
tensor files, sprites, a symlink inside the run) is read unless it stays
inside the logdir after resolving ``..`` and symlinks
(:func:`~projector_tools.run.containment.inside_logdir`,
the one check every such read goes through). Paths that leave it are
recorded in ``RunView.outside`` for ``doctor`` to report.

    >>> import os, tempfile, numpy as np
    >>> from projector_tools import export_embeddings
    >>> logdir = tempfile.mkdtemp()
    >>> _ = export_embeddings(np.eye(3, dtype="float32"), os.path.join(logdir, "imdb"))
    >>> [(v.name, [e.name for e in v.embeddings]) for v in inspect_logdir(logdir) if v.listed]
    [('imdb', ['embedding'])]

:mod:`projector_tools.run.points` gives ``neighbors``, ``plot`` and
``doctor`` the matrix and labels a person sees for a run.
"""

from __future__ import annotations

import os

from projector_tools import fsio
from projector_tools.errors import LogdirError
from projector_tools.run.config import CONFIG_FILENAME
from projector_tools.run.files import PLUGIN_ASSETS, is_event_file
from projector_tools.run.pair import inspect_pair
from projector_tools.run.view import RunView


# --------------------------------------------------------------------------
# Discovery


def walk_dirs(logdir: str, skipped: list[str] | None = None) -> list[tuple[str, list[str]]]:
    """``[(dir, file names)]`` for ``logdir`` and every directory below it.

    A symlinked directory that resolves outside ``logdir`` is not listed (a
    logdir is data: a link in it does not take the tool elsewhere); its path
    goes to ``skipped``. The logdir itself may be a symlink (the user named it)."""
    if fsio.is_remote(logdir):  # no symlinks there
        return [(d.rstrip("/"), list(files)) for d, _dirs, files in fsio.gfile().walk(logdir)]
    from projector_tools.run.containment import inside_logdir

    out: list[tuple[str, list[str]]] = []
    seen: set[str] = set()
    stack = [logdir]
    while stack:
        folder = stack.pop()
        real = os.path.realpath(folder)
        if real in seen:  # a link back up the tree
            continue
        seen.add(real)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        files, subdirs = [], []
        for entry in entries:
            try:
                is_dir = entry.is_dir()
            except OSError:
                continue
            if not is_dir:
                files.append(entry.name)
            elif entry.is_symlink() and not inside_logdir(entry.path, logdir):
                if skipped is not None:
                    skipped.append(entry.path)
            else:
                subdirs.append(entry.path)
        out.append((folder, files))
        stack.extend(reversed(subdirs))
    return out


def run_name(logdir: str, path: str) -> str:
    rel = fsio.relpath(path, logdir)
    return "." if rel in ("", ".") else rel


def discover_runs(logdir: str) -> dict[str, str]:
    """``{run name: directory}`` for the directories TensorBoard lists as runs."""
    runs = {}
    for dirpath, files in walk_dirs(logdir):
        if any(is_event_file(f) for f in files):
            runs[run_name(logdir, dirpath)] = dirpath
    return runs


def inspect_pairs(logdir: str) -> list[RunView]:
    """Every (run, directory) pair TensorBoard looks at, in its order.

    A run with a config both in its directory and in ``plugins/org_tensorflow_tensorboard_projector/``
    appears twice; :func:`inspect_logdir` keeps the one TensorBoard uses.
    """
    if not fsio.exists(logdir) or not fsio.isdir(logdir):
        raise LogdirError(f"logdir {logdir!r} does not exist or is not a directory")
    runs = discover_runs(logdir)
    pairs: list[tuple[str, str, bool]] = [(n, d, True) for n, d in sorted(runs.items())]
    extra = []
    for name, path, _ in pairs:
        assets = fsio.join(path, *PLUGIN_ASSETS)
        if fsio.exists(fsio.join(assets, CONFIG_FILENAME)):
            extra.append((name, assets, True))
    pairs += extra
    if "." not in runs:
        pairs.append((".", logdir, False))
    return [inspect_pair(name, path, has_events, logdir) for name, path, has_events in pairs]


def inspect_logdir(logdir: str) -> list[RunView]:
    """One view per run name: the pair whose config TensorBoard ends up using."""
    return used_views(inspect_pairs(logdir))


def used_views(pairs: list[RunView]) -> list[RunView]:
    """Of the pairs of :func:`inspect_pairs`, the one per run name whose
    config TensorBoard ends up using (a listed pair wins; else the last)."""
    views: dict[str, RunView] = {}
    for view in pairs:
        previous = views.get(view.name)
        if previous is None or view.listed or not previous.listed:
            views[view.name] = view
    return list(views.values())


def listed_runs(logdir: str) -> list[RunView]:
    """The runs the Projector lists (those with at least one tensor)."""
    return [v for v in inspect_logdir(logdir) if v.listed]


def some_listed_runs(logdir: str) -> list[RunView]:
    """:func:`listed_runs`, or an :class:`InputError` saying none is listed and,
    when a run's config or checkpoint could not be read, why (its first such line)."""
    from projector_tools.errors import InputError
    from projector_tools.process.voice import PROG

    views = inspect_logdir(logdir)
    listed = [v for v in views if v.listed]
    if listed:
        return listed
    why = next((v.config_error or v.checkpoint_error for v in views if v.config_error or v.checkpoint_error), None)
    raise InputError(f"TensorBoard's Projector lists no run in {logdir!r}" + (f" ({why})" if why else "")
                     + f"; run `{PROG} doctor {logdir}` to see why")
