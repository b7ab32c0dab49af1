"""Ctrl-C at any moment of ``train``, ``export`` and ``doctor --fix``: exit
status 130 within 2 s, the one line ``projector-tools: interrupted`` (plus the
``--resume`` hint for ``train``) and nothing else but the tool's own lines;
the run stays consistent as TensorBoard resolves it, and ``--resume``
continues.

The moments are chosen from the tool's own progress output (readiness
signals, polled) plus a random offset into the phase that follows. The first
two trials start a fresh interpreter (imports and TensorFlow's start-up
included); the others are forked from a server that imported TensorFlow
once, and run the CLI exactly as the console script does.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from cli_process import ForkServer, FreshRun, Outcome, cli_env

pytestmark = pytest.mark.slow

LIMIT_S = 2.0
INTERRUPTED = "projector-tools: interrupted"
# Every stderr line train may print: its progress and the tool's own lines.
TRAIN_LINES = re.compile(
    r"^(projector-tools: .*|demo: \d+ train reviews.*|building a SubwordTextEncoder .*"
    r"|  vocabulary: .*|vocabulary: .*|  encoded .*|encoded \d+ reviews .*|resuming from .*"
    r"|no checkpoint saved yet.*|--resume: nothing to resume.*)$"
)


@pytest.fixture(scope="module")
def server():
    s = ForkServer()
    yield s
    s.close()


def assert_clean_interrupt(out: Outcome, allowed: re.Pattern = re.compile(r"^projector-tools: .*$")):
    lines = out.stderr.splitlines()
    assert out.status == 130, (out.status, out.stderr[-3000:])
    assert out.seconds < LIMIT_S, (out.seconds, out.stderr[-3000:])
    assert lines and lines[-1] == INTERRUPTED, out.stderr[-3000:]
    assert lines.count(INTERRUPTED) == 1, out.stderr[-3000:]
    noise = [ln for ln in lines if not allowed.match(ln)]
    assert not noise, noise
    hints = [ln for ln in lines if "--resume" in ln]
    assert all(ln.startswith("projector-tools: ") for ln in hints), hints


def assert_consistent(logdir) -> None:
    """Resolve every run as TensorBoard does: each listed tensor loads and its
    labels (if any) have one row per point."""
    from projector_tools.inspect_run import listed_runs, read_matrix, read_metadata

    if not os.path.isdir(logdir):
        return
    for view in listed_runs(str(logdir)):
        for ev in view.embeddings:
            matrix = read_matrix(view, ev)
            parsed = read_metadata(view, ev)
            if ev.metadata_path:
                assert parsed is not None, f"{view.name}/{ev.name}: metadata {ev.metadata_path} missing"
                assert len(parsed.rows) == matrix.shape[0], (view.name, ev.name)


def saved_epochs(logdir) -> int:
    import tensorflow as tf

    prefix = tf.train.latest_checkpoint(os.path.join(str(logdir), "checkpoints"))
    if prefix is None:
        return 0
    return int(tf.train.load_checkpoint(prefix).get_tensor("epoch/.ATTRIBUTES/VARIABLE_VALUE"))


def _train_argv(logdir) -> list[str]:
    return ["train", "--logdir", str(logdir), "--epochs", "100", "--batch-size", "64"]


def test_train_interrupted_at_12_moments_then_resumes(tmp_path, server):
    rng = random.Random(os.environ.get("PT_SEED") or None)
    # (how it starts, readiness signal, random offset range in s). The first
    # five start new runs; the seven training moments interrupt one run again
    # and again, each trial resuming it (`--resume`) and stopping in its
    # n-th epoch (its n-th "Epoch k/100" line), checkpoint save and export
    # at the epoch's end included.
    moments = [
        ("fresh", "main", (0.0, 1.5)),  # main() started: parser, imports, TensorFlow's
        ("fresh", r"^demo: \d+ train reviews", (0.0, 0.3)),  # data loaded
        ("fork", r"^building a SubwordTextEncoder", (0.0, 0.4)),
        ("fork", r"^  vocabulary: search round", (0.0, 0.3)),
        ("fork", r"^encoded \d+ reviews", (0.0, 0.8)),  # model build, first batches
    ] + [("epoch", n, (0.0, 0.5)) for n in (1, 2, 1, 3, 1, 2, 1)]
    assert len(moments) == 12
    chained = tmp_path / "chained"
    for i, (how, ready, (lo, hi)) in enumerate(moments):
        logdir = chained if how == "epoch" else tmp_path / f"t{i:02d}"
        argv = _train_argv(logdir) + (["--resume"] if logdir.exists() else [])
        if how == "fresh":
            run = FreshRun(tmp_path, f"t{i:02d}", argv)
        else:
            run = server.start(tmp_path, f"t{i:02d}", argv)
        before = saved_epochs(logdir) if (logdir / "checkpoints").is_dir() else 0
        if ready == "main":
            run.wait_for_main()
        elif how == "epoch":
            run.wait_for(r"^Epoch \d+/100", count=ready)
        else:
            run.wait_for(ready)
        _sleep_into_phase(rng.uniform(lo, hi), run)
        out = run.interrupt()
        print(f"trial {i}: {how} {ready} +{time.monotonic() - run.started:.1f}s from start, "
              f"exit {out.status} in {out.seconds:.2f}s")
        assert_clean_interrupt(out, TRAIN_LINES)
        if i >= 1:
            assert any("--resume" in ln for ln in out.stderr.splitlines()), out.stderr[-2000:]
        if "--resume" in argv and before:
            assert f"{before} epochs done" in out.stderr  # it did continue the run
        assert_consistent(logdir)

    done = saved_epochs(chained)
    assert done >= 1, "no trial got past the first epoch"
    res = subprocess.run(
        [sys.executable, "-m", "projector_tools.cli", "train", "--logdir", str(chained), "--resume",
         "--epochs", str(done + 1), "--quiet"],
        env=cli_env(), capture_output=True, text=True, timeout=300,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert f"trained epochs {done + 1}-{done + 1}" in res.stdout
    assert not [ln for ln in res.stderr.splitlines() if not TRAIN_LINES.match(ln)], res.stderr
    assert saved_epochs(chained) == done + 1
    assert_consistent(chained)


def _sleep_into_phase(seconds: float, run, must_run: bool = True) -> bool:
    """The random moment itself: ``seconds`` past the readiness signal. False
    (or a failure with ``must_run``) when the command ends first."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if run.finished():
            if must_run:
                pytest.fail(f"the command ended before its moment:\n{run.stderr()[-3000:]}")
            return False
        time.sleep(min(0.01, max(0.0, end - time.monotonic())))
    return not run.finished()


def test_export_of_a_large_npy_interrupted_keeps_the_previous_export(tmp_path, server):
    rng = np.random.default_rng(0)
    first = tmp_path / "first.npy"
    np.save(first, rng.normal(size=(1000, 32)).astype("float32"))
    big = tmp_path / "big.npy"
    np.save(big, rng.normal(size=(400_000, 64)).astype("float32"))  # ~100 MB
    logdir = tmp_path / "run"
    done = server.start(tmp_path, "e0", ["export", str(first), "--logdir", str(logdir)])
    assert done.wait_exit(120) == 0, done.stderr()
    interrupted = 0
    for k in range(3):
        run = server.start(tmp_path, f"e{k + 1}", ["export", str(big), "--logdir", str(logdir)])
        _sleep_into_phase(random.uniform(0.0, 0.4), run)
        out = run.interrupt()
        assert_clean_interrupt(out)
        interrupted += 1
        assert_consistent(logdir)
        from projector_tools.inspect_run import listed_runs

        rows = {ev.rows for v in listed_runs(str(logdir)) for ev in v.embeddings}
        assert rows <= {1000, 400_000} and rows, rows
    assert interrupted == 3


def test_doctor_fix_interrupted_leaves_a_loadable_run(tmp_path, server):
    from projector_tools.export import export_embeddings

    template = tmp_path / "template"
    m = np.arange(600, dtype="float32").reshape(200, 3)
    export_embeddings(m, str(template / "run"), metadata=[f"w{i}" for i in range(200)])
    state = template / "run" / "checkpoint"
    # The logdir is copied from a run whose state file is absolute: each copy's
    # --fix rewrites it relative (with a backup).
    state.write_text(state.read_text().replace('"embeddings-', f'"{template / "run"}/embeddings-'))
    interrupted = 0
    for k in range(6):
        logdir = tmp_path / f"d{k}"
        shutil.copytree(template, logdir)
        run = server.start(tmp_path, f"d{k}", ["doctor", str(logdir), "--fix"])
        if not _sleep_into_phase(random.uniform(0.0, 0.15), run, must_run=False):
            continue  # it was done before the moment: nothing to interrupt
        out = run.interrupt()
        if out.status != 130 and not out.stderr.strip().endswith(INTERRUPTED):
            assert out.status in (0, 1), out.stderr  # finished as the signal arrived
            continue
        assert_clean_interrupt(out)
        interrupted += 1
        assert_consistent(logdir)
        # and a later --fix completes the repair
        again = server.start(tmp_path, f"d{k}b", ["doctor", str(logdir), "--fix"])
        assert again.wait_exit(120) == 0, again.stdout() + again.stderr()
    assert interrupted >= 1


def test_any_exception_after_the_sigint_is_the_interruption(capfd):
    """A KeyboardInterrupt that comes out of C code as another type (seen:
    SystemError "bad argument to internal function") is still reported as the
    interruption, in-process without os._exit (the guard restores the handler)."""
    import argparse
    import signal

    from projector_tools.cli import _run
    from projector_tools.interrupts import InterruptGuard

    def command(args):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)  # the handler raises KeyboardInterrupt here
        except KeyboardInterrupt:
            raise SystemError("Objects/listobject.c:338: bad argument to internal function") from None
        return 0

    previous = signal.getsignal(signal.SIGINT)
    guard = InterruptGuard(owns_process=False).install()
    try:
        rc = _run(argparse.Namespace(func=command, debug=False), guard, lambda quiet: None)
    finally:
        guard.uninstall()
    assert rc == 130
    assert capfd.readouterr().err.splitlines() == [INTERRUPTED]
    assert signal.getsignal(signal.SIGINT) is previous
