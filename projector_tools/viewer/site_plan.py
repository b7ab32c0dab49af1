"""What a published site holds, read and checked before anything is written.

:func:`plan_run` finds the one run (as TensorBoard's Projector sees it, see
:mod:`projector_tools.run.reader`), reads every tensor through the run
readers and every file its config names (labels, sprite, bookmarks), and
refuses, in one line, a run that would not load. The byte encodings of a
site are here too: the ``.bytes`` tensor (raw little-endian float32) and
the ``--tsv`` pair of the Projector's *Load* dialog.

    >>> import numpy as np
    >>> b"".join(float32_chunks(np.array([[1, 2]], dtype="float64"))) == np.array([1, 2], "<f4").tobytes()
    True
    >>> b"".join(vector_tsv_chunks(np.array([[0.1, 2]], dtype="float32")))
    b'0.100000001\\t2\\n'
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from projector_tools import fsio
from projector_tools.errors import InputError, SourceError
from projector_tools.process.voice import PROG, note
from projector_tools.run.budgets import MAX_LINE_BYTES, label_lines
from projector_tools.run.metadata import Metadata, parse_projector_tsv, unescape_label

#: Rows per chunk when a tensor is written out (bounds the extra memory).
CHUNK_ROWS = 65_536


@dataclass
class PlannedTensor:
    """One tensor of the run: its labels' bytes (parsed to check them), and the
    run's sprite and bookmarks files, checked (inside the logdir, regular files)
    and copied into the site as streams, never held whole."""

    name: str
    matrix: np.ndarray
    metadata: bytes | None = None
    sprite_file: str | None = None
    sprite_dim: tuple[int, int] | None = None
    bookmarks_file: str | None = None


def plan_run(run: str, tensor: str | None = None) -> list[PlannedTensor]:
    """Every 2-D tensor of the one run in ``run``, read and checked (``tensor`` first)."""
    from projector_tools.run.reader import some_listed_runs

    views = some_listed_runs(run)
    if len(views) > 1:
        names = ", ".join(v.name for v in views)
        raise InputError(f"{run!r} holds {len(views)} runs ({names}); publish one of them, e.g. "
                         f"`{PROG} publish {views[0].dir} --out DIR`")
    view = views[0]
    if view.checkpoint_error:  # its tensors have no shape: say why, not "no tensor"
        raise SourceError(f"the checkpoint of {run!r} cannot be read ({view.checkpoint_error}); nothing was "
                          f"published; `{PROG} doctor {run}` says why")
    evs = [e for e in view.embeddings if e.shape and len(e.shape) == 2]
    for e in [e for e in evs if e.shape[1] < 2]:
        note(f"tensor {e.name!r} has one column; the standalone Projector cannot show it, so it is left out")
    evs = [e for e in evs if e.shape[1] >= 2]
    if tensor is not None:
        if tensor not in [e.name for e in evs]:
            raise InputError(f"run {run!r} has no tensor {tensor!r}; tensors: {', '.join(e.name for e in evs)}")
        evs = sorted(evs, key=lambda e: e.name != tensor)
    else:  # as TensorBoard picks the tensor it opens on: a labelled one first
        evs = sorted(evs, key=lambda e: not e.metadata_path)
    if not evs:
        raise InputError(f"run {run!r} holds no tensor the Projector can show (2-D, 2 columns or more)")
    return [_plan_tensor(view, ev, run) for ev in evs]


def _plan_tensor(view, ev, run: str) -> PlannedTensor:
    from projector_tools.run.points import read_matrix

    try:
        matrix = read_matrix(view, ev)
    except Exception as exc:  # noqa: BLE001 - whatever a damaged checkpoint raises, one line
        raise SourceError(f"tensor {ev.name!r} of {run!r} cannot be read ({fsio.reason(exc)}); nothing was "
                          f"published; `{PROG} doctor {run}` says why") from None
    entry = _config_entry(view, ev.name)
    planned = PlannedTensor(name=ev.name, matrix=matrix)
    if ev.metadata_path:
        planned.metadata = fsio.read_bytes(_asset(view, ev.metadata_path, f"metadata file of tensor {ev.name!r}",
                                                  run), max_line=MAX_LINE_BYTES,
                                            max_lines=label_lines(matrix.shape[0]))
        rows = len(parse_projector_tsv(planned.metadata).rows)
        if rows != matrix.shape[0]:
            raise SourceError(f"tensor {ev.name!r} of {run!r} has {matrix.shape[0]} rows but its metadata "
                              f"{rows} labels; nothing was published; `{PROG} doctor --fix {run}` repairs it")
    if entry is not None:
        from projector_tools.run.config import sprite_of

        sprite = sprite_of(entry)
        if sprite is not None:
            planned.sprite_file = _asset(view, sprite.image_path, f"sprite of tensor {ev.name!r}", run)
            planned.sprite_dim = (sprite.width, sprite.height)
        if entry.bookmarks_path:
            planned.bookmarks_file = _asset(view, entry.bookmarks_path, f"bookmarks of tensor {ev.name!r}", run)
    return planned


def _config_entry(view, name: str):
    from projector_tools.run.view import canonical_tensor_name

    if view.config is None:
        return None
    return next((e for e in view.config.embeddings
                 if canonical_tensor_name(e.tensor_name) == canonical_tensor_name(name)), None)


def _asset(view, path: str, what: str, run: str) -> str:
    """A file the run's config names, checked: inside the logdir (``run.containment``),
    there, and a regular file (``budgets.require_regular``); else a one-line refusal."""
    from projector_tools.run.budgets import require_regular
    from projector_tools.run.containment import require_inside
    from projector_tools.run.view import resolve_asset

    full = require_inside(resolve_asset(view, path), view.logdir, what)
    if not fsio.exists(full):
        raise SourceError(f"the {what} ({full}) does not exist; nothing was published; "
                          f"re-export the run or run `{PROG} doctor {run}`")
    return require_regular(full, f"the {what}")


def tensorboard_assets() -> tuple[bytes, bytes, str]:
    """``(projector_binary.js, TensorBoard's license text, its version)`` from the installed package."""
    import importlib.metadata
    import os

    import tensorboard

    js = os.path.join(os.path.dirname(tensorboard.__file__), "plugins", "projector",
                      "tf_projector_plugin", "projector_binary.js")
    dist = importlib.metadata.distribution("tensorboard")
    licenses = [f for f in (dist.files or []) if os.path.basename(str(f)).upper().startswith("LICENSE")]
    if not fsio.exists(js) or not licenses:
        raise SourceError("the installed tensorboard package lacks projector_binary.js or its license; "
                          "reinstall it (pip install --force-reinstall tensorboard)")
    return fsio.read_bytes(js), fsio.read_bytes(str(dist.locate_file(licenses[0]))), dist.version


def float32_chunks(matrix: np.ndarray) -> Iterator[bytes]:
    """``matrix`` as raw little-endian float32, rows x dims, in chunks."""
    for start in range(0, matrix.shape[0], CHUNK_ROWS):
        yield np.ascontiguousarray(matrix[start:start + CHUNK_ROWS], dtype="<f4").tobytes()


def vector_tsv_chunks(matrix: np.ndarray) -> Iterator[bytes]:
    """``vectors.tsv``: one row per line, tab-separated, no header; ``%.9g`` gives
    each float32 back exactly."""
    for start in range(0, matrix.shape[0], CHUNK_ROWS):
        buf = io.BytesIO()
        np.savetxt(buf, np.asarray(matrix[start:start + CHUNK_ROWS], dtype=np.float32).astype(np.float64),
                   fmt="%.9g", delimiter="\t", newline="\n")
        yield buf.getvalue()


def tsv_labels(p: PlannedTensor) -> Metadata:
    """``metadata.tsv``'s labels: the run's, by the project's escaping rules
    (a header only with several columns); row ids for a tensor without labels."""
    if p.metadata is None:
        return Metadata({"id": range(p.matrix.shape[0])})
    parsed = parse_projector_tsv(p.metadata)
    return Metadata({name: [unescape_label(v or "") for v in parsed.column(name)] for name in parsed.columns})
