"""Removing what a run no longer needs: older exports, stale metadata, temporary files.

Pruning removes only this run's finished exports that neither the new nor
the previous config and state file name (a reader that has just read the
previous config can still open its files until the next export) and that
were written more than :data:`RETAIN_RECENT_S` ago, plus temporary files and
unfinished checkpoints, which under the run's lock are either this writer's
or stale.
"""

from __future__ import annotations

import re
import time

from projector_tools import fsio
from projector_tools.errors import LogdirError
from projector_tools.run.checkpoint import checkpoint_files
from projector_tools.run.files import (
    STATE_FILENAME,
    current_export,
    is_bookmarks_file,
    is_export_checkpoint_file,
    is_metadata_file,
    is_sprite_file,
    parse_export_name,
    read_state_file,
    state_file_text,
    state_listed,
)
from projector_tools.run.lock import run_lock
from projector_tools.run.switch import file_size, never_shorter, read_run_config

__all__ = ["RETAIN_RECENT_S", "prune_exports", "cleanup", "previous_prefixes",
           "config_metadata_files", "remove_checkpoint"]

# Besides the previous export, replaced files written less than this long ago
# stay: a reader stalled between reading the config (or state file) and
# opening what it names may be overtaken by several quick exports.
RETAIN_RECENT_S = 10.0


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
            fsio.atomic_write(state_path, never_shorter(text, file_size(state_path)))
        if lock.still_held():
            cleanup(run_dir, keep_prefixes={rel}, keep_files=config_metadata_files(run_dir))


def previous_prefixes(logdir: str, old_rel: str | None, keep: int) -> list[str]:
    if keep <= 0 or old_rel is None:
        return []
    try:
        text = read_state_file(logdir)
    except UnicodeDecodeError:
        return [old_rel]
    listed = state_listed(text or "") or [old_rel]
    listed = [m[0] for m in map(parse_export_name, listed) if m]
    listed = [p for p in listed if checkpoint_files(fsio.join(logdir, p))]
    return listed[-keep:]


def config_metadata_files(logdir: str) -> set[str]:
    from google.protobuf import text_format

    try:
        config = read_run_config(logdir)
    except (text_format.ParseError, UnicodeDecodeError, LogdirError):  # unparseable: not ours to keep
        return set()
    if config is None:
        return set()
    files = {e.metadata_path for e in config.embeddings if e.metadata_path}
    files |= {e.bookmarks_path for e in config.embeddings if e.bookmarks_path}
    return files | {e.sprite.image_path for e in config.embeddings if e.sprite.image_path}


def remove_checkpoint(prefix: str) -> None:
    for f in checkpoint_files(prefix):
        fsio.remove(f)


def cleanup(
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
        elif is_metadata_file(name) or is_sprite_file(name) or is_bookmarks_file(name):
            if name not in keep_files and not recent(path):
                fsio.remove(path)
        elif fsio.TMP_MARK in name:
            fsio.remove(path)
