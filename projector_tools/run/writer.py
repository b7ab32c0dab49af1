"""Writing one export into a run, atomically: checkpoint, metadata, sprites, the switch-over.

:func:`write_run` takes validated matrices and labels (see
:func:`projector_tools.export.embeddings.prepare`) and writes::

    events.out.tfevents.*        so that `tensorboard --logdir <parent>` lists it
    projector_config.pbtxt       tensor names and relative metadata paths
    checkpoint                   state file, relative path to the latest export
    embeddings-<step>.index      a checkpoint of only the exported tensors,
    embeddings-<step>.data-*     keyed by readable names ("embedding")
    metadata-<tensor>-<hash>.tsv one per distinct label set, row-aligned
    sprite-<tensor>-<hash>.png   thumbnails, one per row (only with images=)
    bookmarks-<tensor>-<hash>.json  the tensor's named views (only with views=)

Every file is first written under a new name (the checkpoint under a new
step, metadata under its content hash), then the config and the
``checkpoint`` state file are switched over by atomic renames, and only
then are older exports removed. TensorBoard reads the config and the state
file independently, so when labels change the switch goes through a
transitional config without those labels (see :func:`write_run`): a reader
sees the previous export or the new one, at worst for a moment unlabelled,
never labels paired with another export's matrix.

One writer at a time: every write holds the run's lock
(:mod:`projector_tools.run.lock`). Pruning removes only this run's finished
exports that neither the new nor the previous config and state file name
(a reader that has just read the previous config can still open its
files until the next export) and that were written more than
:data:`~projector_tools.run.cleanup.RETAIN_RECENT_S` ago, plus temporary files and unfinished
checkpoints, which under the lock are either this writer's or stale.

    >>> import tempfile, numpy as np
    >>> from projector_tools.run.metadata import Metadata
    >>> run = tempfile.mkdtemp()
    >>> m = np.eye(3, dtype="float32")
    >>> result = write_run(run, {"embedding": m}, {"embedding": Metadata({"word": ["a", "b", "c"]})})
    >>> result.names, result.step
    (('embedding',), 1)
    >>> read_current_tensors(run)["embedding"].shape
    (3, 3)
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from projector_tools import fsio
from projector_tools.run.budgets import MAX_CONFIG_BYTES
from projector_tools.run.checkpoint import checkpoint_files, read_tensor, write_checkpoint
from projector_tools.errors import LogdirError
from projector_tools.run.metadata import Metadata
from projector_tools.run.content_files import write_metadata, write_sprite, write_views
from projector_tools.run.config import (
    CONFIG_FILENAME,
    SpriteRef,
    config_text,
)
from projector_tools.run.files import (
    STATE_FILENAME,
    child_runs,
    current_export,
    ensure_event_file,
    export_name,
    state_file_text,
)
from projector_tools.run.sprite import Sprite
from projector_tools.run.views import View, check_views
from projector_tools.run.lock import RunLock, run_lock
from projector_tools.run import cleanup as run_cleanup
from projector_tools.run.cleanup import cleanup, config_metadata_files, previous_prefixes, remove_checkpoint
from projector_tools.run.switch import (
    SWITCH_GRACE_S,
    file_size,
    old_names,
    switch,
    transitional_config,
)

__all__ = ["ExportResult", "ExportedTensor", "write_run", "read_current_tensors"]



@dataclass(frozen=True)
class ExportedTensor:
    """One tensor of an export: its name, shape and metadata file."""

    name: str
    shape: tuple[int, int]
    metadata_path: str | None
    metadata_rows: int | None
    sprite_path: str | None = None
    bookmarks_path: str | None = None


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_embeddings` wrote.

        >>> import tempfile
        >>> from projector_tools import export_embeddings
        >>> result = export_embeddings(np.ones((3, 2), "float32"), tempfile.mkdtemp())
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
                    "bookmarks_path": t.bookmarks_path,
                }
                for t in self.tensors
            ],
            "files": list(self.files),
        }


def read_current_tensors(run_dir: str) -> dict[str, np.ndarray]:
    """The tensors of the export now in ``run_dir`` (empty when none)."""
    rel, _ = current_export(run_dir)
    if rel is None:
        return {}
    from projector_tools.run.checkpoint import checkpoint_shapes

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
    views: Sequence[View] = (),
) -> ExportResult:
    """Write validated ``matrices``/``metas`` into run ``logdir``, atomically.

    The files of the export this one replaces stay on disk until the next
    export (a reader may have just read the old config); ``keep_previous``
    older exports also stay listed in the state file (a running
    TensorBoard may still be reading them); the rest are removed. Holds the
    run's lock (:func:`~projector_tools.run.lock.run_lock`) throughout,
    waiting up to ``lock_timeout`` seconds for another writer. ``sprites``
    (from :func:`~projector_tools.run.sprite.build_sprites`) are written like
    metadata: content-addressed, before the switch. ``views``
    (:class:`~projector_tools.run.views.View`) are checked against the
    tensors and their metadata before anything is written, then written as
    each tensor's bookmarks file, like metadata.

        Example::

            write_run("runs/demo", {"embedding": m}, {"embedding": Metadata({"id": range(len(m))})})
    """
    logdir = str(logdir)
    views = list(views or ())
    if views:  # before anything is written
        check_views(views, list(matrices), {n: {c: m.column(c) for c in m.names} for n, m in metas.items()})
    with run_lock(logdir, timeout=lock_timeout) as lock:
        return _write_run_locked(
            logdir, matrices, metas, lock, step=step, keep_previous=keep_previous, sprites=sprites,
            views=views,
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
    views: list[View],
) -> ExportResult:
    _refuse_parent_of_runs(logdir)
    old_rel, old_step = current_export(logdir)
    new_step = int(step) if step is not None else old_step + 1
    rel_prefix = _unique_prefix(logdir, new_step)

    ensure_event_file(logdir)

    prefix = fsio.join(logdir, rel_prefix)
    config_path = fsio.join(logdir, CONFIG_FILENAME)
    state_path = fsio.join(logdir, STATE_FILENAME)
    old_text = (fsio.read_bytes(config_path, limit=MAX_CONFIG_BYTES).decode("utf-8", "replace")
                if fsio.exists(config_path) else None)
    # what the previous config and state file name stays until the next export
    keep_meta = config_metadata_files(logdir)
    sizes = {config_path: file_size(config_path), state_path: file_size(state_path)}

    meta_names = _write_checkpoint_and_metadata(logdir, prefix, matrices, metas)
    sprite_refs = {
        name: SpriteRef(write_sprite(logdir, name, sp), *sp.thumb_size)
        for name, sp in (sprites or {}).items()
    }
    view_names = write_views(logdir, matrices, metas, views)
    keep_meta |= set(meta_names.values()) | {r.image_path for r in sprite_refs.values()}
    keep_meta |= set(view_names.values())

    # 3. the switch-over
    entries = [(name, meta_names.get(name), sprite_refs.get(name), view_names.get(name))
               for name in matrices]
    kept = previous_prefixes(logdir, old_rel, keep_previous)
    _switch_over(logdir, lock, entries, old_text, old_rel, kept + [rel_prefix], sizes)

    # 4. remove what neither this export nor the previous one (old_rel and the
    #    old config's metadata) uses. Under the lock, every other temporary or
    #    unfinished file is a leftover of a writer that no longer holds it.
    if lock.still_held():
        keep_prefixes = set(kept + [rel_prefix] + ([old_rel] if old_rel else []))
        cleanup(logdir, keep_prefixes=keep_prefixes, keep_files=keep_meta,
                 keep_recent_s=run_cleanup.RETAIN_RECENT_S)
    return _result(logdir, new_step, prefix, matrices, {name: len(meta) for name, meta in metas.items()},
                   meta_names, sprite_refs, view_names)


def _refuse_parent_of_runs(logdir: str) -> None:
    """An export into a directory holding other runs would show up in each of them."""
    kids = child_runs(logdir)
    if kids:
        raise LogdirError(
            f"{logdir!r} holds other runs ({', '.join(kids)}): TensorBoard would show "
            "this export's checkpoint, unlabelled, in each of them. Export into a run "
            f"directory of its own, e.g. {fsio.join(logdir, 'projector')!r}, or into "
            f"the run itself, e.g. {fsio.join(logdir, kids[0])!r}"
        )


def _write_checkpoint_and_metadata(logdir: str, prefix: str, matrices: Mapping[str, np.ndarray],
                                   metas: Mapping[str, Metadata]) -> dict[str, str]:
    """Steps 1 and 2 of an export; ``{tensor: metadata file name}``.

    1. the checkpoint, under a step no reader knows yet, in a thread (its
    writes release the GIL) while 2. the metadata is streamed through a
    hash into a temporary file and renamed to its content-addressed name
    (an unchanged label set keeps its file). On a failure the new
    checkpoint is removed.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        saving = pool.submit(write_checkpoint, prefix, matrices)
        try:
            meta_names = {name: write_metadata(logdir, name, meta) for name, meta in metas.items()}
        except BaseException:
            futures_wait([saving])
            remove_checkpoint(prefix)
            raise
        try:
            saving.result()
        except BaseException as exc:
            remove_checkpoint(prefix)
            if isinstance(exc, (fsio.errors().OpError, OSError)):
                raise LogdirError(
                    f"writing the checkpoint {prefix!r} failed: {fsio.reason(exc)}"
                ) from exc
            raise
    return meta_names


def _switch_over(logdir: str, lock: RunLock, entries: list, old_text: str | None, old_rel: str | None,
                 all_prefixes: list[str], sizes: dict[str, int]) -> None:
    """Step 3: point the config and the state file at the new export.

    TensorBoard reads the config and the state file independently, so no
    single rename can switch both. Every pair a reader can see is made
    consistent instead: when a tensor's labels change, a transitional
    config first drops its metadata (old checkpoint, no labels), then the
    state file moves to the new checkpoint (still no labels), then the new
    config names the new labels. A last rewrite of the state file (same
    checkpoint, "./" dropped from the path) makes a running TensorBoard,
    which re-reads configs only when the checkpoint path changes, load the
    new config. So a reader sees the old export, the new one, or for a
    moment one of them unlabelled - never labels paired with the wrong
    checkpoint. A reader that read the old config just before the
    transitional one gets SWITCH_GRACE_S to read the state file before it
    moves. Before anything moves, a failure removes the new checkpoint.
    """
    rel_prefix = all_prefixes[-1]
    prefix = fsio.join(logdir, rel_prefix)
    config_path = fsio.join(logdir, CONFIG_FILENAME)
    state_path = fsio.join(logdir, STATE_FILENAME)
    text = config_text(entries)
    steps: list[tuple[str, str]] = []  # (target, text), renamed in this order
    transitional = None
    if old_text != text and old_rel is not None:
        transitional = transitional_config(old_text, entries, set(old_names(logdir, old_rel)))
        steps.append((state_path, state_file_text("./" + rel_prefix, all_prefixes)))
    if old_text != text:
        steps.append((config_path, text))
    steps.append((state_path, state_file_text(rel_prefix, all_prefixes)))
    try:
        lock.check()  # taken over meanwhile (a lock from another host judged stale)?
        if transitional is not None and transitional != old_text:
            switch(logdir, [(config_path, transitional)], sizes)
            try:
                time.sleep(SWITCH_GRACE_S)
            except BaseException:  # interrupted: back to the previous export, labelled
                if old_text is not None:
                    switch(logdir, [(config_path, old_text)], sizes)
                raise
    except BaseException:
        remove_checkpoint(prefix)
        raise
    switch(logdir, steps, sizes)


def _result(logdir: str, step: int, prefix: str, matrices: Mapping[str, np.ndarray], meta_rows: dict[str, int],
            meta_names: dict[str, str], sprite_refs: dict[str, SpriteRef],
            view_names: dict[str, str]) -> ExportResult:
    """What the export wrote, every path in ``logdir``."""
    exported = tuple(
        ExportedTensor(
            name=name,
            shape=(int(m.shape[0]), int(m.shape[1])),
            metadata_path=fsio.join(logdir, meta_names[name]) if name in meta_names else None,
            metadata_rows=meta_rows.get(name),
            sprite_path=(fsio.join(logdir, sprite_refs[name].image_path)
                         if name in sprite_refs else None),
            bookmarks_path=fsio.join(logdir, view_names[name]) if name in view_names else None,
        )
        for name, m in matrices.items()
    )
    config_path = fsio.join(logdir, CONFIG_FILENAME)
    state_path = fsio.join(logdir, STATE_FILENAME)
    files = [config_path, state_path] + checkpoint_files(prefix)
    files += sorted({fsio.join(logdir, f) for f in meta_names.values()})
    files += sorted({fsio.join(logdir, r.image_path) for r in sprite_refs.values()})
    files += sorted(fsio.join(logdir, f) for f in view_names.values())
    return ExportResult(
        logdir=logdir,
        step=step,
        checkpoint_prefix=prefix,
        config_path=config_path,
        tensors=exported,
        files=tuple(files),
    )
