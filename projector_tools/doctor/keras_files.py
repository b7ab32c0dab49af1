"""What Keras 3's ``TensorBoard(embeddings_freq=...)`` leaves, made loadable.

Keras writes ``train/keras_embedding.ckpt-<N>.weights.h5`` (HDF5, which the
Projector cannot read) and a config naming one object path for every
layer. ``doctor --fix`` converts the ``.weights.h5`` embeddings into a
Projector run beside it, named after the model's ``Embedding`` layers as
Keras' graph summary (a JSON model config inside the run's event files)
records them, with the labels the config points at.

    >>> import os, tempfile, keras, numpy as np
    >>> model = keras.Sequential([keras.Input((4,), dtype="int32"),
    ...                           keras.layers.Embedding(1000, 16, name="embedding"),
    ...                           keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1)])
    >>> model.compile("adam", "mse")
    >>> logs = tempfile.mkdtemp()
    >>> _ = model.fit(np.arange(40).reshape(10, 4), np.ones((10, 1)), epochs=1, verbose=0,
    ...               callbacks=[keras.callbacks.TensorBoard(logs, embeddings_freq=1)])
    >>> sorted(f for f in os.listdir(os.path.join(logs, "train")) if f.endswith(".h5"))
    ['keras_embedding.ckpt-0.weights.h5']
    >>> keras_model_embeddings(os.path.join(logs, "train"))
    [('embedding', 1000, 16)]
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import numpy as np

from projector_tools import fsio
from projector_tools.doctor.backups import backup, move_aside
from projector_tools.doctor.labels import aligned_metadata, as_table, write_metadata_file
from projector_tools.errors import LogdirError, ProjectorToolsError
from projector_tools.run.budgets import MAX_LINE_BYTES, label_lines
from projector_tools.run.containment import inside_logdir
from projector_tools.run.view import RunView, resolve_asset
from projector_tools.run.metadata import Metadata
from projector_tools.run.config import CONFIG_FILENAME
from projector_tools.run.files import KERAS_TRAIN_RUN, OWN_RUN, is_event_file, is_export_file

KERAS_H5_RE = re.compile(r"^keras_embedding\.ckpt-(\d+)\.weights\.h5$")


def find_keras_h5(view: RunView) -> str | None:
    """The latest ``keras_embedding.ckpt-N.weights.h5`` of a Keras-callback run."""
    best: tuple[int, str] | None = None
    others: list[str] = []
    for d in (view.dir, fsio.join(view.dir, KERAS_TRAIN_RUN), view.config_dir):
        for name in fsio.listdir(d, missing_ok=True):
            m = KERAS_H5_RE.match(name)
            if m:
                cand = (int(m.group(1)), fsio.join(d, name))
                if best is None or cand[0] > best[0]:
                    best = cand
            elif name.endswith(".weights.h5"):
                others.append(fsio.join(d, name))
    if best is not None:
        return best[1]
    return sorted(set(others))[-1] if others else None


# --------------------------------------------------------------------------
# Keras' model graph in event files


def keras_model_embeddings(run_dir: str, logdir: str | None = None) -> list[tuple[str, int, int]]:
    """``[(layer name, input_dim, output_dim)]`` of the Embedding layers of the
    Keras model graph that ``keras.callbacks.TensorBoard`` writes into the run's
    event files (empty when there is none)."""
    for name in sorted(fsio.listdir(run_dir)):
        if not is_event_file(name):
            continue
        path = fsio.join(run_dir, name)
        if logdir is not None and not inside_logdir(path, logdir):
            continue  # a link out of the logdir: not read
        found = _graph_embeddings(path)
        if found is not None:
            return found
    return []


def _graph_embeddings(event_file: str) -> list[tuple[str, int, int]] | None:
    """The Embedding layers of the first ``graph_keras_model`` summary in
    ``event_file``; None when it has none or cannot be read."""
    import tensorflow as tf
    from tensorflow.core.util import event_pb2

    try:
        for raw in tf.data.TFRecordDataset(event_file):
            event = event_pb2.Event.FromString(raw.numpy())
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name != "graph_keras_model":
                    continue
                if not value.tensor.string_val:
                    continue
                out: list[tuple[str, int, int]] = []
                _collect_embedding_layers(json.loads(value.tensor.string_val[0].decode("utf-8")), out)
                return out
    except Exception:  # noqa: BLE001 - a truncated or foreign event file: skipped
        return None
    return None


def _collect_embedding_layers(cfg: Any, out: list[tuple[str, int, int]]) -> None:
    if isinstance(cfg, dict):
        if cfg.get("class_name") == "Embedding" and isinstance(cfg.get("config"), dict):
            c = cfg["config"]
            out.append((str(c.get("name")), int(c.get("input_dim", -1)),
                        int(c.get("output_dim", -1))))
            return
        for key in ("config", "layers", "layer"):
            _collect_embedding_layers(cfg.get(key), out)
    elif isinstance(cfg, list):
        for item in cfg:
            _collect_embedding_layers(item, out)


# --------------------------------------------------------------------------
# Conversion


def convert_keras_h5(
    view: RunView, h5: str, vocab: Metadata | None, actions: list[str], notes: list[str]
) -> None:
    """Turn the Keras 3 callback's ``.weights.h5`` embeddings into a Projector run
    in the directory of the h5 file (``L/train``), with the model's layer names."""
    from projector_tools.export.embeddings import prepare
    from projector_tools.sources.keras_archive import weights_h5_embeddings

    try:
        stored = weights_h5_embeddings(h5)
    except ProjectorToolsError as exc:
        notes.append(f"cannot convert {h5}: {exc}")
        return
    if not stored:
        notes.append(f"cannot convert {h5}: it holds no embedding layer weights")
        return
    recorded = [e.layer_name for e in stored]  # in model order
    owners = [n if n and recorded.count(n) == 1 else e.owner for n, e in zip(recorded, stored)]
    arrays = [np.asarray(e.matrix, dtype=np.float32) for e in stored]
    target = fsio.dirname(h5)
    names = _layer_names(target, view, owners, arrays, notes)
    matrices = dict(zip(names, arrays))
    metas, unaligned = _layer_labels(view, names, arrays, vocab, notes)
    matrices, metas = prepare(matrices, metas, allow_nonfinite=True)
    m = KERAS_H5_RE.match(fsio.basename(h5))
    step = int(m.group(1)) if m else None
    config_here = bool(view.config_path) and fsio.dirname(view.config_path) == target
    _back_up_exports(target, config_here, actions)
    _write_converted(view, h5, target, matrices, metas, unaligned, step, actions)
    if view.config_path and fsio.exists(view.config_path) and not config_here:
        aside = move_aside(view.config_path)
        actions.append(
            f"moved the Keras callback's {view.config_path} (it names a tensor that does not "
            f"exist) aside to {aside}"
        )


def _layer_names(
    target: str, view: RunView, owners: list[str], arrays: list[np.ndarray], notes: list[str]
) -> list[str]:
    """The model's layer names from Keras' graph when they match the arrays, else ``owners``."""
    layers = keras_model_embeddings(target, view.logdir)
    if len(layers) == len(owners) and all(
        (d_in, d_out) == a.shape for (_, d_in, d_out), a in zip(layers, arrays)
    ):
        return [n for n, _, _ in layers]
    notes.append(
        "the Keras model graph in the run's event file does not name these layers "
        f"unambiguously; keeping the names of the .weights.h5 file ({', '.join(owners)})"
    )
    return list(owners)


def _layer_labels(
    view: RunView, names: list[str], arrays: list[np.ndarray], vocab: Metadata | None,
    notes: list[str],
) -> tuple[dict[str, Metadata], dict[str, bytes]]:
    """({layer: aligned labels}, {layer: the config's labels that do not align})."""
    entries = list(view.config.embeddings) if view.config is not None else []
    meta_paths: list[str | None] = [None] * len(names)
    if len(entries) == len(names):
        meta_paths = [e.metadata_path or None for e in entries]
    elif entries and any(e.metadata_path for e in entries):
        notes.append(
            f"the config has {len(entries)} entries for {len(names)} embedding layers; "
            "labels cannot be matched to layers without guessing, none written"
        )
    metas: dict[str, Metadata] = {}
    unaligned: dict[str, bytes] = {}
    for name, arr, mp in zip(names, arrays, meta_paths):
        raw = _read_config_labels(view, name, mp, notes)
        if raw is None and vocab is None:
            continue
        content, how = aligned_metadata(raw, arr.shape[0], vocab)
        if content is None:
            if raw is not None:
                unaligned[name] = raw
            notes.append(f"labels of {name!r} not aligned: {how}")
            continue
        metas[name] = as_table(content) if isinstance(content, bytes) else content
    return metas, unaligned


def _read_config_labels(view: RunView, name: str, mp: str | None, notes: list[str]) -> bytes | None:
    """The bytes of the metadata file ``mp`` the Keras config names for layer ``name``."""
    if mp and not view.stays_inside(resolve_asset(view, mp)):
        notes.append(f"metadata {mp!r} of {name!r} leads outside the logdir; not read")
        return None
    if not mp:
        return None
    path = resolve_asset(view, mp)
    # Keras writes the path as the user gave it, relative to their working
    # directory (a local path by nature); TensorBoard would look beside the config.
    if (not fsio.exists(path) and not os.path.isabs(mp) and os.path.isfile(mp)
            and view.stays_inside(os.path.abspath(mp))):
        notes.append(f"metadata {mp!r} is not beside the config; used ./{mp}")
        path = os.path.abspath(mp)
    if fsio.exists(path):
        return fsio.read_bytes(path, max_line=MAX_LINE_BYTES, max_lines=label_lines())
    notes.append(f"metadata file {path} for {name!r} does not exist")
    return None


def _back_up_exports(target: str, config_here: bool, actions: list[str]) -> None:
    """Keep a backup of every export file (and the config, when it is there) in ``target``."""
    for name in fsio.listdir(target):
        if is_export_file(name) or (config_here and name == CONFIG_FILENAME):
            actions.append(f"kept a backup of {fsio.join(target, name)} as "
                           f"{backup(fsio.join(target, name))}")


def _write_converted(
    view: RunView, h5: str, target: str, matrices: dict[str, np.ndarray],
    metas: dict[str, Metadata], unaligned: dict[str, bytes], step: int | None,
    actions: list[str],
) -> None:
    """Write the run (into ``target``, else ``target/projector``) and say what it holds."""
    from google.protobuf import text_format

    from projector_tools.run.writer import write_run
    from projector_tools.run.config import parse_config

    try:
        result = write_run(target, matrices, metas, step=step)
    except LogdirError:
        target = fsio.join(target, OWN_RUN)
        result = write_run(target, matrices, metas, step=step)
    if unaligned:
        # Keep the user's labels attached as they are, so that `doctor` keeps
        # reporting the mismatch (with its --vocab fix) instead of hiding it.
        config = parse_config(fsio.read_text(result.config_path))
        for entry in config.embeddings:
            if entry.tensor_name in unaligned:
                entry.metadata_path = write_metadata_file(
                    result.logdir, entry.tensor_name, unaligned[entry.tensor_name])
        fsio.atomic_write(result.config_path, text_format.MessageToString(config, as_utf8=True))
    actions.append(
        f"converted {h5} into a Projector run in {result.logdir}: "
        + ", ".join(
            f"{t.name} {t.shape[0]}x{t.shape[1]}"
            + (f" with {t.metadata_rows} labels" if t.metadata_rows is not None else " (no labels)")
            for t in result.tensors
        )
    )
