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
inside the logdir after resolving ``..`` and symlinks (:func:`inside_logdir`,
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
import posixpath
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from projector_tools import fsio
from projector_tools.errors import LogdirError, OutsideLogdirError, SourceError
from projector_tools.run.config import CONFIG_FILENAME
from projector_tools.run.files import PLUGIN_ASSETS, STATE_FILENAME, is_event_file, state_paths

OPTIMIZER_SLOT = ".OPTIMIZER_SLOT"


@dataclass
class EmbeddingView:
    """One entry of a run's tensor drop-down."""

    name: str
    shape: tuple[int, ...] | None = None
    from_config: bool = False
    in_checkpoint: bool = False
    metadata_path: str | None = None  # as written in the config
    tensor_path: str | None = None

    @property
    def rows(self) -> int | None:
        return int(self.shape[0]) if self.shape else None


@dataclass
class RunView:
    """A run (or candidate run) and what the Projector makes of it."""

    name: str
    dir: str
    config_path: str | None = None
    config: Any = None
    config_error: str | None = None
    checkpoint: str | None = None
    checkpoint_source: str | None = None  # "config", "run", "parent"
    checkpoint_error: str | None = None
    shapes: dict[str, list[int]] = field(default_factory=dict)
    embeddings: list[EmbeddingView] = field(default_factory=list)
    listed: bool = False
    has_events: bool = False
    logdir: str | None = None  # the logdir being inspected: reads stay inside it
    outside: list[tuple[str, str]] = field(default_factory=list)  # (what, path) not followed

    @property
    def config_dir(self) -> str:
        return fsio.dirname(self.config_path) if self.config_path else self.dir

    def stays_inside(self, path: str) -> bool:
        """True when ``path`` (already resolved) may be read: inside the logdir."""
        return self.logdir is None or inside_logdir(path, self.logdir)

    def note_outside(self, what: str, path: str) -> None:
        if (what, path) not in self.outside:
            self.outside.append((what, path))


def is_absolute(path: str) -> bool:
    return fsio.is_remote(path) or os.path.isabs(os.path.expanduser(path))


def relpath(path: str, start: str) -> str:
    if fsio.is_remote(path):
        rel = posixpath.relpath(path.split("://", 1)[1], start.split("://", 1)[1])
    else:
        rel = os.path.relpath(path, start)
    return rel


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


# --------------------------------------------------------------------------
# Discovery


def walk_dirs(logdir: str) -> list[tuple[str, list[str]]]:
    """``[(dir, file names)]`` for ``logdir`` and every directory below it."""
    out = []
    for dirpath, _dirs, files in fsio.gfile().walk(logdir):
        out.append((dirpath.rstrip("/") if fsio.is_remote(dirpath) else dirpath, list(files)))
    return out


def run_name(logdir: str, path: str) -> str:
    rel = relpath(path, logdir)
    return "." if rel in ("", ".") else rel


def discover_runs(logdir: str) -> dict[str, str]:
    """``{run name: directory}`` for the directories TensorBoard lists as runs."""
    runs = {}
    for dirpath, files in walk_dirs(logdir):
        if any(is_event_file(f) for f in files):
            runs[run_name(logdir, dirpath)] = dirpath
    return runs


def latest_checkpoint_of(directory: str, logdir: str | None = None) -> tuple[str | None, str | None]:
    """(prefix, error) of the latest checkpoint in ``directory``, as TensorFlow finds it.

    With ``logdir``, a state file that leads outside it is not read (error says so).
    """
    import tensorflow as tf

    state = fsio.join(directory, STATE_FILENAME)
    if not fsio.exists(state):
        return None, None
    if logdir is not None and not inside_logdir(state, logdir):
        return None, f"the 'checkpoint' state file {state!r} leads outside the logdir; not read"
    try:
        return tf.train.latest_checkpoint(directory), None
    except tf.errors.NotFoundError:
        return None, None
    except Exception as exc:  # noqa: BLE001 - a damaged state file
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return None, f"the 'checkpoint' state file in {directory!r} is unreadable ({first})"


def state_file_paths(directory: str, logdir: str | None = None) -> list[str]:
    """The paths named in ``directory``'s ``checkpoint`` state file (none when
    the state file itself leads outside ``logdir``)."""
    path = fsio.join(directory, STATE_FILENAME)
    if not fsio.exists(path):
        return []
    if logdir is not None and not inside_logdir(path, logdir):
        return []
    try:
        text = fsio.read_text(path)
    except Exception:  # noqa: BLE001
        return []
    return state_paths(text)


def parent_dir(path: str) -> str:
    return fsio.normpath(fsio.join(path, os.pardir))


def _assets_dir_to_run_dir(assets_dir: str) -> str:
    # As the plugin does (_assets_dir_to_logdir): any '/plugins/' in the path.
    if "/" + PLUGIN_ASSETS[0] + "/" in assets_dir.replace("\\", "/"):
        return fsio.normpath(fsio.join(assets_dir, os.pardir, os.pardir))
    return assets_dir


def _read_config(path: str) -> tuple[Any, str | None]:
    from projector_tools.run.config import parse_config

    try:
        return parse_config(fsio.read_text(path)), None
    except Exception as exc:  # noqa: BLE001
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return None, first


def inspect_pair(name: str, assets_dir: str, has_events: bool, logdir: str | None = None) -> RunView:
    """One (run, directory) pair, following the plugin's ``_read_latest_config_files``.

    With ``logdir``, nothing outside it is read: such paths land in ``view.outside``.
    """
    from projector_tools.run.checkpoint import checkpoint_shapes

    run_dir = _assets_dir_to_run_dir(assets_dir)
    view = RunView(name=name, dir=run_dir, has_events=has_events, logdir=logdir)
    config_path = fsio.join(assets_dir, CONFIG_FILENAME)
    config = None
    if fsio.exists(config_path) and not view.stays_inside(config_path):
        view.config_path = config_path
        view.note_outside(CONFIG_FILENAME + " (a link)", config_path)
        return view  # not read: nothing else of this pair can be known
    if fsio.exists(config_path):
        view.config_path = config_path
        config, view.config_error = _read_config(config_path)
        view.config = config
        if view.config_error:
            return view  # the plugin's text_format.Parse raises: nothing is listed
    has_tensor_files = bool(config) and any(e.tensor_path for e in config.embeddings)
    if config is not None and config.model_checkpoint_path:
        view.checkpoint = config.model_checkpoint_path
        view.checkpoint_source = "config"
    else:
        ckpt, err = latest_checkpoint_of(run_dir, logdir)
        if ckpt:
            view.checkpoint, view.checkpoint_source = ckpt, "run"
        else:
            parent = parent_dir(run_dir)
            # TensorBoard also looks in the run's parent; for the logdir itself
            # that is outside it, and not read.
            pckpt, perr = (latest_checkpoint_of(parent, logdir) if view.stays_inside(parent)
                           else (None, None))
            if pckpt:
                view.checkpoint, view.checkpoint_source = fsio.normpath(pckpt), "parent"
            view.checkpoint_error = err or perr
    if view.checkpoint and not checkpoint_inside(view.checkpoint, logdir):
        what = ("model_checkpoint_path" if view.checkpoint_source == "config"
                else "the checkpoint named by the 'checkpoint' state file")
        view.note_outside(what, view.checkpoint)
        view.listed = False
        _collect_config_entries(view)
        return view
    if view.checkpoint:
        if not fsio.gfile().glob(view.checkpoint + "*"):
            view.checkpoint_error = f"checkpoint {view.checkpoint!r} does not exist"
            view.listed = False
            _collect_config_entries(view)
            return view
        try:
            view.shapes = checkpoint_shapes(view.checkpoint)
        except SourceError as exc:
            view.checkpoint_error = str(exc)
    elif not has_tensor_files:
        _collect_config_entries(view)
        return view  # TensorBoard skips this pair
    view.listed = True
    _collect_config_entries(view)
    _add_checkpoint_tensors(view)
    if not view.embeddings:
        view.listed = False
    return view


def _collect_config_entries(view: RunView) -> None:
    view.embeddings = []
    if view.config is None:
        return
    for e in view.config.embeddings:
        name = e.tensor_name
        if name.endswith(":0"):
            name = name[:-2]
        if e.tensor_path and not name:
            name = posixpath.basename(e.tensor_path)
        ev = EmbeddingView(
            name=name,
            from_config=True,
            metadata_path=e.metadata_path or None,
            tensor_path=e.tensor_path or None,
        )
        if e.tensor_shape:
            ev.shape = tuple(int(x) for x in e.tensor_shape)
        view.embeddings.append(ev)
        sprite = e.sprite.image_path if e.HasField("sprite") else ""
        for what, p in (("metadata_path", ev.metadata_path), ("tensor_path", ev.tensor_path),
                        ("sprite image_path", sprite)):
            if p and not view.stays_inside(resolve_asset(view, p)):
                view.note_outside(f"{what} of tensor {name!r}", p)


def canonical_tensor_name(name: str) -> str:
    """``name`` as the plugin compares tensor names: with its ``:0`` output index."""
    return name if ":" in name else name + ":0"


def _add_checkpoint_tensors(view: RunView) -> None:
    for ev in view.embeddings:
        if ev.tensor_path and ev.shape is None:
            ev.shape = _tensor_file_shape(view, ev)
    if not view.shapes:
        return
    special = None
    if view.embeddings and not view.embeddings[0].name and not view.embeddings[0].tensor_path:
        special = view.embeddings.pop(0)
    for tname, shape in view.shapes.items():
        if len(shape) != 2 or OPTIMIZER_SLOT in tname:
            continue
        found = next((e for e in view.embeddings if canonical_tensor_name(e.name) == canonical_tensor_name(tname)), None)
        if found is None:
            found = EmbeddingView(
                name=tname, metadata_path=special.metadata_path if special else None
            )
            view.embeddings.append(found)
        found.in_checkpoint = True
        if found.shape is None:
            found.shape = tuple(int(x) for x in shape)


def _tensor_file_shape(view: RunView, ev: EmbeddingView) -> tuple[int, ...] | None:
    try:
        arr = read_tensor_file(view, ev)
    except Exception:  # noqa: BLE001
        return None
    return tuple(arr.shape)


def read_tensor_file(view: RunView, ev: EmbeddingView) -> np.ndarray:
    """A ``tensor_path`` tensor: TSV of floats, else raw float32 with tensor_shape."""
    path = require_inside(resolve_asset(view, ev.tensor_path or ""), view.logdir,
                          f"tensor_path of {ev.name!r}")
    raw = fsio.read_bytes(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        shape = ev.shape or ()
        return np.frombuffer(raw, dtype=np.float32).reshape(shape)
    rows = [
        [float(x) for x in line.rstrip("\n").split("\t")]
        for line in text.split("\n")
        if line.strip()
    ]
    return np.asarray(rows, dtype=np.float32)


def resolve_asset(view: RunView, path: str) -> str:
    """A config path resolved the way the plugin does: against the config's dir."""
    expanded = os.path.expanduser(path) if not fsio.is_remote(path) else path
    if is_absolute(expanded):
        return expanded
    return fsio.normpath(fsio.join(view.config_dir, expanded))


def asset_outside_config_dir(view: RunView, path: str) -> bool:
    """True when the plugin refuses ``path`` (it resolves outside the config dir)."""
    resolved = resolve_asset(view, path)
    if fsio.is_remote(resolved):
        base = fsio.normpath(view.config_dir).rstrip("/") + "/"
        return not resolved.startswith(base)
    base = os.path.realpath(view.config_dir)
    try:
        return os.path.commonpath([base, os.path.realpath(resolved)]) != base
    except ValueError:
        return True


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
