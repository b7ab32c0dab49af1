"""The checks of a logdir's runs: what TensorBoard's Projector makes of them.

Run-level problems are found here (invisible runs, unreadable configs, the
checkpoint and its state file, Keras' ``.weights.h5``, a parent's
checkpoint); the tensors of a listed run are checked by
:mod:`projector_tools.doctor.tensor_checks`.

A run without an event file is invisible to TensorBoard, whatever else it
holds (the package docstring shows a label-count check and its fix):

    >>> import os, tempfile, numpy as np
    >>> from projector_tools import export_embeddings
    >>> logdir = tempfile.mkdtemp()
    >>> run = export_embeddings(np.eye(3, dtype="float32"), os.path.join(logdir, "run")).logdir
    >>> for name in os.listdir(run):
    ...     if "tfevents" in name:
    ...         os.remove(os.path.join(run, name))
    >>> [f.code for f in diagnose(logdir).findings]
    ['invisible_run', 'no_runs']
"""

from __future__ import annotations

import os

from projector_tools import fsio
from projector_tools.doctor.keras_files import find_keras_h5
from projector_tools.doctor.report import ERROR, INFO, WARNING, Report
from projector_tools.doctor.tensor_checks import check_tensors
from projector_tools.errors import LogdirError
from projector_tools.run.pair import state_file_paths
from projector_tools.run.reader import inspect_pairs, run_name, used_views, walk_dirs
from projector_tools.run.view import RunView
from projector_tools.run.config import CONFIG_FILENAME
from projector_tools.run.files import PLUGIN_ASSETS, STATE_FILENAME


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
        # Without TensorFlow there is no tf.io.gfile: only a local logdir is checked.
        if not os.path.isdir(logdir):
            raise LogdirError(f"logdir {logdir!r} does not exist")
        report.add(
            ERROR, "tensorflow_missing",
            f"TensorFlow cannot be imported next to TensorBoard ({problem}): TensorBoard "
            "then uses a stub and its Projector cannot read any checkpoint, so it lists "
            "no run",
            fix="pip install tensorflow (in the environment that runs tensorboard)",
        )
        return report

    if not fsio.exists(logdir) or not fsio.isdir(logdir):
        raise LogdirError(f"logdir {logdir!r} does not exist or is not a directory")
    pairs = inspect_pairs(logdir)
    used = used_views(pairs)
    report.runs = [v.name for v in used if v.listed]

    check_invisible(report, logdir, pairs)
    for view in pairs:
        check_pair(report, view, shadowed=not any(view is u for u in used))
    if not report.runs:
        report.add(
            ERROR, "no_runs",
            f"TensorBoard's Projector lists no run in {logdir!r}: it shows \"No checkpoint "
            "was found\"",
            fix="see the other findings; export embeddings with `projector-tools export` "
            "or export_embeddings(model, LOGDIR/RUN)",
        )
    return report


def check_invisible(report: Report, logdir: str, pairs: list[RunView]) -> None:
    """Directories with a Projector config but no event file: never looked at."""
    seen = {fsio.normpath(v.dir) for v in pairs} | {fsio.normpath(logdir)}
    links: list[str] = []
    for dirpath, files in walk_dirs(logdir, links):
        norm = fsio.normpath(dirpath)
        if norm in seen:
            continue
        parts = norm.replace("\\", "/").split("/")
        if len(parts) >= 2 and tuple(parts[-2:]) == PLUGIN_ASSETS:
            parent = fsio.normpath(fsio.join(dirpath, os.pardir, os.pardir))
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
    for link in links:
        report.add(
            ERROR, "outside_logdir",
            f"{run_name(logdir, link)!r} is a symlink to {os.path.realpath(link)}, outside the logdir; "
            "it is not listed or read (a logdir is data, not instructions)",
            fix="copy that run into the logdir if you trust it, or pass its folder to doctor itself",
            run=run_name(logdir, link), path=link,
        )


def check_pair(report: Report, view: RunView, shadowed: bool) -> None:
    """Everything about one (run, directory) pair, in the order a reader needs it."""
    report_outside(report, view)
    if view.config_path and not view.stays_inside(view.config_path):
        return  # the config itself is a link out of the logdir: nothing was read
    if not _config_usable(report, view, shadowed):
        return
    if not view.config_path and not view.checkpoint:
        return  # a plain training run: nothing for the Projector, nothing wrong
    _check_checkpoint_paths(report, view)
    if view.checkpoint_error and not view.checkpoint:
        report.add(
            ERROR, "checkpoint_unreadable",
            f"run {view.name!r}: {view.checkpoint_error}", fix="re-export the embeddings",
            run=view.name,
        )
    if not view.checkpoint and not any(e.tensor_path for e in view.embeddings):
        _report_no_checkpoint(report, view)
        return
    if view.checkpoint and view.checkpoint_error:
        report.add(
            ERROR, "checkpoint_unreadable",
            f"run {view.name!r}: {view.checkpoint_error}",
            fix="re-export the embeddings (`projector-tools export`)", run=view.name,
            path=view.checkpoint,
        )
    if not view.listed:
        return
    _check_parent_checkpoint(report, view)
    check_tensors(report, view)


def report_outside(report: Report, view: RunView) -> None:
    """Paths of the run that lead outside the logdir (not followed)."""
    for what, path in view.outside:
        real = os.path.realpath(path) if not fsio.is_remote(path) else path
        report.add(
            ERROR, "outside_logdir",
            f"run {view.name!r}: {what} {path!r} leads outside the logdir {view.logdir}"
            + (f" (to {real})" if real != path else "")
            + "; a logdir is data, not instructions: doctor does not read it, --fix copies "
            "nothing from there, and TensorBoard would follow it only on this machine",
            fix=(f"if you trust {real}, name it: `projector-tools doctor --fix --vocab {real}` "
                 "(labels), or copy it into the run and point the config at it with a relative "
                 "path" if what.startswith("metadata_path") else
                 "copy what it names into the run yourself if you trust it, or re-export the run"),
            run=view.name, path=path, details={"what": what},
        )


def _config_usable(report: Report, view: RunView, shadowed: bool) -> bool:
    """False (reported) when the pair's config is unreadable or not the one used."""
    if view.config_error:
        report.add(
            ERROR, "config_unreadable",
            f"run {view.name!r}: {view.config_path} is not a valid ProjectorConfig text proto "
            f"({view.config_error}); TensorBoard's Projector fails while reading the "
            "configs and shows nothing",
            fix="rewrite it, e.g. with `projector-tools export`", run=view.name,
            path=view.config_path,
        )
        return False
    if shadowed:
        if view.config_path:
            report.add(
                INFO, "config_shadowed",
                f"run {view.name!r}: {view.config_path} is not used; TensorBoard reads the run's "
                "other projector_config.pbtxt", run=view.name, path=view.config_path,
            )
        return False
    return True


def _check_checkpoint_paths(report: Report, view: RunView) -> None:
    """How the checkpoint is named: relative/absolute config path, absolute state file."""
    if view.checkpoint_source == "config":
        _check_config_checkpoint_path(report, view)
    else:
        _check_state_file_paths(report, view)


def _check_config_checkpoint_path(report: Report, view: RunView) -> None:
    run = view.name
    ckpt = view.config.model_checkpoint_path
    if not fsio.is_absolute(ckpt):
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


def _check_state_file_paths(report: Report, view: RunView) -> None:
    for d in {view.dir, fsio.dirname(view.checkpoint or "") or view.dir}:
        if not view.stays_inside(d):
            continue
        for p in state_file_paths(d, view.logdir):
            if fsio.is_absolute(p):
                beyond = not view.stays_inside(p)  # not followed, not even looked at
                broken = beyond or not fsio.gfile().glob(p + "*")
                report.add(
                    ERROR if broken else WARNING, "absolute_path",
                    f"run {view.name!r}: the 'checkpoint' state file in {d} names {p!r}, an "
                    "absolute path"
                    + (" outside the logdir, not followed (was the logdir copied?)" if beyond
                       else " that does not exist here (was the logdir copied?)" if broken
                       else " that breaks as soon as the logdir is copied elsewhere"),
                    fix="`projector-tools doctor --fix` rewrites it relative to the run",
                    run=view.name, path=fsio.join(d, STATE_FILENAME),
                )
                break


def _report_no_checkpoint(report: Report, view: RunView) -> None:
    """A config without a readable checkpoint: Keras' .weights.h5, or nothing."""
    run = view.name
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


def _check_parent_checkpoint(report: Report, view: RunView) -> None:
    """A run showing its parent's checkpoint: without labels."""
    if view.checkpoint_source != "parent":
        return
    unlabelled = [e.name for e in view.embeddings if not e.metadata_path]
    if unlabelled:
        report.add(
            WARNING, "parent_checkpoint",
            f"run {view.name!r} has no checkpoint of its own, so TensorBoard shows the "
            f"checkpoint of its parent directory ({view.checkpoint}) here too, without "
            f"labels ({', '.join(unlabelled)})",
            fix="export into a run directory of its own that has no child runs (e.g. "
            "LOGDIR/projector) instead of the parent of training runs",
            run=view.name, path=view.checkpoint,
        )
