"""Add full-data layouts (and a ``cluster`` column) to a run already exported.

    projector-tools layout RUN [--method umap|tsne|pca]... [--tensor NAME]... [--layout-max-rows N]

Reads the run's current tensors and metadata, computes each layout
(:mod:`projector_tools.analysis.layouts`) and writes the run again through the same
path as every export (:func:`~projector_tools.run.writer.write_run`, under the
run's lock, and only if no other export landed meanwhile): the
original tensors and their metadata files go back unchanged (same bytes,
same content-addressed file), the layout tensors ``<tensor>/<method>`` are
added beside them with a metadata file of their own: the tensor's columns
plus ``cluster``, and a view "<tensor>: UMAP by cluster" in the Projector's
Bookmarks panel (the run's other views are kept). A layout already there is replaced.

    >>> import os, tempfile, numpy as np
    >>> from projector_tools import export_embeddings
    >>> run = os.path.join(tempfile.mkdtemp(), "train")
    >>> _ = export_embeddings(np.random.default_rng(0).normal(size=(100, 8)), run)
    >>> result = add_layouts_to_run(run, ["umap"])
    >>> result.names
    ('embedding', 'embedding/umap')
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from projector_tools import fsio
from projector_tools.run.budgets import MAX_JSON_BYTES, MAX_LINE_BYTES, label_lines
from projector_tools.errors import InputError, LogdirError, SourceError
from projector_tools.run.metadata import Metadata, parse_projector_tsv, unescape_label


def read_run_metadata(run_dir: str, path: str, rows: int) -> Metadata:
    """The :class:`Metadata` a run's metadata file holds, exactly (it must read back byte for byte)."""
    from projector_tools.run.containment import require_inside

    full = require_inside(fsio.join(run_dir, path), run_dir, "metadata_path")
    raw = fsio.read_bytes(full, max_line=MAX_LINE_BYTES, max_lines=label_lines(rows)).decode("utf-8")
    parsed = parse_projector_tsv(raw)
    columns = parsed.columns
    if any(len(r) != len(columns) for r in parsed.rows) or len(parsed.rows) != rows:
        meta = None
    else:
        meta = Metadata({
            name: [unescape_label(r[i]) for r in parsed.rows] for i, name in enumerate(columns)
        })
    if meta is None or meta.to_tsv() != raw:
        raise InputError(
            f"metadata file {full!r} is not one projector_tools wrote ({len(parsed.rows)} rows "
            f"for {rows} tensor rows, or a format it would write differently); re-export the "
            "run with `projector-tools export SOURCE --logdir RUN --layout umap`"
        )
    return meta


def add_layouts_to_run(
    run_dir: str,
    methods: Sequence[str] = ("umap",),
    *,
    tensors: Sequence[str] | None = None,
    seed: int = 0,
    max_rows: int | None = None,
    stages: Any = None,
):
    """Write ``run_dir`` again with layouts of ``tensors`` (default: every non-layout tensor) added.

    ``stages`` (:class:`~projector_tools.analysis.stages.Stages`) records the
    time of each stage; by default each is said on stderr as it ends."""
    from projector_tools.export.embeddings import prepare
    from projector_tools.run.files import current_export
    from projector_tools.run.writer import write_run
    from projector_tools.analysis.layouts import (
        DEFAULT_MAX_ROWS, add_layouts, check_methods, is_layout_name, layout_views)
    from projector_tools.run.lock import run_lock

    methods = check_methods(methods)
    if not methods:
        raise InputError("name at least one --method (umap, tsne or pca)")
    run_dir = str(run_dir)
    rel = _exported(run_dir)
    _require_checkpoint_inside(run_dir, rel)
    current, paths, views = _current_tensors(run_dir)
    originals = {n: m for n, m in current.items() if not is_layout_name(n)}
    chosen = list(tensors) if tensors else list(originals)
    unknown = [n for n in chosen if n not in current]
    if unknown:
        raise InputError(f"run {run_dir!r} has no tensor {unknown[0]!r}; tensors are {list(current)}")
    metas = {n: read_run_metadata(run_dir, paths[n], current[n].shape[0])
             for n in current if n in paths}
    # layouts replaced by this call go; every other tensor goes back as it is
    replaced = {f"{n}/{m}" for n in chosen for m in methods}
    keep = {n: v for n, v in current.items() if n not in replaced}
    matrices, checked = prepare(keep, {n: m for n, m in metas.items() if n in keep},
                                allow_nonfinite=True)
    # prepare labels unlabelled tensors by id; a tensor that had no labels keeps none
    checked = {n: m for n, m in checked.items() if n in metas}
    id_labels = {n: Metadata({"id": range(current[n].shape[0])}) for n in chosen if n not in metas}
    matrices, checked = add_layouts(
        matrices, {**checked, **id_labels}, methods, names=chosen, seed=seed,
        max_rows=DEFAULT_MAX_ROWS if max_rows is None else max_rows, stages=stages,
    )
    for n in id_labels:
        checked.pop(n)
    views = [v for v in views if v.tensor in keep] + layout_views(sorted(replaced))
    # The layout took a while without holding the run's lock (other exports
    # may go on); write only if the export it was computed from is still the
    # run's current one, under the lock, so nothing newer is overwritten.
    with run_lock(run_dir):
        if current_export(run_dir)[0] != rel:
            raise LogdirError(
                f"{run_dir!r} was exported again while its layout was computed; run "
                "`projector-tools layout` again to lay out the new export"
            )
        return write_run(run_dir, matrices, checked, views=views)


def _require_checkpoint_inside(run_dir: str, rel: str) -> None:
    """Refuse a run whose checkpoint (state file entry or its files) leads outside it."""
    from projector_tools.errors import OutsideLogdirError
    from projector_tools.run.containment import checkpoint_inside

    if not checkpoint_inside(fsio.join(run_dir, rel), run_dir):
        raise OutsideLogdirError(
            f"the checkpoint {rel!r} of run {run_dir!r} leads outside the run (after resolving '..' "
            "and symlinks); a path read from a run is not followed outside it. Re-export the run")


def _exported(run_dir: str) -> str:
    """The current export of ``run_dir`` (its path in the run), or a :class:`LogdirError` saying what to do."""
    from projector_tools.run.files import child_runs, current_export

    if not fsio.isdir(run_dir):
        raise LogdirError(f"run {run_dir!r} does not exist; export one first with `projector-tools export`")
    rel, _step = current_export(run_dir)
    if rel is None:
        kids = child_runs(run_dir)
        hint = (f"it holds runs {', '.join(kids)}: name one, e.g. "
                f"{fsio.join(run_dir, kids[0])!r}") if kids else (
                "export one first with `projector-tools export SOURCE --logdir RUN --layout umap`")
        raise LogdirError(f"{run_dir!r} holds no projector_tools export; {hint}")
    return rel


def _current_tensors(run_dir: str) -> tuple[dict[str, Any], dict[str, str], list]:
    """``({tensor: matrix}, {tensor: metadata file}, [View])`` of the run's current export,
    tensors in the config's order (the checkpoint lists them in no useful order):
    the Projector opens the first tensor, neighbors and plot default to it."""
    from projector_tools.run.switch import read_run_config
    from projector_tools.run.writer import read_current_tensors

    config = read_run_config(run_dir)
    order = [e.tensor_name for e in config.embeddings] if config else []
    current = dict(sorted(read_current_tensors(run_dir).items(),
                          key=lambda item: order.index(item[0]) if item[0] in order else len(order)))
    embeddings = list(config.embeddings) if config else []
    paths = {e.tensor_name: e.metadata_path for e in embeddings if e.metadata_path}
    return current, paths, read_run_views(run_dir, embeddings)


def read_run_views(run_dir: str, embeddings) -> list:
    """The :class:`~projector_tools.run.views.View` items of the config's ``embeddings``'
    bookmarks files that this tool wrote (an unreadable one is left out)."""
    from projector_tools.run.containment import require_inside
    from projector_tools.run.views import views_from_bookmarks

    views = []
    for e in embeddings:
        if e.bookmarks_path:
            path = require_inside(fsio.join(run_dir, e.bookmarks_path), run_dir, "bookmarks_path")
            try:
                views += views_from_bookmarks(e.tensor_name,
                                              fsio.read_bytes(path, limit=MAX_JSON_BYTES).decode("utf-8"))
            except (ValueError, AttributeError, TypeError, SourceError, fsio.errors().OpError):
                continue  # not a views file this tool can read back: not kept
    return views


def configure_parser(parser: argparse.ArgumentParser) -> None:
    from projector_tools.analysis.layouts import DEFAULT_MAX_ROWS, METHODS

    parser.add_argument("run", help="run directory written by `projector-tools export`")
    parser.add_argument("--method", action="append", choices=METHODS, dest="methods",
                        help="layout to compute (repeatable; default umap)")
    parser.add_argument("--tensor", action="append", dest="tensors", metavar="NAME",
                        help="lay out this tensor (repeatable; default: every tensor)")
    parser.add_argument("--layout-max-rows", type=int, default=DEFAULT_MAX_ROWS, metavar="N",
                        help="fit on a sample of N rows and place the rest (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--json", action="store_true",
                        help="print the result as JSON, with each stage's wall and CPU seconds")


def run_cli(args: argparse.Namespace) -> int:
    if args.layout_max_rows is not None and args.layout_max_rows < 10:
        raise InputError("--layout-max-rows must be at least 10")
    import json

    from projector_tools.analysis.stages import Stages
    from projector_tools.process import voice

    stages = Stages(say=voice.say)
    result = add_layouts_to_run(args.run, args.methods or ["umap"], tensors=args.tensors,
                                seed=args.seed, max_rows=args.layout_max_rows, stages=stages)
    if getattr(args, "json", False):
        print(json.dumps({**result.to_dict(), "stages": stages.records,
                          "layout_wall_s": stages.total_wall_s()}, indent=2))
        return 0
    voice.say(f"layouts: {stages.total_wall_s():.1f} s in all")
    for t in result.tensors:
        print(f"{t.name} {t.shape[0]}x{t.shape[1]}")
    print(f"run: {result.logdir}")
    return 0


__all__ = ["add_layouts_to_run", "read_run_metadata"]
