"""``doctor --fix``: repair what can be repaired without guessing.

Absolute paths become relative (state file, config), a config's
``model_checkpoint_path`` becomes a state file, a tensor name that matches
exactly one tensor is pointed at it, labels are rewritten aligned to the
tensor's rows (:mod:`~projector_tools.doctor.labels`), a directory with a
config but no event file gets one, and Keras' ``.weights.h5`` embeddings are
converted (:mod:`~projector_tools.doctor.keras_files`). Nothing outside the
logdir is read or copied, and a replaced file is kept as a backup
(:mod:`~projector_tools.doctor.backups`).

A run whose event file is gone gets an empty one (the package docstring
shows labels realigned to a vocabulary):

    >>> import glob, os, tempfile, numpy as np
    >>> from projector_tools import export_embeddings
    >>> logdir = tempfile.mkdtemp()
    >>> run = os.path.join(logdir, "run")
    >>> _ = export_embeddings(np.eye(2, dtype="float32"), run)
    >>> _ = [os.remove(p) for p in glob.glob(os.path.join(run, "events.out.tfevents.*"))]
    >>> actions, notes = fix(logdir)
    >>> print(*actions, sep="\\n")  # doctest: +ELLIPSIS
    added an empty event file to .../run so TensorBoard lists it
    >>> notes
    []
"""

from __future__ import annotations

import contextlib
import os

from projector_tools import fsio
from projector_tools.run.budgets import MAX_LINE_BYTES, label_lines
from projector_tools.sources.checkpoint_graph import readable_name
from projector_tools.doctor.backups import backup, move_aside
from projector_tools.doctor.checks import diagnose
from projector_tools.doctor.keras_files import convert_keras_h5, find_keras_h5
from projector_tools.doctor.labels import aligned_metadata, write_metadata_file
from projector_tools.doctor.report import Report
from projector_tools.run.containment import checkpoint_inside, inside_logdir
from projector_tools.run.lock import run_lock
from projector_tools.run.pair import state_file_paths
from projector_tools.run.reader import inspect_pairs, used_views
from projector_tools.run.view import (
    OPTIMIZER_SLOT,
    RunView,
    asset_outside_config_dir,
    canonical_tensor_name,
    resolve_asset,
)
from projector_tools.run.points import read_metadata
from projector_tools.run.metadata import Metadata
from projector_tools.run.files import STATE_FILENAME, ensure_event_file, state_file_text


def fix(logdir: str, vocab_path: str | None = None) -> tuple[list[str], list[str]]:
    """Repair ``logdir`` in place; return (what was done, what could not be).

    Never deletes a user's file: replaced files are kept as backups. Holds
    the lock of every run it found (:mod:`projector_tools.run.lock`) while it
    reads and rewrites, as every writer does, so an export into the same run
    waits for it (and it for the export).
    """
    from projector_tools.sources.dispatch import load_vocab

    vocab = load_vocab(vocab_path) if vocab_path else None
    actions: list[str] = []
    notes: list[str] = []
    runs = sorted({fsio.normpath(v.dir) for v in used_views(inspect_pairs(logdir)) if not v.outside})
    with contextlib.ExitStack() as held:  # every run's lock, in one order: what is read is what is fixed
        for run in runs:
            held.enter_context(run_lock(run))
        add_event_files(diagnose(logdir), actions)
        relative_state_files(logdir, actions, notes)
        views = used_views(inspect_pairs(logdir))
        for view in views:
            repair_view(view, views, vocab, actions, notes)
    return actions, notes


def add_event_files(report: Report, actions: list[str]) -> None:
    """An empty event file in every directory ``report`` found invisible."""
    for f in report.findings:
        if f.code == "invisible_run" and f.path:
            ensure_event_file(f.path)
            actions.append(f"added an empty event file to {f.path} so TensorBoard lists it")


def relative_state_files(logdir: str, actions: list[str], notes: list[str]) -> None:
    """Rewrite each state file a run uses with paths relative to it."""
    done_dirs: set[str] = set()
    for view in used_views(inspect_pairs(logdir)):
        for d in (view.dir, fsio.dirname(view.checkpoint or "") or view.dir):
            state = fsio.join(d, STATE_FILENAME)
            if d not in done_dirs and view.stays_inside(state) and fsio.exists(state):
                done_dirs.add(d)
                rewrite_state_file(d, logdir, actions, notes)


def repair_view(
    view: RunView, views: list[RunView], vocab: Metadata | None, actions: list[str],
    notes: list[str],
) -> None:
    """Repair one run: convert Keras' .weights.h5, or fix its config."""
    if view.config_error or (view.config_path and not view.stays_inside(view.config_path)):
        return
    if view.outside and not view.checkpoint and not view.config:
        return
    if not (view.config_path and not view.checkpoint):
        fix_config(view, vocab, actions, notes)
        return
    h5 = find_keras_h5(view)
    if not h5:
        return
    if not view.stays_inside(h5):
        notes.append(f"{h5} leads outside the logdir; not converted")
        return
    h5_dir = fsio.dirname(h5)
    present = [v for v in views if v.listed and v.checkpoint_source == "run"
               and fsio.normpath(v.dir) == fsio.normpath(h5_dir)]
    if present:
        # e.g. ProjectorCallback already exports beside Keras' callback:
        # keep that run, only set the unusable Keras config aside.
        aside = move_aside(view.config_path)
        actions.append(
            f"{h5_dir} already holds a loadable Projector run; moved the Keras "
            f"callback's {view.config_path} aside to {aside}"
        )
    else:
        convert_keras_h5(view, h5, vocab, actions, notes)


def rewrite_state_file(directory: str, logdir: str, actions: list[str], notes: list[str]) -> None:
    """Make the absolute paths of ``directory``'s state file relative, where
    they name a checkpoint inside the logdir (kept as it is otherwise)."""
    paths = state_file_paths(directory, logdir)
    if not paths or not any(fsio.is_absolute(p) for p in paths):
        return
    new = []
    for p in paths:
        if not fsio.is_absolute(p):
            new.append(p)
            continue
        rel = fsio.relpath(p, directory)
        here = fsio.join(directory, fsio.basename(p))
        if (inside_logdir(p, logdir) and checkpoint_inside(p, logdir)
                and fsio.gfile().glob(p + ".index") and not rel.startswith("..")):
            new.append(rel)
        elif checkpoint_inside(here, logdir) and fsio.gfile().glob(here + ".index"):
            new.append(fsio.basename(p))  # the logdir was copied: same file, here
        elif not inside_logdir(p, logdir):
            notes.append(
                f"the 'checkpoint' state file in {directory} names {p}, outside the logdir; "
                "not followed, not rewritten (copy that checkpoint into the run or re-export)"
            )
            return
        else:
            notes.append(
                f"the 'checkpoint' state file in {directory} names {p}, which is neither in "
                "that directory nor there; not rewritten"
            )
            return
    state = fsio.join(directory, STATE_FILENAME)
    saved = backup(state)
    latest = new[0]
    all_paths = list(dict.fromkeys(new[1:])) or [latest]
    fsio.atomic_write(state, state_file_text(latest, all_paths))
    actions.append(f"rewrote {state} with relative paths (backup: {saved})")


# --------------------------------------------------------------------------
# The config


def fix_config(view: RunView, vocab: Metadata | None, actions: list[str], notes: list[str]) -> None:
    """Repair the run's config: checkpoint path, tensor names, metadata paths and rows."""
    from google.protobuf import text_format

    config = view.config
    if config is None:
        return
    changed: list[str] = []
    _checkpoint_path_to_state_file(view, changed, actions, notes)
    _match_tensor_names(view, changed, notes)
    _fix_metadata(view, vocab, changed, notes)
    if changed:
        saved = backup(view.config_path)
        fsio.atomic_write(view.config_path, text_format.MessageToString(config, as_utf8=True))
        actions.append(
            f"rewrote {view.config_path} (backup: {saved}): " + "; ".join(changed)
        )


def _checkpoint_path_to_state_file(
    view: RunView, changed: list[str], actions: list[str], notes: list[str]
) -> None:
    """model_checkpoint_path -> a relative 'checkpoint' state file in the run."""
    config = view.config
    if not config.model_checkpoint_path:
        return
    ckpt = config.model_checkpoint_path
    # TensorBoard resolves a relative path against its working directory (local).
    cands = [ckpt] if fsio.is_absolute(ckpt) else [os.path.abspath(ckpt), resolve_asset(view, ckpt)]
    # Only a checkpoint inside the logdir is followed (a run is data).
    found = next((c for c in cands if checkpoint_inside(c, view.logdir)
                  and fsio.gfile().glob(c + ".index")), None)
    rel = fsio.relpath(found, view.dir) if found else None
    if rel is None or rel.startswith(".."):
        notes.append(
            f"run {view.name!r}: model_checkpoint_path {ckpt!r} is not a checkpoint inside "
            f"the run {view.dir}; copy it there or re-export with `projector-tools export`"
        )
        return
    state = fsio.join(view.dir, STATE_FILENAME)
    if fsio.exists(state):
        actions.append(f"kept a backup of {state} as {backup(state)}")
    fsio.atomic_write(state, state_file_text(rel, [rel]))
    config.model_checkpoint_path = ""
    changed.append(f"model_checkpoint_path replaced by the state file {state} -> {rel}")


def _match_tensor_names(view: RunView, changed: list[str], notes: list[str]) -> None:
    """A tensor_name that names no tensor, where exactly one 2-D tensor of the
    checkpoint is that object path under a prefix (model/..., or without the
    /.ATTRIBUTES/VARIABLE_VALUE suffix): point the entry at it."""
    two_d = [k for k, v in view.shapes.items() if len(v) == 2 and OPTIMIZER_SLOT not in k]
    for entry in view.config.embeddings:
        name = _entry_name(entry.tensor_name)
        if not name or entry.tensor_path or any(
            canonical_tensor_name(k) == canonical_tensor_name(name) for k in two_d
        ):
            continue
        hits = [k for k in two_d if k.endswith("/" + name)
                or readable_name(k) == readable_name(name)
                or readable_name(k).endswith("/" + readable_name(name))]
        if len(hits) == 1:
            entry.tensor_name = hits[0]
            changed.append(f"tensor_name {name!r} -> {hits[0]!r} (the only matching tensor)")
            for ev in view.embeddings:
                if ev.name == name:
                    ev.name = hits[0]
                    ev.shape = tuple(view.shapes[hits[0]])
        elif not hits:
            notes.append(
                f"run {view.name!r}: tensor_name {name!r} matches no tensor of the checkpoint; "
                "set it by hand to one of " + ", ".join(sorted(two_d))
            )


def _entry_name(tensor_name: str) -> str:
    return tensor_name[:-2] if tensor_name.endswith(":0") else tensor_name


def _fix_metadata(view: RunView, vocab: Metadata | None, changed: list[str], notes: list[str]) -> None:
    """Point each entry at labels inside the run, aligned to the tensor's rows."""
    rows_of = {canonical_tensor_name(e.name): e.rows for e in view.embeddings}
    done: dict[tuple[str, str], str | None] = {}  # a repeated entry is repaired once
    for entry in view.config.embeddings:
        mp = entry.metadata_path
        if not mp or not entry.tensor_name:
            continue
        name = _entry_name(entry.tensor_name)
        if (name, mp) not in done:
            done[(name, mp)] = _fixed_metadata_path(view, name, mp, rows_of.get(canonical_tensor_name(name)),
                                                    vocab, notes)
        new_rel = done[(name, mp)]
        if new_rel is not None and new_rel != mp:
            entry.metadata_path = new_rel
            changed.append(f"metadata of {name!r}: {mp} -> {new_rel}")


def _fixed_metadata_path(
    view: RunView, name: str, mp: str, rows: int | None, vocab: Metadata | None,
    notes: list[str],
) -> str | None:
    """The metadata path tensor ``name`` should have, or None to leave ``mp`` as it is."""
    ev = next((e for e in view.embeddings if e.name == name), None)
    path = resolve_asset(view, mp)
    if not view.stays_inside(path) and vocab is None:
        notes.append(
            f"run {view.name!r}, tensor {name!r}: metadata_path {mp!r} leads outside the "
            "logdir; nothing was read or copied from there (pass --vocab FILE to write "
            "labels from a file you name)"
        )
        return None
    if not view.stays_inside(path):
        raw = None  # labels come from --vocab, the file the user named
    else:
        raw = (fsio.read_bytes(path, max_line=MAX_LINE_BYTES, max_lines=label_lines(rows))
               if fsio.exists(path) else None)
    outside = asset_outside_config_dir(view, mp)
    parsed = read_metadata(view, ev) if (ev is not None and not outside and raw is not None) else None
    header_tab = parsed is not None and parsed.header is not None and all(
        len(r) == 1 for r in parsed.rows
    )
    wrong_rows = rows is not None and raw is not None and (
        parsed is None or len(parsed.rows) != rows
    )
    # --vocab labels a tensor that has no labels to keep here (no file, or one outside
    # the logdir, never read); labels that line up stay as they are, with all their
    # columns (a trained run's count and positivity are not the vocabulary's).
    needs_vocab = vocab is not None and bool(rows) and raw is None
    if not (outside or fsio.is_absolute(mp) or header_tab or wrong_rows or needs_vocab):
        return None
    if rows is None:
        if raw is not None and (outside or fsio.is_absolute(mp)):
            content: bytes | Metadata | None = raw
        else:
            return None
    else:
        content, how = aligned_metadata(raw, rows, vocab)
        if content is None:
            notes.append(f"run {view.name!r}, tensor {name!r}: metadata not rewritten: {how}")
            return None
    if isinstance(content, bytes) and not outside and fsio.is_absolute(mp):
        return fsio.relpath(path, view.config_dir)
    return write_metadata_file(view.config_dir, name, content)
