"""The checks of a listed run's tensors: in the checkpoint, labelled, finite, alone.

For each entry of the run's tensor drop-down: does it load, do its labels
(metadata) exist, stay where TensorBoard accepts them and count one row per
point as the browser counts them, is the matrix finite; and for the run:
which 2-D tensors that are not embeddings clutter the drop-down.
"""

from __future__ import annotations

import numpy as np

from projector_tools import fsio
from projector_tools.run.budgets import MAX_LINE_BYTES, label_lines
from projector_tools.doctor.report import ERROR, INFO, WARNING, Report, TensorSummary
from projector_tools.run.view import (
    OPTIMIZER_SLOT,
    EmbeddingView,
    RunView,
    asset_outside_config_dir,
    resolve_asset,
)
from projector_tools.run.points import read_matrix
from projector_tools.run.metadata import ParsedTSV, is_skipped_line, parse_projector_tsv


def check_tensors(report: Report, view: RunView) -> None:
    """Check every tensor of the listed run ``view``; add a summary of each."""
    candidates = {
        k: s for k, s in view.shapes.items() if len(s) == 2 and OPTIMIZER_SLOT not in k
    }
    seen: dict[tuple, int] = {}
    for ev in view.embeddings:
        key = (ev.name, ev.metadata_path, ev.tensor_path, ev.from_config)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:  # the same entry again: one check, one summary (linear in distinct entries)
            continue
        loads = _check_in_checkpoint(report, view, ev, candidates)
        meta_rows = _check_metadata(report, view, ev)
        loads = _check_matrix(report, view, ev) and loads
        _check_row_limit(report, view, ev)
        report.tensors.append(
            TensorSummary(
                run=view.name, name=ev.name, shape=list(ev.shape) if ev.shape else None,
                metadata_path=ev.metadata_path, metadata_rows=meta_rows, loads=loads,
            )
        )
    _check_clutter(report, view)
    _report_repeats(report, view, seen)


def _report_repeats(report: Report, view: RunView, seen: dict[tuple, int]) -> None:
    """One warning per config entry listed more than once (each was checked once)."""
    for (name, _meta, _path, _cfg), n in seen.items():
        if n > 1:
            report.add(
                WARNING, "repeated_entry",
                f"run {view.name!r}: the config lists tensor {name!r} {n:,} times with the same "
                "files (a repeated entry is noise to the Projector); doctor checked it once",
                fix="keep one entry per tensor (`projector-tools doctor --fix` leaves this to you; "
                "re-exporting writes one)", run=view.name, tensor=name, details={"times": n},
            )


def _check_in_checkpoint(
    report: Report, view: RunView, ev: EmbeddingView, candidates: dict[str, list[int]]
) -> bool:
    """False when the config names a tensor the checkpoint lacks (reported when it is readable)."""
    if not ev.from_config or ev.in_checkpoint or ev.tensor_path:
        return True
    if view.checkpoint_error:
        return False
    cands = ", ".join(f"{k} {v}" for k, v in sorted(candidates.items())) or "none"
    report.add(
        ERROR, "tensor_not_in_checkpoint",
        f"run {view.name!r}: the config names tensor {ev.name!r}, which is not in the "
        f"checkpoint {view.checkpoint}; the drop-down shows it but it cannot load, "
        "and its labels are attached to nothing. 2-D tensors in the checkpoint: "
        f"{cands}",
        fix="set tensor_name to one of those (exactly, object paths included), or "
        "re-export with `projector-tools export CHECKPOINT --layer NAME`",
        run=view.name, tensor=ev.name, details={"candidates": sorted(candidates)},
    )
    return False


def _check_metadata(report: Report, view: RunView, ev: EmbeddingView) -> int | None:
    """Check ``ev``'s labels; return their row count as the browser counts them."""
    run = view.name
    if not ev.metadata_path:
        if ev.rows is not None and view.checkpoint_source != "parent":
            report.add(
                INFO, "no_labels",
                f"run {run!r}, tensor {ev.name!r}: no metadata, the Projector labels "
                "points by their index", run=run, tensor=ev.name,
            )
        return None
    mp = ev.metadata_path
    resolved = resolve_asset(view, mp)
    if not view.stays_inside(resolved):
        return None  # reported as outside_logdir, not read
    outside = asset_outside_config_dir(view, mp)
    _check_metadata_location(report, view, ev, outside)
    if not fsio.exists(resolved):
        report.add(
            ERROR, "metadata_missing",
            f"run {run!r}, tensor {ev.name!r}: metadata file {resolved} does not "
            "exist; the Projector shows no labels",
            fix="write the labels there, one per row (export_embeddings(..., "
            "metadata=labels) does it)", run=run, tensor=ev.name,
        )
        return None
    if outside:
        return None
    raw = fsio.read_bytes(resolved, max_line=MAX_LINE_BYTES, max_lines=label_lines(ev.rows))
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        report.add(
            WARNING, "metadata_not_utf8",
            f"run {run!r}, tensor {ev.name!r}: {resolved} is not valid UTF-8; "
            "the browser shows replacement characters in labels",
            fix="write labels as UTF-8 (escape_label does it)", run=run,
            tensor=ev.name,
        )
    parsed = parse_projector_tsv(raw)
    check_metadata_rows(report, view, ev, raw, parsed)
    return len(parsed.rows)


def _check_metadata_location(report: Report, view: RunView, ev: EmbeddingView, outside: bool) -> None:
    """A metadata path TensorBoard refuses (outside the config's dir) or that breaks on copy."""
    mp = ev.metadata_path or ""
    if outside:
        report.add(
            ERROR, "metadata_outside",
            f"run {view.name!r}, tensor {ev.name!r}: metadata_path {mp!r} resolves outside "
            f"the config's directory {view.config_dir}, which TensorBoard refuses "
            "(\"resolves outside the config directory\"): no labels",
            fix="`projector-tools doctor --fix` copies the file into the run and "
            "points the config at it with a relative path",
            run=view.name, tensor=ev.name, path=view.config_path,
        )
    elif fsio.is_absolute(mp):
        report.add(
            WARNING, "absolute_path",
            f"run {view.name!r}, tensor {ev.name!r}: metadata_path {mp!r} is absolute; it "
            "breaks as soon as the logdir is copied elsewhere",
            fix="`projector-tools doctor --fix` rewrites it relative to the config",
            run=view.name, tensor=ev.name, path=view.config_path,
        )


def _check_matrix(report: Report, view: RunView, ev: EmbeddingView) -> bool:
    """False when ``ev``'s values cannot be read; NaN/Inf values are reported."""
    if ev.tensor_path and not view.stays_inside(resolve_asset(view, ev.tensor_path)):
        return False  # reported as outside_logdir, not read
    if ev.shape is None or not (ev.in_checkpoint or ev.tensor_path):
        return True
    try:
        matrix = read_matrix(view, ev)
    # Whatever a damaged checkpoint or tensor file raises (SourceError,
    # tf.errors.OpError, ValueError from a wrong size...) is reported, not raised.
    except Exception as exc:  # noqa: BLE001
        report.add(
            ERROR, "tensor_unreadable",
            f"run {view.name!r}, tensor {ev.name!r} cannot be read: {exc}",
            fix="re-export the embeddings", run=view.name, tensor=ev.name,
        )
        return False
    bad = ~np.isfinite(matrix)
    if bad.any():
        n_rows = int(bad.any(axis=1).sum()) if matrix.ndim == 2 else int(bad.sum())
        report.add(
            ERROR, "nonfinite",
            f"run {view.name!r}, tensor {ev.name!r}: {int(bad.sum())} NaN/Inf values in "
            f"{n_rows} rows; the Projector's PCA and t-SNE turn every point into "
            "NaN and the view stays empty",
            fix="fix training (learning rate, clipping) or drop those rows "
            "before exporting", run=view.name, tensor=ev.name,
            details={"rows": n_rows},
        )
    return True


def _check_row_limit(report: Report, view: RunView, ev: EmbeddingView) -> None:
    """A tensor of more rows than TensorBoard's Projector asks for (a viewer limit, not a fault)."""
    from projector_tools.process.voice import PROG
    from projector_tools.run.limits import TENSORBOARD_NUM_ROWS, rows_dropped

    dropped = rows_dropped(ev.rows or 0)
    if not dropped:
        return
    report.add(
        WARNING, "tensorboard_row_limit",
        f"run {view.name!r}, tensor {ev.name!r} has {ev.rows:,} rows; TensorBoard's Projector "
        f"shows only the first {TENSORBOARD_NUM_ROWS:,} and drops {dropped:,} of {ev.rows:,} "
        "(its limit num_rows=100000)",
        fix=f"choose the rows TensorBoard shows (--max-rows, rows=/max_rows=), or see them all: "
        f"`{PROG} publish {view.dir} --out SITE`",
        run=view.name, tensor=ev.name, viewer_limit=True,
        details={"rows": ev.rows, "shown": TENSORBOARD_NUM_ROWS, "dropped": dropped},
    )


def _check_clutter(report: Report, view: RunView) -> None:
    """2-D tensors in the drop-down that are not embeddings."""
    named = [e for e in view.embeddings if e.from_config and e.name]
    listed = [e for e in view.embeddings if e.in_checkpoint]
    if named:
        clutter = [e.name for e in listed if not e.from_config]
    elif len(listed) > 1:
        clutter = [e.name for e in listed if "embedding" not in e.name.lower()]
    else:
        clutter = []
    if clutter:
        report.add(
            WARNING, "clutter",
            f"run {view.name!r}: the tensor drop-down also lists {len(clutter)} 2-D tensors that "
            "are not embeddings (every 2-D tensor of a checkpoint is shown, dense kernels "
            "and optimizer variables included): "
            + ", ".join(f"{n} {view.shapes.get(n)}" for n in clutter[:12])
            + (" ..." if len(clutter) > 12 else ""),
            fix="export only the embedding into its own run: `projector-tools export "
            f"{view.checkpoint} --logdir NEWRUN --layer NAME`",
            run=view.name, details={"tensors": clutter},
        )


def check_metadata_rows(
    report: Report, view: RunView, ev: EmbeddingView, raw: bytes, parsed: ParsedTSV
) -> None:
    """A one-column header eaten by a tab, and the row count against the tensor's rows."""
    run = view.name
    rows = ev.rows
    text = raw.decode("utf-8", "replace")
    lines = fsio.split_lines(text)
    skipped = sum(1 for ln in lines if is_skipped_line(ln))
    one_column_data = parsed.header is not None and all(len(r) == 1 for r in parsed.rows)
    if parsed.header is not None and one_column_data and parsed.rows:
        report.add(
            ERROR, "metadata_header_tab",
            f"run {run!r}, tensor {ev.name!r}: the first line of one-column metadata "
            f"{ev.metadata_path!r} holds a tab, so the browser takes it as a header of "
            "column names and drops it from the labels",
            fix="`projector-tools doctor --fix` rewrites the metadata with tabs escaped",
            run=run, tensor=ev.name,
        )
    if rows is None or len(parsed.rows) == rows:
        return
    detail = []
    if parsed.header is not None:
        detail.append("1 header line")
    if skipped:
        detail.append(f"{skipped} empty or whitespace-only lines skipped")
    hint = ""
    diff = rows - len(parsed.rows)
    if diff in (256, 257):
        hint = (
            " This is the TensorBoard demo's subword metadata (encoder.subwords only): a "
            "SubwordTextEncoder has vocab_size = subwords + 257 rows (padding and 256 bytes)."
        )
    report.add(
        ERROR, "metadata_rows",
        f"run {run!r}, tensor {ev.name!r}: the tensor has {rows} rows but the browser counts "
        f"{len(parsed.rows)} data rows in metadata {ev.metadata_path!r} ({len(lines)} lines"
        + (", " + ", ".join(detail) if detail else "")
        + "), so the Projector says \"Number of tensors "
        f"({rows}) do not match the number of lines in metadata ({len(parsed.rows)})\" and "
        "labels are wrong or absent." + hint,
        fix="`projector-tools doctor --fix --vocab VOCAB_FILE` rewrites the metadata from the "
        "vocabulary the model was trained with (for a SubwordTextEncoder, its .subwords "
        "file); without --vocab it only repairs files that have one raw line per row",
        run=run, tensor=ev.name,
        details={"tensor_rows": rows, "metadata_rows": len(parsed.rows), "lines": len(lines),
                 "skipped_lines": skipped, "header": parsed.header is not None},
    )
