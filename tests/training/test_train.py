"""The trainer end to end: demo run served by a real TensorBoard, CSV training
through the CLI, resume after SIGKILL/SIGINT, the offline IMDB failure."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import time

import numpy as np
import pytest

from projector_tools.errors import InputError, LogdirError
from tests.helpers.cli_process import FreshRun, cli_env, run_cli
from tests.helpers.projector_checks import assert_run_serves

pytestmark = pytest.mark.slow



def checkpoint_embedding(logdir) -> tuple[np.ndarray, int]:
    """The embedding and epoch number of the newest training checkpoint in ``logdir``."""
    import tensorflow as tf

    prefix = tf.train.latest_checkpoint(os.path.join(str(logdir), "checkpoints"))
    assert prefix is not None
    reader = tf.train.load_checkpoint(prefix)
    return (
        reader.get_tensor("embedding/.ATTRIBUTES/VARIABLE_VALUE"),
        int(reader.get_tensor("epoch/.ATTRIBUTES/VARIABLE_VALUE")),
    )


def saved_epoch(logdir) -> int | None:
    """Epoch of the checkpoint the state file points at (None before the first)."""
    state = os.path.join(str(logdir), "checkpoints", "checkpoint")
    try:
        with open(state, encoding="utf-8") as f:
            m = re.search(r'^model_checkpoint_path: "ckpt-(\d+)"', f.read(), re.M)
    except OSError:
        return None
    return int(m.group(1)) if m else None


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    from projector_tools import train

    logdir = tmp_path_factory.mktemp("runs") / "demo"
    # review_points=0: only the token embedding here; the 'reviews' tensor is
    # tested in test_story.py
    result = train(str(logdir), epochs=3, batch_size=32, verbose=0, review_points=0)
    return logdir, result


def test_demo_run_is_listed_and_serves_the_final_checkpoint_with_every_label(demo_run, tensorboard):
    from projector_tools.training.datasets import load_encoder
    from projector_tools.run.metadata import subword_metadata

    logdir, result = demo_run
    encoder = load_encoder(os.path.join(str(logdir), "encoder"))
    assert result.vocab_size == encoder.vocab_size
    assert result.projector_run == os.path.join(str(logdir), "train")
    assert len(result.history["val_accuracy"]) == 3
    embedding, epoch = checkpoint_embedding(logdir)
    assert epoch == 3 and embedding.shape == (encoder.vocab_size, 16)

    tb = tensorboard(logdir)  # the directory `make demo` tells the user to open
    assert tb.wait_for_projector_runs() == ["train"]
    assert tb.plugins().get("scalars") is True
    labels = subword_metadata(encoder).column("label")
    assert_run_serves(tb, "train", {"embedding": embedding}, labels={"embedding": labels})

    # The picture the Projector draws: positive and negative demo words
    # fall on opposite sides of the first principal component.
    from projector_tools.training.demo_corpus import NEGATIVE_WORDS, POSITIVE_WORDS

    served = tb.tensor("train", "embedding").reshape(embedding.shape)
    centered = served - served.mean(axis=0)
    pc1 = centered @ np.linalg.svd(centered, full_matrices=False)[2][0]
    index = {label: i for i, label in enumerate(labels)}
    pos = [pc1[index[w + "_"]] for w in POSITIVE_WORDS if w + "_" in index]
    neg = [pc1[index[w + "_"]] for w in NEGATIVE_WORDS if w + "_" in index]
    assert len(pos) > 20 and len(neg) > 20
    assert min(pos) > max(neg) or max(pos) < min(neg)


def test_a_run_is_not_mixed_with_another(demo_run, tmp_path):
    from projector_tools import train

    logdir, _ = demo_run
    with pytest.raises(LogdirError, match="--resume"):
        train(str(logdir), epochs=1, verbose=0)
    with pytest.raises(InputError, match="embedding-dim=16"):
        train(str(logdir), resume=True, embedding_dim=8, verbose=0)
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(LogdirError, match="not empty"):
        train(str(other), epochs=1, verbose=0)
    assert os.listdir(other) == ["notes.txt"]


def test_resume_of_a_finished_run_trains_nothing_and_keeps_the_export(demo_run, tmp_path):
    from projector_tools import train
    from projector_tools.run.writer import read_current_tensors

    logdir, _ = demo_run
    copy = tmp_path / "demo"
    shutil.copytree(logdir, copy)
    before, epoch = checkpoint_embedding(copy)
    result = train(str(copy), resume=True, verbose=0)
    assert result.initial_epoch == epoch == 3 and result.history.get("val_accuracy", []) == []
    assert np.array_equal(read_current_tensors(result.projector_run)["embedding"], before)


def _start_training(logdir, epochs: int) -> FreshRun:
    return FreshRun(os.path.dirname(str(logdir)), os.path.basename(str(logdir)),
                    ["train", "--logdir", str(logdir), "--epochs", str(epochs), "--batch-size", "8"])


def _wait_for_saved_epoch(run: FreshRun, logdir, timeout: float = 240) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        epoch = saved_epoch(logdir)
        if epoch is not None and epoch >= 1:
            return epoch
        if run.finished():
            pytest.fail(f"training exited early ({run.proc.returncode}): {run.stderr()[-2000:]}")
        time.sleep(0.1)  # polling for the checkpoint file, not waiting blindly
    run.dump_and_kill("no checkpoint was saved in time")


def test_resume_after_sigkill_continues_from_the_last_saved_epoch(tmp_path):
    from projector_tools import train
    from projector_tools.run.writer import read_current_tensors

    logdir = tmp_path / "killed"
    run = _start_training(logdir, epochs=100)
    try:
        _wait_for_saved_epoch(run, logdir)
    finally:
        os.kill(run.pid, signal.SIGKILL)
        run.wait_exit(60)
    assert run.proc.returncode == -signal.SIGKILL
    _, done = checkpoint_embedding(logdir)
    assert 1 <= done < 100

    result = train(str(logdir), resume=True, epochs=done + 2, verbose=0)
    assert result.initial_epoch == done
    assert len(result.history["val_accuracy"]) == 2
    final, epoch = checkpoint_embedding(logdir)
    assert epoch == done + 2 == result.epochs
    assert np.array_equal(read_current_tensors(result.projector_run)["embedding"], final)


def test_sigint_stops_cleanly_and_cli_resume_continues(tmp_path):
    logdir = tmp_path / "interrupted"
    run = _start_training(logdir, epochs=100)
    _wait_for_saved_epoch(run, logdir)
    out = run.interrupt()  # a child alive 15 s later has its stacks dumped, then is killed
    assert out.status == 130, out.stderr[-2000:]
    assert out.seconds < 2, out.seconds
    assert "--resume" in out.stderr
    _, done = checkpoint_embedding(logdir)

    res = run_cli(tmp_path, "resume",
                  ["train", "--logdir", str(logdir), "--resume", "--epochs", str(done + 1), "--quiet"])
    assert res.returncode == 0, res.stderr[-2000:]
    assert "resuming from" in res.stderr and f"{done} epochs done" in res.stderr
    assert f"trained epochs {done + 1}-{done + 1}" in res.stdout
    assert checkpoint_embedding(logdir)[1] == done + 1


def test_cli_trains_from_a_csv_of_messy_reviews(tmp_path):
    import csv

    from tests.helpers.review_text import NEGATIVE_SNIPPETS, POSITIVE_SNIPPETS

    path = tmp_path / "IMDB Dataset.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["review", "sentiment"])
        for i in range(240):
            pos = i % 2 == 0
            pool = POSITIVE_SNIPPETS if pos else NEGATIVE_SNIPPETS
            w.writerow([f"{pool[i % 4]} {pool[(i // 3) % 4]} Seen in {1990 + i % 30}.",
                        "positive" if pos else "negative"])
    logdir = tmp_path / "runs" / "csv"
    res = run_cli(tmp_path, "csv",
                  ["train", "--logdir", str(logdir), "--data-csv", str(path), "--epochs", "2", "--quiet"])
    assert res.returncode == 0, res.stderr[-2000:]
    m = re.search(r"validation accuracy: (0\.\d+|1\.0+)", res.stdout)
    assert m, res.stdout
    from projector_tools.training.datasets import load_encoder
    from projector_tools.run.writer import read_current_tensors

    with open(logdir / "encoder.subwords", encoding="utf-8") as f:
        assert f.readline().strip() == "### SubwordTextEncoder"
    encoder = load_encoder(str(logdir / "encoder"))
    exported = read_current_tensors(str(logdir / "train"))["embedding"]
    assert exported.shape[0] == encoder.vocab_size
    assert np.array_equal(exported, checkpoint_embedding(logdir)[0])
    assert f"view: tensorboard --logdir {logdir}" in res.stdout


def test_cli_imdb_offline_fails_in_seconds_and_writes_nothing(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    env = cli_env(PROJECTOR_TOOLS_IMDB_URL=f"http://127.0.0.1:{closed}/aclImdb_v1.tar.gz")
    logdir = tmp_path / "runs" / "imdb"
    data_dir = tmp_path / "tfds"
    start = time.monotonic()
    res = run_cli(tmp_path, "offline",
                  ["train", "--logdir", str(logdir), "--dataset", "imdb_reviews/subwords8k",
                   "--data-dir", str(data_dir)], timeout=120, env=env)
    elapsed = time.monotonic() - start
    assert res.returncode == 1
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("projector-tools:")]
    assert len(lines) == 1, res.stderr
    assert os.path.join(str(data_dir), "downloads", "manual", "aclImdb_v1.tar.gz") in lines[0]
    assert "--dataset demo" in lines[0]
    assert not logdir.exists() and not (tmp_path / "runs").exists()
    assert elapsed < 60, elapsed  # TensorFlow's import is most of it


def test_pipeline_yields_every_review_once_in_length_buckets():
    import tensorflow as tf

    from projector_tools.training.pipeline import make_dataset

    rng = np.random.default_rng(0)
    ids = [list(rng.integers(1, 50, size=int(n))) for n in rng.integers(1, 120, size=300)]
    labels = [int(i % 2) for i in range(300)]
    ds = make_dataset(ids, labels, batch_size=16, shuffle=True)
    assert int(ds.cardinality()) > 0
    for _ in range(2):  # two epochs, reshuffled
        seen = []
        padding = 0
        batches = 0
        for x, y in ds:
            x = x.numpy()
            lengths = (x != 0).sum(axis=1)
            assert lengths.max() == x.shape[1]  # padded to the longest in the batch only
            padding += int((x == 0).sum())
            for row, n, label in zip(x, lengths, y.numpy()):
                seen.append((tuple(row[:n]), int(label)))
            batches += 1
        assert batches == int(ds.cardinality())
        assert sorted(seen) == sorted((tuple(r), y) for r, y in zip(ids, labels))
    seed_padding = 0
    for x, _ in tf.data.Dataset.from_generator(
        lambda: ((np.asarray(r), np.int64(y)) for r, y in zip(ids, labels)),
        output_signature=(tf.TensorSpec([None], tf.int64), tf.TensorSpec([], tf.int64)),
    ).padded_batch(16, padded_shapes=([None], [])):
        seed_padding += int((x.numpy() == 0).sum())
    assert padding < seed_padding / 2


def test_projector_tools_train_is_the_function_even_after_the_module_import():
    import projector_tools
    import projector_tools.training.trainer as module
    from projector_tools import train

    assert train is module.train and projector_tools.train is module.train
    assert "resume" in (train.__doc__ or "")


def test_seed_is_scoped_to_the_run_and_repeats_it(tmp_path):
    """``seed`` makes a run repeat without touching the caller's global random
    state (Python's, NumPy's); ``global_seed=True`` is the opt-in for that."""
    import random

    from projector_tools import TrainOptions, train

    py_state, np_state = random.getstate(), np.random.get_state()[1].copy()
    options = TrainOptions(epochs=1, batch_size=64, review_points=0, seed=7)
    first = train(str(tmp_path / "a"), options, verbose=0)
    assert random.getstate() == py_state
    assert np.array_equal(np.random.get_state()[1], np_state)
    second = train(str(tmp_path / "b"), options, verbose=0)
    weights = [first.model.get_layer("embedding").get_weights()[0],
               second.model.get_layer("embedding").get_weights()[0]]
    np.testing.assert_array_equal(weights[0], weights[1])
    with pytest.raises(InputError, match="unknown training options"):
        train(str(tmp_path / "c"), epoch=1)


def test_train_cli_flags_come_from_the_options(tmp_path):
    """Every command-line option of TrainOptions is a flag of `train`, and run.json records them all."""
    import argparse
    import json
    from dataclasses import fields

    from projector_tools.training.options import TrainOptions
    from projector_tools.training.trainer import configure_parser

    parser = argparse.ArgumentParser()
    configure_parser(parser)
    flags = {a.dest for a in parser._actions}
    cli_fields = {f.name for f in fields(TrainOptions) if f.metadata["cli"]}
    assert cli_fields <= flags, cli_fields - flags
    logdir = tmp_path / "run"
    proc = run_cli(tmp_path, "train", ["train", "--logdir", str(logdir), "--epochs", "1",
                                        "--review-points", "0", "--quiet"], timeout=600)
    assert proc.returncode == 0, proc.stderr
    record = json.loads((logdir / "run.json").read_text())
    assert set(record["options"]) == {f.name for f in fields(TrainOptions)}
    assert record["options"]["epochs"] == 1 and record["options"]["review_points"] == 0
