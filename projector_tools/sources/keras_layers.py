"""Finding the ``Embedding`` layers of a Keras model, however it is built.

Sequential, functional and subclassed models, embeddings nested in
sub-layers or sub-models: each is found once and named by its layer name
(or, where two nested layers share a name, by its path ``outer/inner``).

    >>> import keras
    >>> model = keras.Sequential([keras.Input((None,)), keras.layers.Embedding(10, 4, name="words")])
    >>> list(embedding_layers(model))
    ['words']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from projector_tools.errors import InputError


def is_keras_model(obj: Any) -> bool:
    try:
        import keras
    except ImportError:  # pragma: no cover - keras ships with tensorflow
        return False
    return isinstance(obj, keras.Model)


def _children(layer: Any) -> list[Any]:
    fn = getattr(layer, "_flatten_layers", None)
    if callable(fn):
        try:
            return list(fn(include_self=False, recursive=False))
        except TypeError:
            pass
    return list(getattr(layer, "layers", []) or [])


def embedding_layers(model: Any) -> dict[str, Any]:
    """``{tensor name: layer}`` for every ``keras.layers.Embedding`` in ``model``."""
    import keras

    found: list[tuple[tuple[str, ...], Any]] = []
    seen: set[int] = set()

    def walk(layer: Any, path: tuple[str, ...]) -> None:
        for child in _children(layer):
            if id(child) in seen:
                continue
            seen.add(id(child))
            child_path = path + (child.name,)
            if isinstance(child, keras.layers.Embedding):
                found.append((child_path, child))
            walk(child, child_path)

    walk(model, ())
    names = [p[-1] for p, _ in found]
    out: dict[str, Any] = {}
    for path, layer in found:
        key = path[-1] if names.count(path[-1]) == 1 else "/".join(path)
        out[key] = layer
    return out


def select_embedding_layers(model: Any, layers: Sequence[str] | None) -> dict[str, Any]:
    """The model's embedding layers, or only those named in ``layers``.

    Raises :class:`InputError` when the model has none, or a name is not one
    of them (the message lists the model's embedding layers).
    """
    available = embedding_layers(model)
    model_name = getattr(model, "name", type(model).__name__)
    if not available:
        raise InputError(
            f"model {model_name!r} has no keras.layers.Embedding layer; export the "
            "matrix itself instead: export_embeddings({'name': weights}, logdir)"
        )
    if layers is None:
        return available
    if isinstance(layers, str):
        layers = [layers]
    chosen: dict[str, Any] = {}
    for name in layers:
        if name in available:
            chosen[name] = available[name]
            continue
        matches = [k for k in available if k.split("/")[-1] == name]
        if len(matches) == 1:
            chosen[matches[0]] = available[matches[0]]
            continue
        raise InputError(
            f"model {model_name!r} has no Embedding layer named {name!r}; its "
            f"Embedding layers are: {', '.join(available)}"
        )
    return chosen


def layer_weights(layer: Any):
    """The embedding matrix of an ``Embedding`` layer as a numpy array."""
    import numpy as np

    var = getattr(layer, "embeddings", None)
    if var is None:
        weights = layer.get_weights()
        if not weights:
            raise InputError(f"Embedding layer {layer.name!r} is not built yet; call the "
                             "model on data (or model.build) before exporting")
        return np.asarray(weights[0])
    return np.asarray(var.numpy() if hasattr(var, "numpy") else var)
