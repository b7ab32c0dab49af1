"""Running a model up to one layer: the activations of its inputs, batch by batch.

:func:`activation_model` builds ``keras.Model(model.inputs, [layer.output,
*model.outputs])`` (so masks and every preceding layer act as in the full
model) and refuses a layer whose output is not one vector per example;
:func:`compute_activations` feeds it the accepted input forms (arrays, a
list of arrays, strings for a model that starts with ``TextVectorization``,
a ``tf.data.Dataset``) and gathers the rows. :mod:`projector_tools.export.activations`
exports them as a run.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from projector_tools.errors import InputError

__all__ = ["DEFAULT_BATCH_SIZE", "activation_model", "compute_activations", "resolve_layer",
           "starts_with_text_vectorization"]

DEFAULT_BATCH_SIZE = 256



def resolve_layer(model: Any, layer: Any):
    """The layer object for ``layer`` (a name or a layer of ``model``)."""
    if isinstance(layer, str):
        try:
            return model.get_layer(layer)
        except ValueError:
            raise InputError(
                f"model {model.name!r} has no layer {layer!r}; its layers are "
                f"{[lay.name for lay in model.layers]}"
            ) from None
    if layer is None or not hasattr(layer, "output"):
        raise InputError(f"layer= must be a layer name or a layer of the model, got {layer!r}")
    return layer


def _output_shape(model: Any, layer: Any) -> tuple:
    try:
        return tuple(layer.output.shape)
    except (AttributeError, ValueError) as exc:
        raise InputError(
            f"layer {layer.name!r} of model {model.name!r} has no single symbolic output "
            f"({exc}); build the model with keras.Input (a functional or Sequential model "
            "that starts with keras.Input) and pick a layer used once"
        ) from exc


def _two_d_layers(model: Any) -> list[str]:
    out = []
    for lay in model.layers:
        try:
            if len(lay.output.shape) == 2:
                out.append(lay.name)
        except (AttributeError, ValueError):
            continue
    return out


def activation_model(model: Any, layer: Any):
    """``keras.Model(model.inputs, [layer.output, *model.outputs])``, checked.

    Refuses a layer whose output is not one vector per example.
    """
    import keras

    chosen = resolve_layer(model, layer)
    shape = _output_shape(model, chosen)
    if len(shape) != 2:
        raise InputError(
            f"layer {chosen.name!r} outputs shape {shape} per batch, not one vector per "
            "example (batch, dim); the Projector shows one point per row. Pool it "
            "(e.g. keras.layers.GlobalAveragePooling1D after it) or pick another layer: "
            f"{_two_d_layers(model)}"
        )
    try:
        inputs = model.inputs
        outputs = model.outputs
    except (AttributeError, ValueError) as exc:
        raise InputError(
            f"model {model.name!r} has no symbolic inputs ({exc}); start it with keras.Input"
        ) from exc
    if not inputs:
        raise InputError(f"model {model.name!r} has no symbolic inputs; start it with keras.Input")
    single = inputs[0] if len(inputs) == 1 else inputs
    sub = keras.Model(single, [chosen.output, *outputs], name=f"{model.name}_to_{chosen.name}")
    return sub, chosen


def starts_with_text_vectorization(model: Any) -> bool:
    """Whether one of the first layers of ``model`` is a ``TextVectorization`` (it takes strings)."""
    import keras

    return any(isinstance(lay, keras.layers.TextVectorization) for lay in model.layers[:3])


def _batches(model: Any, inputs: Any, batch_size: int) -> Any:
    """Yield input batches for ``model`` from the accepted input forms."""
    import tensorflow as tf

    if isinstance(inputs, tf.data.Dataset):
        spec = inputs.element_spec
        x_spec = spec[0] if isinstance(spec, tuple) else spec
        want = len(model.inputs[0].shape)
        rank = len(x_spec.shape) if hasattr(x_spec, "shape") else want
        ds = inputs if rank >= want else inputs.batch(batch_size)
        for element in ds:
            yield element[0] if isinstance(element, tuple) else element
        return
    if isinstance(inputs, (list, tuple)) and inputs and all(isinstance(v, (str, bytes)) for v in inputs):
        if not starts_with_text_vectorization(model):
            raise InputError(
                f"inputs are strings but model {model.name!r} does not start with a "
                "TextVectorization layer; pass the token ids (a numpy array) instead"
            )
        arr = np.asarray([v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in inputs],
                         dtype=object)
        if len(model.inputs[0].shape) == 2:
            arr = arr.reshape(-1, 1)
        for start in range(0, len(arr), batch_size):
            yield tf.constant(arr[start:start + batch_size].tolist())
        return
    if isinstance(inputs, (list, tuple)) and inputs and all(hasattr(v, "shape") for v in inputs):
        arrays = [np.asarray(v) for v in inputs]
        n = len(arrays[0])
        for start in range(0, n, batch_size):
            yield [a[start:start + batch_size] for a in arrays]
        return
    arr = np.asarray(inputs)
    if arr.dtype.kind in "OUS":
        raise InputError(
            f"inputs hold {arr.dtype} values; pass a list of strings (for a model that "
            "starts with TextVectorization) or a numeric array"
        )
    if arr.ndim == 0 or len(arr) == 0:
        raise InputError(f"inputs are empty (shape {arr.shape}); pass at least one example")
    for start in range(0, len(arr), batch_size):
        yield arr[start:start + batch_size]


def compute_activations(
    model: Any,
    inputs: Any,
    layer: Any,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_rows: int | None = None,
) -> tuple[np.ndarray, np.ndarray | list[np.ndarray]]:
    """``(activations, model outputs)`` for up to ``max_rows`` inputs.

        >>> import keras, numpy as np
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(8, name="dense"),
        ...                           keras.layers.Dense(2, name="out")])
        >>> x = np.random.default_rng(0).normal(size=(300, 3))
        >>> acts, outputs = compute_activations(model, x[:100], "dense", batch_size=32)
        >>> acts.shape, outputs.shape
        ((100, 8), (100, 2))
    """
    if int(batch_size) < 1:
        raise InputError(f"batch_size must be at least 1, got {batch_size}")
    if max_rows is not None and int(max_rows) < 1:
        raise InputError(f"max_rows must be at least 1, got {max_rows}")
    sub, chosen = activation_model(model, layer)
    acts: list[np.ndarray] = []
    outs: list[list[np.ndarray]] = []
    n = 0
    for batch in _batches(model, inputs, int(batch_size)):
        try:
            result = sub(batch, training=False)
        except (ValueError, TypeError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise InputError(
                f"model {model.name!r} cannot take these inputs ({first}); pass what the "
                "model's fit()/predict() takes"
            ) from exc
        act = np.asarray(result[0], dtype=np.float32)
        rest = [np.asarray(r) for r in result[1:]]
        if max_rows is not None and n + len(act) > max_rows:
            keep = int(max_rows) - n
            act, rest = act[:keep], [r[:keep] for r in rest]
        acts.append(act)
        outs.append(rest)
        n += len(act)
        if max_rows is not None and n >= max_rows:
            break
    if not acts or n == 0:
        raise InputError("inputs are empty; pass at least one example")
    matrix = np.concatenate(acts, axis=0)
    outputs = [np.concatenate([o[k] for o in outs], axis=0) for k in range(len(outs[0]))]
    return matrix, (outputs[0] if len(outputs) == 1 else outputs)
