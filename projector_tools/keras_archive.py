"""Keras 3 saved files read as data: ``.keras`` archives and ``.weights.h5``.

A ``.keras`` archive is a zip of ``config.json`` (the model's structure),
``model.weights.h5`` (its variables) and ``assets/`` (vocabularies of
lookup layers). This module reads the ``Embedding`` matrices straight from
them, without rebuilding the model: a model with custom layer classes
needs none of the user's code, and nothing from the file is executed.

Where Keras 3 (``keras.src.saving.saving_lib``) puts a layer's variables:
the layers of a Sequential or functional model are saved in ``model.layers``
order under ``layers/<group>``, where ``<group>`` is the snake-cased class
name made unique per model (``embedding``, ``embedding_1``, ``functional``,
not the layer's ``name``); the variables are ``<group>/vars/0``, ``/1``...,
and the ``vars`` group carries the layer's name as its ``name`` attribute.
A nested model's layers sit below its own group
(``layers/functional/layers/embedding/vars/0``). Sequential models leave
their leading ``InputLayer`` out of ``model.layers``; functional models keep
theirs. Assets follow the same paths under ``assets/``.

    >>> archive = read_keras_archive("model.keras")
    >>> {name: m.shape for name, m in archive.tensors.items()}
    {'embedding': (10000, 16)}
"""

from __future__ import annotations

import json
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
from projector_tools.errors import InputError, SourceError

__all__ = [
    "ConfigLayer",
    "KerasArchive",
    "StoredEmbedding",
    "model_layers",
    "read_keras_archive",
    "weights_h5_embeddings",
]

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
ASSETS_DIR = "assets"
EMBEDDING_CLASS = "Embedding"


def _h5py():
    try:
        import h5py
    except ImportError as exc:  # pragma: no cover - h5py ships with keras
        raise SourceError("reading Keras weights needs h5py (pip install h5py)") from exc
    return h5py


# -- the model's structure (config.json, or model.get_config()) -------------

@dataclass
class ConfigLayer:
    """One layer of a model config, with where Keras saved its state.

    ``path`` is the layer's name below the root model (``("sub", "chars")``
    for a layer of the nested model ``sub``); ``group`` its HDF5/assets path
    (``layers/functional/layers/embedding``); ``sources`` the paths of the
    layers whose outputs it is called on (from the functional graph's
    inbound nodes, or the previous layer of a Sequential model).
    """

    path: tuple[str, ...]
    class_name: str
    module: str | None
    config: dict[str, Any]
    group: str
    sources: list[tuple[str, ...]] = field(default_factory=list)
    entry: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return self.path[-1]

    @property
    def builtin(self) -> bool:
        """A class of Keras itself (not a user's registered class)."""
        return self.entry.get("registered_name") in (None, self.class_name) and (
            self.module or ""
        ).startswith("keras")


def _snake_case(class_name: str) -> str:
    # Keras' own rule for the group names; imported so that it stays Keras'.
    from keras.src.utils.naming import to_snake_case

    return to_snake_case(class_name)


def _is_model_config(cfg: Any) -> bool:
    return isinstance(cfg, dict) and isinstance(cfg.get("layers"), (list, tuple))


def model_layers(entry: dict[str, Any]) -> list[ConfigLayer]:
    """Every layer of a serialized model, nested models included (depth first).

    ``entry`` is ``{"class_name": ..., "config": {...}}`` as in a ``.keras``
    archive's ``config.json``, or ``{"class_name": type(model).__name__,
    "config": model.get_config()}``. A model whose config lists no layers
    (a subclassed model) gives ``[]``.

        >>> [l.path for l in model_layers(json.load(open("config.json")))]
        [('text_vectorization',), ('embedding',), ...]
    """
    out: list[ConfigLayer] = []
    cfg = entry.get("config")
    if _is_model_config(cfg):
        _walk_model(cfg, (), "", [], out)
    return out


def _walk_model(
    cfg: dict[str, Any],
    prefix: tuple[str, ...],
    group: str,
    inputs: list[tuple[str, ...]],
    out: list[ConfigLayer],
) -> list[tuple[str, ...]]:
    """Add the layers of one model to ``out``; return its output layers' paths."""
    entries = [e for e in cfg["layers"] if isinstance(e, dict)]
    functional = "input_layers" in cfg or any("inbound_nodes" in e for e in entries)
    if not functional and entries and entries[0].get("class_name") == "InputLayer":
        entries = entries[1:]  # Sequential.layers leaves its InputLayer out
    used: dict[str, int] = {}
    outputs_of: dict[str, list[tuple[str, ...]]] = {}
    previous = list(inputs)
    input_names = _history_names(cfg.get("input_layers"))
    for entry in entries:
        class_name = str(entry.get("class_name", ""))
        layer_cfg = entry.get("config") if isinstance(entry.get("config"), dict) else {}
        name = str(entry.get("name") or layer_cfg.get("name") or class_name)
        snake = _snake_case(class_name)
        if snake in used:
            used[snake] += 1
            snake = f"{snake}_{used[snake]}"
        else:
            used[snake] = 0
        layer_group = f"{group}/layers/{snake}".lstrip("/")
        path = prefix + (name,)
        if functional:
            if class_name == "InputLayer":
                idx = input_names.index(name) if name in input_names else -1
                sources = [inputs[idx]] if 0 <= idx < len(inputs) else []
            else:
                sources = []
                for layer_name, tensor_index in _inbound_histories(entry):
                    produced = outputs_of.get(layer_name, [])
                    if len(produced) == 1:
                        sources.append(produced[0])
                    elif 0 <= tensor_index < len(produced):
                        sources.append(produced[tensor_index])
        else:
            sources = previous
        if _is_model_config(layer_cfg):
            produced = _walk_model(layer_cfg, path, layer_group, sources, out)
        else:
            out.append(ConfigLayer(path, class_name, entry.get("module"), layer_cfg,
                                   layer_group, list(sources), entry))
            produced = [path]
        outputs_of[name] = produced
        previous = produced
    if functional:
        result = []
        for layer_name, tensor_index in _history_pairs(cfg.get("output_layers")):
            produced = outputs_of.get(layer_name, [])
            if len(produced) == 1:
                result.append(produced[0])
            elif 0 <= tensor_index < len(produced):
                result.append(produced[tensor_index])
        return result
    return previous


def _history_pairs(spec: Any) -> list[tuple[str, int]]:
    """``[[name, node, tensor], ...]`` or one ``[name, node, tensor]`` -> pairs."""
    if isinstance(spec, dict):
        spec = list(spec.values())
    if not isinstance(spec, (list, tuple)) or not spec:
        return []
    if isinstance(spec[0], str):
        return [(spec[0], int(spec[2]) if len(spec) > 2 else 0)]
    out: list[tuple[str, int]] = []
    for item in spec:
        out.extend(_history_pairs(item))
    return out


def _history_names(spec: Any) -> list[str]:
    return [name for name, _ in _history_pairs(spec)]


def _inbound_histories(entry: dict[str, Any]) -> list[tuple[str, int]]:
    """``(layer name, tensor index)`` of every tensor a layer is called on."""
    found: list[tuple[str, int]] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if value.get("class_name") == "__keras_tensor__":
                history = (value.get("config") or {}).get("keras_history") or []
                if history:
                    found.append((str(history[0]), int(history[2]) if len(history) > 2 else 0))
                return
            for v in value.values():
                walk(v)
        elif isinstance(value, (list, tuple)):  # tuples in get_config() of a live model
            # Keras 2 style nodes: [[name, node_index, tensor_index, kwargs], ...]
            if len(value) >= 3 and isinstance(value[0], str) and isinstance(value[2], int):
                found.append((value[0], value[2]))
                return
            for v in value:
                walk(v)

    walk(entry.get("inbound_nodes", []))
    return found


def is_embedding(layer: ConfigLayer) -> bool:
    """A Keras ``Embedding``, or a user class configured like one."""
    if layer.class_name == EMBEDDING_CLASS and layer.builtin:
        return True
    return isinstance(layer.config.get("input_dim"), int) and isinstance(
        layer.config.get("output_dim"), int
    )


def tensor_names(paths: Sequence[tuple[str, ...]]) -> dict[tuple[str, ...], str]:
    """Tensor name per layer path: the layer name, or ``outer/inner`` where
    two layers share a name (as :mod:`projector_tools.keras_layers` names them)."""
    last = [p[-1] for p in paths]
    return {p: p[-1] if last.count(p[-1]) == 1 else "/".join(p) for p in paths}


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
                    with zf.open(name) as src, open(target, "wb") as dst:
                        shutil.copyfileobj(src, dst)
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

        >>> read_keras_archive("model.keras", ["word_emb"]).tensors["word_emb"].shape
        (10000, 16)
    """
    with _open_zip(path) as zf:
        names = set(zf.namelist())
        if CONFIG_FILE not in names:
            raise SourceError(f"{path!r} has no {CONFIG_FILE}; it is not a Keras 3 .keras archive")
        try:
            config = json.loads(zf.read(CONFIG_FILE).decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
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
    return np.asarray(data)


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


def weights_h5_embeddings(path: str) -> list[StoredEmbedding]:
    """The embedding matrices of a Keras 3 ``.weights.h5`` file, in model order.

    Without the model's config, an embedding is a 2-D ``<group>/vars/0``
    whose group is named like one (``embedding``, ``embedding_1``,
    ``token_embedding``); optimizer slots are skipped. ``layer_name`` is the
    name Keras recorded for the layer (None in files that record none).

        >>> [e.layer_name for e in weights_h5_embeddings("model.weights.h5")]
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
                                                 np.asarray(obj)))
            f.visititems(visit)
    except OSError as exc:
        raise SourceError(f"{path!r} is not a readable HDF5 weights file ({exc})") from exc
    return sorted(found, key=lambda e: _group_key(e.group))
