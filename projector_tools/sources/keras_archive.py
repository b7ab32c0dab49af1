"""Keras 3 saved files read as data: ``.keras`` archives and ``.weights.h5``.

A ``.keras`` archive is a zip of ``config.json`` (the model's structure),
``model.weights.h5`` (its variables) and ``assets/`` (vocabularies of
lookup layers). This module reads the ``Embedding`` matrices straight from
them, without rebuilding the model: a model with custom layer classes
needs none of the user's code, and nothing from the file is executed.
Which layers there are, and where Keras saved each one's variables and
assets, is read from ``config.json`` by :mod:`projector_tools.sources.keras_config`.

    >>> import os, tempfile
    >>> import keras
    >>> model = keras.Sequential([keras.Input((4,), dtype="int32"),
    ...                           keras.layers.Embedding(100, 8, name="words"),
    ...                           keras.layers.GlobalAveragePooling1D()])
    >>> path = os.path.join(tempfile.mkdtemp(), "model.keras")
    >>> model.save(path)
    >>> archive = read_keras_archive(path)
    >>> {name: m.shape for name, m in archive.tensors.items()}
    {'words': (100, 8)}
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from projector_tools import fsio
from projector_tools.run.budgets import MAX_ASSET_BYTES, MAX_JSON_BYTES, json_loads, read_dataset, read_zip_entry
from projector_tools.errors import InputError, SourceError
from projector_tools.sources.keras_config import (
    EMBEDDING_CLASS,
    ConfigLayer,
    is_embedding,
    model_layers,
    tensor_names,
)

__all__ = [
    "KerasArchive",
    "StoredEmbedding",
    "read_keras_archive",
    "weights_h5_embeddings",
]

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
ASSETS_DIR = "assets"


def _h5py():
    try:
        import h5py
    except ImportError as exc:  # pragma: no cover - h5py ships with keras
        raise SourceError("reading Keras weights needs h5py (pip install h5py)") from exc
    return h5py


# -- the .keras archive ----------------------------------------------------

@dataclass
class KerasArchive:
    """What :func:`read_keras_archive` found in a ``.keras`` file."""

    path: str
    config: dict[str, Any]
    layers: list[ConfigLayer]
    tensors: dict[str, np.ndarray]
    embeddings: dict[str, ConfigLayer]
    notes: list[str] = field(default_factory=list)

    @contextmanager
    def assets(self, layer: ConfigLayer) -> Iterator[str | None]:
        """A local directory holding ``layer``'s assets (None if it has none)."""
        prefix = f"{ASSETS_DIR}/{layer.group}/"
        with _open_zip(self.path) as zf:
            members = [n for n in zf.namelist() if n.startswith(prefix) and not n.endswith("/")]
            if not members:
                yield None
                return
            tmp = tempfile.mkdtemp(prefix="pt-keras-assets-")
            try:
                for name in members:
                    target = os.path.join(tmp, *name[len(prefix):].split("/"))
                    if not os.path.realpath(target).startswith(os.path.realpath(tmp) + os.sep):
                        continue  # a member that would escape the directory
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    with open(target, "wb") as dst:
                        read_zip_entry(zf, name, MAX_ASSET_BYTES, self.path, out=dst)
                yield tmp
            finally:
                shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def _open_zip(path: str) -> Iterator[zipfile.ZipFile]:
    import tensorflow as tf

    with fsio.gfile().GFile(path, "rb") as raw:
        try:
            zf = zipfile.ZipFile(raw)
        except (zipfile.BadZipFile, OSError, tf.errors.OpError) as exc:
            raise SourceError(
                f"{path!r} is not a .keras archive (not a zip file: {exc}); save the "
                "model with model.save('model.keras')"
            ) from exc
        with zf:
            yield zf


def read_keras_archive(path: str, layers: Sequence[str] | None = None) -> KerasArchive:
    """The ``Embedding`` matrices of a ``.keras`` file, named by their layers.

    Reads ``config.json`` and ``model.weights.h5``; builds no model, imports
    no custom class, runs nothing from the file. ``layers`` picks Embedding
    layers by name (default: all).

        >>> import os, tempfile
        >>> import keras
        >>> ids = keras.Input((4,), dtype="int32")
        >>> model = keras.Model(ids, [keras.layers.Embedding(100, 8, name="words")(ids),
        ...                           keras.layers.Embedding(30, 4, name="chars")(ids)])
        >>> path = os.path.join(tempfile.mkdtemp(), "model.keras")
        >>> model.save(path)
        >>> read_keras_archive(path, ["chars"]).tensors["chars"].shape
        (30, 4)
    """
    with _open_zip(path) as zf:
        names = set(zf.namelist())
        if CONFIG_FILE not in names:
            raise SourceError(f"{path!r} has no {CONFIG_FILE}; it is not a Keras 3 .keras archive")
        try:
            config = json_loads(read_zip_entry(zf, CONFIG_FILE, MAX_JSON_BYTES, path), f"{path}:{CONFIG_FILE}")
        except (ValueError, UnicodeDecodeError) as exc:
            if isinstance(exc, SourceError):
                raise
            raise SourceError(f"{path!r}: {CONFIG_FILE} is not valid JSON ({exc})") from exc
        all_layers = model_layers(config)
        found = [layer for layer in all_layers if is_embedding(layer)]
        if not found:
            kind = config.get("class_name", "model")
            hint = ("its config lists no layers (a subclassed model); export from Python with "
                    "export_embeddings(model, ...)") if not all_layers else \
                "export the matrix itself from Python instead"
            raise SourceError(f"{path!r} ({kind}) has no Embedding layer; {hint}")
        by_name = tensor_names([layer.path for layer in found])
        chosen = _choose(path, {by_name[layer.path]: layer for layer in found}, layers)
        if WEIGHTS_FILE not in names:
            other = sorted(n for n in names if "weights" in n)
            raise SourceError(
                f"{path!r} has no {WEIGHTS_FILE}"
                + (f" (it holds {', '.join(other)}: sharded or .npz weights are not read)" if other else "")
                + "; save the model with model.save('model.keras')"
            )
        h5py = _h5py()
        tensors: dict[str, np.ndarray] = {}
        notes: list[str] = []
        try:
            with zf.open(WEIGHTS_FILE) as raw, h5py.File(raw, "r") as f:
                for name, layer in chosen.items():
                    tensors[name] = _embedding_matrix(path, f, layer, notes)
        except OSError as exc:
            raise SourceError(f"{path!r}: {WEIGHTS_FILE} is not readable HDF5 ({exc})") from exc
    notes.insert(0, "Embedding layers: " + ", ".join(
        f"{n} {tuple(m.shape)}" for n, m in tensors.items()))
    return KerasArchive(path, config, all_layers, tensors, chosen, notes)


def _choose(path: str, available: dict[str, ConfigLayer],
            layers: Sequence[str] | None) -> dict[str, ConfigLayer]:
    if not layers:
        return available
    if isinstance(layers, str):
        layers = [layers]
    chosen: dict[str, ConfigLayer] = {}
    for want in layers:
        hits = [k for k in available if k == want] or \
            [k for k in available if k.split("/")[-1] == want]
        if len(hits) != 1:
            raise InputError(
                f"{path!r} has no Embedding layer named {want!r}; its Embedding layers "
                f"are: {', '.join(available)}"
            )
        chosen[hits[0]] = available[hits[0]]
    return chosen


def _embedding_matrix(path: str, f: Any, layer: ConfigLayer, notes: list[str]) -> np.ndarray:
    """``<group>/vars/0`` of ``layer``, checked against its name and shape."""
    group = layer.group
    if not _vars_named(f, group, layer.name):
        # The computed group is missing or names another layer: look among
        # the siblings for the vars group Keras tagged with this layer's name.
        parent = group.rsplit("/", 1)[0]
        siblings = [f"{parent}/{k}" for k in (f[parent].keys() if parent in f else [])]
        tagged = [g for g in siblings if _vars_named(f, g, layer.name, strict=True)]
        if len(tagged) != 1:
            raise SourceError(
                f"{path!r}: no weights for Embedding layer {layer.name!r} (looked for "
                f"{group}/vars/0 in {WEIGHTS_FILE}); the archive may come from another "
                "Keras version: load it with keras and use export_embeddings(model, ...)"
            )
        notes.append(f"{layer.name}: weights found at {tagged[0]} (expected {group})")
        group = tagged[0]
    data = f[f"{group}/vars/0"]
    want = (layer.config.get("input_dim"), layer.config.get("output_dim"))
    if data.ndim != 2 or (isinstance(want[0], int) and tuple(data.shape) != want):
        raise SourceError(
            f"{path!r}: {group}/vars/0 has shape {tuple(data.shape)}, but Embedding layer "
            f"{layer.name!r} is {want[0]} x {want[1]} in {CONFIG_FILE}"
        )
    if not (layer.class_name == EMBEDDING_CLASS and layer.builtin):
        notes.append(
            f"{layer.name}: class {layer.class_name!r} is not keras.layers.Embedding; "
            "exported because it is configured like one (input_dim x output_dim)"
        )
    return read_dataset(data, path)


def _vars_named(f: Any, group: str, name: str, strict: bool = False) -> bool:
    node = f.get(f"{group}/vars")
    if node is None or "0" not in node:
        return False
    recorded = node.attrs.get("name")
    if recorded is None:
        return not strict  # older Keras 3 files record no names
    if isinstance(recorded, bytes):
        recorded = recorded.decode("utf-8", "replace")
    return str(recorded) == name


# -- bare .weights.h5 (model.save_weights, keras.callbacks.TensorBoard) -----

@dataclass(frozen=True)
class StoredEmbedding:
    """An embedding matrix found in a Keras 3 ``.weights.h5`` file."""

    group: str
    layer_name: str | None
    matrix: np.ndarray

    @property
    def owner(self) -> str:
        """The group's last part (``embedding``, ``embedding_1``)."""
        return self.group.rsplit("/", 1)[-1]


_GROUP_ORDER = re.compile(r"^(.*?)(?:_(\d+))?$")


def _group_key(group: str) -> tuple:
    parts = []
    for part in group.split("/"):
        m = _GROUP_ORDER.match(part)
        parts.append((m.group(1), int(m.group(2) or 0)) if m else (part, 0))
    return tuple(parts)


def weights_h5_embeddings(path: str, max_rows: int | None = None) -> list[StoredEmbedding]:
    """The embedding matrices of a Keras 3 ``.weights.h5`` file, in model order.

    Without the model's config, an embedding is a 2-D ``<group>/vars/0``
    whose group is named like one (``embedding``, ``embedding_1``,
    ``token_embedding``); optimizer slots are skipped. ``layer_name`` is the
    name Keras recorded for the layer (None in files that record none).

        >>> import os, tempfile
        >>> import keras
        >>> ids = keras.Input((4,), dtype="int32")
        >>> model = keras.Model(ids, [keras.layers.Embedding(100, 8, name="words")(ids),
        ...                           keras.layers.Embedding(30, 4, name="chars")(ids)])
        >>> path = os.path.join(tempfile.mkdtemp(), "model.weights.h5")
        >>> model.save_weights(path)
        >>> [e.layer_name for e in weights_h5_embeddings(path)]
        ['words', 'chars']
    """
    h5py = _h5py()
    found: list[StoredEmbedding] = []
    try:
        with fsio.gfile().GFile(path, "rb") as raw, h5py.File(raw, "r") as f:
            def visit(name: str, obj: Any) -> None:
                parts = name.split("/")
                if (isinstance(obj, h5py.Dataset) and obj.ndim == 2 and len(parts) >= 3
                        and parts[-2] == "vars" and parts[-1] == "0"
                        and "optimizer" not in parts and "embedding" in parts[-3].lower()):
                    recorded = f["/".join(parts[:-1])].attrs.get("name")
                    if isinstance(recorded, bytes):
                        recorded = recorded.decode("utf-8", "replace")
                    found.append(StoredEmbedding("/".join(parts[:-2]),
                                                 None if recorded is None else str(recorded),
                                                 read_dataset(obj, path, max_rows)))
            f.visititems(visit)
    except OSError as exc:
        raise SourceError(f"{path!r} is not a readable HDF5 weights file ({exc})") from exc
    return sorted(found, key=lambda e: _group_key(e.group))
