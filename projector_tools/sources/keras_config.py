"""A Keras model's structure read as data: its layers, their graph, where their state is saved.

The input is the serialized model: ``config.json`` of a ``.keras`` archive,
or ``{"class_name": type(model).__name__, "config": model.get_config()}`` of
a live model. Nothing is rebuilt and no class of the user is imported;
:func:`model_layers` lists every layer (nested models included) as a
:class:`ConfigLayer`, with the layers it is called on and the path of its
saved variables; :func:`is_embedding` says which are embeddings.

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
:mod:`projector_tools.sources.keras_archive` reads them from these paths.

    >>> entry = {"class_name": "Sequential", "config": {"layers": [
    ...     {"class_name": "InputLayer", "config": {"name": "ids"}},
    ...     {"class_name": "Embedding", "module": "keras.layers",
    ...      "config": {"name": "words", "input_dim": 100, "output_dim": 8}},
    ...     {"class_name": "Embedding", "module": "keras.layers",
    ...      "config": {"name": "more", "input_dim": 100, "output_dim": 8}},
    ... ]}}
    >>> [(layer.path, layer.group, layer.sources) for layer in model_layers(entry)]
    [(('words',), 'layers/embedding', []), (('more',), 'layers/embedding_1', [('words',)])]
    >>> [is_embedding(layer) for layer in model_layers(entry)]
    [True, True]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["EMBEDDING_CLASS", "ConfigLayer", "is_embedding", "model_layers", "tensor_names"]

EMBEDDING_CLASS = "Embedding"


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

    Example (the ``config.json`` of an unzipped ``.keras`` archive)::

        [l.path for l in model_layers(json.load(open("config.json")))]
        # [('text_vectorization',), ('embedding',), ...]
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
    two layers share a name (as :mod:`projector_tools.sources.keras_layers` names them)."""
    last = [p[-1] for p in paths]
    return {p: p[-1] if last.count(p[-1]) == 1 else "/".join(p) for p in paths}

