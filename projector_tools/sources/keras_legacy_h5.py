"""Embedding matrices from legacy Keras HDF5 files, read straight from the HDF5 groups.

``model.save("m.h5")`` (Keras 2, ``tf_keras``, and Keras 3, which still
writes this legacy layout for ``.h5``) and Keras 2 ``model.save_weights("w.h5")``
store each layer's weights as::

    [model_weights/]                 attrs: layer_names = [layer, ...]
        <layer>/                     attrs: weight_names = ["word_emb/embeddings:0", ...]
            <weight name>            the array (Keras 3: sequential/word_emb/embeddings)

with the model's architecture as JSON in the root attribute ``model_config``
(full models only). This module reads the arrays named by ``layer_names``
and ``weight_names`` with ``h5py``, as Keras' own loader does, and finds the
``Embedding`` layers in ``model_config`` (``class_name == "Embedding"``),
or, without one (or with only custom classes), by their weight name
``embeddings``. Nothing is rebuilt and nothing in the file is executed: a
``Lambda`` layer's marshalled bytecode stays an unread string in the JSON,
and optimizer weights are never opened.

    >>> if is_legacy_h5("m.h5"):
    ...     tensors, notes = read_legacy_h5("m.h5")   # {'word_emb': array(...)}
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from projector_tools import fsio
from projector_tools.run.budgets import json_loads, read_dataset
from projector_tools.sources.checkpoint_graph import EMBEDDING_VARIABLE
from projector_tools.errors import InputError, SourceError

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
MODEL_WEIGHTS_GROUP = "model_weights"  # full-model files; weights files keep layers at the root
LAYER_NAMES_ATTR = "layer_names"
WEIGHT_NAMES_ATTR = "weight_names"
MODEL_CONFIG_ATTR = "model_config"
EMBEDDING_CLASS = "Embedding"


@dataclass(frozen=True)
class LegacyWeight:
    """One weight array of a legacy file: the layer group it is in and its own name."""

    group: str  # the layer group under layer_names (a nested model's name for its layers)
    name: str  # as in weight_names, e.g. 'word_emb/embeddings:0'
    shape: tuple[int, ...]

    @property
    def parts(self) -> list[str]:
        name = self.name[:-2] if self.name.endswith(":0") else self.name
        return [p for p in name.split("/") if p]

    @property
    def layer(self) -> str:
        """The layer owning the weight (the part before the variable name), else the group."""
        parts = self.parts
        return parts[-2] if len(parts) >= 2 else self.group

    @property
    def variable(self) -> str:
        return self.parts[-1] if self.parts else self.name


@contextmanager
def _open(path: str) -> Iterator[Any]:
    import h5py

    if fsio.is_remote(path):
        with fsio.gfile().GFile(path, "rb") as raw, h5py.File(raw, "r") as f:
            yield f
    else:
        with h5py.File(path, "r") as f:
            yield f


def _weights_root(f: Any) -> Any:
    return f[MODEL_WEIGHTS_GROUP] if MODEL_WEIGHTS_GROUP in f else f


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _names_attr(group: Any, name: str) -> list[str]:
    """A list attribute, joined from Keras' ``name0``, ``name1``... chunks when it was too big for one."""
    if name in group.attrs:
        values = list(group.attrs[name])
    else:
        values, i = [], 0
        while f"{name}{i}" in group.attrs:
            values.extend(group.attrs[f"{name}{i}"])
            i += 1
    return [_text(v) for v in values]


def is_legacy_h5(path: str) -> bool:
    """True for an HDF5 file in the legacy Keras layout (``model_weights`` group or ``layer_names``)."""
    import tensorflow as tf

    try:
        if fsio.isdir(path) or not fsio.exists(path):
            return False
        with fsio.gfile().GFile(path, "rb") as f:
            if f.read(len(HDF5_SIGNATURE)) != HDF5_SIGNATURE:
                return False
        with _open(path) as f:
            return MODEL_WEIGHTS_GROUP in f or LAYER_NAMES_ATTR in f.attrs
    except (OSError, tf.errors.OpError):
        return False


def embedding_layer_names(model_config: str | bytes) -> set[str]:
    """Names of every ``Embedding`` layer in a ``model_config`` JSON (nested models included).

    Only ``json.loads``: the configuration is data here, never deserialized.
    """
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("class_name") == EMBEDDING_CLASS and isinstance(node.get("config"), dict):
                name = node["config"].get("name")
                if isinstance(name, str):
                    found.add(name)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json_loads(_text(model_config), "model_config"))
    return found


def _list_weights(f: Any) -> list[LegacyWeight]:
    root = _weights_root(f)
    weights = []
    for group_name in _names_attr(root, LAYER_NAMES_ATTR):
        group = root[group_name]
        for weight_name in _names_attr(group, WEIGHT_NAMES_ATTR):
            weights.append(LegacyWeight(group_name, weight_name, tuple(group[weight_name].shape)))
    return weights


def read_legacy_h5(path: str, layers: Sequence[str] | None = None,
                   max_rows: int | None = None) -> tuple[dict[str, np.ndarray], list[str]]:
    """``({layer name: matrix}, notes)`` for the Embedding layers (or ``layers``) of a legacy file."""
    try:
        with _open(path) as f:
            weights = [w for w in _list_weights(f) if len(w.shape) == 2]
            config = f.attrs.get(MODEL_CONFIG_ATTR)
            embedding_layers = embedding_layer_names(config) if config is not None else set()
            chosen, reason = _choose(path, weights, embedding_layers, layers)
            names = _tensor_names(chosen)
            root = _weights_root(f)
            tensors = {names[w]: read_dataset(root[w.group][w.name], path, max_rows) for w in chosen}
    except (OSError, KeyError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise SourceError(f"{path!r} is not a readable legacy Keras HDF5 file ({exc})") from exc
    notes = [f"picked {w.group}/{w.name} {list(w.shape)} ({reason}) as {names[w]!r}" for w in chosen]
    return tensors, notes


def _choose(
    path: str,
    weights: list[LegacyWeight],
    embedding_layers: set[str],
    layers: Sequence[str] | None,
) -> tuple[list[LegacyWeight], str]:
    listing = ", ".join(f"{w.layer}/{w.variable} {list(w.shape)}" for w in weights) or "none"
    if layers:
        chosen = []
        for want in layers:
            hits = [w for w in weights if want in (w.layer, f"{w.layer}/{w.variable}", w.name)]
            if len(hits) != 1:
                raise InputError(
                    f"--layer {want!r} matches {len(hits)} weights in {path!r}; 2-D weights: {listing}"
                )
            chosen.append(hits[0])
        return chosen, "named with --layer"
    named = [w for w in weights if w.variable == EMBEDDING_VARIABLE]
    chosen = [w for w in named if w.layer in embedding_layers]
    reason = "an Embedding layer in model_config"
    if not chosen:  # a weights file (no config), or custom embedding classes
        chosen = named
        reason = f"a layer weight named {EMBEDDING_VARIABLE!r}"
    if not chosen:
        raise SourceError(
            f"{path!r} holds no Embedding layer weights; pick a layer with --layer. 2-D weights: {listing}"
        )
    return chosen, reason


def _tensor_names(chosen: list[LegacyWeight]) -> dict[LegacyWeight, str]:
    counts: dict[str, int] = {}
    for w in chosen:
        counts[w.layer] = counts.get(w.layer, 0) + 1
    return {
        w: (w.layer if counts[w.layer] == 1 else f"{w.group}/{w.layer}").replace(":", "_")
        for w in chosen
    }
