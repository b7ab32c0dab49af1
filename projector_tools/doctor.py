"""Explain why a logdir shows an empty Projector or shifted labels, and fix it.

    projector-tools doctor LOGDIR [--json]
    projector-tools doctor LOGDIR --fix [--vocab FILE]

Every run is inspected as TensorBoard 2.21's Projector inspects it (see
:mod:`projector_tools.inspect_run`), and each problem is reported per run
and tensor, in plain words, with its fix. Exit status: 0 when everything
loads with its labels, 1 when something is wrong, 2 when LOGDIR does not
exist.

``--fix`` repairs what can be repaired without guessing, and never deletes
a user's file: what it replaces is kept beside it as ``NAME.bak-<time>``.

    >>> report = diagnose("runs")
    >>> report.ok, [f.code for f in report.findings]
    (False, ['metadata_rows'])
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

ERROR = "error"
WARNING = "warning"
INFO = "info"

_KERAS_H5_RE = re.compile(r"^keras_embedding\.ckpt-(\d+)\.weights\.h5$")


@dataclass
class Finding:
    """One thing doctor noticed, with what to do about it."""

    severity: str
    code: str
    message: str
    fix: str = ""
    run: str | None = None
    tensor: str | None = None
    path: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def is_problem(self) -> bool:
        return self.severity in (ERROR, WARNING)


@dataclass
class TensorSummary:
    run: str
    name: str
    shape: list[int] | None
    metadata_path: str | None
    metadata_rows: int | None
    loads: bool


@dataclass
class Report:
    """The result of :func:`diagnose`."""

    logdir: str
    findings: list[Finding] = field(default_factory=list)
    tensors: list[TensorSummary] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(f.is_problem for f in self.findings)

    def add(self, *args: Any, **kwargs: Any) -> Finding:
        f = Finding(*args, **kwargs)
        self.findings.append(f)
        return f

    def to_dict(self) -> dict[str, Any]:
        return {
            "logdir": self.logdir,
            "ok": self.ok,
            "runs": self.runs,
            "tensors": [asdict(t) for t in self.tensors],
            "findings": [asdict(f) for f in self.findings],
            "fixed": self.fixed,
        }


# --------------------------------------------------------------------------
# Diagnosis


def tensorflow_problem() -> str | None:
    """Why TensorFlow cannot be used next to TensorBoard, or None."""
    try:
        import tensorflow as tf  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - ImportError, broken install
        return f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"
    if getattr(tf, "__version__", "stub") == "stub" or not hasattr(tf, "train"):
        return "the installed 'tensorflow' is a stub"
    return None


def diagnose(logdir: str) -> Report:
    """Inspect ``logdir`` as TensorBoard's Projector does; return the findings.

    Raises :class:`~projector_tools.errors.LogdirError` when ``logdir`` does
    not exist.
    """
    report = Report(logdir=str(logdir))
    problem = tensorflow_problem()
    if problem is not None:
        if not os.path.isdir(logdir):
            from projector_tools.errors import LogdirError

            raise LogdirError(f"logdir {logdir!r} does not exist")
        report.add(
            ERROR, "tensorflow_missing",
            f"TensorFlow cannot be imported next to TensorBoard ({problem}): TensorBoard "
            "then uses a stub and its Projector cannot read any checkpoint, so it lists "
            "no run",
            fix="pip install tensorflow (in the environment that runs tensorboard)",
        )
        return report

    from projector_tools import fsio
    from projector_tools.errors import LogdirError
    from projector_tools.inspect_run import inspect_pairs

    if not fsio.exists(logdir) or not fsio.isdir(logdir):
        raise LogdirError(f"logdir {logdir!r} does not exist or is not a directory")
    pairs = inspect_pairs(logdir)
    used: dict[str, Any] = {}
    for view in pairs:
        prev = used.get(view.name)
        if prev is None or view.listed or not prev.listed:
            used[view.name] = view
    report.runs = [v.name for v in used.values() if v.listed]

    _check_invisible(report, logdir, pairs)
    for view in pairs:
        shadowed = used.get(view.name) is not view
        _check_pair(report, view, shadowed)
    if not report.runs:
        report.add(
            ERROR, "no_runs",
            f"TensorBoard's Projector lists no run in {logdir!r}: it shows \"No checkpoint "
            "was found\"",
            fix="see the other findings; export embeddings with `projector-tools export` "
            "or export_embeddings(model, LOGDIR/RUN)",
        )
    return report


def _check_invisible(report: Report, logdir: str, pairs: list[Any]) -> None:
    from projector_tools import fsio
    from projector_tools.inspect_run import (
        PLUGIN_ASSETS,
        _normpath,
        run_name,
        walk_dirs,
    )
    from projector_tools.projector_config import CONFIG_FILENAME

    seen = {_normpath(v.dir) for v in pairs} | {_normpath(logdir)}
    for dirpath, files in walk_dirs(logdir):
        norm = _normpath(dirpath)
        if norm in seen:
            continue
        parts = norm.replace("\\", "/").split("/")
        if len(parts) >= 2 and tuple(parts[-2:]) == PLUGIN_ASSETS:
            parent = _normpath(fsio.join(dirpath, os.pardir, os.pardir))
            if parent in seen:
                continue
        # Only a Projector config marks a directory meant for the Projector: a
        # training checkpoint directory (CheckpointManager) is not a run.
        if CONFIG_FILENAME in files:
            name = run_name(logdir, dirpath)
            report.add(
                ERROR, "invisible_run",
                f"{name!r} holds a Projector config but no event file, so "
                "TensorBoard does not list it as a run and the Projector never looks there",
                fix="`projector-tools doctor --fix` adds an empty event file to it",
                run=name, path=dirpath,
            )


def _check_pair(report: Report, view: Any, shadowed: bool) -> None:
    from projector_tools import fsio
    from projector_tools.inspect_run import is_absolute, state_file_paths

    run = view.name
    for what, path in view.outside:
        real = os.path.realpath(path) if not fsio.is_remote(path) else path
        report.add(
            ERROR, "outside_logdir",
            f"run {run!r}: {what} {path!r} leads outside the logdir {view.logdir}"
            + (f" (to {real})" if real != path else "")
            + "; a logdir is data, not instructions: doctor does not read it, --fix copies "
            "nothing from there, and TensorBoard would follow it only on this machine",
            fix=(f"if you trust {real}, name it: `projector-tools doctor --fix --vocab {real}` "
                 "(labels), or copy it into the run and point the config at it with a relative "
                 "path" if what.startswith("metadata_path") else
                 "copy what it names into the run yourself if you trust it, or re-export the run"),
            run=run, path=path, details={"what": what},
        )
    if view.config_path and not view.stays_inside(view.config_path):
        return  # the config itself is a link out of the logdir: nothing was read
    if view.config_error:
        report.add(
            ERROR, "config_unreadable",
            f"run {run!r}: {view.config_path} is not a valid ProjectorConfig text proto "
            f"({view.config_error}); TensorBoard's Projector fails while reading the "
            "configs and shows nothing",
            fix="rewrite it, e.g. with `projector-tools export`", run=run, path=view.config_path,
        )
        return
    if shadowed:
        if view.config_path:
            report.add(
                INFO, "config_shadowed",
                f"run {run!r}: {view.config_path} is not used; TensorBoard reads the run's "
                "other projector_config.pbtxt", run=run, path=view.config_path,
            )
        return
    if not view.config_path and not view.checkpoint:
        return  # a plain training run: nothing for the Projector, nothing wrong

    # -- the checkpoint --------------------------------------------------------
    if view.checkpoint_source == "config":
        ckpt = view.config.model_checkpoint_path
        if not is_absolute(ckpt):
            report.add(
                ERROR, "relative_checkpoint_path",
                f"run {run!r}: model_checkpoint_path {ckpt!r} in {view.config_path} is "
                "relative, and TensorBoard resolves it against the directory tensorboard "
                "is started from, not the run",
                fix="`projector-tools doctor --fix` removes it and points the run's "
                "'checkpoint' state file at the checkpoint instead",
                run=run, path=view.config_path,
            )
        else:
            report.add(
                WARNING, "absolute_path",
                f"run {run!r}: model_checkpoint_path {ckpt!r} in {view.config_path} is "
                "absolute; it breaks as soon as the logdir is copied elsewhere",
                fix="`projector-tools doctor --fix` replaces it by a relative 'checkpoint' "
                "state file in the run", run=run, path=view.config_path,
            )
    else:
        for d in {view.dir, os.path.dirname(view.checkpoint or "") or view.dir}:
            if not view.stays_inside(d):
                continue
            for p in state_file_paths(d, view.logdir):
                if is_absolute(p):
                    beyond = not view.stays_inside(p)  # not followed, not even looked at
                    broken = beyond or not fsio.gfile().glob(p + "*")
                    report.add(
                        ERROR if broken else WARNING, "absolute_path",
                        f"run {run!r}: the 'checkpoint' state file in {d} names {p!r}, an "
                        "absolute path"
                        + (" outside the logdir, not followed (was the logdir copied?)" if beyond
                           else " that does not exist here (was the logdir copied?)" if broken
                           else " that breaks as soon as the logdir is copied elsewhere"),
                        fix="`projector-tools doctor --fix` rewrites it relative to the run",
                        run=run, path=fsio.join(d, "checkpoint"),
                    )
                    break
    if view.checkpoint_error and not view.checkpoint:
        report.add(
            ERROR, "checkpoint_unreadable",
            f"run {run!r}: {view.checkpoint_error}", fix="re-export the embeddings",
            run=run,
        )
    if not view.checkpoint and not any(e.tensor_path for e in view.embeddings):
        h5 = find_keras_h5(view)
        if h5:
            report.add(
                ERROR, "keras_h5",
                f"run {run!r}: {view.config_path} names "
                f"{', '.join(repr(e.name) for e in view.embeddings) or 'no tensor'}, but the "
                f"embeddings were saved as Keras 3 weights {h5!r} (HDF5), which the Projector "
                "cannot read; it finds no TensorFlow checkpoint and lists no run",
                fix="`projector-tools doctor --fix` converts the .weights.h5 embeddings into "
                "a Projector run with the layer names and labels (or use "
                "projector_tools.ProjectorCallback instead of embeddings_freq)",
                run=run, path=h5,
            )
        else:
            report.add(
                ERROR, "no_checkpoint",
                f"run {run!r}: {view.config_path} exists but there is no readable TensorFlow "
                f"checkpoint ('checkpoint' state file) in {view.dir} or its parent, so "
                "TensorBoard skips the run",
                fix="export the embeddings with `projector-tools export SOURCE --logdir "
                f"{view.dir}` or export_embeddings(model, {view.dir!r})",
                run=run, path=view.config_path,
            )
        return
    if view.checkpoint and view.checkpoint_error:
        report.add(
            ERROR, "checkpoint_unreadable",
            f"run {run!r}: {view.checkpoint_error}",
            fix="re-export the embeddings (`projector-tools export`)", run=run,
            path=view.checkpoint,
        )
    if not view.listed:
        return

    if view.checkpoint_source == "parent":
        unlabelled = [e.name for e in view.embeddings if not e.metadata_path]
        if unlabelled:
            report.add(
                WARNING, "parent_checkpoint",
                f"run {run!r} has no checkpoint of its own, so TensorBoard shows the "
                f"checkpoint of its parent directory ({view.checkpoint}) here too, without "
                f"labels ({', '.join(unlabelled)})",
                fix="export into a run directory of its own that has no child runs (e.g. "
                "LOGDIR/projector) instead of the parent of training runs",
                run=run, path=view.checkpoint,
            )

    _check_tensors(report, view)


def find_keras_h5(view: Any) -> str | None:
    """The latest ``keras_embedding.ckpt-N.weights.h5`` of a Keras-callback run."""
    from projector_tools import fsio

    best: tuple[int, str] | None = None
    others: list[str] = []
    for d in (view.dir, fsio.join(view.dir, "train"), view.config_dir):
        for name in fsio.listdir(d, missing_ok=True):
            m = _KERAS_H5_RE.match(name)
            if m:
                cand = (int(m.group(1)), fsio.join(d, name))
                if best is None or cand[0] > best[0]:
                    best = cand
            elif name.endswith(".weights.h5"):
                others.append(fsio.join(d, name))
    if best is not None:
        return best[1]
    return sorted(set(others))[-1] if others else None


def _check_tensors(report: Report, view: Any) -> None:
    from projector_tools import fsio
    from projector_tools.inspect_run import (
        asset_outside_config_dir,
        is_absolute,
        read_matrix,
        resolve_asset,
    )
    from projector_tools.metadata import parse_projector_tsv

    run = view.name
    named = [e for e in view.embeddings if e.from_config and e.name]
    candidates = {
        k: s for k, s in view.shapes.items() if len(s) == 2 and ".OPTIMIZER_SLOT" not in k
    }
    for ev in view.embeddings:
        loads = True
        if ev.from_config and not ev.in_checkpoint and not ev.tensor_path and view.checkpoint_error:
            loads = False
        elif ev.from_config and not ev.in_checkpoint and not ev.tensor_path:
            loads = False
            cands = ", ".join(f"{k} {v}" for k, v in sorted(candidates.items())) or "none"
            report.add(
                ERROR, "tensor_not_in_checkpoint",
                f"run {run!r}: the config names tensor {ev.name!r}, which is not in the "
                f"checkpoint {view.checkpoint}; the drop-down shows it but it cannot load, "
                "and its labels are attached to nothing. 2-D tensors in the checkpoint: "
                f"{cands}",
                fix="set tensor_name to one of those (exactly, object paths included), or "
                "re-export with `projector-tools export CHECKPOINT --layer NAME`",
                run=run, tensor=ev.name, details={"candidates": sorted(candidates)},
            )
        rows = ev.rows
        meta_rows = None
        if ev.metadata_path and not view.stays_inside(resolve_asset(view, ev.metadata_path)):
            pass  # reported as outside_logdir, not read
        elif ev.metadata_path:
            mp = ev.metadata_path
            resolved = resolve_asset(view, mp)
            outside = asset_outside_config_dir(view, mp)
            if outside:
                report.add(
                    ERROR, "metadata_outside",
                    f"run {run!r}, tensor {ev.name!r}: metadata_path {mp!r} resolves outside "
                    f"the config's directory {view.config_dir}, which TensorBoard refuses "
                    "(\"resolves outside the config directory\"): no labels",
                    fix="`projector-tools doctor --fix` copies the file into the run and "
                    "points the config at it with a relative path",
                    run=run, tensor=ev.name, path=view.config_path,
                )
            elif is_absolute(mp):
                report.add(
                    WARNING, "absolute_path",
                    f"run {run!r}, tensor {ev.name!r}: metadata_path {mp!r} is absolute; it "
                    "breaks as soon as the logdir is copied elsewhere",
                    fix="`projector-tools doctor --fix` rewrites it relative to the config",
                    run=run, tensor=ev.name, path=view.config_path,
                )
            if not fsio.exists(resolved):
                report.add(
                    ERROR, "metadata_missing",
                    f"run {run!r}, tensor {ev.name!r}: metadata file {resolved} does not "
                    "exist; the Projector shows no labels",
                    fix="write the labels there, one per row (export_embeddings(..., "
                    "metadata=labels) does it)", run=run, tensor=ev.name,
                )
            elif not outside:
                raw = fsio.read_bytes(resolved)
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
                meta_rows = len(parsed.rows)
                _check_metadata_rows(report, view, ev, raw, parsed, rows)
        else:
            if rows is not None and view.checkpoint_source != "parent":
                report.add(
                    INFO, "no_labels",
                    f"run {run!r}, tensor {ev.name!r}: no metadata, the Projector labels "
                    "points by their index", run=run, tensor=ev.name,
                )
        if ev.tensor_path and not view.stays_inside(resolve_asset(view, ev.tensor_path)):
            loads = False  # reported as outside_logdir, not read
        elif ev.shape is not None and (ev.in_checkpoint or ev.tensor_path):
            try:
                matrix = read_matrix(view, ev)
            except Exception as exc:  # noqa: BLE001
                loads = False
                report.add(
                    ERROR, "tensor_unreadable",
                    f"run {run!r}, tensor {ev.name!r} cannot be read: {exc}",
                    fix="re-export the embeddings", run=run, tensor=ev.name,
                )
            else:
                bad = ~np.isfinite(matrix)
                if bad.any():
                    n_rows = int(bad.any(axis=1).sum()) if matrix.ndim == 2 else int(bad.sum())
                    report.add(
                        ERROR, "nonfinite",
                        f"run {run!r}, tensor {ev.name!r}: {int(bad.sum())} NaN/Inf values in "
                        f"{n_rows} rows; the Projector's PCA and t-SNE turn every point into "
                        "NaN and the view stays empty",
                        fix="fix training (learning rate, clipping) or drop those rows "
                        "before exporting", run=run, tensor=ev.name,
                        details={"rows": n_rows},
                    )
        report.tensors.append(
            TensorSummary(
                run=run, name=ev.name, shape=list(ev.shape) if ev.shape else None,
                metadata_path=ev.metadata_path, metadata_rows=meta_rows, loads=loads,
            )
        )

    # -- clutter: 2-D tensors that are not embeddings ------------------------
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
            f"run {run!r}: the tensor drop-down also lists {len(clutter)} 2-D tensors that "
            "are not embeddings (every 2-D tensor of a checkpoint is shown, dense kernels "
            "and optimizer variables included): "
            + ", ".join(f"{n} {view.shapes.get(n)}" for n in clutter[:12])
            + (" ..." if len(clutter) > 12 else ""),
            fix="export only the embedding into its own run: `projector-tools export "
            f"{view.checkpoint} --logdir NEWRUN --layer NAME`",
            run=run, details={"tensors": clutter},
        )


def _check_metadata_rows(report, view, ev, raw: bytes, parsed, rows: int | None) -> None:
    run = view.name
    text = raw.decode("utf-8", "replace")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    skipped = sum(1 for ln in lines if not ln.strip(_js_ws()))
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


def _js_ws() -> str:
    from projector_tools.metadata import _JS_WHITESPACE

    return _JS_WHITESPACE


# --------------------------------------------------------------------------
# Repairs


def backup(path: str) -> str:
    """Copy ``path`` to ``path.bak-<UTC time>`` (never overwriting); return the copy."""
    from projector_tools import fsio

    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = f"{path}.bak-{stamp}"
    k = 1
    while fsio.exists(target):
        target = f"{path}.bak-{stamp}-{k}"
        k += 1
    fsio.gfile().copy(path, target, overwrite=False)
    return target


def _move_aside(path: str) -> str:
    """Rename ``path`` to a backup name (the file stays, under another name)."""
    from projector_tools import fsio

    target = backup(path)
    fsio.remove(path)
    return target


def aligned_metadata(raw: bytes | None, rows: int, vocab: Any = None) -> tuple[Any, str]:
    """Labels for ``rows`` rows, from the vocabulary or the raw file, or (None, why).

    Returns bytes (the file is fine as it is), a :class:`Metadata`, or None.
    Nothing is guessed: the vocabulary must have ``rows`` entries (or one
    more, with padding first, for a matrix exported without its padding row
    as TensorBoard's demo does), and a raw file must have one line per row.
    """
    from projector_tools.metadata import Metadata, parse_projector_tsv

    if vocab is not None:
        if len(vocab) == rows:
            return vocab, f"{rows} labels from --vocab"
        if len(vocab) == rows + 1 and vocab.column(vocab.names[0])[0] == "<pad>":
            return vocab.take(list(range(1, rows + 1))), (
                f"--vocab without its padding row 0 ({rows} labels; the matrix was saved "
                "without row 0, as TensorBoard's demo does)"
            )
        return None, (
            f"--vocab has {len(vocab)} entries but the tensor has {rows} rows; pass the "
            "vocabulary the model was trained with"
        )
    if raw is None:
        return None, "no metadata file"
    parsed = parse_projector_tsv(raw)
    text = raw.decode("utf-8", "surrogateescape")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    one_column = parsed.header is None or all(len(r) == 1 for r in parsed.rows)
    if len(parsed.rows) == rows and not (parsed.header is not None and one_column):
        return bytes(raw), "kept as it is"
    if len(lines) == rows:
        return Metadata.from_labels([ln[:-1] if ln.endswith("\r") else ln for ln in lines]), (
            "one label per raw line, escaped so that the browser keeps every row"
        )
    if parsed.header is not None and len(lines) == rows + 1 and not one_column:
        header = lines[0].split("\t")
        cols = [ln.split("\t") for ln in lines[1:]]
        if all(len(c) == len(header) for c in cols):
            return Metadata({h: [c[i] for c in cols] for i, h in enumerate(header)}), (
                "header and one row per raw line, escaped"
            )
    return None, (
        f"the file has {len(lines)} lines ({len(parsed.rows)} as the browser counts them) for "
        f"{rows} rows; pass --vocab FILE with the model's vocabulary"
    )


def _write_metadata_file(config_dir: str, tensor: str, content: Any) -> str:
    from projector_tools import fsio

    data = content if isinstance(content, bytes) else content.to_bytes()
    digest = hashlib.sha1(data).hexdigest()[:12]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", tensor.split("/")[0]).strip("_")[:60] or "tensor"
    name = f"metadata-{slug}-{digest}.tsv"
    path = fsio.join(config_dir, name)
    if not fsio.exists(path):
        fsio.atomic_write(path, data)
    return name


def keras_model_embeddings(run_dir: str, logdir: str | None = None) -> list[tuple[str, int, int]]:
    """``[(layer name, input_dim, output_dim)]`` of the Embedding layers of the
    Keras model graph that ``keras.callbacks.TensorBoard`` writes into the run's
    event files (empty when there is none)."""
    import tensorflow as tf
    from tensorflow.core.util import event_pb2

    from projector_tools import fsio
    from projector_tools.inspect_run import inside_logdir, is_event_file

    def walk(cfg: Any, out: list) -> None:
        if isinstance(cfg, dict):
            if cfg.get("class_name") == "Embedding" and isinstance(cfg.get("config"), dict):
                c = cfg["config"]
                out.append((str(c.get("name")), int(c.get("input_dim", -1)),
                            int(c.get("output_dim", -1))))
                return
            for key in ("config", "layers", "layer"):
                walk(cfg.get(key), out)
        elif isinstance(cfg, list):
            for item in cfg:
                walk(item, out)

    for name in sorted(fsio.listdir(run_dir)):
        if not is_event_file(name):
            continue
        if logdir is not None and not inside_logdir(fsio.join(run_dir, name), logdir):
            continue  # a link out of the logdir: not read
        try:
            for raw in tf.data.TFRecordDataset(fsio.join(run_dir, name)):
                event = event_pb2.Event.FromString(raw.numpy())
                for value in event.summary.value:
                    if value.metadata.plugin_data.plugin_name != "graph_keras_model":
                        continue
                    if not value.tensor.string_val:
                        continue
                    out: list = []
                    walk(json.loads(value.tensor.string_val[0].decode("utf-8")), out)
                    return out
        except Exception:  # noqa: BLE001 - a truncated event file
            continue
    return []


def convert_keras_h5(view: Any, h5: str, vocab: Any, actions: list[str], notes: list[str]) -> None:
    """Turn the Keras 3 callback's ``.weights.h5`` embeddings into a Projector run
    in the directory of the h5 file (``L/train``), with the model's layer names."""
    from projector_tools import fsio
    from projector_tools.errors import LogdirError, ProjectorToolsError
    from projector_tools.export import prepare, write_run
    from projector_tools.inspect_run import resolve_asset
    from projector_tools.keras_archive import weights_h5_embeddings

    try:
        stored = weights_h5_embeddings(h5)
    except ProjectorToolsError as exc:
        notes.append(f"cannot convert {h5}: {exc}")
        return
    if not stored:
        notes.append(f"cannot convert {h5}: it holds no embedding layer weights")
        return
    recorded = [e.layer_name for e in stored]  # in model order
    owners = [n if n and recorded.count(n) == 1 else e.owner for n, e in zip(recorded, stored)]
    arrays = [np.asarray(e.matrix, dtype=np.float32) for e in stored]
    target = os.path.dirname(h5) if not fsio.is_remote(h5) else h5.rsplit("/", 1)[0]
    layers = keras_model_embeddings(target, view.logdir)
    names = list(owners)
    if len(layers) == len(owners) and all(
        (d_in, d_out) == a.shape for (_, d_in, d_out), a in zip(layers, arrays)
    ):
        names = [n for n, _, _ in layers]
    else:
        notes.append(
            "the Keras model graph in the run's event file does not name these layers "
            f"unambiguously; keeping the names of the .weights.h5 file ({', '.join(owners)})"
        )
    entries = list(view.config.embeddings) if view.config is not None else []
    meta_paths: list[str | None] = [None] * len(names)
    if len(entries) == len(names):
        meta_paths = [e.metadata_path or None for e in entries]
    elif entries and any(e.metadata_path for e in entries):
        notes.append(
            f"the config has {len(entries)} entries for {len(names)} embedding layers; "
            "labels cannot be matched to layers without guessing, none written"
        )
    matrices = {}
    metas = {}
    unaligned: dict[str, bytes] = {}
    for name, arr, mp in zip(names, arrays, meta_paths):
        matrices[name] = arr
        raw = None
        if mp and not view.stays_inside(resolve_asset(view, mp)):
            notes.append(f"metadata {mp!r} of {name!r} leads outside the logdir; not read")
            mp = None
        if mp:
            path = resolve_asset(view, mp)
            if (not fsio.exists(path) and not os.path.isabs(mp) and os.path.isfile(mp)
                    and view.stays_inside(os.path.abspath(mp))):
                # Keras wrote the path as the user gave it, relative to their
                # working directory; TensorBoard would look beside the config.
                notes.append(f"metadata {mp!r} is not beside the config; used ./{mp}")
                path = os.path.abspath(mp)
            if fsio.exists(path):
                raw = fsio.read_bytes(path)
            else:
                notes.append(f"metadata file {path} for {name!r} does not exist")
        if raw is None and vocab is None:
            continue
        content, how = aligned_metadata(raw, arr.shape[0], vocab)
        if content is None:
            if raw is not None:
                unaligned[name] = raw
            notes.append(f"labels of {name!r} not aligned: {how}")
            continue
        if isinstance(content, bytes):
            from projector_tools.metadata import Metadata, parse_projector_tsv

            parsed = parse_projector_tsv(content)
            cols = parsed.columns
            content = Metadata({c: [r[i] if i < len(r) else "" for r in parsed.rows]
                                for i, c in enumerate(cols)})
        metas[name] = content
    matrices, metas = prepare(matrices, metas, allow_nonfinite=True)
    m = _KERAS_H5_RE.match(os.path.basename(h5))
    step = int(m.group(1)) if m else None
    config_here = view.config_path and os.path.dirname(view.config_path) == target
    for name in fsio.listdir(target):
        if (name.startswith("embeddings-") or (name.startswith("metadata-") and name.endswith(".tsv"))
                or (config_here and name == "projector_config.pbtxt")):
            actions.append(f"kept a backup of {fsio.join(target, name)} as "
                           f"{backup(fsio.join(target, name))}")
    try:
        result = write_run(target, matrices, metas, step=step)
    except LogdirError:
        target = fsio.join(target, "projector")
        result = write_run(target, matrices, metas, step=step)
    if unaligned:
        # Keep the user's labels attached as they are, so that `doctor` keeps
        # reporting the mismatch (with its --vocab fix) instead of hiding it.
        from google.protobuf import text_format

        from projector_tools.projector_config import parse_config

        config = parse_config(fsio.read_text(result.config_path))
        for entry in config.embeddings:
            if entry.tensor_name in unaligned:
                entry.metadata_path = _write_metadata_file(
                    result.logdir, entry.tensor_name, unaligned[entry.tensor_name])
        fsio.atomic_write(result.config_path, text_format.MessageToString(config, as_utf8=True))
    actions.append(
        f"converted {h5} into a Projector run in {result.logdir}: "
        + ", ".join(
            f"{t.name} {t.shape[0]}x{t.shape[1]}"
            + (f" with {t.metadata_rows} labels" if t.metadata_rows is not None else " (no labels)")
            for t in result.tensors
        )
    )
    if view.config_path and fsio.exists(view.config_path) and not config_here:
        aside = _move_aside(view.config_path)
        actions.append(
            f"moved the Keras callback's {view.config_path} (it names a tensor that does not "
            f"exist) aside to {aside}"
        )


def _rewrite_state_file(directory: str, logdir: str, actions: list[str], notes: list[str]) -> None:
    from projector_tools import fsio
    from projector_tools.checkpoint import state_file_text
    from projector_tools.inspect_run import (
        checkpoint_inside,
        inside_logdir,
        is_absolute,
        relpath,
        state_file_paths,
    )

    paths = state_file_paths(directory, logdir)
    if not paths or not any(is_absolute(p) for p in paths):
        return
    new = []
    for p in paths:
        if not is_absolute(p):
            new.append(p)
            continue
        rel = relpath(p, directory)
        here = fsio.join(directory, os.path.basename(p))
        if (inside_logdir(p, logdir) and checkpoint_inside(p, logdir)
                and fsio.gfile().glob(p + ".index") and not rel.startswith("..")):
            new.append(rel)
        elif checkpoint_inside(here, logdir) and fsio.gfile().glob(here + ".index"):
            new.append(os.path.basename(p))  # the logdir was copied: same file, here
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
    state = fsio.join(directory, "checkpoint")
    saved = backup(state)
    latest = new[0]
    all_paths = list(dict.fromkeys(new[1:])) or [latest]
    fsio.atomic_write(state, state_file_text(latest, all_paths))
    actions.append(f"rewrote {state} with relative paths (backup: {saved})")


def _fix_config(view: Any, vocab: Any, actions: list[str], notes: list[str]) -> None:
    from google.protobuf import text_format

    from projector_tools import fsio
    from projector_tools.checkpoint import state_file_text
    from projector_tools.inspect_run import (
        _canonical,
        asset_outside_config_dir,
        checkpoint_inside,
        is_absolute,
        read_metadata,
        relpath,
        resolve_asset,
    )

    config = view.config
    if config is None:
        return
    changed: list[str] = []
    # model_checkpoint_path -> a relative 'checkpoint' state file in the run
    if config.model_checkpoint_path:
        ckpt = config.model_checkpoint_path
        cands = [ckpt] if is_absolute(ckpt) else [os.path.abspath(ckpt), resolve_asset(view, ckpt)]
        # Only a checkpoint inside the logdir is followed (a run is data).
        found = next((c for c in cands if checkpoint_inside(c, view.logdir)
                      and fsio.gfile().glob(c + ".index")), None)
        rel = relpath(found, view.dir) if found else None
        if rel is None or rel.startswith(".."):
            notes.append(
                f"run {view.name!r}: model_checkpoint_path {ckpt!r} is not a checkpoint inside "
                f"the run {view.dir}; copy it there or re-export with `projector-tools export`"
            )
        else:
            state = fsio.join(view.dir, "checkpoint")
            if fsio.exists(state):
                actions.append(f"kept a backup of {state} as {backup(state)}")
            fsio.atomic_write(state, state_file_text(rel, [rel]))
            config.model_checkpoint_path = ""
            changed.append(f"model_checkpoint_path replaced by the state file {state} -> {rel}")
    # a tensor_name that names no tensor, where exactly one 2-D tensor of the
    # checkpoint is that object path under a prefix (model/..., or without
    # the /.ATTRIBUTES/VARIABLE_VALUE suffix): point the entry at it
    from projector_tools.sources import readable_name

    two_d = [k for k, v in view.shapes.items() if len(v) == 2 and ".OPTIMIZER_SLOT" not in k]
    for entry in config.embeddings:
        name = entry.tensor_name[:-2] if entry.tensor_name.endswith(":0") else entry.tensor_name
        if not name or entry.tensor_path or any(_canonical(k) == _canonical(name) for k in two_d):
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
    rows_of = {_canonical(e.name): e.rows for e in view.embeddings}
    for entry in config.embeddings:
        mp = entry.metadata_path
        if not mp or not entry.tensor_name:
            continue
        name = entry.tensor_name[:-2] if entry.tensor_name.endswith(":0") else entry.tensor_name
        ev = next((e for e in view.embeddings if e.name == name), None)
        rows = rows_of.get(_canonical(name))
        path = resolve_asset(view, mp)
        if not view.stays_inside(path) and vocab is None:
            notes.append(
                f"run {view.name!r}, tensor {name!r}: metadata_path {mp!r} leads outside the "
                "logdir; nothing was read or copied from there (pass --vocab FILE to write "
                "labels from a file you name)"
            )
            continue
        if not view.stays_inside(path):
            raw = None  # labels come from --vocab, the file the user named
        else:
            raw = fsio.read_bytes(path) if fsio.exists(path) else None
        outside = asset_outside_config_dir(view, mp)
        parsed = read_metadata(view, ev) if (ev is not None and not outside and raw is not None) else None
        header_tab = parsed is not None and parsed.header is not None and all(
            len(r) == 1 for r in parsed.rows
        )
        wrong_rows = rows is not None and raw is not None and (
            parsed is None or len(parsed.rows) != rows
        )
        if not (outside or is_absolute(mp) or header_tab or wrong_rows or (vocab is not None and rows)):
            continue
        if rows is None:
            if raw is not None and (outside or is_absolute(mp)):
                content = raw
            else:
                continue
        else:
            content, how = aligned_metadata(raw, rows, vocab)
            if content is None:
                notes.append(f"run {view.name!r}, tensor {name!r}: metadata not rewritten: {how}")
                continue
        if isinstance(content, bytes) and not outside and is_absolute(mp):
            new_rel = relpath(path, view.config_dir)
        else:
            new_rel = _write_metadata_file(view.config_dir, name, content)
        if new_rel != mp:
            entry.metadata_path = new_rel
            changed.append(f"metadata of {name!r}: {mp} -> {new_rel}")
    if changed:
        saved = backup(view.config_path)
        fsio.atomic_write(view.config_path, text_format.MessageToString(config, as_utf8=True))
        actions.append(
            f"rewrote {view.config_path} (backup: {saved}): " + "; ".join(changed)
        )


def _used_views(views: list[Any]) -> list[Any]:
    used: dict[str, Any] = {}
    for view in views:
        prev = used.get(view.name)
        if prev is None or view.listed or not prev.listed:
            used[view.name] = view
    return list(used.values())


def fix(logdir: str, vocab_path: str | None = None) -> tuple[list[str], list[str]]:
    """Repair ``logdir`` in place; return (what was done, what could not be).

    Never deletes a user's file: replaced files are kept as backups.
    """
    from projector_tools import fsio
    from projector_tools.export import _ensure_event_file
    from projector_tools.inspect_run import inspect_pairs
    from projector_tools.sources import load_vocab

    vocab = load_vocab(vocab_path) if vocab_path else None
    actions: list[str] = []
    notes: list[str] = []
    first = diagnose(logdir)
    for f in first.findings:
        if f.code == "invisible_run" and f.path:
            _ensure_event_file(f.path)
            actions.append(f"added an empty event file to {f.path} so TensorBoard lists it")
    done_dirs: set[str] = set()
    for view in _used_views(inspect_pairs(logdir)):
        for d in (view.dir, os.path.dirname(view.checkpoint or "") or view.dir):
            if (d not in done_dirs and view.stays_inside(fsio.join(d, "checkpoint"))
                    and fsio.exists(fsio.join(d, "checkpoint"))):
                done_dirs.add(d)
                _rewrite_state_file(d, logdir, actions, notes)
    views = _used_views(inspect_pairs(logdir))
    for view in views:
        if view.config_error or (view.config_path and not view.stays_inside(view.config_path)):
            continue
        if view.outside and not view.checkpoint and not view.config:
            continue
        if view.config_path and not view.checkpoint:
            h5 = find_keras_h5(view)
            if not h5:
                continue
            if not view.stays_inside(h5):
                notes.append(f"{h5} leads outside the logdir; not converted")
                continue
            h5_dir = os.path.dirname(h5)
            present = [v for v in views if v.listed and v.checkpoint_source == "run"
                       and os.path.normpath(v.dir) == os.path.normpath(h5_dir)]
            if present:
                # e.g. ProjectorCallback already exports beside Keras' callback:
                # keep that run, only set the unusable Keras config aside.
                aside = _move_aside(view.config_path)
                actions.append(
                    f"{h5_dir} already holds a loadable Projector run; moved the Keras "
                    f"callback's {view.config_path} aside to {aside}"
                )
            else:
                convert_keras_h5(view, h5, vocab, actions, notes)
            continue
        _fix_config(view, vocab, actions, notes)
    return actions, notes


# --------------------------------------------------------------------------
# CLI


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("logdir", help="the directory you pass to tensorboard --logdir")
    parser.add_argument("--fix", action="store_true",
                        help="repair what can be repaired without guessing (backups kept)")
    parser.add_argument("--vocab", metavar="FILE", help="with --fix: the vocabulary the model was trained with "
                        "(SubwordTextEncoder .subwords file or one token per line)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def _print_report(report: Report, out: Any = None) -> None:
    out = out if out is not None else sys.stdout
    print(f"logdir: {report.logdir}", file=out)
    print("Projector runs: " + (", ".join(report.runs) if report.runs else "none"), file=out)
    for t in report.tensors:
        shape = "x".join(str(x) for x in t.shape) if t.shape else "?"
        labels = f", {t.metadata_rows} label rows" if t.metadata_rows is not None else ", no labels"
        state = "" if t.loads else "  (does not load)"
        print(f"  run {t.run!r}: tensor {t.name} {shape}{labels}{state}", file=out)
    for f in report.findings:
        print(f"{f.severity.upper()} [{f.code}] {f.message}", file=out)
        if f.fix and f.is_problem:
            print(f"    fix: {f.fix}", file=out)
    problems = [f for f in report.findings if f.is_problem]
    if problems:
        print(f"{len(problems)} problem(s); TensorBoard will not show everything correctly.",
              file=out)
    else:
        print("OK: every run loads with its labels.", file=out)


def run_cli(args: argparse.Namespace) -> int:
    from projector_tools.errors import LogdirError

    logdir = args.logdir
    exists = os.path.isdir(logdir) if "://" not in logdir else None
    if exists is None:
        from projector_tools import fsio

        exists = fsio.exists(logdir) and fsio.isdir(logdir)
    if not exists:
        if args.json:
            print(json.dumps({"logdir": logdir, "ok": False,
                              "error": f"logdir {logdir!r} does not exist"}))
        print(f"projector-tools: error: logdir {logdir!r} does not exist", file=sys.stderr)
        return 2
    if args.vocab and not args.fix:
        print("projector-tools: note: --vocab is used with --fix only", file=sys.stderr)
    actions: list[str] = []
    notes: list[str] = []
    try:
        if args.fix and tensorflow_problem() is None:
            actions, notes = fix(logdir, args.vocab)
        report = diagnose(logdir)
    except LogdirError as exc:
        print(f"projector-tools: error: {exc}", file=sys.stderr)
        return 2
    report.fixed = actions
    if args.json:
        data = report.to_dict()
        data["not_fixed"] = notes
        print(json.dumps(data, indent=2))
    else:
        for a in actions:
            print(f"fixed: {a}")
        for n in notes:
            print(f"not fixed: {n}")
        _print_report(report)
    return 0 if report.ok else 1
