"""Hostile files: every reader of a file the tool did not write stays within
its budgets (docs/design.md, *Hostile files*). Each case runs the real CLI in
a process forked from a server that imported TensorFlow once
(tests/helpers/hostile_server.py): a 60 s alarm, an address-space guard, and
the peak resident memory measured by ``wait4``. Each must end with exit 0 or
exactly one ``projector-tools: error:`` line, no traceback, no abort, nothing
written on failure, and a peak under 1.5 GB beyond the server's own."""

from __future__ import annotations

import json
import os
import stat
import zipfile

import numpy as np
import pytest

from tests.helpers.hostile_checks import cli  # noqa: F401  (the fixture)
from tests.helpers.hostile_checks import (SECRET, YEAR_NS, _bounded, _metadata_file, _point_metadata_at, _run,
                                          holds_secret, not_opened, refused, stale, succeeded, tree)
from tests.helpers.hostile_files import (deep_legacy_h5, gzip_stream, patch_dtype, sparse_safetensors,
                                         zip_replacing, zip_with)

READERS = [("doctor",), ("neighbors", "w1"), ("plot", "-o", "{out}/p.png"), ("layout", "--method", "pca")]


def _reader_argv(cmd, run, out):
    head, *rest = cmd
    rest = [a.format(out=out) for a in rest]
    if head == "plot":
        return ["plot", run, *rest]
    if head == "neighbors":
        return ["neighbors", run, *rest]
    return [head, run, *rest]


# ---------------------------------------------------------------- only regular files

def test_fifo_as_source_vocab_and_run_metadata(cli, tmp_path):
    fifo = tmp_path / "pipe.vec"
    os.mkfifo(fifo)
    refused(cli.run("export", fifo, "--logdir", tmp_path / "out"), "FIFO")
    np.save(tmp_path / "v.npy", np.ones((3, 2), "float32"))
    refused(cli.run("export", tmp_path / "v.npy", "--vocab", fifo, "--logdir", tmp_path / "out"), "FIFO")
    assert not (tmp_path / "out").exists()
    run = _run(tmp_path)
    meta = run / _metadata_file(run)
    meta.unlink()
    os.mkfifo(meta)
    before = tree(run)
    for cmd in READERS + [("doctor", "--fix")]:
        r = cli.run(*_reader_argv(cmd, run, tmp_path))
        if r["status"] == 0:  # doctor reports the FIFO as a finding
            succeeded(r)
        else:
            refused(r)
        assert stat.S_ISFIFO(os.lstat(meta).st_mode)
    assert tree(run) == before


# ---------------------------------------------------------------- budgets before bytes

def test_safetensors_declaring_3m_rows_is_cheap_with_max_rows(cli, tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    sparse_safetensors(str(model / "model.safetensors"), 3_000_000, 1000)
    refused(cli.run("export", model, "--logdir", tmp_path / "a"), "2 GB", "--max-rows")
    assert not (tmp_path / "a").exists()
    r = cli.run("export", model, "--logdir", tmp_path / "b", "--max-rows", "10")
    succeeded(r)
    assert "10x1000" in r["stdout"]
    assert r["peak_mb"] < 300, r["peak_mb"]


def test_weights_h5_declaring_3m_rows(cli, tmp_path):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "model.weights.h5"
    with h5py.File(path, "w") as f:  # declared, never written: no storage behind it
        f.create_dataset("layers/embedding/vars/0", shape=(3_000_000, 1000), dtype="float32")
    refused(cli.run("export", path, "--logdir", tmp_path / "a", "--max-rows", "10"), "declares")
    refused(cli.run("export", path, "--logdir", tmp_path / "a"), "declares")
    assert not (tmp_path / "a").exists()


def test_weights_h5_with_real_chunked_storage_and_max_rows(cli, tmp_path):
    """A chunked, gzip-compressed 3,000,000 x 1,000 float32 dataset with only its
    first chunk written: real storage behind a huge declared shape, a small file.
    --max-rows 10 reads 10 rows cheaply; without it, the 2 GB limit refuses it."""
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "model.weights.h5"
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("layers/embedding/vars/0", shape=(3_000_000, 1000), dtype="float32",
                              chunks=(100, 1000), compression="gzip")
        ds[:10] = np.arange(10_000, dtype="float32").reshape(10, 1000)
    assert path.stat().st_size < 1 << 20
    r = cli.run("export", path, "--logdir", tmp_path / "b", "--max-rows", "10")
    succeeded(r)
    assert "10x1000" in r["stdout"], r["stdout"]
    assert r["peak_mb"] < 300, r["peak_mb"]
    refused(cli.run("export", path, "--logdir", tmp_path / "a"), "2 GB")
    assert not (tmp_path / "a").exists()


def test_word_vector_gzip_bombs(cli, tmp_path):
    one_line = tmp_path / "one-line.vec.gz"  # a header, then 256 MiB of numbers, no newline
    gzip_stream(str(one_line), b"2 3 \nthe ", b"0.1 " * (1 << 18), 256)
    refused(cli.run("export", one_line, "--logdir", tmp_path / "a"), "line longer")
    glove = tmp_path / "glove.txt.gz"  # GloVe (no header), one 256 MiB token
    gzip_stream(str(glove), b"the 0.1 0.2 0.3\nof 0.4 0.5 0.6\n" + b"x" * 70000, b"y" * (1 << 20), 256)
    refused(cli.run("export", glove, "--logdir", tmp_path / "a"), "line longer")
    lying = tmp_path / "lying.vec.gz"  # header says 2 rows, 256 MiB of rows follow
    gzip_stream(str(lying), b"2 2\n", b"a 0.1 0.2\n" * 100_000, 270)
    refused(cli.run("export", lying, "--logdir", tmp_path / "a"), "more than")
    assert not (tmp_path / "a").exists()


def test_glove_with_more_rows_than_labels_fit(cli, tmp_path):
    """A GloVe file (no header, so no declared count) of short 2-number rows: past
    MAX_LABELLED_ROWS it is refused while it grows, long before 2 GB of floats
    (268 million labels would take ~25 GB); --max-rows reads its start."""
    from projector_tools.run.budgets import MAX_LABELLED_ROWS

    many = tmp_path / "glove.txt.gz"
    block = b"a 0.1 0.2\n" * (1 << 16)
    gzip_stream(str(many), b"", block, MAX_LABELLED_ROWS // (1 << 16) + 2)
    r = cli.run("export", many, "--logdir", tmp_path / "a")
    refused(r, f"{MAX_LABELLED_ROWS:,} rows", "--max-rows")
    assert r["peak_mb"] < 1024, r["peak_mb"]
    assert not (tmp_path / "a").exists()
    header = tmp_path / "declared.vec"
    header.write_text(f"{MAX_LABELLED_ROWS + 1} 2\na 0.1 0.2\n")
    refused(cli.run("export", header, "--logdir", tmp_path / "a"), f"{MAX_LABELLED_ROWS:,} rows")
    r = cli.run("export", many, "--logdir", tmp_path / "b", "--max-rows", "10")
    succeeded(r)
    assert "10x2" in r["stdout"], r["stdout"]


def test_keras_config_bomb_and_deep_json(cli, tmp_path):
    bomb = tmp_path / "bomb.keras"
    zip_with(str(bomb), {"config.json": (b" " * (1 << 20), 200), "model.weights.h5": b""})
    refused(cli.run("export", bomb, "--logdir", tmp_path / "a"), "config.json")
    deep = tmp_path / "deep.keras"
    zip_with(str(deep), {"config.json": b"[" * 200_000 + b"]" * 200_000, "model.weights.h5": b""})
    refused(cli.run("export", deep, "--logdir", tmp_path / "a"), "nests deeper")
    assert not (tmp_path / "a").exists()


def test_keras_vocabulary_asset_bomb(cli, tmp_path):
    """A real ``.keras`` (TextVectorization -> Embedding) whose vocabulary assets
    are replaced by 1 MiB more than MAX_ASSET_BYTES of zeros (a ~0.5 MB zip entry):
    one line naming the asset and its ceiling, memory bounded, nothing written."""
    import keras

    from projector_tools.run.budgets import MAX_ASSET_BYTES

    tv = keras.layers.TextVectorization(max_tokens=20, output_sequence_length=4, name="tv")
    tv.adapt(["the cat sat on the mat", "a dog ran"])
    ids = keras.Input((1,), dtype="string")
    model = keras.Model(ids, keras.layers.Embedding(20, 4, name="words")(tv(ids)))
    good = tmp_path / "good.keras"
    model.save(good)
    with zipfile.ZipFile(good) as zf:
        vocabularies = [n for n in zf.namelist() if n.startswith("assets/") and n.endswith("vocabulary.txt")]
    assert vocabularies
    bomb = tmp_path / "bomb.keras"
    zip_replacing(str(good), str(bomb), {n: (b"\0" * (1 << 20), (MAX_ASSET_BYTES >> 20) + 1)
                                         for n in vocabularies})
    assert bomb.stat().st_size < 8 << 20
    r = cli.run("export", bomb, "--logdir", tmp_path / "a")
    refused(r, "vocabulary.txt", "ceiling")
    assert r["peak_mb"] < 300, r["peak_mb"]
    assert not (tmp_path / "a").exists()


def test_zip_entry_is_cut_at_its_ceiling(tmp_path):
    from projector_tools.errors import SourceError
    from projector_tools.run.budgets import read_zip_entry

    path = tmp_path / "a.zip"
    zip_with(str(path), {"vocab.txt": (b"\0" * (1 << 20), 8)})
    with zipfile.ZipFile(path) as zf:
        with pytest.raises(SourceError, match="declares"):
            read_zip_entry(zf, "vocab.txt", 1 << 20, str(path))
        info = zf.getinfo("vocab.txt")
        info.file_size = 10  # a central directory that lies about the size
        with pytest.raises(SourceError, match="damaged"):  # zipfile stops at the declared size
            read_zip_entry(zf, "vocab.txt", 1 << 20, str(path))


def test_legacy_h5_deep_model_config(cli, tmp_path):
    pytest.importorskip("h5py")
    path = tmp_path / "model.h5"
    deep_legacy_h5(str(path))
    refused(cli.run("export", path, "--logdir", tmp_path / "a"), "nests deeper")


def _hf_model(tmp_path, name="model", rows=10):
    from safetensors.numpy import save_file

    model = tmp_path / name
    model.mkdir()
    save_file({"embeddings.word_embeddings.weight": np.ones((rows, 4), "float32")},
              str(model / "model.safetensors"))
    return model


def test_tokenizer_ids_past_the_rows_and_negative(cli, tmp_path):
    model = _hf_model(tmp_path)
    tok = {"version": "1.0", "model": {"type": "WordLevel", "vocab": {"a": 0, "b": 1_000_000_000},
                                       "unk_token": "a"}}
    (model / "tokenizer.json").write_text(json.dumps(tok))
    refused(cli.run("export", model, "--logdir", tmp_path / "a"), "1,000,000,000")
    vt = _hf_model(tmp_path, "vt")
    (vt / "vocab.txt").write_text("a\nb\n")
    (vt / "added_tokens.json").write_text(json.dumps({"big": 2_000_000_000}))
    refused(cli.run("export", vt, "--logdir", tmp_path / "a"), "2,000,000,000")
    (vt / "added_tokens.json").write_text(json.dumps({"neg": -5}))
    refused(cli.run("export", vt, "--logdir", tmp_path / "a"), "negative")
    (vt / "added_tokens.json").write_text("[" * 100_000 + "]" * 100_000)
    refused(cli.run("export", vt, "--logdir", tmp_path / "a"), "nests deeper")
    assert not (tmp_path / "a").exists()


# ---------------------------------------------------------------- no fatal aborts

def test_checkpoint_declaring_3m_rows_is_cheap_with_max_rows(cli, tmp_path):
    """A checkpoint written by TensorFlow that declares a 3,000,000 x 1,000 tensor
    and stores 10 rows of it (SaveV2 with a slice): refused before reading without
    --max-rows, 10 rows read with it."""
    import tensorflow as tf

    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    tf.raw_ops.SaveV2(prefix=str(ckpt / "ck"), tensor_names=["embedding"],
                      shape_and_slices=["3000000 1000 0,10:-"],
                      tensors=[tf.constant(np.ones((10, 1000), np.float32))])
    refused(cli.run("export", ckpt / "ck", "--logdir", tmp_path / "a"), "2 GB", "--max-rows")
    assert not (tmp_path / "a").exists()
    r = cli.run("export", ckpt / "ck", "--logdir", tmp_path / "b", "--max-rows", "10")
    succeeded(r)
    assert "10x1000" in r["stdout"]
    assert r["peak_mb"] < 300, r["peak_mb"]


def test_checkpoint_index_with_dtype_99(cli, tmp_path):
    run = _run(tmp_path)
    index = next(run.glob("*.index"))
    patch_dtype(str(index))
    prefix = str(index)[: -len(".index")]
    refused(cli.run("export", prefix, "--logdir", tmp_path / "a"), "dtype 99")
    assert not (tmp_path / "a").exists()
    before = tree(run)
    for cmd in READERS + [("doctor", "--fix")]:
        r = cli.run(*_reader_argv(cmd, run, tmp_path))
        if cmd[0] == "doctor":  # the damage is a finding of its report (exit 1: problems found)
            _bounded(r)
            assert "dtype 99" in r["stdout"], r["stdout"]
        else:
            refused(r, "dtype 99")  # one line naming the damage, no abort
    assert tree(run) == before


# ---------------------------------------------------------------- containment

@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink", "etc"])
def test_layout_does_not_follow_metadata_out_of_the_run(cli, tmp_path, how):
    run = _run(tmp_path / "logdir")
    secret = tmp_path / "outside" / "secret.tsv"
    secret.parent.mkdir()
    secret.write_text(SECRET)
    if how == "absolute":
        _point_metadata_at(run, str(secret))
    elif how == "dotdot":
        _point_metadata_at(run, "../../outside/secret.tsv")
    elif how == "etc":
        _point_metadata_at(run, "/etc/passwd")
    else:
        meta = run / _metadata_file(run)
        meta.unlink()
        meta.symlink_to(secret)
    before, times = tree(run), stale(secret.parent)
    r = cli.run("layout", run, "--method", "pca", trace=True)
    refused(r, "outside")
    not_opened(r, times, secret.parent)
    assert tree(run) == before and not holds_secret(run)
    for cmd in READERS[:3]:  # doctor reports it; neighbors and plot refuse
        r = cli.run(*_reader_argv(cmd, run, tmp_path), trace=True)
        _bounded(r)
        assert r["status"] != 0 and "secret-" not in r["stdout"] + r["stderr"]
        not_opened(r, times, secret.parent)
    assert tree(run) == before


def test_layout_does_not_follow_a_checkpoint_symlink(cli, tmp_path):
    run = _run(tmp_path / "logdir")
    other = _run(tmp_path / "outside")
    data = next(run.glob("*.data-*"))
    data.unlink()
    data.symlink_to(next(other.glob("*.data-*")))
    before, times = tree(run), stale(other)
    for cmd in READERS:
        r = cli.run(*_reader_argv(cmd, run, tmp_path), trace=True)
        _bounded(r)
        assert r["status"] != 0
        not_opened(r, times, other)
    refused(r, "outside")  # layout
    assert tree(run) == before


def test_layout_with_unparseable_config(cli, tmp_path):
    run = _run(tmp_path)
    (run / "projector_config.pbtxt").write_text("embeddings { this is not protobuf")
    before = tree(run)
    refused(cli.run("layout", run, "--method", "pca"), "projector config")
    assert tree(run) == before


def test_symlinked_child_run_out_of_the_logdir(cli, tmp_path):
    """A child run that is a symlink out of the logdir is not even listed: its
    folder's access time (moved by a directory read) stays a year old."""
    logdir = tmp_path / "logdir"
    _run(logdir, "inside")
    outside = _run(tmp_path / "outside", "elsewhere-run")
    (outside / _metadata_file(outside)).write_text("".join(f"secret-{i}\n" for i in range(6)))
    (logdir / "linked").symlink_to(outside)
    times = stale(outside)
    for cmd in (["doctor", logdir, "--json"], ["neighbors", logdir, "secret-1", "--run", "linked"],
                ["publish", logdir, "--out", tmp_path / "site"]):
        st = os.stat(outside)
        os.utime(outside, ns=(st.st_mtime_ns - YEAR_NS, st.st_mtime_ns))
        r = cli.run(*cmd, trace=True)
        _bounded(r)
        assert "secret-" not in r["stdout"]
        if cmd[0] == "doctor":
            assert "outside_logdir" in r["stdout"] and "linked" in r["stdout"], r["stdout"]
        if cmd[0] == "neighbors":
            refused(r)
        not_opened(r, times, outside)
        if times:  # the filesystem tracks access times (stale() checked it)
            assert os.stat(outside).st_atime_ns == st.st_mtime_ns - YEAR_NS, f"{cmd[0]} listed {outside}"


def test_safetensors_index_naming_shards_outside(cli, tmp_path):
    outside = _hf_model(tmp_path, "outside")
    times = stale(outside)
    for target in ["../outside/model.safetensors", str(outside / "model.safetensors"), "/etc/passwd"]:
        model = tmp_path / "model"
        model.mkdir(exist_ok=True)
        (model / "model.safetensors.index.json").write_text(json.dumps(
            {"weight_map": {"embeddings.word_embeddings.weight": target}}))
        r = cli.run("export", model, "--logdir", tmp_path / "a", trace=True)
        refused(r, "outside the source folder")
        not_opened(r, times, outside)
        assert not (tmp_path / "a").exists()
    (model / "model.safetensors.index.json").write_text(json.dumps(
        {"weight_map": {"embeddings.word_embeddings.weight": "../outside/model.safetensors"}}))
    succeeded(cli.run("export", model, "--logdir", tmp_path / "b", "--allow-outside"))
    if times:  # the control: reading the shard on purpose does move its access time
        assert os.stat(outside / "model.safetensors").st_atime_ns != times[str(outside / "model.safetensors")]


def test_checkpoint_state_file_naming_outside(cli, tmp_path):
    outside = _run(tmp_path / "outside")
    prefix = str(next(outside.glob("*.index")))[: -len(".index")]
    folder = tmp_path / "ckpt"
    folder.mkdir()
    times = stale(outside)
    for target in ["/etc/passwd", os.path.relpath(prefix, folder)]:
        (folder / "checkpoint").write_text(f'model_checkpoint_path: "{target}"\n')
        r = cli.run("export", folder, "--logdir", tmp_path / "a", trace=True)
        refused(r, "outside the source folder")
        not_opened(r, times, outside)
        assert not (tmp_path / "a").exists()
    succeeded(cli.run("export", folder, "--logdir", tmp_path / "b", "--allow-outside"))
    if times:  # the control: TensorFlow reading the checkpoint on purpose moves its access times
        assert any(os.stat(p).st_atime_ns != t for p, t in times.items() if ".data-" in p)
    succeeded(cli.run("export", prefix, "--logdir", tmp_path / "c"))  # named yourself


# ---------------------------------------------------------------- scaling and long lines

@pytest.mark.slow
def test_config_repeating_one_tensor_200k_times(cli, tmp_path):
    run = _run(tmp_path)
    meta = _metadata_file(run)
    entry = f'embeddings {{\n  tensor_name: "embedding"\n  metadata_path: "{meta}"\n}}\n'
    (run / "projector_config.pbtxt").write_text(entry * 200_000)
    before = tree(run)
    for cmd in [("doctor",), ("neighbors", "w1"), ("plot", "-o", "{out}/p.png"), ("layout", "--method", "pca")]:
        r = cli.run(*_reader_argv(cmd, run, tmp_path))
        if cmd[0] == "doctor":  # the config's error in the report: refused before parsing
            _bounded(r)
            assert "ceiling" in r["stdout"], r["stdout"][-2000:]
        else:
            refused(r)
    assert tree(run) == before


def test_doctor_fix_on_one_line_metadata(cli, tmp_path):
    run = _run(tmp_path)
    meta = run / _metadata_file(run)
    with open(meta, "wb") as f:  # 256 MiB on one line, written sparse-free but streamed
        for _ in range(256):
            f.write(b"x" * (1 << 20))
    before = tree(run)
    r = cli.run("doctor", run, "--fix")
    _bounded(r)
    assert r["peak_mb"] < 200, r["peak_mb"]
    if r["status"] != 0:
        refused(r, "line longer")
        assert tree(run) == before


def test_label_files_of_more_lines_than_rows(cli, tmp_path):
    """A run's metadata, or a --vocab file, of millions of short lines: counted
    while read and refused past budgets.label_lines (a header and one line per
    row, never under MAX_LABELLED_ROWS), not held whole (2 GiB of "x\\n" was 6 GB)."""
    from projector_tools.run.budgets import MAX_LABELLED_ROWS

    lines = b"x\n" * (MAX_LABELLED_ROWS + 10)
    run = _run(tmp_path)
    (run / _metadata_file(run)).write_bytes(lines)
    before = tree(run)
    for cmd in READERS + [("doctor", "--fix"), ("publish", "--out", "{out}/site")]:
        r = cli.run(*_reader_argv(cmd, run, tmp_path))
        if cmd[0] == "doctor" and r["status"] == 1 and "error:" not in r["stderr"]:
            _bounded(r)  # reported as a finding
        else:
            refused(r, "lines")
        assert r["peak_mb"] < 500, (cmd, r["peak_mb"])
    assert tree(run) == before and not (tmp_path / "site").exists()
    vocab = tmp_path / "vocab.txt"
    vocab.write_bytes(lines)
    np.save(tmp_path / "v.npy", np.ones((3, 2), "float32"))
    refused(cli.run("export", tmp_path / "v.npy", "--vocab", vocab, "--logdir", tmp_path / "a"), "lines")
    assert not (tmp_path / "a").exists()
