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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from projector_tools import fsio
from projector_tools.errors import InputError, SourceError
from projector_tools.export.activation_model import (
    DEFAULT_BATCH_SIZE,
    activation_model,
    compute_activations,
    resolve_layer,
    starts_with_text_vectorization,
)
from projector_tools.export.embeddings import check_tensor_name, prepare
from projector_tools.run.writer import ExportResult, write_run
from projector_tools.run.metadata import Metadata, as_metadata
from projector_tools.run.sprite import build_sprites

__all__ = ["ActivationSpec", "activation_model", "activation_tensor", "compute_activations", "cut_images",
           "export_activations", "resolve_layer"]

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


def run_cli(args: argparse.Namespace) -> int:
    import keras

    from projector_tools.process.voice import note
    from projector_tools.sources.inputs import read_inputs

    if not fsio.exists(args.model):
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
    if isinstance(inputs, list) and not starts_with_text_vectorization(model):
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
    print(f"view: tensorboard --logdir {fsio.dirname(fsio.absolute(result.logdir))}")
    return 0
