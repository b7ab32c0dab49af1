"""Export orchestration: a model, a mapping or an array + labels -> a run the Projector loads.

:func:`export_embeddings` collects the tensors (every ``Embedding`` layer of
a Keras model, or the arrays given), labels each (explicit metadata, a
lookup layer's vocabulary, or row ids), validates matrices and labels
together (:func:`prepare`: nothing is written before every input has been
checked), and hands them to :func:`projector_tools.run.writer.write_run`,
which writes the run atomically.

    >>> import tempfile, numpy as np
    >>> run = tempfile.mkdtemp()
    >>> result = export_embeddings(np.eye(4, dtype="float32"), run, metadata=["a", "b", "c", "d"])
    >>> result.names, result["embedding"].shape, result["embedding"].metadata_rows
    (('embedding',), (4, 4), 4)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from projector_tools.errors import InputError, ShapeMismatchError
from projector_tools.sources.keras_layers import is_keras_model, layer_weights, select_embedding_layers
from projector_tools.run.matrix import as_matrix
from projector_tools.run.metadata import Metadata, as_metadata
from projector_tools.run.views import View
from projector_tools.run.writer import ExportedTensor, ExportResult, write_run
from projector_tools.run.sprite import build_sprites

__all__ = ["ExportResult", "ExportedTensor", "export_embeddings", "DEFAULT_TENSOR_NAME"]

DEFAULT_TENSOR_NAME = "embedding"


def export_embeddings(
    source: Any,
    logdir: str,
    *,
    metadata: Any = None,
    layers: Sequence[str] | None = None,
    step: int | None = None,
    max_rows: int | None = None,
    rows: Sequence[int] | None = None,
    allow_nonfinite: bool = False,
    lock_timeout: float | None = None,
    images: Any = None,
    layouts: Sequence[str] = (),
    layout_max_rows: int | None = None,
    views: Sequence[View] = (),
) -> ExportResult:
    """Write ``source`` as a Projector-ready run into the directory ``logdir``.

    ``source`` is a Keras model (its ``Embedding`` layers, or those named in
    ``layers``), a mapping ``{tensor_name: 2-D array}``, or one 2-D array
    (named ``embedding``). ``metadata`` is, for one tensor, a list of labels
    or a :class:`~projector_tools.Metadata`; for several, a mapping
    ``{tensor_name: labels}``; a tensor without labels is labelled by its
    row ids. ``max_rows`` keeps the first N rows, ``rows`` an explicit id
    selection; the original id is kept in an ``id`` column. ``images`` (one
    image per row, ``(N, H, W)`` or ``(N, H, W, C)``, uint8 or floats in
    [0, 1]; a mapping ``{tensor_name: images}`` for several tensors) adds a
    sprite: the Projector then draws each point as its thumbnail. Another
    process exporting into the same run is waited for up to ``lock_timeout``
    seconds (default 30, see :mod:`projector_tools.run.lock`).

    ``layouts`` (``"umap"``, ``"tsne"``, ``"pca"``) adds, per tensor, a
    3-column layout of every row computed here (:mod:`projector_tools.analysis.layouts`)
    as the tensor ``<tensor>/<method>``, labelled like the tensor plus a
    ``cluster`` column; above ``layout_max_rows`` rows (default
    :data:`~projector_tools.analysis.layouts.DEFAULT_MAX_ROWS`) it is fitted on a
    sample, and gets a view by ``cluster``. ``views`` (:class:`~projector_tools.View`)
    are named views in the Projector's *Bookmarks* panel (:mod:`projector_tools.run.views`).

        Example::

            from projector_tools import Metadata, View, export_embeddings
            export_embeddings(m, "runs/words", metadata=Metadata({"word": words, "kind": kinds}),
                              views=[View("words by kind", "embedding", color_by="kind")])

    Raises :class:`~projector_tools.errors.InputError` (bad arrays, labels, layer
    names, views) or :class:`~projector_tools.errors.LogdirError` before anything is written.
    """
    tensors = collect_tensors(source, layers)
    labels = normalize_metadata(metadata, list(tensors))
    if is_keras_model(source):  # a lookup layer's vocabulary; explicit labels win
        labels = {**model_vocabulary_labels(source, [n for n in tensors if n not in labels]), **labels}
    matrices, metas = prepare(
        tensors, labels, max_rows=max_rows, rows=rows, allow_nonfinite=allow_nonfinite
    )
    sprites = build_sprites(select_images(images, max_rows, rows),
                            {name: m.shape[0] for name, m in matrices.items()})
    if layouts:
        matrices, metas, views = _with_layouts(matrices, metas, layouts, layout_max_rows, list(views))
    return write_run(logdir, matrices, metas, step=step, sprites=sprites, lock_timeout=lock_timeout, views=views)


def _with_layouts(matrices: dict[str, np.ndarray], metas: dict[str, Metadata], layouts: Sequence[str],
                  layout_max_rows: int | None, views: list[View]
                  ) -> tuple[dict[str, np.ndarray], dict[str, Metadata], list[View]]:
    """``matrices``/``metas`` with the ``layouts`` of every tensor added
    (:mod:`projector_tools.analysis.layouts`), ``views`` with a view of each."""
    from projector_tools.analysis.layouts import DEFAULT_MAX_ROWS, add_layouts, layout_views

    laid, metas = add_layouts(
        matrices, metas, layouts,
        max_rows=DEFAULT_MAX_ROWS if layout_max_rows is None else layout_max_rows,
    )
    return laid, metas, views + layout_views(n for n in laid if n not in matrices)


def select_images(images: Any, max_rows: int | None, rows: Sequence[int] | None) -> Any:
    """``images`` cut to the rows that ``max_rows``/``rows`` export (as ``prepare`` does)."""
    if images is None or (max_rows is None and rows is None):
        return images

    def cut(value: Any) -> Any:
        arr = np.asarray(value)
        return arr[: int(max_rows)] if max_rows is not None else arr[np.asarray(list(rows))]

    if isinstance(images, Mapping):
        return {k: None if v is None else cut(v) for k, v in images.items()}
    return cut(images)


def collect_tensors(source: Any, layers: Sequence[str] | None = None) -> dict[str, Any]:
    """``{tensor name: value}`` from a Keras model, a mapping or one array."""
    if is_keras_model(source):
        chosen = select_embedding_layers(source, layers)
        return {name: layer_weights(layer) for name, layer in chosen.items()}
    if layers is not None:
        raise InputError(
            "layers= only applies to a Keras model source; for arrays name the "
            "tensors with a mapping {name: array}"
        )
    if isinstance(source, Mapping):
        if not source:
            raise InputError("the mapping of tensors is empty; pass {name: 2-D array}")
        out = {}
        for name, value in source.items():
            check_tensor_name(name)
            out[name] = value
        return out
    if source is None:
        raise InputError(
            "source is None; pass a Keras model, a {name: array} mapping or a 2-D array"
        )
    return {DEFAULT_TENSOR_NAME: source}


def model_vocabulary_labels(model: Any, names: Sequence[str]) -> dict[str, Metadata]:
    """Labels for ``names`` from the lookup layers of ``model`` that feed them
    (see :mod:`projector_tools.sources.lookup_labels`); prints its notes."""
    from projector_tools.sources.lookup_labels import model_lookup_metadata
    from projector_tools.process.voice import note

    metas, notes = model_lookup_metadata(model, names)
    for line in notes:
        note(line)
    return metas


def check_tensor_name(name: Any) -> None:
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"tensor name {name!r} must be a non-empty string")
    if ":" in name or any(c in name for c in "\n\r\t\"\\"):
        raise InputError(
            f"tensor name {name!r} may not contain ':', quotes, backslashes, tabs "
            "or newlines (TensorBoard treats ':N' as an output index); rename it"
        )


def normalize_metadata(metadata: Any, names: list[str]) -> dict[str, Metadata]:
    """``{tensor name: Metadata}`` from the forms ``export_embeddings`` accepts."""
    if metadata is None:
        return {}
    if isinstance(metadata, Mapping) and not isinstance(metadata, Metadata):
        unknown = [k for k in metadata if k not in names]
        if unknown:
            raise InputError(
                f"metadata given for {unknown}, which is not an exported tensor; "
                f"tensors are {names} (for one tensor you may pass the labels directly)"
            )
        return {k: as_metadata(v) for k, v in metadata.items() if v is not None}
    if len(names) != 1:
        raise InputError(
            f"{len(names)} tensors are exported ({', '.join(names)}); pass metadata "
            "as a mapping {tensor_name: labels}"
        )
    return {names[0]: as_metadata(metadata)}


def prepare(
    tensors: Mapping[str, Any],
    labels: Mapping[str, Metadata],
    *,
    max_rows: int | None = None,
    rows: Sequence[int] | None = None,
    allow_nonfinite: bool = False,
    say_row_limit: bool = True,
) -> tuple[dict[str, np.ndarray], dict[str, Metadata]]:
    """Validate matrices and labels; apply the row selection to both.

    A tensor without labels gets its row ids as labels. A tensor of more rows
    than TensorBoard shows gets one note saying so (unless ``say_row_limit``
    is false: see :mod:`projector_tools.run.limits`); every export goes through here.
    """
    matrices: dict[str, np.ndarray] = {}
    metas: dict[str, Metadata] = {}
    for name, value in tensors.items():
        meta = labels.get(name)
        if max_rows is None and rows is None and meta is not None:
            n_rows = _row_count(value)
            if n_rows is not None and n_rows != len(meta):
                raise ShapeMismatchError(_mismatch(name, n_rows, len(meta)))
        matrix, ids = as_matrix(
            value, name, allow_nonfinite=allow_nonfinite, max_rows=max_rows, rows=rows
        )
        if ids is None:
            if meta is not None and len(meta) != matrix.shape[0]:
                raise ShapeMismatchError(_mismatch(name, matrix.shape[0], len(meta)))
        else:
            full_rows = _row_count(value)
            if meta is not None:
                if len(meta) != full_rows:
                    raise ShapeMismatchError(_mismatch(name, full_rows, len(meta)))
                meta = meta.take(ids.tolist())
                if "id" not in meta.names:
                    meta = meta.with_column("id", ids.tolist())
            else:
                meta = Metadata({"id": ids.tolist()})
        if meta is None:
            # No labels given: label each point by its row id, so that every
            # run serves one metadata row per matrix row and ids are searchable.
            meta = Metadata({"id": range(matrix.shape[0])})
        matrices[name] = matrix
        metas[name] = meta
    if say_row_limit:
        _say_row_limit(matrices)
    return matrices, metas


def _say_row_limit(matrices: Mapping[str, np.ndarray]) -> None:
    """One note per tensor TensorBoard's Projector cuts (:func:`~projector_tools.run.limits.row_limit_line`)."""
    from projector_tools.process.voice import note
    from projector_tools.run.limits import row_limit_line

    for name, matrix in matrices.items():
        line = row_limit_line(name, matrix.shape[0])
        if line is not None:
            note(line)


def _row_count(value: Any) -> int | None:
    shape = getattr(value, "shape", None)
    if shape is not None and len(shape) >= 1:
        return int(shape[0])
    try:
        return len(value)
    except TypeError:
        return None


def _mismatch(name: str, rows: int, labels: int) -> str:
    return (
        f"tensor {name!r} has {rows} rows but its metadata has {labels} labels; the "
        "Projector needs exactly one label per row (for a SubwordTextEncoder use "
        "subword_metadata(encoder), which has vocab_size rows)"
    )
