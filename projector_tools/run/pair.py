"""One (run, directory) pair as the Projector plugin reads it: config, checkpoint, tensors.

Follows the plugin's ``_read_latest_config_files``: the run's
``projector_config.pbtxt``, its checkpoint (the config's
``model_checkpoint_path``, else the latest checkpoint of the run directory,
else that of its parent), the config's entries and every 2-D checkpoint
tensor except optimizer slots. Nothing outside the logdir is read (see
:mod:`projector_tools.run.containment`); such paths land in ``view.outside``.
"""

from __future__ import annotations

import codecs
import io
import os
import posixpath
from typing import Any

import numpy as np

from projector_tools import fsio
from projector_tools.errors import SourceError
from projector_tools.run.config import CONFIG_FILENAME
from projector_tools.run.containment import checkpoint_inside, inside_logdir, require_inside
from projector_tools.run.files import PLUGIN_ASSETS, STATE_FILENAME, read_state_file, state_paths
from projector_tools.run.view import (
    OPTIMIZER_SLOT,
    EmbeddingView,
    RunView,
    canonical_tensor_name,
    resolve_asset,
)


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
        read_state_file(directory)  # a FIFO or an oversized state file: refused before TF reads it
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
        text = read_state_file(directory) or ""
    except Exception:  # noqa: BLE001
        return []
    return state_paths(text)


def _assets_dir_to_run_dir(assets_dir: str) -> str:
    # As the plugin does (_assets_dir_to_logdir): any '/plugins/' in the path.
    if "/" + PLUGIN_ASSETS[0] + "/" in assets_dir.replace("\\", "/"):
        return fsio.normpath(fsio.join(assets_dir, os.pardir, os.pardir))
    return assets_dir


def _read_config(path: str) -> tuple[Any, str | None]:
    from projector_tools.run.config import parse_config

    from projector_tools.run.budgets import check_config_size

    try:
        check_config_size(path)
        return parse_config(fsio.read_text(path)), None
    except Exception as exc:  # noqa: BLE001
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return None, first


def _find_checkpoint(view: RunView, config: Any) -> None:
    """The pair's checkpoint as the plugin finds it: the config's, the run
    directory's latest, else its parent's (``view.checkpoint``, ``_source``, ``_error``)."""
    if config is not None and config.model_checkpoint_path:
        view.checkpoint = config.model_checkpoint_path
        view.checkpoint_source = "config"
        return
    ckpt, err = latest_checkpoint_of(view.dir, view.logdir)
    if ckpt:
        view.checkpoint, view.checkpoint_source = ckpt, "run"
        return
    parent = fsio.parent_dir(view.dir)
    # TensorBoard also looks in the run's parent; for the logdir itself
    # that is outside it, and not read.
    pckpt, perr = (latest_checkpoint_of(parent, view.logdir) if view.stays_inside(parent)
                   else (None, None))
    if pckpt:
        view.checkpoint, view.checkpoint_source = fsio.normpath(pckpt), "parent"
    view.checkpoint_error = err or perr


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
    _find_checkpoint(view, config)
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
    checked: set[tuple[str, str, str]] = set()  # a repeated entry is checked once
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
            if not p or (name, what, p) in checked:
                continue
            checked.add((name, what, p))
            if not view.stays_inside(resolve_asset(view, p)):
                view.note_outside(f"{what} of tensor {name!r}", p)


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
    from projector_tools.run.budgets import MAX_LINE_BYTES, label_lines
    from projector_tools.run.matrix import MAX_TENSOR_BYTES

    # Within the budgets, parsed by numpy: a 200 MB TSV became Python floats (2.2 GB for doctor).
    raw = fsio.read_bytes(path, limit=MAX_TENSOR_BYTES, max_line=MAX_LINE_BYTES, max_lines=label_lines(ev.rows))
    try:  # is it text? decoded a MiB at a time, never held whole as str
        check = codecs.getincrementaldecoder("utf-8")()
        for at in range(0, len(raw), 1 << 20):
            check.decode(raw[at:at + (1 << 20)])
        check.decode(b"", final=True)
    except UnicodeDecodeError:
        shape = ev.shape or ()
        return np.frombuffer(raw, dtype=np.float32).reshape(shape)
    return np.loadtxt(io.BytesIO(raw), delimiter="\t", dtype=np.float32, comments=None, ndmin=2,
                      encoding="utf-8")
