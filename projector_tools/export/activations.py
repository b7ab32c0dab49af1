"""Layer activations as Projector points: one vector per input example.

Keras 2's TensorBoard callback could show a layer's outputs
(``embeddings_data``); Keras 3 dropped it. :func:`export_activations` runs
inputs through a model, takes the output of one layer (through a sub-model
``keras.Model(model.inputs, layer.output)``, so masks and every preceding
layer act as in the full model) and exports it like
:func:`~projector_tools.export_embeddings`: same run layout, same
guarantees, one metadata row per input::

    from projector_tools import export_activations
    export_activations(model, x_test[:2000], "runs/acts", layer="dense",
                       metadata={"label": y_test[:2000]}, images=x_test[:2000])

During training, :class:`ActivationSpec` tells
:class:`~projector_tools.ProjectorCallback` to export such activations of a
fixed example set at every export, in the same checkpoint as the
embeddings::

    ProjectorCallback("runs/imdb", metadata=subword_metadata(encoder),
                      activations=[ActivationSpec(x_val, layer="pool", name="reviews",
                                                  metadata=lambda outputs: ...)])

From the command line::

    projector-tools export-activations model.keras inputs.npy --layer dense --logdir runs/acts
    projector-tools export-activations model.keras reviews.csv --layer pool --logdir runs/acts

``inputs`` is a numpy array (or a list of arrays for a model with several
inputs), a list of strings for a model that starts with
``TextVectorization``, or a ``tf.data.Dataset`` of ``x`` or ``(x, y)``
(batched or not). The layer's output must be one vector per example
(``(batch, dim)``); a sequence ``(batch, time, dim)`` is refused with advice.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from projector_tools.errors import InputError, SourceError
from projector_tools.export.embeddings import check_tensor_name, prepare
from projector_tools.run.writer import ExportResult, write_run
from projector_tools.run.metadata import Metadata, as_metadata
from projector_tools.run.sprite import build_sprites

__all__ = ["ActivationSpec", "compute_activations", "export_activations"]

DEFAULT_BATCH_SIZE = 256
#: Labels, a :class:`Metadata`, or a function of the model's outputs that returns them.
MetadataLike = Union[Sequence[Any], Metadata, Mapping[str, Sequence[Any]],
                     Callable[[np.ndarray], Any], None]


@dataclass(frozen=True)
class ActivationSpec:
    """Activations for :class:`~projector_tools.ProjectorCallback` to export at each export.

    ``inputs``, ``layer``, ``batch_size``, ``max_rows`` and ``images`` as in
    :func:`export_activations`; ``name`` is the tensor's name (default: the
    layer's name). ``metadata`` is labels / a :class:`Metadata` for the
    inputs, or a callable that receives the model's final outputs for the
    inputs (a numpy array, one row per input, computed in the same pass) and
    returns them: columns such as a prediction then follow the model epoch
    by epoch.

        >>> import keras, numpy as np
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, name="pool"),
        ...                           keras.layers.Dense(1, name="out")])
        >>> x_val = np.arange(15, dtype="float32").reshape(5, 3)
        >>> spec = ActivationSpec(x_val, layer="pool", name="reviews",
        ...                       metadata=lambda out: {"predicted": out[:, 0].round(3)})
        >>> name, matrix, meta = activation_tensor(model, spec)   # what each export computes
        >>> name, matrix.shape, meta.names, len(meta)
        ('reviews', (5, 4), ('predicted',), 5)
    """

    inputs: Any
    layer: Any
    name: str | None = None
    metadata: MetadataLike = None
    images: Any = None
    batch_size: int = DEFAULT_BATCH_SIZE
    max_rows: int | None = None


# --------------------------------------------------------------------------
# Running the model


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


def _starts_with_text_vectorization(model: Any) -> bool:
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
        if not _starts_with_text_vectorization(model):
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


def _metadata_for(metadata: MetadataLike, outputs: Any) -> Metadata | None:
    if metadata is None:
        return None
    if callable(metadata) and not isinstance(metadata, Metadata):
        metadata = metadata(outputs)
    return as_metadata(metadata)


def activation_tensor(model: Any, spec: ActivationSpec) -> tuple[str, np.ndarray, Metadata | None]:
    """``(tensor name, activations, metadata)`` of ``spec`` for ``model`` now."""
    chosen = resolve_layer(model, spec.layer)
    name = spec.name or chosen.name
    check_tensor_name(name)
    matrix, outputs = compute_activations(
        model, spec.inputs, chosen, batch_size=spec.batch_size, max_rows=spec.max_rows
    )
    meta = _metadata_for(spec.metadata, outputs)
    if meta is not None and spec.max_rows is not None and len(meta) > matrix.shape[0]:
        meta = meta.take(range(matrix.shape[0]))
    return name, matrix, meta


def cut_images(images: Any, rows: int) -> Any:
    """The first ``rows`` images (``max_rows``), for a mapping or one array."""
    if images is None:
        return None
    if isinstance(images, Mapping):
        return {k: None if v is None else np.asarray(v)[:rows] for k, v in images.items()}
    return np.asarray(images)[:rows]


def export_activations(
    model: Any,
    inputs: Any,
    logdir: str,
    *,
    layer: Any,
    metadata: MetadataLike = None,
    name: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_rows: int | None = None,
    images: Any = None,
    step: int | None = None,
    allow_nonfinite: bool = False,
) -> ExportResult:
    """Export the output of ``layer`` for ``inputs`` as a Projector run in ``logdir``.

    One point per input (up to ``max_rows``), labelled by ``metadata``
    (labels or a :class:`Metadata` with one row per input, or a callable of
    the model's outputs, see :class:`ActivationSpec`; none: row ids). The
    tensor is named ``name`` (default: the layer's name). ``images`` adds a
    sprite, as in :func:`~projector_tools.export_embeddings`.

        >>> import keras, numpy as np, os, tempfile
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(8, name="dense"),
        ...                           keras.layers.Dense(1, name="out")])
        >>> x_test, y_test = np.ones((10, 3), "float32"), [0, 1] * 5
        >>> logdir = tempfile.mkdtemp()
        >>> result = export_activations(model, x_test, os.path.join(logdir, "acts"), layer="dense",
        ...                             metadata=[str(y) for y in y_test])
        >>> result.names, result["dense"].shape, result["dense"].metadata_rows
        (('dense',), (10, 8), 10)

    ``tensorboard --logdir`` on ``logdir`` then lists the run ``acts``.

    Raises :class:`~projector_tools.errors.InputError` (unknown layer, an
    output that is not one vector per example, unusable inputs) or
    :class:`~projector_tools.errors.ShapeMismatchError` (metadata rows)
    before anything is written.
    """
    spec = ActivationSpec(inputs, layer, name=name, metadata=metadata, images=images,
                          batch_size=batch_size, max_rows=max_rows)
    tensor, matrix, meta = activation_tensor(model, spec)
    matrices, metas = prepare({tensor: matrix}, {tensor: meta} if meta is not None else {},
                              allow_nonfinite=allow_nonfinite)
    sprites = build_sprites(cut_images(images, matrix.shape[0]), {tensor: matrix.shape[0]})
    return write_run(logdir, matrices, metas, step=step, sprites=sprites)


# --------------------------------------------------------------------------
# Command line


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Options of ``projector-tools export-activations``."""
    parser.add_argument("model", help="a .keras model file")
    parser.add_argument("inputs", help="a .npy array, or for a text model a .txt (one input per "
                        "line) or .csv/.tsv file (its text column; every column becomes metadata)")
    parser.add_argument("--layer", required=True, help="the layer whose output is exported")
    parser.add_argument("--logdir", required=True, help="run directory to write")
    parser.add_argument("--name", help="tensor name (default: the layer's name)")
    parser.add_argument("--text-column", help="CSV column holding the text (default: text/review/...)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--max-rows", type=int, help="export only the first N inputs")
    parser.add_argument("--step", type=int, help="step number of this export")


def read_inputs(path: str, text_column: str | None = None) -> tuple[Any, Metadata | None]:
    """``(inputs, metadata)`` from a ``.npy``, ``.txt`` or ``.csv``/``.tsv`` file."""
    import csv
    import io

    from projector_tools import fsio

    if not fsio.exists(path):
        raise SourceError(f"inputs file {path!r} does not exist")
    lower = path.lower()
    if lower.endswith(".npy"):
        try:
            return np.load(io.BytesIO(fsio.read_bytes(path)), allow_pickle=False), None
        except ValueError as exc:
            raise SourceError(f"{path!r} is not a readable .npy array ({exc})") from exc
    try:
        text = fsio.read_bytes(path).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path!r} is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    if lower.endswith((".csv", ".tsv", ".tab")):
        from projector_tools.training.csv_reviews import TEXT_COLUMNS, pick_column

        delimiter = "\t" if lower.endswith((".tsv", ".tab")) else ","
        csv.field_size_limit(2**31 - 1)
        rows = [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter) if r]
        if len(rows) < 2:
            raise SourceError(f"{path!r} needs a header row and at least one row of text")
        header, body = rows[0], rows[1:]
        ti = pick_column(header, text_column, TEXT_COLUMNS, "text", "--text-column", path)
        body = [r + [""] * (len(header) - len(r)) for r in body]
        texts = [r[ti] for r in body]
        return texts, Metadata({h or f"column{i}": [r[i] for r in body] for i, h in enumerate(header)})
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [line.rstrip("\r") for line in lines]
    if not lines:
        raise SourceError(f"{path!r} holds no line of text")
    return lines, Metadata({"text": lines})


def run_cli(args: argparse.Namespace) -> int:
    import keras

    from projector_tools.process.voice import note

    if not os.path.exists(args.model):
        raise SourceError(f"model file {args.model!r} does not exist")
    try:
        model = keras.models.load_model(args.model, compile=False)
    except (ValueError, OSError, TypeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SourceError(
            f"cannot load Keras model {args.model!r} ({first}); a model with custom layers "
            "needs them importable, or call export_activations() from Python"
        ) from exc
    inputs, meta = read_inputs(args.inputs, args.text_column)
    if isinstance(inputs, list) and not _starts_with_text_vectorization(model):
        raise InputError(
            f"{args.inputs!r} holds text but model {model.name!r} does not start with a "
            "TextVectorization layer; pass its token ids as a .npy array"
        )
    if meta is None:
        note("no labels for .npy inputs; points are labelled by row id")
    result = export_activations(model, inputs, args.logdir, layer=args.layer, metadata=meta,
                                name=args.name, batch_size=args.batch_size,
                                max_rows=args.max_rows, step=args.step)
    for t in result.tensors:
        print(f"exported {t.name} {t.shape[0]}x{t.shape[1]} (output of layer {args.layer!r}), "
              f"{t.metadata_rows} label rows")
    print(f"run: {result.logdir}")
    print(f"view: tensorboard --logdir {os.path.dirname(os.path.abspath(result.logdir))}")
    return 0
