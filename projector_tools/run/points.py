"""A run's tensor as a person sees it in the Projector: its points and their labels.

:func:`choose_tensor` picks the run and tensor a person would look at,
:func:`read_matrix` and :func:`read_metadata` read them as TensorBoard does
(through the containment checks of :mod:`projector_tools.run.containment`), and
:func:`load_points` gives ``neighbors`` and ``plot`` both at once.

    >>> import tempfile, numpy as np
    >>> from projector_tools import export_embeddings
    >>> run = tempfile.mkdtemp()
    >>> _ = export_embeddings(np.eye(3, dtype="float32"), run, metadata=["a", "b", "c"])
    >>> p = load_points(run)
    >>> p.matrix.shape, p.labels
    ((3, 3), ['a', 'b', 'c'])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from projector_tools import fsio
from projector_tools.run.budgets import MAX_LINE_BYTES, label_lines
from projector_tools.errors import InputError, OutsideLogdirError, SourceError
from projector_tools.run.containment import checkpoint_inside, require_inside
from projector_tools.run.pair import read_tensor_file
from projector_tools.run.reader import some_listed_runs
from projector_tools.run.view import EmbeddingView, RunView, canonical_tensor_name, resolve_asset
from projector_tools.run.metadata import ParsedTSV, parse_projector_tsv

__all__ = ["Points", "choose_tensor", "load_points", "read_matrix", "read_metadata"]


@dataclass
class Points:
    """A run's tensor with the labels the Projector shows for its points."""

    run: str
    tensor: str
    matrix: np.ndarray
    labels: list[str]
    parsed: ParsedTSV | None = None


def read_metadata(view: RunView, ev: EmbeddingView) -> ParsedTSV | None:
    if not ev.metadata_path:
        return None
    path = require_inside(resolve_asset(view, ev.metadata_path), view.logdir,
                          f"metadata_path of {ev.name!r}")
    if not fsio.exists(path):
        return None
    return parse_projector_tsv(fsio.read_bytes(path, max_line=MAX_LINE_BYTES, max_lines=label_lines(ev.rows)))


def read_matrix(view: RunView, ev: EmbeddingView) -> np.ndarray:
    from projector_tools.run.checkpoint import read_tensor

    if ev.tensor_path:
        return read_tensor_file(view, ev)
    if not ev.in_checkpoint or not view.checkpoint:
        raise SourceError(
            f"tensor {ev.name!r} of run {view.name!r} is not in its checkpoint "
            f"({view.checkpoint}); run `projector-tools doctor` on the logdir"
        )
    if not checkpoint_inside(view.checkpoint, view.logdir):
        raise OutsideLogdirError(
            f"the checkpoint {view.checkpoint!r} of run {view.name!r} leads outside the logdir "
            f"{view.logdir!r}; a path read from a run is not followed outside it"
        )
    key = next((k for k in view.shapes if canonical_tensor_name(k) == canonical_tensor_name(ev.name)), ev.name)
    return np.asarray(read_tensor(view.checkpoint, key), dtype=np.float32)


def choose_tensor(
    logdir: str, run: str | None = None, tensor: str | None = None
) -> tuple[RunView, EmbeddingView]:
    """The run and tensor to show: the ones named, else the first listed one
    that has labels, else the first listed one."""
    views = some_listed_runs(logdir)
    if run is not None:
        match = [v for v in views if v.name == run or fsio.normpath(v.dir) == fsio.normpath(run)]
        if not match:
            raise InputError(
                f"no Projector run {run!r} in {logdir!r}; runs: {', '.join(v.name for v in views)}"
            )
        views = match
    candidates = [(v, e) for v in views for e in v.embeddings if e.shape and len(e.shape) == 2]
    if tensor is not None:
        hits = [(v, e) for v, e in candidates if e.name == tensor]
        if not hits:
            names = sorted({e.name for _, e in candidates})
            raise InputError(f"no tensor {tensor!r}; tensors: {', '.join(names)}")
        return hits[0]
    if not candidates:  # a checkpoint that could not be read says why (dtype 99, a missing shard)
        why = next((v.checkpoint_error for v in views if v.checkpoint_error), None)
        raise InputError(f"the runs of {logdir!r} hold no loadable 2-D tensor" + (f": {why}" if why else ""))
    labelled = [(v, e) for v, e in candidates if e.metadata_path]
    return (labelled or candidates)[0]


def load_points(logdir: str, run: str | None = None, tensor: str | None = None) -> Points:
    """Matrix and first-column labels of a run's tensor, as the Projector shows them.

    Points without a label (no metadata, or fewer label rows than points)
    are labelled by their index, as the Projector does.

        Example::

            p = load_points("runs/imdb")
            assert p.matrix.shape[0] == len(p.labels)
    """
    view, ev = choose_tensor(logdir, run, tensor)
    matrix = read_matrix(view, ev)
    parsed = read_metadata(view, ev)
    labels = [str(i) for i in range(matrix.shape[0])]
    if parsed is not None and len(parsed.rows) == matrix.shape[0]:
        first = parsed.column(parsed.columns[0])
        labels = [v if v is not None else "" for v in first]
    return Points(run=view.name, tensor=ev.name, matrix=matrix, labels=labels, parsed=parsed)
