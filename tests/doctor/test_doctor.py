"""`projector-tools doctor`: broken logdirs as users make them, checked against a
real TensorBoard before and after `--fix`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from projector_tools import Metadata, export_embeddings, subword_metadata
from projector_tools.run.metadata import parse_projector_tsv
from tests.helpers.doctor_cli import codes, doctor, doctor_json
from tests.helpers.projector_checks import assert_run_serves
from tests.helpers.view_fixtures import LAYER, VOCAB, build_model, corpus, keras_callback_logdir


def snapshot(root) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def assert_nothing_lost(before: dict[str, bytes], root) -> None:
    """Every file is still there, unchanged, or kept as a backup beside it."""
    after = snapshot(root)
    for name, data in before.items():
        if after.get(name) == data:
            continue
        backups = [v for k, v in after.items() if k.startswith(name + ".bak-")]
        assert data in backups, f"{name} was changed or removed without a backup"


# --------------------------------------------------------------------------
# Fixtures written the way users write them


def demo_subword_logdir(tmp_path, drop_padding_row: bool):
    """TensorBoard's projector demo: ``encoder.subwords`` as metadata, the
    embedding saved with ``tf.train.Checkpoint`` (optionally without row 0)."""
    import tensorflow as tf
    import tensorflow_datasets as tfds
    from tensorboard.plugins import projector

    subwords = ["the_", "a_", "and_", "movie_", "film", "s_", "was_", " /><", "br", "good_",
                "bad_", "great_", "ing_", "ed_", ", ", ". ", "it_", "is_", "this_", "of_"]
    encoder = tfds.deprecated.text.SubwordTextEncoder(vocab_list=subwords)
    logdir = tmp_path / "demo_logs"
    logdir.mkdir()
    with open(logdir / "metadata.tsv", "w", encoding="utf-8") as f:
        for s in encoder.subwords:
            f.write(f"{s}\n")
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(encoder.vocab_size, 6)).astype("float32")
    if drop_padding_row:
        weights = weights[1:]
    ckpt = tf.train.Checkpoint(embedding=tf.Variable(weights))
    ckpt.save(str(logdir / "embedding.ckpt"))
    config = projector.ProjectorConfig()
    emb = config.embeddings.add()
    emb.tensor_name = "embedding/.ATTRIBUTES/VARIABLE_VALUE"
    emb.metadata_path = "metadata.tsv"
    projector.visualize_embeddings(str(logdir), config)
    vocab_file = tmp_path / "imdb_subwords"
    encoder.save_to_file(str(vocab_file))
    return logdir, encoder, weights, str(vocab_file) + ".subwords"


# --------------------------------------------------------------------------
# Acceptance


def test_keras3_callback_logdir_is_explained_and_fixed(tmp_path, capsys, tensorboard):
    logdir, vocab = keras_callback_logdir(tmp_path)
    h5 = sorted((logdir / "train").glob("*.weights.h5"))
    assert h5, "Keras did not write its .weights.h5"

    rc, out = doctor(capsys, logdir)
    assert rc == 1, out
    assert ".weights.h5" in out and "keras_h5" in out
    assert codes(doctor_json(capsys, logdir)[1]) >= {"keras_h5", "no_runs"}

    # Keras' config names the vocabulary by its absolute path, outside the
    # logdir: reported, and read only when the user names it with --vocab.
    meta = str(tmp_path / "vocab.tsv")
    outside = [f for f in doctor_json(capsys, logdir)[1]["findings"] if f["code"] == "outside_logdir"]
    assert outside and outside[0]["path"] == meta and f"--vocab {meta}" in outside[0]["fix"]
    before = snapshot(tmp_path)
    rc, out = doctor(capsys, logdir, "--fix", "--vocab", meta)
    assert rc == 0, out
    rc, out = doctor(capsys, logdir)
    assert rc == 0, out
    # nothing of the user's was deleted; the replaced config is kept as a backup
    assert_nothing_lost(before, tmp_path)
    assert list(logdir.glob("projector_config.pbtxt.bak-*"))

    from projector_tools.sources.dispatch import load_vocab

    tb = tensorboard(logdir)  # labels as --vocab reads the file: padding row '<pad>'
    assert_run_serves(tb, "train", {LAYER: keras_callback_logdir.weights},
                      labels={LAYER: load_vocab(meta).column("label")})


@pytest.mark.parametrize("drop_padding_row", [False, True])
def test_tensorboard_demo_subword_metadata(tmp_path, capsys, tensorboard, drop_padding_row):
    logdir, encoder, weights, vocab_file = demo_subword_logdir(tmp_path, drop_padding_row)
    rc, report = doctor_json(capsys, logdir)
    assert rc == 1
    rows = [f for f in report["findings"] if f["code"] == "metadata_rows"]
    assert len(rows) == 1
    assert rows[0]["details"]["tensor_rows"] == weights.shape[0]
    assert rows[0]["details"]["metadata_rows"] == len(encoder.subwords)
    rc, out = doctor(capsys, logdir)
    assert f"{weights.shape[0]} rows" in out and f"({len(encoder.subwords)})" in out

    # without the vocabulary nothing can be repaired without guessing
    rc, out = doctor(capsys, logdir, "--fix")
    assert rc == 1 and "--vocab" in out

    before = snapshot(tmp_path)
    rc, out = doctor(capsys, logdir, "--fix", "--vocab", vocab_file)
    assert rc == 0, out
    assert_nothing_lost(before, tmp_path)
    assert (logdir / "metadata.tsv").exists()
    assert list(logdir.glob("projector_config.pbtxt.bak-*"))
    labels = subword_metadata(encoder).column("label")
    if drop_padding_row:
        labels = labels[1:]
    tb = tensorboard(logdir)
    assert_run_serves(tb, ".", {"embedding/.ATTRIBUTES/VARIABLE_VALUE": weights},
                      labels={"embedding/.ATTRIBUTES/VARIABLE_VALUE": labels})


def _export_cases(tmp_path):
    rng = np.random.default_rng(0)
    m = rng.normal(size=(12, 3)).astype("float32")
    tricky = ["", " ", "a\tb", "back\\slash", "new\nline", "\r", "ok", "x", "#", "é", "[UNK]", "z"]
    yield "plain array, no labels", dict(source=m, logdir=tmp_path / "a")
    yield "tricky labels", dict(source=m, logdir=tmp_path / "b", metadata=tricky)
    yield "two tensors, columns", dict(
        source={"words": m, "chars": m[:5]}, logdir=tmp_path / "runs" / "c",
        metadata={"words": Metadata({"label": tricky, "freq": range(12)}), "chars": list("abcde")})
    yield "row selection", dict(source=m, logdir=tmp_path / "d", metadata=tricky, max_rows=4)
    yield "TensorFlow filesystem", dict(source=m, logdir="ram://doctor/f", metadata=tricky)
    yield "keras model", dict(source=build_model(), logdir=tmp_path / "e",
                              metadata=[f"t{i}" for i in range(len(VOCAB))])


def test_doctor_passes_every_export(tmp_path, capsys):
    for what, kwargs in _export_cases(tmp_path):
        logdir = kwargs.pop("logdir")
        export_embeddings(kwargs.pop("source"), str(logdir), **kwargs)
        parent = logdir.rsplit("/", 1)[0] if isinstance(logdir, str) else logdir.parent
        for target in (logdir, parent):
            rc, out = doctor(capsys, target)
            assert rc == 0, f"{what} ({target}): {out}"


# --------------------------------------------------------------------------
# One problem at a time


def _export(tmp_path, name="run", labels=True, rows=6):
    m = np.arange(rows * 3, dtype="float32").reshape(rows, 3) + 1
    run = tmp_path / "logs" / name
    export_embeddings(m, str(run), metadata=[f"w{i}" for i in range(rows)] if labels else None)
    return tmp_path / "logs", run, m


def test_training_checkpoints_beside_runs_are_not_a_problem(tmp_path, capsys):
    """A CheckpointManager directory in the logdir is not a run TensorBoard should list."""
    import tensorflow as tf

    logdir, _run, _ = _export(tmp_path)
    ckpt = tf.train.Checkpoint(v=tf.Variable(np.ones((3, 2), "float32")))
    tf.train.CheckpointManager(ckpt, str(logdir / "checkpoints"), max_to_keep=1).save()
    rc, out = doctor(capsys, logdir)
    assert rc == 0, out


def test_missing_logdir_exits_2(tmp_path, capsys):
    rc, out = doctor(capsys, tmp_path / "nope")
    assert rc == 2 and "does not exist" in out


def test_invisible_run_gets_an_event_file(tmp_path, capsys, tensorboard):
    logdir, run, m = _export(tmp_path)
    (logdir / "other").mkdir()
    (logdir / "other" / "events.out.tfevents.1.x").write_bytes(b"")  # a training run
    for f in run.glob("events.out.tfevents*"):
        f.unlink()
    rc, report = doctor_json(capsys, logdir)
    assert rc == 1 and "invisible_run" in codes(report)
    rc, out = doctor(capsys, logdir, "--fix")
    assert rc == 0, out
    assert list(run.glob("events.out.tfevents*"))
    assert_run_serves(tensorboard(logdir), "run", {"embedding": m},
                      labels={"embedding": [f"w{i}" for i in range(6)]})


def _set_config(run, old: str, new: str):
    path = run / "projector_config.pbtxt"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_tensor_name_absent_lists_candidates(tmp_path, capsys):
    logdir, run, _ = _export(tmp_path)
    _set_config(run, 'tensor_name: "embedding"', 'tensor_name: "embedding:0/x"')
    rc, report = doctor_json(capsys, logdir)
    assert rc == 1
    f = next(f for f in report["findings"] if f["code"] == "tensor_not_in_checkpoint")
    assert f["details"]["candidates"] == ["embedding"] and "embedding [6, 3]" in f["message"]


def test_tab_in_first_line_of_one_column_metadata(tmp_path, capsys, tensorboard):
    logdir, run, m = _export(tmp_path)
    meta = next(run.glob("metadata-*.tsv"))
    labels = ["a\tb"] + [f"w{i}" for i in range(1, 6)]
    meta.write_text("".join(f"{x}\n" for x in labels))
    rc, report = doctor_json(capsys, logdir)
    assert rc == 1 and {"metadata_header_tab", "metadata_rows"} <= codes(report)
    rc, out = doctor(capsys, logdir, "--fix")
    assert rc == 0, out
    assert meta.read_text().startswith("a\tb")  # the user's file is untouched
    assert_run_serves(tensorboard(logdir), "run", {"embedding": m}, labels={"embedding": labels})


def test_absolute_paths_are_made_relative(tmp_path, capsys):
    logdir, run, m = _export(tmp_path)
    meta = next(run.glob("metadata-*.tsv"))
    _set_config(run, f'metadata_path: "{meta.name}"', f'metadata_path: "{meta}"')
    state = run / "checkpoint"
    state.write_text(state.read_text().replace('"embeddings-', f'"{run}/embeddings-'))
    rc, report = doctor_json(capsys, logdir)
    assert rc == 1
    absolute = [f for f in report["findings"] if f["code"] == "absolute_path"]
    assert len(absolute) == 2, absolute
    rc, out = doctor(capsys, logdir, "--fix")
    assert rc == 0, out
    assert str(run) not in (run / "projector_config.pbtxt").read_text()
    assert str(run) not in state.read_text()
    assert list(run.glob("checkpoint.bak-*")) and list(run.glob("projector_config.pbtxt.bak-*"))
    # copied elsewhere, it still loads
    copy = tmp_path / "copied"
    shutil.copytree(logdir, copy)
    shutil.rmtree(logdir)
    assert doctor(capsys, copy)[0] == 0


def test_copied_logdir_with_absolute_state_file(tmp_path, capsys):
    logdir, run, _ = _export(tmp_path)
    state = run / "checkpoint"
    state.write_text(state.read_text().replace('"embeddings-', f'"{run}/embeddings-'))
    copy = tmp_path / "copied"
    shutil.copytree(logdir, copy)
    shutil.rmtree(logdir)
    rc, report = doctor_json(capsys, copy)
    assert rc == 1 and {"absolute_path", "no_runs"} <= codes(report)
    rc, out = doctor(capsys, copy, "--fix")
    assert rc == 0, out


def test_full_model_checkpoint_clutter_and_nan(tmp_path, capsys):
    import tensorflow as tf

    model = build_model()
    run = tmp_path / "full"
    run.mkdir()
    tf.train.Checkpoint(model=model).save(str(run / "ckpt"))
    reader = tf.train.load_checkpoint(str(run))
    emb_key = next(k for k in reader.get_variable_to_shape_map() if "embeddings" in k)
    (run / "projector_config.pbtxt").write_text(f'embeddings {{ tensor_name: "{emb_key}" }}\n')
    rc, report = doctor_json(capsys, run)
    assert rc == 1
    clutter = next(f for f in report["findings"] if f["code"] == "clutter")
    assert clutter["details"]["tensors"] and emb_key not in clutter["details"]["tensors"]

    nan = np.ones((4, 2), "float32")
    nan[2, 1] = np.nan
    export_embeddings(nan, str(tmp_path / "nan"), allow_nonfinite=True)
    rc, report = doctor_json(capsys, tmp_path / "nan")
    assert rc == 1 and "nonfinite" in codes(report)


def test_child_runs_showing_the_parent_checkpoint(tmp_path, capsys):
    logdir, run, _ = _export(tmp_path)
    train = run / "train"
    train.mkdir()
    (train / "events.out.tfevents.1.host").write_bytes(b"")
    rc, report = doctor_json(capsys, logdir)
    assert rc == 1
    f = next(f for f in report["findings"] if f["code"] == "parent_checkpoint")
    assert f["run"] == os.path.join("run", "train")


def test_tensorflow_missing_beside_tensorboard(tmp_path):
    logdir, _run, _ = _export(tmp_path)
    fake = tmp_path / "no_tf"
    (fake / "tensorflow").mkdir(parents=True)
    (fake / "tensorflow" / "__init__.py").write_text("raise ImportError('no tensorflow here')\n")
    env = dict(os.environ, PYTHONPATH=str(fake))
    proc = subprocess.run([sys.executable, "-m", "projector_tools.cli", "doctor", str(logdir)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "tensorflow_missing" in proc.stdout and "pip install tensorflow" in proc.stdout


def test_metadata_rows_counted_as_the_browser_counts(tmp_path, capsys):
    logdir, run, _ = _export(tmp_path)
    meta = next(run.glob("metadata-*.tsv"))
    meta.write_text("w0\n \nw1\n\nw2\nw3\nw4\nw5\n")  # 8 lines, 2 skipped by the browser
    rc, report = doctor_json(capsys, logdir)
    assert rc == 0, report  # 6 data rows for 6 points: it loads
    meta.write_text("w0\n \nw1\nw2\nw3\nw4\nw5\nw6\n")
    rc, report = doctor_json(capsys, logdir)
    f = next(f for f in report["findings"] if f["code"] == "metadata_rows")
    assert f["details"]["metadata_rows"] == len(parse_projector_tsv(meta.read_text()).rows) == 7


def test_short_tensor_name_of_an_object_checkpoint_is_fixed(tmp_path, capsys, tensorboard):
    """The common mistake: tensor_name "embedding" for tf.train.Checkpoint(embedding=...),
    whose key is "embedding/.ATTRIBUTES/VARIABLE_VALUE"."""
    import tensorflow as tf

    run = tmp_path / "run"
    run.mkdir()
    weights = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    tf.train.Checkpoint(embedding=tf.Variable(weights)).save(str(run / "ckpt"))
    (run / "labels.tsv").write_text("".join(f"w{i}\n" for i in range(5)))
    (run / "projector_config.pbtxt").write_text(
        'embeddings {\n  tensor_name: "embedding"\n  metadata_path: "labels.tsv"\n}\n')
    rc, report = doctor_json(capsys, run)
    assert rc == 1 and "tensor_not_in_checkpoint" in codes(report)
    rc, out = doctor(capsys, run, "--fix")
    assert rc == 0, out
    key = "embedding/.ATTRIBUTES/VARIABLE_VALUE"
    assert_run_serves(tensorboard(run), ".", {key: weights},
                      labels={key: [f"w{i}" for i in range(5)]})


def test_config_in_plugin_assets_dir_is_the_one_used(tmp_path, capsys, tensorboard):
    """TensorBoard also reads run/plugins/org_tensorflow_tensorboard_projector/, and
    that config wins; doctor checks the labels TensorBoard really serves."""
    logdir, run, m = _export(tmp_path)
    assets = run / "plugins" / "org_tensorflow_tensorboard_projector"
    assets.mkdir(parents=True)
    (run / "projector_config.pbtxt").rename(assets / "projector_config.pbtxt")
    meta = next(run.glob("metadata-*.tsv"))
    meta.rename(assets / meta.name)
    rc, out = doctor(capsys, logdir)
    assert rc == 0, out
    labels = [f"w{i}" for i in range(6)]
    assert_run_serves(tensorboard(logdir), "run", {"embedding": m}, labels={"embedding": labels})
    (assets / meta.name).write_text("".join(f"{x}\n" for x in labels[:-1]))
    rc, report = doctor_json(capsys, logdir)
    assert rc == 1
    f = next(f for f in report["findings"] if f["code"] == "metadata_rows")
    assert (f["details"]["tensor_rows"], f["details"]["metadata_rows"]) == (6, 5)


def test_keras_callback_with_unalignable_labels_stays_reported(tmp_path, capsys):
    """Labels one row short cannot be aligned without the vocabulary: --fix converts
    the .h5 but doctor keeps saying so, and --vocab then repairs it."""
    logdir, vocab = keras_callback_logdir(tmp_path, meta_inside=True)
    (logdir / "vocab.tsv").write_text("".join(f"{t}\n" for t in vocab[1:]))  # no padding
    rc, out = doctor(capsys, logdir, "--fix")
    assert rc == 1 and "metadata_rows" in out and list((logdir / "train").glob("embeddings-*"))
    full = tmp_path / "full_vocab.txt"
    full.write_text("".join(f"{t}\n" for t in vocab))
    rc, out = doctor(capsys, logdir, "--fix", "--vocab", full)
    assert rc == 0, out


@pytest.mark.parametrize("absolute", [True, False])
def test_model_checkpoint_path_in_config(tmp_path, capsys, absolute):
    """model_checkpoint_path resolves against tensorboard's working directory:
    absolute breaks on copy, relative depends on where tensorboard starts."""
    logdir, run, _ = _export(tmp_path)
    prefix = next(run.glob("embeddings-*.index")).with_suffix("")
    (run / "checkpoint").rename(tmp_path / "state.saved")
    path = str(prefix) if absolute else os.path.relpath(prefix)
    text = (run / "projector_config.pbtxt").read_text()
    (run / "projector_config.pbtxt").write_text(f'model_checkpoint_path: "{path}"\n' + text)
    rc, report = doctor_json(capsys, logdir)
    assert rc == 1
    assert ("absolute_path" if absolute else "relative_checkpoint_path") in codes(report)
    rc, out = doctor(capsys, logdir, "--fix")
    assert rc == 0, out
    assert "model_checkpoint_path" not in (run / "projector_config.pbtxt").read_text()
    assert f'"{prefix.name}"' in (run / "checkpoint").read_text()


def test_keras_callback_beside_projector_callback(tmp_path, capsys):
    """Both callbacks on one logdir: --fix keeps ProjectorCallback's run as it is."""
    import keras

    from projector_tools import ProjectorCallback, vocabulary_metadata

    logdir = tmp_path / "both"
    model = build_model()
    model.compile(optimizer="adam", loss="binary_crossentropy")
    x, y = corpus(n=64)
    model.fit(x, y, epochs=1, verbose=0, callbacks=[
        keras.callbacks.TensorBoard(log_dir=str(logdir), embeddings_freq=1),
        ProjectorCallback(str(logdir), metadata=vocabulary_metadata(VOCAB)),
    ])
    rc, report = doctor_json(capsys, logdir)
    assert rc == 1 and "keras_h5" in codes(report)
    run_files = snapshot(logdir / "train")
    rc, out = doctor(capsys, logdir, "--fix")
    assert rc == 0, out
    assert snapshot(logdir / "train") == run_files


def test_vocab_relabels_only_what_needs_it(tmp_path, capsys):
    """--fix --vocab on a logdir with a broken run beside a healthy one (README:
    `doctor runs/ --fix --vocab encoder.subwords`, then `plot --color positivity`):
    the broken labels come from the vocabulary; the healthy run keeps every file,
    its positivity column included."""
    logdir, broken, _ = _export(tmp_path, name="broken")
    meta = next(broken.glob("metadata-*.tsv"))
    meta.write_text(meta.read_text() + "w6\n")  # a label too many
    export_embeddings(np.ones((6, 3), "float32"), str(logdir / "healthy"), metadata=Metadata(
        {"label": [f"t{i}" for i in range(6)], "positivity": [0.1 * i for i in range(6)]}))
    healthy = snapshot(logdir / "healthy")
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("".join(f"v{i}\n" for i in range(6)))
    rc, out = doctor(capsys, logdir, "--fix", "--vocab", vocab)
    assert rc == 0, out
    assert snapshot(logdir / "healthy") == healthy
    fixed = parse_projector_tsv(next(
        p for p in broken.glob("metadata-*.tsv") if p != meta and ".bak-" not in p.name).read_bytes())
    assert [r[0] for r in fixed.rows] == [f"v{i}" for i in range(6)]


def test_metadata_outside_the_config_dir_is_copied_in(tmp_path, capsys, tensorboard):
    """TensorBoard refuses a metadata path that leaves the config's directory;
    --fix copies it in when it is still inside the logdir."""
    logdir, run, m = _export(tmp_path)
    meta = next(run.glob("metadata-*.tsv"))
    beside = logdir / "labels.tsv"
    meta.rename(beside)
    _set_config(run, f'metadata_path: "{meta.name}"', 'metadata_path: "../labels.tsv"')
    rc, report = doctor_json(capsys, logdir)
    assert rc == 1 and "metadata_outside" in codes(report)
    rc, out = doctor(capsys, logdir, "--fix")
    assert rc == 0, out
    assert beside.exists()
    assert_run_serves(tensorboard(logdir), "run", {"embedding": m},
                      labels={"embedding": [f"w{i}" for i in range(6)]})


def test_repeated_config_entry_is_checked_once(tmp_path, capsys):
    """A config that repeats one entry (a hostile 40,000 times took doctor ~47 s):
    each distinct entry is checked once, and one warning counts the repeats; the
    copies are not reported as tensors missing from the checkpoint."""
    run = tmp_path / "run"
    export_embeddings(np.ones((4, 2), "float32"), str(run), metadata=["a", "b", "c", "d"])
    config = run / "projector_config.pbtxt"
    config.write_text(config.read_text() * 3)
    rc, report = doctor_json(capsys, run)
    repeated = [f for f in report["findings"] if f["code"] == "repeated_entry"]
    assert len(repeated) == 1 and repeated[0]["details"]["times"] == 3, report["findings"]
    assert "tensor_not_in_checkpoint" not in codes(report)
    assert rc == 1  # a problem of the run (a warning), reported once
