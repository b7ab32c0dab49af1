"""Reliability of the exporter: SIGKILL at random moments, relocation, ram://.

The kill test runs an exporter in a child process (forked from a
multiprocessing forkserver that has imported TensorFlow once) and kills it
with SIGKILL at random moments, many times. After every kill the run is
resolved on disk exactly as TensorBoard 2.21's Projector does (its config,
then the latest checkpoint named by the ``checkpoint`` state file) and its
tensor must pair with its own metadata; at the end a real TensorBoard
serves the run.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import re
import shutil
import signal
import time
from collections import Counter

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

from projector_tools import export_embeddings, parse_projector_tsv
from projector_tools.run.checkpoint import checkpoint_shapes, read_tensor
from projector_tools.fsio import TMP_MARK
from projector_tools.run.config import CONFIG_FILENAME
from projector_tools.run.files import STATE_FILENAME, current_export
from projector_tools.run.lock import LOCK_FILENAME
from tests.helpers import REPO_ROOT
from tests.helpers.projector_checks import assert_run_serves
from tests.helpers.run_resolver import assert_self_consistent, resolve_like_tensorboard

KILLS = int(os.environ.get("PT_KILLS", "60"))


def kill_moment(run_dir: str) -> str:
    """Where, judging by the files left, the last kill landed.

    Replaced exports stay a while for readers of the old config, so only
    files newer than the current export tell that a new one had begun.
    """
    rel, step = current_export(run_dir)
    names = os.listdir(run_dir)
    steps = {int(m.group(1)) for n in names if TMP_MARK not in n
             for m in [re.match(r"embeddings-(\d+)", n)] if m}
    with open(os.path.join(run_dir, STATE_FILENAME)) as f:
        if '"./' in f.read():
            return "inside the switch (new checkpoint current, labels not yet)"
    if any(TMP_MARK in n and n.startswith((STATE_FILENAME, CONFIG_FILENAME)) for n in names):
        return "inside the switch (transitional files written)"
    if any(s > step for s in steps):
        return "new checkpoint written or being written, not switched"
    switched = os.stat(os.path.join(run_dir, STATE_FILENAME)).st_mtime_ns
    written_since = [n for n in names if n.startswith("metadata-")
                     and os.stat(os.path.join(run_dir, n)).st_mtime_ns > switched]
    if any(TMP_MARK in n for n in names) or written_since:
        return "new metadata written, checkpoint not started"
    return "between exports (switched and cleaned up)"


# -- the kill test -------------------------------------------------------------


@pytest.mark.slow
def test_sigkill_at_random_moments_never_leaves_a_mixed_run(tmp_path, tensorboard, monkeypatch):
    from tests.helpers.export_loop import export_number

    # The forkserver is a fresh interpreter that ignores our sys.path (Python
    # 3.11 drops it), so it finds the preloaded module through PYTHONPATH.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [REPO_ROOT, os.environ.get("PYTHONPATH")])))

    run_dir = str(tmp_path / "logs" / "run")
    matrix, labels = export_number(0, 500)
    export_embeddings(matrix, run_dir, metadata=labels)
    # Kills must land in every phase of an export, and an export's length
    # depends on the machine and its load: the kill window spans a few of them.
    took = []
    for k in (1, 2):  # the first one also warms TensorFlow up
        matrix, labels = export_number(k, 15_000)
        t0 = time.monotonic()
        export_embeddings(matrix, run_dir, metadata=labels)
        took.append(time.monotonic() - t0)
    window = max(0.25, 5 * min(took))

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["tests.helpers.export_loop"])
    from tests.helpers import export_loop

    rng = random.Random(6)
    moments: Counter[str] = Counter()
    exports_seen: set[int] = set()
    start = time.monotonic()
    for i in range(KILLS):
        started = ctx.Event()
        child = ctx.Process(
            target=export_loop.export_forever, args=(run_dir, 1_000 * (i + 1), started), daemon=True
        )
        child.start()
        assert started.wait(60), "exporter child did not start"
        # The random moment of the kill is the point of the test, not a wait
        # for readiness: kills land in every phase of the exports.
        time.sleep(rng.uniform(0.0, window))
        os.kill(child.pid, signal.SIGKILL)
        child.join(30)
        assert child.exitcode == -signal.SIGKILL, child.exitcode
        moments[kill_moment(run_dir)] += 1
        resolved = resolve_like_tensorboard(run_dir)
        assert list(resolved) == ["embedding"]
        tensor, meta = resolved["embedding"]
        tensor_meta_after_last_kill = meta
        exports_seen.add(assert_self_consistent(tensor, meta))
        if meta is None:
            moments["(unlabelled for the moment)"] += 1
    elapsed = time.monotonic() - start
    print(f"\n{KILLS} kills in {elapsed:.1f} s (window {window * 1000:.0f} ms); "
          f"kill moments: {dict(moments)}")
    # The kills landed at varied points: before the switch (a new checkpoint
    # on disk, not yet current) and after it, and the run moved on.
    assert moments["new checkpoint written or being written, not switched"] >= 3, moments
    assert moments["between exports (switched and cleaned up)"] >= 3, moments
    assert len(exports_seen) >= KILLS // 3, exports_seen

    tb = tensorboard(tmp_path / "logs")
    info = tb.info("run")
    assert [e["tensorName"] for e in info["embeddings"]] == ["embedding"]
    served = tb.tensor("run", "embedding").reshape(-1, export_loop.DIMS)
    labelled = bool(info["embeddings"][0].get("metadataPath"))  # unlabelled if killed in a switch
    assert_self_consistent(served, tb.metadata("run", "embedding") if labelled else None)
    assert labelled == (tensor_meta_after_last_kill is not None)


# -- relocation ------------------------------------------------------------------


def test_copied_and_moved_run_loads_in_tensorboard_without_rewrite(tmp_path, tensorboard):
    matrix = np.random.default_rng(3).standard_normal((40, 5), dtype=np.float32)
    labels = [f"wörd {i}" for i in range(40)]
    origin = tmp_path / "first place" / "run é"
    export_embeddings(matrix, str(origin), metadata=labels)
    before = {p.name: p.read_bytes() for p in origin.iterdir()}

    copied = tmp_path / "elsewhere" / "logs" / "copied run"
    shutil.copytree(origin, copied)
    moved = tmp_path / "moved" / "logs" / "run"
    moved.parent.mkdir(parents=True)
    shutil.move(str(origin), str(moved))
    shutil.rmtree(tmp_path / "first place")  # nothing may point back here

    for run_dir in (copied, moved):
        assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before  # no rewrite
        tb = tensorboard(run_dir.parent)
        assert_run_serves(tb, run_dir.name, {"embedding": matrix}, {"embedding": labels})
        tb.stop()


# -- ram:// ------------------------------------------------------------------------


def test_export_to_ram_filesystem_round_trips(monkeypatch):
    matrix = np.random.default_rng(4).standard_normal((30, 6), dtype=np.float32)
    other = np.random.default_rng(5).standard_normal((7, 2), dtype=np.float32)
    labels = ["a\tb", "", "ü", *[f"w{i}" for i in range(27)]]
    run = "ram://pt-tests/runs/ram run é"
    result = export_embeddings(
        {"embedding": matrix, "other": other}, run, metadata={"embedding": labels}
    )
    g = tf.io.gfile
    names = sorted(g.listdir(run))
    assert any("tfevents" in n for n in names), names
    # every file the export reports exists and reads back
    for path in result.files:
        assert g.exists(path), path
        with g.GFile(path, "rb") as f:
            assert f.read(), path
    # config: relative metadata path, no checkpoint path
    config = ProjectorConfig()
    with g.GFile(run + "/" + CONFIG_FILENAME, "r") as f:
        text_format.Parse(f.read(), config)
    assert not config.model_checkpoint_path
    by_name = {e.tensor_name: e.metadata_path for e in config.embeddings}
    assert set(by_name) == {"embedding", "other"}
    assert "/" not in by_name["embedding"] and "/" not in by_name["other"]
    # state file -> checkpoint prefix, read with the checkpoint reader and RestoreV2
    with g.GFile(run + "/" + STATE_FILENAME, "r") as f:
        state = f.read()
    rel, _ = current_export(run)
    assert f'model_checkpoint_path: "{rel}"' in state
    prefix = run + "/" + rel
    assert checkpoint_shapes(prefix) == {"embedding": [30, 6], "other": [7, 2]}
    assert np.array_equal(read_tensor(prefix, "embedding"), matrix)
    restored = tf.raw_ops.RestoreV2(
        prefix=prefix, tensor_names=["other"], shape_and_slices=[""], dtypes=[tf.float32]
    )[0].numpy()
    assert np.array_equal(restored, other)
    # metadata, parsed as the browser does
    with g.GFile(run + "/" + by_name["embedding"], "rb") as f:
        rows = parse_projector_tsv(f.read()).rows
    assert len(rows) == 30 and rows[0] == ("a\\tb",) and rows[1] == ("\\empty",)
    with g.GFile(run + "/" + by_name["other"], "rb") as f:  # no labels given: row ids
        assert [r[0] for r in parse_projector_tsv(f.read()).rows] == [str(i) for i in range(7)]

    # later exports replace the first; once the replaced ones are old, only
    # the current and the previous export (for readers of the old config)
    # stay, and no temporary file
    from projector_tools.run import cleanup as run_cleanup

    monkeypatch.setattr(run_cleanup, "RETAIN_RECENT_S", 0.0)
    export_embeddings(matrix[:10], run, metadata=labels[:10])
    export_embeddings(matrix[:12], run, metadata=labels[:12])
    after = sorted(g.listdir(run))
    assert not any(TMP_MARK in n or n == LOCK_FILENAME for n in after), after
    assert len([n for n in after if n.endswith(".index")]) == 2, after
    assert len([n for n in after if n.startswith("metadata-")]) == 2, after
    rel2, _ = current_export(run)
    assert read_tensor(run + "/" + rel2, "embedding").shape == (12, 6)


# -- live: TensorBoard serving while the callback exports -------------------------


def _poll_projector(tb, run: str, dims: int, stop, seen: list, errors: list) -> None:
    """What the Projector page fetches, over and over: /info, /tensor, /metadata."""
    import urllib.error

    while not stop.is_set():
        try:
            info = tb.info(run)
            (emb,) = [e for e in info["embeddings"] if e["tensorName"] == "embedding"]
            info_rows = int(emb["tensorShape"][0])
            tensor = tb.tensor(run, "embedding").reshape(-1, dims)
            meta = parse_projector_tsv(tb.metadata(run, "embedding"))
            seen.append((info_rows, tensor.shape[0], len(meta.rows), tensor[:, :4].tobytes()))
        except urllib.error.HTTPError as exc:
            errors.append(f"{exc.code} {exc.url}")


@pytest.mark.slow
def test_tensorboard_never_serves_a_mismatched_pair_while_the_callback_exports(tmp_path, tensorboard):
    import threading

    import keras

    from projector_tools import ProjectorCallback

    vocab, dims = 60, 8
    labels = [f"tok{i}" for i in range(vocab)]
    keras.utils.set_random_seed(1)
    model = keras.Sequential([
        keras.Input((10,), dtype="int32"),
        keras.layers.Embedding(vocab, dims, name="embedding"),
        keras.layers.GlobalAveragePooling1D(),
        keras.layers.Dense(1),
    ])
    model.compile("adam", "mse")
    x = np.random.default_rng(0).integers(0, vocab, (3000, 10))
    y = x.mean(axis=1, keepdims=True) / vocab
    logdir = tmp_path / "logs" / "live"
    callback = ProjectorCallback(str(logdir), metadata=labels)
    model.fit(x, y, epochs=1, batch_size=10, verbose=0, callbacks=[callback])

    tb = tensorboard(tmp_path / "logs")
    assert tb.wait_for_projector_runs() == ["live"]
    stop, seen, errors = threading.Event(), [], []
    poller = threading.Thread(target=_poll_projector, args=(tb, "live", dims, stop, seen, errors))
    poller.start()
    try:
        model.fit(x, y, epochs=6, initial_epoch=1, batch_size=10, verbose=0, callbacks=[callback])
    finally:
        stop.set()
        poller.join(60)
    final = model.get_layer("embedding").get_weights()[0]
    assert len(seen) >= 5, (len(seen), errors)
    assert not errors, errors[:5]
    mismatched = [s[:3] for s in seen if not (s[0] == s[1] == s[2] == vocab)]
    assert not mismatched, mismatched[:5]
    distinct = len({s[3] for s in seen})
    latest = np.array_equal(tb.tensor("live", "embedding").reshape(-1, dims), final)
    # TensorBoard 2.21 keeps the last served tensor per (run, name) in a cache
    # that a new checkpoint does not invalidate: observed, not asserted.
    print(f"\n{len(seen)} polls during 5 epochs: rows always {vocab}/{vocab}/{vocab}; "
          f"{distinct} distinct tensors served; final epoch served: {latest}")


# -- the checkpoint writer -----------------------------------------------------------


@pytest.mark.parametrize("root", ["local", "ram://pt-tests/slices"])
def test_sliced_checkpoint_reads_like_a_whole_one(tmp_path, monkeypatch, root):
    """A matrix saved in row slices and merged reads back as one tensor, everywhere."""
    from projector_tools.run import checkpoint

    base = str(tmp_path) if root == "local" else root
    tensors = {
        "embedding": np.random.default_rng(8).standard_normal((300, 7), dtype=np.float32),
        "a/é b": np.random.default_rng(9).standard_normal((2, 3), dtype=np.float32),
    }
    whole = checkpoint.write_checkpoint(base + "/whole/ckpt", tensors)
    assert [os.path.basename(f) for f in whole] == ["ckpt.data-00000-of-00001", "ckpt.index"]
    monkeypatch.setattr(checkpoint, "SLICE_BYTES", 7 * 4 * 64)  # 64-row slices: 5 of them
    monkeypatch.setattr(checkpoint, "SHARED_SLICE_BYTES", 7 * 4 * 64)  # (shared or copied)
    sliced = checkpoint.write_checkpoint(base + "/sliced/ckpt", tensors)
    # the small tensor + 5 slices, and a first slice of a few rows where the
    # array's start is not 64-byte aligned (checkpoint._slices)
    assert len([f for f in sliced if ".data-" in f]) in (6, 7)
    # no temporary slice checkpoint is left behind
    assert sorted(tf.io.gfile.listdir(base + "/sliced")) == sorted(os.path.basename(f) for f in sliced)
    for prefix in (base + "/whole/ckpt", base + "/sliced/ckpt"):
        assert checkpoint_shapes(prefix) == {"embedding": [300, 7], "a/é b": [2, 3]}
        for name, value in tensors.items():
            assert np.array_equal(read_tensor(prefix, name), value)
            restored = tf.raw_ops.RestoreV2(
                prefix=prefix, tensor_names=[name], shape_and_slices=[""], dtypes=[tf.float32]
            )[0].numpy()
            assert np.array_equal(restored, value)
        if root == "local":  # what TensorBoard calls (on ram:// it mistakes a prefix for a dir)
            reader = tf.train.load_checkpoint(prefix)
            assert np.array_equal(reader.get_tensor("embedding"), tensors["embedding"])
