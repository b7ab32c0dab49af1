"""Ctrl-C at any moment of ``train``, ``export`` and ``doctor --fix``: exit
status 130 within 2 s, the one line ``projector-tools: interrupted`` (plus the
``--resume`` hint for ``train``) and nothing else but the tool's own lines;
the run stays consistent as TensorBoard resolves it, and ``--resume``
continues.

The moments are chosen from the tool's own progress output (readiness
signals, polled) plus a random offset into the phase that follows. The first
two trials start a fresh interpreter (imports and TensorFlow's start-up
included; the second is signalled while TensorFlow's library is being
loaded, when no Python code of the command can run); the others are forked
from a server that imported TensorFlow once, and run the CLI exactly as the
console script does. Every command runs under its supervisor
(``projector_tools.process.supervisor``), whose pass-through of statuses, output and
signals is tested at the end.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.helpers import HELPERS_DIR
from tests.helpers.cli_process import POLL_S, ForkServer, FreshRun, Outcome, child_of, cli_env

pytestmark = pytest.mark.slow

LIMIT_S = 2.0
INTERRUPTED = "projector-tools: interrupted"
# Every stderr line train may print: its progress and the tool's own lines.
TRAIN_LINES = re.compile(
    r"^(projector-tools: .*|demo: \d+ train reviews.*|building a SubwordTextEncoder .*"
    r"|  vocabulary: .*|vocabulary: .*|  encoded .*|encoded \d+ reviews .*|resuming from .*"
    r"|no checkpoint saved yet.*|--resume: nothing to resume.*|token statistics .*)$"
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
    from projector_tools.run.reader import listed_runs
    from projector_tools.run.points import read_matrix, read_metadata

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
    # at the epoch's end included. Odd trials signal the whole process group
    # (a terminal's Ctrl-C: supervisor and command both get SIGINT), even ones
    # the projector-tools pid only.
    moments = [
        ("fresh", "main", (0.0, 1.5)),  # main() started: parser, imports, TensorFlow's
        # TensorFlow's library is being loaded: the loader holds the GIL for
        # up to seconds, so only the supervisor can keep the 2 s bound.
        ("fresh", "tensorflow", (0.0, 0.3)),
        ("fork", r"^building a SubwordTextEncoder", (0.0, 0.4)),  # data loaded
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
        elif ready == "tensorflow":
            run.wait_for_tensorflow_loading()
        elif how == "epoch":
            run.wait_for(r"^Epoch \d+/100", count=ready)
        else:
            run.wait_for(ready)
        _sleep_into_phase(rng.uniform(lo, hi), run)
        out = run.interrupt(group=i % 2 == 1)
        print(f"trial {i}: {how} {ready} +{time.monotonic() - run.started:.1f}s from start, "
              f"SIGINT to the {'group' if i % 2 else 'pid'}, exit {out.status} in {out.seconds:.2f}s")
        assert_clean_interrupt(out, TRAIN_LINES)
        if ready not in ("main", "tensorflow"):  # train() has started: it says how to go on
            assert any("--resume" in ln for ln in out.stderr.splitlines()), out.stderr[-2000:]
        if "--resume" in argv and before:
            assert f"{before} epochs done" in out.stderr  # it did continue the run
        assert_consistent(logdir)
        _assert_gone(run)

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


def _assert_gone(run) -> None:
    """The command process under the supervisor has ended too."""
    if run.command_pid_at_signal is not None:
        assert not os.path.exists(f"/proc/{run.command_pid_at_signal}"), "the command outlived its supervisor"


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
        from projector_tools.run.reader import listed_runs

        rows = {ev.rows for v in listed_runs(str(logdir)) for ev in v.embeddings}
        assert rows <= {1000, 400_000} and rows, rows
    assert interrupted == 3


def test_doctor_fix_interrupted_leaves_a_loadable_run(tmp_path, server):
    from projector_tools.export.embeddings import export_embeddings

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

    from projector_tools.cli import run_command
    from projector_tools.process.interrupts import InterruptGuard

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
        rc = run_command(argparse.Namespace(func=command, debug=False), guard, lambda quiet: None)
    finally:
        guard.uninstall()
    assert rc == 130
    assert capfd.readouterr().err.splitlines() == [INTERRUPTED]
    assert signal.getsignal(signal.SIGINT) is previous


# -- the supervisor --------------------------------------------------------


class GilHolder:
    """``tests/helpers/gil_holder.py``: a supervised command stuck in C with the GIL."""

    def __init__(self, tmp_path):
        self.ready = tmp_path / "holding"
        self.proc = subprocess.Popen([sys.executable, os.path.join(HELPERS_DIR, "gil_holder.py"), str(self.ready)],
                                     env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, process_group=0)
        deadline = time.monotonic() + 60
        while not self.ready.exists():
            assert self.proc.poll() is None, self.proc.communicate()
            if time.monotonic() > deadline:
                self.proc.kill()
                pytest.fail("the GIL holder did not start within 60 s")
            time.sleep(POLL_S)
        self.command = child_of(self.proc.pid)
        assert self.command is not None and os.path.exists(f"/proc/{self.command}")

    def signal(self, signum: int, group: bool = False) -> tuple[int, float, str, str]:
        t0 = time.monotonic()
        (os.killpg if group else os.kill)(self.proc.pid, signum)
        try:
            out, err = self.proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # the command follows (PR_SET_PDEATHSIG)
            out, err = self.proc.communicate()
            pytest.fail(f"still alive 15 s after signal {signum}: {err}")
        return self.proc.returncode, time.monotonic() - t0, out, err

    def assert_command_gone(self) -> None:
        deadline = time.monotonic() + 5
        while os.path.exists(f"/proc/{self.command}") and time.monotonic() < deadline:
            time.sleep(POLL_S)  # a SIGKILL-ed process takes a moment to be torn down
        assert not os.path.exists(f"/proc/{self.command}"), "the command outlived its supervisor"


@pytest.mark.parametrize("group", [False, True], ids=["pid", "group"])
def test_supervisor_ends_a_command_that_holds_the_gil(tmp_path, group):
    """Nothing in the command can run (as while TensorFlow's library loads):
    the supervisor prints the command's last hint and the line, once, 130."""
    from tests.helpers.gil_holder import HINT

    holder = GilHolder(tmp_path)
    status, seconds, out, err = holder.signal(signal.SIGINT, group=group)
    assert status == 130, err
    assert seconds < LIMIT_S, seconds
    assert err.splitlines() == [f"projector-tools: {HINT}", INTERRUPTED], err
    assert out == f"{holder.command}\n"
    holder.assert_command_gone()


def test_supervisor_passes_other_signals_on_and_takes_the_command_with_it(tmp_path):
    # SIGTERM: the command dies of it, and so does the supervisor, as the
    # command alone would have (subprocess: -15; a shell: 143).
    (tmp_path / "term").mkdir()
    holder = GilHolder(tmp_path / "term")
    status, _, _, err = holder.signal(signal.SIGTERM)
    assert status == -signal.SIGTERM, err
    assert err == ""
    holder.assert_command_gone()
    # SIGKILL of the supervisor (a job manager that knows only its pid): the
    # command dies with it.
    (tmp_path / "kill").mkdir()
    holder = GilHolder(tmp_path / "kill")
    status, _, _, _ = holder.signal(signal.SIGKILL)
    assert status == -signal.SIGKILL
    holder.assert_command_gone()


def test_exit_statuses_and_output_pass_through_the_supervisor(tmp_path, capfd):
    """The console script (supervisor + command) answers exactly as ``main``
    run in this process: status, stdout and stderr."""
    from projector_tools.cli import main
    from projector_tools.process.quiet_tf import is_startup_line

    vectors = tmp_path / "vectors.npy"
    np.save(vectors, np.arange(24, dtype="float32").reshape(6, 4))
    script = os.path.join(os.path.dirname(sys.executable), "projector-tools")
    cmd = [script] if os.path.exists(script) else [sys.executable, "-m", "projector_tools.cli"]
    cases = [
        ["--help"],  # 0, usage on stdout
        ["no-such-command"],  # 2, argparse's usage error
        ["export", str(vectors), "--logdir", str(tmp_path / "run")],  # 0, the tool's output
    ]
    statuses = []
    for argv in cases:
        res = subprocess.run(cmd + argv, env=cli_env(), capture_output=True, text=True, timeout=300)
        try:
            rc = main(argv)
        except SystemExit as exc:  # argparse
            rc = exc.code
        here = capfd.readouterr()
        # (this process's TensorFlow runs unfiltered: TF_CPP_MIN_LOG_LEVEL=2 from conftest)
        ours = [ln for ln in here.err.splitlines() if not is_startup_line(ln)]
        assert (res.returncode, res.stdout, res.stderr.splitlines()) == (rc, here.out, ours), argv
        statuses.append(res.returncode)
    assert statuses == [0, 2, 0]
    # An error: status 1; with --debug, the traceback passes through as well.
    missing = str(tmp_path / "missing.npy")
    res = subprocess.run(cmd + ["--debug", "export", missing, "--logdir", str(tmp_path / "r")],
                         env=cli_env(), capture_output=True, text=True, timeout=300)
    assert res.returncode == 1, res.stderr
    assert "Traceback (most recent call last)" in res.stderr, res.stderr
    assert res.stderr.splitlines()[-1].startswith("projector_tools.errors.SourceError: ")
    assert missing in res.stderr.splitlines()[-1]
