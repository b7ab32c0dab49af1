"""Several writers, one run: the run lock, pruning that spares readers, errors with causes.

The two-writer test exports from two processes (forked from a
multiprocessing forkserver that imported TensorFlow once) into one run
while this process resolves the run exactly as TensorBoard 2.21 does
(tests/run_resolver.py), then a real TensorBoard serves the result.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import socket
import threading
import time
from collections import Counter

import numpy as np
import pytest
import tensorflow as tf

from projector_tools import LogdirError, export_embeddings, fsio

from projector_tools.run import cleanup as run_cleanup
from projector_tools.run.files import current_export
from projector_tools.run.lock import LOCK_FILENAME, read_holder, run_lock
from tests.helpers import REPO_ROOT
from tests.helpers.run_resolver import assert_self_consistent, resolve_like_tensorboard

EXPORTS = int(os.environ.get("PT_EXPORTS", "100"))


@pytest.fixture(scope="module")
def forkserver():
    """A forkserver context whose children start with TensorFlow imported."""
    # The forkserver is a fresh interpreter that ignores our sys.path (Python
    # 3.11 drops it), so it finds the preloaded module through PYTHONPATH.
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [REPO_ROOT, old]))
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["tests.helpers.export_loop"])
    yield ctx
    if old is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = old


def read_once(run_dir: str) -> tuple[str, int | None]:
    """Resolve the run as TensorBoard does: ("ok", export k) or what went wrong."""
    try:
        resolved = resolve_like_tensorboard(run_dir)
    except FileNotFoundError as exc:  # the config names a metadata file that is gone
        return f"missing metadata: {exc}", None
    except tf.errors.OpError as exc:  # the checkpoint named by the state file is gone
        return f"missing checkpoint: {type(exc).__name__} {str(exc)[:200]}", None
    tensor, meta = resolved["embedding"]
    try:
        return "ok", assert_self_consistent(tensor, meta)
    except AssertionError as exc:
        return f"mismatched: {exc}", None


# -- acceptance: two writers, one reader ------------------------------------------


@pytest.mark.slow
def test_two_writers_and_a_reader_never_see_a_mixed_or_missing_file(
    tmp_path, tensorboard, forkserver, monkeypatch
):
    from tests.helpers import export_loop

    run_dir = str(tmp_path / "logs" / "run")
    matrix, labels = export_loop.export_number(0, 100)
    export_embeddings(matrix, run_dir, metadata=labels)

    go, results = forkserver.Event(), forkserver.Queue()
    # writer A waits as long as it takes; writer B gives up after 0.1 s, so
    # both paths (wait, refuse) run while the run changes under the reader.
    # A leaves 20 ms between its exports, as a training loop leaves an epoch:
    # back to back, it re-took the lock within a millisecond, and a fresh-clone
    # CI once saw all 100 of B's tries refused (B polls every 50 ms at most).
    a = forkserver.Process(target=export_loop.export_n_times,
                           args=(run_dir, 10_000, EXPORTS, go, results, None, None, 0.02), daemon=True)
    b = forkserver.Process(target=export_loop.export_n_times,
                           args=(run_dir, 20_000, EXPORTS, go, results, 0.1), daemon=True)
    a.start()
    b.start()
    outcomes: dict[int, tuple[str, str]] = {}
    reads: Counter[str] = Counter()
    problems: list[str] = []
    seen: set[int] = set()
    start = time.monotonic()
    go.set()
    while len(outcomes) < 2 * EXPORTS:
        status, k = read_once(run_dir)
        reads[status.split(":")[0]] += 1
        if status == "ok":
            seen.add(k)
        else:
            problems.append(status)
        try:
            while True:
                k_done, how, msg = results.get_nowait()
                outcomes[k_done] = (how, msg)
        except queue.Empty:
            pass
        assert time.monotonic() - start < 300, f"writers stuck: {len(outcomes)} exports done"
    a.join(30)
    b.join(30)
    elapsed = time.monotonic() - start
    refused = {k: msg for k, (how, msg) in outcomes.items() if how == "refused"}
    failed = {k: msg for k, (how, msg) in outcomes.items() if how == "failed"}
    ok = [k for k, (how, _) in outcomes.items() if how == "ok"]
    print(f"\n2 x {EXPORTS} exports in {elapsed:.1f} s: {len(ok)} ok, {len(refused)} refused, "
          f"{len(failed)} failed; reads: {dict(reads)}; {len(seen)} distinct exports seen")

    assert not failed, next(iter(failed.values()))
    assert not problems, (dict(reads), problems[:3])  # zero mismatched, zero missing files
    assert reads["ok"] >= 20, dict(reads)
    # every refusal is one line naming the writer that held the run
    holder = f"pid {a.pid} on {socket.gethostname()}, since "
    for msg in refused.values():
        assert "\n" not in msg and holder in msg and "is being written by another process" in msg, msg
    assert len([k for k in ok if k < 20_000]) == EXPORTS, "writer A waits; it is never refused"
    assert any(k >= 20_000 for k in ok), "writer B got no export through at all"
    assert any(10_000 <= k < 20_000 for k in seen) and any(k >= 20_000 for k in seen), seen

    # at rest: no temporary or lock file; recent exports kept for readers,
    # and once they are old, only the current and the previous one
    names = os.listdir(run_dir)
    assert not [n for n in names if fsio.TMP_MARK in n or n == LOCK_FILENAME], names
    monkeypatch.setattr(run_cleanup, "RETAIN_RECENT_S", 0.0)
    matrix, labels = export_loop.export_number(30_000, 77)
    export_embeddings(matrix, run_dir, metadata=labels)
    names = os.listdir(run_dir)
    assert len({n.split(".")[0] for n in names if n.startswith("embeddings-")}) == 2, names
    assert len([n for n in names if n.startswith("metadata-")]) == 2, names

    tb = tensorboard(tmp_path / "logs")
    assert tb.wait_for_projector_runs() == ["run"]
    served = tb.tensor("run", "embedding").reshape(-1, export_loop.DIMS)
    k = assert_self_consistent(served, tb.metadata("run", "embedding"))
    rel, _ = current_export(run_dir)
    assert k == int(tf.train.load_checkpoint(os.path.join(run_dir, rel)).get_tensor("embedding")[0, 0])


# -- stale and live locks -----------------------------------------------------------


def test_live_lock_is_refused_naming_its_holder_and_a_dead_ones_is_taken_over(tmp_path, forkserver):
    from tests.helpers import export_loop

    run_dir = str(tmp_path / "run")
    matrix, labels = export_loop.export_number(1, 40)
    export_embeddings(matrix, run_dir, metadata=labels)
    locked = forkserver.Event()
    holder = forkserver.Process(target=export_loop.hold_lock, args=(run_dir, locked), daemon=True)
    holder.start()
    try:
        assert locked.wait(60), "lock holder did not start"
        recorded = read_holder(run_dir)
        assert (recorded.pid, recorded.host) == (holder.pid, socket.gethostname())
        assert abs(recorded.since - time.time()) < 120

        t0 = time.monotonic()
        with pytest.raises(LogdirError) as err:
            export_embeddings(*export_loop.export_number(2, 50)[:1], run_dir, lock_timeout=0.3)
        waited = time.monotonic() - t0
        msg = str(err.value)
        assert f"pid {holder.pid} on {socket.gethostname()}, since " in msg and "\n" not in msg, msg
        assert 0.3 <= waited < 10, waited
        assert current_export(run_dir)[1] == 1  # nothing was written
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.join(30)
    assert holder.exitcode == -signal.SIGKILL
    assert read_holder(run_dir).pid == holder.pid  # the dead writer's lock is still there

    t0 = time.monotonic()
    matrix, labels = export_loop.export_number(3, 60)
    result = export_embeddings(matrix, run_dir, metadata=labels, lock_timeout=30)
    assert time.monotonic() - t0 < 10  # taken over, not waited out
    assert result.step == 2 and read_holder(run_dir) is None
    assert not [n for n in os.listdir(run_dir) if fsio.TMP_MARK in n]
    resolved = resolve_like_tensorboard(run_dir)
    assert assert_self_consistent(*resolved["embedding"]) == 3


def test_two_takeovers_of_one_stale_lock_let_one_writer_in_at_a_time(tmp_path, forkserver):
    from tests.helpers import export_loop

    run_dir = str(tmp_path / "run")
    locked = forkserver.Event()
    dead = forkserver.Process(target=export_loop.hold_lock, args=(run_dir, locked), daemon=True)
    dead.start()
    assert locked.wait(60), "lock holder did not start"
    os.kill(dead.pid, signal.SIGKILL)
    dead.join(30)
    assert read_holder(run_dir).pid == dead.pid

    events: list[tuple[str, int]] = []
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            barrier.wait()
            with run_lock(run_dir, timeout=30):
                events.append(("in", i))
                time.sleep(0.05)  # holding the lock, as an export would
                events.append(("out", i))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert len(events) == 8
    for j in range(0, 8, 2):  # strictly one holder at a time
        assert events[j][0] == "in" and events[j + 1] == ("out", events[j][1]), events
    assert sorted(os.listdir(run_dir)) == []  # stale lock gone, no aside copy left


def test_racing_takeovers_never_let_two_writers_in(tmp_path):
    """Many rounds of four threads finding one stale lock (a real PID whose
    process has exited, on this machine). A takeover that renamed the lock
    aside could move a lock just created by the first taker and leave a
    moment with no lock file, letting a third writer in beside the first:
    51 of 300 such rounds broke exclusion before the takeover held a flock."""
    import json
    import subprocess
    import sys

    from projector_tools.run import lock as lock_module

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    me = lock_module._this_process()
    broken = []
    for r in range(100):
        run_dir = tmp_path / f"run{r}"
        run_dir.mkdir()
        (run_dir / LOCK_FILENAME).write_text(json.dumps({
            "tool": "projector_tools", "host": me["host"], "pid": gone.pid, "since": time.time(),
            "token": "stale", "machine": me["machine"], "proc_start": None,
        }))
        events: list[tuple[str, int]] = []
        barrier = threading.Barrier(4)

        def writer(i: int) -> None:
            barrier.wait()
            with run_lock(str(run_dir), timeout=30):
                events.append(("in", i))
                time.sleep(0.002)
                events.append(("out", i))

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(events) == 8, events
        if any(events[j][0] != "in" or events[j + 1] != ("out", events[j][1]) for j in range(0, 8, 2)):
            broken.append((r, list(events)))
        assert os.listdir(run_dir) == []  # the stale lock is gone, nothing left beside it
    assert broken == []


def test_lock_from_another_machine_is_waited_for_until_it_is_stale(tmp_path):
    import json

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    lock = run_dir / LOCK_FILENAME

    def write_lock(age: float) -> None:
        lock.write_text(json.dumps({"host": "elsewhere", "pid": 4242, "since": time.time() - age,
                                    "token": "x", "machine": "other-boot/pid:[1]"}))

    write_lock(age=5)  # recent: its pid means nothing here, so it is presumed alive
    with pytest.raises(LogdirError, match=r"pid 4242 on elsewhere, since .*waited 0.2 s"):
        with run_lock(str(run_dir), timeout=0.2):
            pass
    write_lock(age=3600)  # older than the staleness limit: taken over
    with run_lock(str(run_dir), timeout=0.2):
        assert read_holder(str(run_dir)).pid == os.getpid()
    assert not lock.exists()


def test_lock_is_reentrant_within_a_thread_and_invisible_to_doctor(tmp_path):
    from projector_tools.doctor import diagnose

    run_dir = str(tmp_path / "run")
    with run_lock(run_dir) as outer:
        with run_lock(run_dir, timeout=0.1) as inner:  # no wait for ourselves
            assert inner is outer
            export_embeddings(np.ones((3, 2), "float32"), run_dir)  # takes it again
        assert read_holder(run_dir).token == outer.token
        locked = diagnose(str(tmp_path)).to_dict()
    assert read_holder(run_dir) is None
    unlocked = diagnose(str(tmp_path)).to_dict()
    assert locked == unlocked and locked["ok"] and locked["runs"] == ["run"], locked


# -- errors that keep their cause ------------------------------------------------------


def test_listdir_failures_other_than_missing_name_their_cause(tmp_path):
    missing = str(tmp_path / "absent")
    assert fsio.listdir(missing, missing_ok=True) == []
    with pytest.raises(LogdirError, match="does not exist"):
        fsio.listdir(missing)

    (tmp_path / "file").write_text("x")
    loop = tmp_path / "loop"
    loop.symlink_to(loop)  # stat fails with ELOOP even for root
    cases = {
        str(tmp_path / "file" / "sub"): "Not a directory",  # ENOTDIR: a path under a file
        str(tmp_path / "file"): "is a file, not a directory",
        str(loop): "Too many levels of symbolic links",
        "nosuchfs://bucket/run": "File system scheme 'nosuchfs' not implemented",
    }
    for path, cause in cases.items():
        for missing_ok in (True, False):
            with pytest.raises(LogdirError) as err:
                fsio.listdir(path, missing_ok=missing_ok)
            assert path in str(err.value) and cause in str(err.value), str(err.value)
            assert err.value.__cause__ is not None  # chained: --debug shows it

    with pytest.raises(LogdirError, match="Is a directory") as err:
        fsio.read_bytes(str(tmp_path))
    assert isinstance(err.value.__cause__, tf.errors.OpError)
    with pytest.raises(LogdirError, match="not implemented") as err:
        fsio.remove("nosuchfs://bucket/run/x")
    fsio.remove(str(tmp_path / "absent"))  # already gone is fine
    with pytest.raises(LogdirError, match="nosuchfs.*not implemented"):
        export_embeddings(np.ones((3, 2), "float32"), "nosuchfs://bucket/run")


def test_lock_on_a_filesystem_without_exclusive_create_refuses_a_second_writer():
    """ram:// (like gs://) has no O_EXCL: the lock is written when absent and read back."""
    run_dir = "ram://pt-lock-tests/run"
    refused: list[str] = []

    def second_writer() -> None:
        try:
            export_embeddings(np.ones((3, 2), "float32"), run_dir, lock_timeout=0.2)
        except LogdirError as exc:
            refused.append(str(exc))

    with run_lock(run_dir) as held:
        assert read_holder(run_dir).token == held.token
        other = threading.Thread(target=second_writer)
        other.start()
        other.join(60)
    assert len(refused) == 1 and f"pid {os.getpid()} on {socket.gethostname()}" in refused[0], refused
    assert read_holder(run_dir) is None
    export_embeddings(np.ones((3, 2), "float32"), run_dir, lock_timeout=0.2)  # free again
    assert LOCK_FILENAME not in tf.io.gfile.listdir(run_dir)
