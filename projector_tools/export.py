"""Export orchestration: matrices + labels -> a run the Projector loads.

A run directory written by :func:`export_embeddings` holds::

    events.out.tfevents.*        so that `tensorboard --logdir <parent>` lists it
    projector_config.pbtxt       tensor names and relative metadata paths
    checkpoint                   state file, relative path to the latest export
    embeddings-<step>.index      a checkpoint of only the exported tensors,
    embeddings-<step>.data-*     keyed by readable names ("embedding")
    metadata-<tensor>-<hash>.tsv one per distinct label set, row-aligned
    sprite-<tensor>-<hash>.png   thumbnails, one per row (only with images=)

Every file is first written under a new name (the checkpoint under a new
step, metadata under its content hash), then the config and the
``checkpoint`` state file are switched over by atomic renames, and only
then are older exports removed. TensorBoard reads the config and the state
file independently, so when labels change the switch goes through a
transitional config without those labels (see :func:`write_run`): a reader
sees the previous export or the new one, at worst for a moment unlabelled,
never labels paired with another export's matrix. Nothing is written
before every input has been validated.

One writer at a time: every write holds the run's lock
(:mod:`projector_tools.run_lock`). Pruning removes only this run's finished
exports that neither the new nor the previous config and state file name
(a reader that has just read the previous config can still open its
files until the next export) and that were written more than
:data:`RETAIN_RECENT_S` ago, plus temporary files and unfinished
checkpoints, which under the lock are either this writer's or stale.
"""

from __future__ import annotations

import hashlib
import re
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from projector_tools import fsio
from projector_tools.checkpoint import checkpoint_files, read_tensor, write_checkpoint
from projector_tools.errors import InputError, LogdirError, ShapeMismatchError, SourceError
from projector_tools.keras_layers import is_keras_model, layer_weights, select_embedding_layers
from projector_tools.matrix import as_matrix
from projector_tools.metadata import Metadata, as_metadata
from projector_tools.metadata_stream import tsv_chunks
from projector_tools.projector_config import (
    CONFIG_FILENAME,
    SpriteRef,
    config_text,
    parse_config,
    sprite_of,
)
from projector_tools.run_layout import (
    STATE_FILENAME,
    child_runs,
    current_export,
    ensure_event_file,
    export_name,
    is_export_checkpoint_file,
    is_metadata_file,
    is_sprite_file,
    metadata_filename,
    parse_export_name,
    sprite_filename,
    state_file_text,
    state_listed,
)
from projector_tools.sprite import Sprite, build_sprites
from projector_tools.run_lock import RunLock, run_lock

__all__ = ["ExportResult", "ExportedTensor", "export_embeddings", "DEFAULT_TENSOR_NAME"]

DEFAULT_TENSOR_NAME = "embedding"
# Pause between the transitional config and the state file's switch: a reader
# that read the old config just before must have read the state file (the
# old checkpoint) by then, so the old labels never meet the new checkpoint.
# 50 ms let 2 of 5,734 reads through mismatched with two test suites running
# on 2 cores (tests/test_concurrency.py); a reader stalled longer than this
# between its two reads can still pair them wrongly.
SWITCH_GRACE_S = 0.25
# Besides the previous export, replaced files written less than this long ago
# stay: a reader stalled between reading the config (or state file) and
# opening what it names may be overtaken by several quick exports.
RETAIN_RECENT_S = 10.0


@dataclass(frozen=True)
class ExportedTensor:
    """One tensor of an export: its name, shape and metadata file."""

    name: str
    shape: tuple[int, int]
    metadata_path: str | None
    metadata_rows: int | None
    sprite_path: str | None = None


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_embeddings` wrote.

        >>> result = export_embeddings(np.ones((3, 2), "float32"), "runs/demo")
        >>> result.names, result["embedding"].shape
        (('embedding',), (3, 2))
    """

    logdir: str
    step: int
    checkpoint_prefix: str
    config_path: str
    tensors: tuple[ExportedTensor, ...]
    files: tuple[str, ...] = field(default=())

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tensors)

    def __getitem__(self, name: str) -> ExportedTensor:
        for t in self.tensors:
            if t.name == name:
                return t
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "logdir": self.logdir,
            "step": self.step,
            "checkpoint_prefix": self.checkpoint_prefix,
            "config_path": self.config_path,
            "tensors": [
                {
                    "name": t.name,
                    "shape": list(t.shape),
                    "metadata_path": t.metadata_path,
                    "metadata_rows": t.metadata_rows,
                    "sprite_path": t.sprite_path,
                }
                for t in self.tensors
            ],
            "files": list(self.files),
        }


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
    seconds (default 30, see :mod:`projector_tools.run_lock`).

    ``layouts`` (``"umap"``, ``"tsne"``, ``"pca"``) adds, per tensor, a
    3-column layout of every row computed here (:mod:`projector_tools.layout`)
    as the tensor ``<tensor>/<method>``, labelled like the tensor plus a
    ``cluster`` column; above ``layout_max_rows`` rows (default
    :data:`~projector_tools.layout.DEFAULT_MAX_ROWS`) it is fitted on a sample.

        >>> from projector_tools import export_embeddings, subword_metadata
        >>> export_embeddings(model, "runs/imdb", metadata=subword_metadata(encoder))
        >>> # then: tensorboard --logdir runs

    Raises :class:`~projector_tools.errors.InputError` (bad arrays, labels,
    layer names) or :class:`~projector_tools.errors.LogdirError` before
    anything is written.
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
        from projector_tools.layout import DEFAULT_MAX_ROWS, add_layouts

        matrices, metas = add_layouts(
            matrices, metas, layouts,
            max_rows=DEFAULT_MAX_ROWS if layout_max_rows is None else layout_max_rows,
        )
    return write_run(logdir, matrices, metas, step=step, sprites=sprites, lock_timeout=lock_timeout)


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
    (see :mod:`projector_tools.lookup_labels`); prints its notes."""
    from projector_tools.lookup_labels import model_lookup_metadata
    from projector_tools.sources import note

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
) -> tuple[dict[str, np.ndarray], dict[str, Metadata]]:
    """Validate matrices and labels; apply the row selection to both.

    A tensor without labels gets its row ids as labels.
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
    return matrices, metas


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


# --------------------------------------------------------------------------
# Writing a run


def prune_exports(run_dir: str, *, lock_timeout: float | None = None) -> None:
    """Remove every export in ``run_dir`` but the current one (and stale temp files).

    Writers that keep an older export for a running TensorBoard
    (``write_run(..., keep_previous=1)``) call this when they are done.
    """
    with run_lock(run_dir, timeout=lock_timeout) as lock:
        rel, _ = current_export(run_dir)
        if rel is None:
            return
        state_path = fsio.join(run_dir, STATE_FILENAME)
        if len(state_listed(fsio.read_text(state_path))) > 1:
            text = state_file_text(rel, [rel])
            fsio.atomic_write(state_path, _never_shorter(text, _size(state_path)))
        if lock.still_held():
            _cleanup(run_dir, keep_prefixes={rel}, keep_files=_config_metadata_files(run_dir))


def read_current_tensors(run_dir: str) -> dict[str, np.ndarray]:
    """The tensors of the export now in ``run_dir`` (empty when none)."""
    rel, _ = current_export(run_dir)
    if rel is None:
        return {}
    from projector_tools.checkpoint import checkpoint_shapes

    prefix = fsio.join(run_dir, rel)
    return {name: read_tensor(prefix, name) for name in checkpoint_shapes(prefix)}


def _unique_prefix(run_dir: str, step: int) -> str:
    rel = export_name(step)
    k = 0
    while checkpoint_files(fsio.join(run_dir, rel)):
        k += 1
        rel = export_name(step, k)
    return rel


def write_run(
    logdir: str,
    matrices: Mapping[str, np.ndarray],
    metas: Mapping[str, Metadata],
    *,
    step: int | None = None,
    keep_previous: int = 0,
    lock_timeout: float | None = None,
    sprites: Mapping[str, Sprite] | None = None,
) -> ExportResult:
    """Write validated ``matrices``/``metas`` into run ``logdir``, atomically.

    The files of the export this one replaces stay on disk until the next
    export (a reader may have just read the old config); ``keep_previous``
    older exports also stay listed in the state file (a running
    TensorBoard may still be reading them); the rest are removed. Holds the
    run's lock (:func:`~projector_tools.run_lock.run_lock`) throughout,
    waiting up to ``lock_timeout`` seconds for another writer. ``sprites``
    (from :func:`~projector_tools.sprite.build_sprites`) are written like
    metadata: content-addressed, before the switch.

        >>> write_run("runs/demo", {"embedding": m}, {"embedding": Metadata({"id": range(len(m))})})
    """
    logdir = str(logdir)
    with run_lock(logdir, timeout=lock_timeout) as lock:
        return _write_run_locked(
            logdir, matrices, metas, lock, step=step, keep_previous=keep_previous, sprites=sprites
        )


def _write_run_locked(
    logdir: str,
    matrices: Mapping[str, np.ndarray],
    metas: Mapping[str, Metadata],
    lock: RunLock,
    *,
    step: int | None,
    keep_previous: int,
    sprites: Mapping[str, Sprite] | None,
) -> ExportResult:
    kids = child_runs(logdir)
    if kids:
        raise LogdirError(
            f"{logdir!r} holds other runs ({', '.join(kids)}): TensorBoard would show "
            "this export's checkpoint, unlabelled, in each of them. Export into a run "
            f"directory of its own, e.g. {fsio.join(logdir, 'projector')!r}, or into "
            f"the run itself, e.g. {fsio.join(logdir, kids[0])!r}"
        )
    old_rel, old_step = current_export(logdir)
    new_step = int(step) if step is not None else old_step + 1
    rel_prefix = _unique_prefix(logdir, new_step)

    ensure_event_file(logdir)

    # The switch-over. TensorBoard reads the config and the state file
    # independently, so no single rename can switch both. Every pair a reader
    # can see is made consistent instead: when a tensor's labels change, a
    # transitional config first drops its metadata (old checkpoint, no
    # labels), then the state file moves to the new checkpoint (still no
    # labels), then the new config names the new labels. A last rewrite of
    # the state file (same checkpoint, "./" dropped from the path) makes a
    # running TensorBoard, which re-reads configs only when the checkpoint
    # path changes, load the new config. So a reader sees the old export, the
    # new one, or for a moment one of them unlabelled - never labels paired
    # with the wrong checkpoint. A reader that read the old config just
    # before the transitional one gets SWITCH_GRACE_S to read the state file
    # before it moves.
    meta_rows = {name: len(meta) for name, meta in metas.items()}
    prefix = fsio.join(logdir, rel_prefix)
    config_path = fsio.join(logdir, CONFIG_FILENAME)
    state_path = fsio.join(logdir, STATE_FILENAME)
    old_text = fsio.read_text(config_path) if fsio.exists(config_path) else None
    # what the previous config and state file name stays until the next export
    keep_meta = _config_metadata_files(logdir)
    sizes = {config_path: _size(config_path), state_path: _size(state_path)}

    # 1. the checkpoint, under a step no reader knows yet, in a thread (its
    #    writes release the GIL) while 2. the metadata is streamed through a
    #    hash into a temporary file and renamed to its content-addressed name
    #    (an unchanged label set keeps its file).
    with ThreadPoolExecutor(max_workers=1) as pool:
        saving = pool.submit(write_checkpoint, prefix, matrices)
        try:
            meta_names = {name: _write_metadata(logdir, name, meta) for name, meta in metas.items()}
        except BaseException:
            futures_wait([saving])
            _remove_checkpoint(prefix)
            raise
        try:
            saving.result()
        except BaseException as exc:
            _remove_checkpoint(prefix)
            if isinstance(exc, (fsio.errors().OpError, OSError)):
                raise LogdirError(
                    f"writing the checkpoint {prefix!r} failed: {fsio.reason(exc)}"
                ) from exc
            raise
    sprite_refs = {
        name: SpriteRef(_write_sprite(logdir, name, sp), *sp.thumb_size)
        for name, sp in (sprites or {}).items()
    }
    keep_meta |= set(meta_names.values()) | {r.image_path for r in sprite_refs.values()}

    # 3. the switch-over
    entries = [(name, meta_names.get(name), sprite_refs.get(name)) for name in matrices]
    text = config_text(entries)
    kept = _previous_prefixes(logdir, old_rel, keep_previous)
    all_prefixes = kept + [rel_prefix]
    steps: list[tuple[str, str]] = []  # (target, text), renamed in this order
    transitional = None
    if old_text != text and old_rel is not None:
        transitional = _transitional_config(old_text, entries, set(_old_names(logdir, old_rel)))
        steps.append((state_path, state_file_text("./" + rel_prefix, all_prefixes)))
    if old_text != text:
        steps.append((config_path, text))
    steps.append((state_path, state_file_text(rel_prefix, all_prefixes)))
    try:
        lock.check()  # taken over meanwhile (a lock from another host judged stale)?
        if transitional is not None and transitional != old_text:
            _switch(logdir, [(config_path, transitional)], sizes)
            try:
                time.sleep(SWITCH_GRACE_S)
            except BaseException:  # interrupted: back to the previous export, labelled
                if old_text is not None:
                    _switch(logdir, [(config_path, old_text)], sizes)
                raise
    except BaseException:
        _remove_checkpoint(prefix)
        raise
    _switch(logdir, steps, sizes)

    # 4. remove what neither this export nor the previous one (old_rel and the
    #    old config's metadata) uses. Under the lock, every other temporary or
    #    unfinished file is a leftover of a writer that no longer holds it.
    if lock.still_held():
        keep_prefixes = set(kept + [rel_prefix] + ([old_rel] if old_rel else []))
        _cleanup(logdir, keep_prefixes=keep_prefixes, keep_files=keep_meta,
                 keep_recent_s=RETAIN_RECENT_S)

    exported = tuple(
        ExportedTensor(
            name=name,
            shape=(int(m.shape[0]), int(m.shape[1])),
            metadata_path=fsio.join(logdir, meta_names[name]) if name in meta_names else None,
            metadata_rows=meta_rows.get(name),
            sprite_path=(fsio.join(logdir, sprite_refs[name].image_path)
                         if name in sprite_refs else None),
        )
        for name, m in matrices.items()
    )
    files = [config_path, state_path] + checkpoint_files(prefix)
    files += sorted({fsio.join(logdir, f) for f in meta_names.values()})
    files += sorted({fsio.join(logdir, r.image_path) for r in sprite_refs.values()})
    return ExportResult(
        logdir=logdir,
        step=new_step,
        checkpoint_prefix=prefix,
        config_path=config_path,
        tensors=exported,
        files=tuple(files),
    )


def _old_names(logdir: str, old_rel: str) -> list[str]:
    from projector_tools.checkpoint import checkpoint_shapes

    try:
        return list(checkpoint_shapes(fsio.join(logdir, old_rel)))
    except SourceError:  # an unreadable old export: nothing to keep
        return []


def _transitional_config(
    old_text: str | None, entries: list[tuple[str, str | None, SpriteRef | None]],
    old_names: set[str],
) -> str:
    """The config that is consistent with both the old and the new checkpoint.

    Tensors in both exports keep their metadata only where it is the very
    same file in the old config (same labels, hence same rows); the others
    are listed without metadata. Tensors only in one export are left out
    (TensorBoard lists checkpoint tensors missing from the config unlabelled).
    Sprites follow the same rule as metadata (one image per row).
    """
    old_meta: dict[str, str] = {}
    old_sprite: dict[str, SpriteRef | None] = {}
    if old_text:
        from google.protobuf import text_format

        try:
            parsed = parse_config(old_text).embeddings
            old_meta = {e.tensor_name: e.metadata_path for e in parsed}
            old_sprite = {e.tensor_name: sprite_of(e) for e in parsed}
        except text_format.ParseError:  # a config edited by hand: keep no labels
            old_meta, old_sprite = {}, {}
    kept = []
    for name, path, sprite in entries:
        if name in old_names:
            same_meta = path if path and old_meta.get(name) == path else None
            same_sprite = sprite if sprite is not None and old_sprite.get(name) == sprite else None
            kept.append((name, same_meta, same_sprite))
    return config_text(kept)


def _switch(logdir: str, steps: list[tuple[str, str]], sizes: dict[str, int]) -> None:
    """Write each ``(target, text)`` to a temporary file, then rename them in order.

    A file never gets shorter than the one it replaces: TensorFlow's
    ``GFile.read()`` (how TensorBoard reads both files) opens the file, then
    takes the length to read from a stat *by name*, so a shorter file renamed
    in between would cut the old content short (measured: a truncated state
    file, "Checkpoint ignored"). Trailing spaces keep the length; the text
    format ignores them. ``sizes`` tracks the current length of each target.
    """
    tmps = []
    planned = dict(sizes)
    try:
        for target, body in steps:
            data = _never_shorter(body, planned[target])
            planned[target] = len(data)  # the next step's file follows this one
            tmps.append((_write_tmp(target, data), target, len(data)))
        for tmp, target, size in tmps:
            fsio.rename(tmp, target)
            sizes[target] = size
    except fsio.errors().OpError as exc:
        for tmp, _, _ in tmps:
            fsio.remove(tmp)
        raise LogdirError(
            f"switching {logdir!r} to the new export failed: {fsio.reason(exc)}"
        ) from exc


def _write_tmp(path: str, data: bytes) -> str:
    tmp = fsio.tmp_name(path)
    with fsio.open_stream(tmp) as out:
        out.write(data)
    return tmp


def _size(path: str) -> int:
    try:
        return int(fsio.gfile().stat(path).length)
    except fsio.errors().NotFoundError:
        return 0


def _never_shorter(text: str, size: int) -> bytes:
    """``text`` as UTF-8, padded with spaces on its last line to ``size`` bytes."""
    data = text.encode("utf-8")
    if len(data) >= size:
        return data
    return data[:-1] + b" " * (size - len(data)) + data[-1:]


def _write_metadata(logdir: str, name: str, meta: Metadata) -> str:
    """Write ``meta`` as ``metadata-<tensor>-<hash>.tsv`` in ``logdir``; return the name.

    The TSV is streamed (never held whole in memory) into a temporary file
    while being hashed; the file is then renamed to its content-addressed
    name, or dropped when a file with the same content already exists.
    """
    path_tmp = fsio.tmp_name(fsio.join(logdir, "metadata"))
    digest = hashlib.sha1()
    try:
        with fsio.open_stream(path_tmp) as out:
            for chunk in tsv_chunks(meta):
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        fsio.remove(path_tmp)
        raise
    short = digest.hexdigest()[:12]
    same = [n for n in fsio.listdir(logdir) if is_metadata_file(n, short)]
    if same:
        fsio.remove(path_tmp)
        return same[0]
    fname = metadata_filename(name, short)
    fsio.rename(path_tmp, fsio.join(logdir, fname))
    return fname


def _write_sprite(logdir: str, name: str, sprite: Sprite) -> str:
    """Write ``sprite`` as ``sprite-<tensor>-<hash>.png`` in ``logdir``; return the name.

    Content-addressed like metadata: a temporary file renamed to its hash
    name (an unchanged sprite keeps its file), before the switch-over.
    """
    short = hashlib.sha1(sprite.png).hexdigest()[:12]
    fname = sprite_filename(name, short)
    path = fsio.join(logdir, fname)
    if not fsio.exists(path):
        tmp = fsio.tmp_name(path)
        try:
            with fsio.open_stream(tmp) as out:
                out.write(sprite.png)
        except Exception:
            fsio.remove(tmp)
            raise
        fsio.rename(tmp, path)
    return fname


def _previous_prefixes(logdir: str, old_rel: str | None, keep: int) -> list[str]:
    if keep <= 0 or old_rel is None:
        return []
    try:
        text = fsio.read_text(fsio.join(logdir, STATE_FILENAME))
    except (fsio.errors().NotFoundError, UnicodeDecodeError):
        return [old_rel]
    listed = state_listed(text) or [old_rel]
    listed = [m[0] for m in map(parse_export_name, listed) if m]
    listed = [p for p in listed if checkpoint_files(fsio.join(logdir, p))]
    return listed[-keep:]


def _config_metadata_files(logdir: str) -> set[str]:
    from google.protobuf import text_format

    try:
        config = read_run_config(logdir)
    except (text_format.ParseError, UnicodeDecodeError):  # not ours to keep
        return set()
    if config is None:
        return set()
    files = {e.metadata_path for e in config.embeddings if e.metadata_path}
    return files | {e.sprite.image_path for e in config.embeddings if e.sprite.image_path}


def _remove_checkpoint(prefix: str) -> None:
    for f in checkpoint_files(prefix):
        fsio.remove(f)


def _cleanup(
    logdir: str, *, keep_prefixes: set[str], keep_files: set[str], keep_recent_s: float = 0.0
) -> None:
    """Remove finished checkpoints not in ``keep_prefixes`` and metadata files
    not in ``keep_files`` unless written less than ``keep_recent_s`` ago, and
    every unfinished checkpoint and temporary file. Call it only while
    holding the run's lock: every temporary or unfinished file is then this
    writer's or stale (left by a writer that no longer holds the lock)."""
    now = time.time()

    def recent(path: str) -> bool:
        if keep_recent_s <= 0:
            return False
        try:
            return now - fsio.gfile().stat(path).mtime_nsec / 1e9 < keep_recent_s
        except fsio.errors().NotFoundError:
            return False

    recent_stems: dict[str, bool] = {}
    for name in fsio.listdir(logdir):
        path = fsio.join(logdir, name)
        if is_export_checkpoint_file(name):
            stem = name.split(".", 1)[0]
            intact = (name.endswith(".index") or re.search(r"\.data-\d+-of-\d+$", name)) and (
                "tempstate" not in name and fsio.TMP_MARK not in name
            )
            if intact and stem in keep_prefixes:
                continue
            if intact:  # a finished export's file: judged by its .index, written last
                if stem not in recent_stems:
                    recent_stems[stem] = recent(fsio.join(logdir, stem + ".index"))
                if recent_stems[stem]:
                    continue
            fsio.remove(path)
        elif is_metadata_file(name) or is_sprite_file(name):
            if name not in keep_files and not recent(path):
                fsio.remove(path)
        elif fsio.TMP_MARK in name:
            fsio.remove(path)


def read_run_config(run_dir: str):
    """The parsed ``projector_config.pbtxt`` of ``run_dir`` (or None)."""
    path = fsio.join(run_dir, CONFIG_FILENAME)
    if not fsio.exists(path):
        return None
    return parse_config(fsio.read_text(path))
