"""Hostile files at the edges tests/test_hostile.py does not name: ``publish``
(and ``show()``, which publishes) reading a hostile run, and sources of every
other format the tool reads (fastText ``.bin``, word2vec binary, ``.npy``,
pickles and ``.npz``, long-lined ``.tsv``, SentencePiece ``tokenizer.model``,
``--vocab``, ``train --data-csv``). Same harness and rules
(tests/helpers/hostile_checks.py): the real CLI forked from a server that
imported TensorFlow once, a 60 s alarm, peak memory from ``wait4``; exit 0 or
exactly one ``projector-tools: error:`` line, nothing written on failure,
nothing opened outside the folder the user named."""

from __future__ import annotations

import json
import os
import pickle
import struct

import numpy as np
import pytest

from tests.helpers.hostile_checks import cli  # noqa: F401  (the fixture)
from tests.helpers.hostile_checks import (SECRET, _metadata_file, _point_metadata_at, _run,
                                          holds_secret, not_opened, refused, stale, succeeded, tree)
from tests.helpers.hostile_files import patch_dtype

MiB = 1 << 20


def _add_to_entry(run, line: str) -> None:
    """Add ``line`` to the first ``embeddings`` entry of the run's config."""
    path = run / "projector_config.pbtxt"
    path.write_text(path.read_text().replace("embeddings {", "embeddings {\n  " + line, 1))


def _one_line(path, head: bytes, mib: int = 256) -> None:
    """``head``, then ``mib`` MiB of zero bytes with no newline (sparse: cheap to make)."""
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(len(head) + mib * MiB)


# ---------------------------------------------------------------- publish (and show(), which publishes)

def test_publish_refuses_a_fifo_and_a_dtype_99_checkpoint(cli, tmp_path):
    run = _run(tmp_path / "fifo")
    meta = run / _metadata_file(run)
    meta.unlink()
    os.mkfifo(meta)
    before = tree(run)
    refused(cli.run("publish", run, "--out", tmp_path / "site"), "FIFO", meta.name)
    assert tree(run) == before
    run = _run(tmp_path / "dtype")
    patch_dtype(str(next(run.glob("*.index"))))
    before = tree(run)
    refused(cli.run("publish", run, "--out", tmp_path / "site"), "dtype 99", "doctor")
    assert tree(run) == before
    assert not (tmp_path / "site").exists()


KEYS = {"metadata": None, "tensor": "tensor_path: \"{}\"",
        "sprite": "sprite {{ image_path: \"{}\" single_image_dim: 2 single_image_dim: 2 }}",
        "bookmarks": "bookmarks_path: \"{}\""}


@pytest.mark.parametrize("how", ["absolute", "dotdot", "etc", "symlink"])
@pytest.mark.parametrize("key", list(KEYS))
def test_publish_copies_nothing_from_outside_the_run(cli, tmp_path, key, how):
    run = _run(tmp_path / "logdir")
    secret = tmp_path / "outside" / "secret.tsv"
    secret.parent.mkdir()
    secret.write_text(SECRET)
    target = {"absolute": str(secret), "dotdot": "../../outside/secret.tsv", "etc": "/etc/passwd",
              "symlink": "linked.tsv"}[how]
    if how == "symlink":
        (run / target).symlink_to(secret)
    if key == "metadata":
        _point_metadata_at(run, target)
    else:
        _add_to_entry(run, KEYS[key].format(target))
    before, times = tree(run), stale(secret.parent)
    r = cli.run("publish", run, "--out", tmp_path / "site", trace=True)
    refused(r, "outside")
    not_opened(r, times, secret.parent)
    assert not (tmp_path / "site").exists() and not holds_secret(tmp_path / "logdir")
    assert tree(run) == before


def test_publish_does_not_follow_a_symlinked_child_run(cli, tmp_path):
    logdir = tmp_path / "logdir"
    logdir.mkdir()
    outside = _run(tmp_path / "outside", "elsewhere")
    (outside / _metadata_file(outside)).write_text("".join(f"secret-{i}\n" for i in range(6)))
    (logdir / "linked").symlink_to(outside)
    times = stale(outside)
    r = cli.run("publish", logdir, "--out", tmp_path / "site", trace=True)
    refused(r, "no run", "doctor")
    not_opened(r, times, outside)
    assert not (tmp_path / "site").exists()
    # named through the symlink itself, the run is the user's choice (as for a logdir)
    succeeded(cli.run("publish", logdir / "linked", "--out", tmp_path / "site"))


def test_publish_refuses_a_config_that_is_not_protobuf_or_is_huge(cli, tmp_path):
    run = _run(tmp_path)
    config, meta = run / "projector_config.pbtxt", _metadata_file(run)
    config.write_text("embeddings { this is not protobuf")
    refused(cli.run("publish", run, "--out", tmp_path / "site"), "doctor")
    entry = f'embeddings {{\n  tensor_name: "embedding"\n  metadata_path: "{meta}"\n}}\n'
    config.write_text(entry * 200_000)
    before = tree(run)
    refused(cli.run("publish", run, "--out", tmp_path / "site"), "doctor")
    assert tree(run) == before and not (tmp_path / "site").exists()


def test_publish_one_line_metadata_is_refused_while_read(cli, tmp_path):
    run = _run(tmp_path)
    _one_line(run / _metadata_file(run), b"w0\n")
    before = tree(run)
    r = cli.run("publish", run, "--out", tmp_path / "site")
    refused(r, "line longer", _metadata_file(run))
    assert r["peak_mb"] < 200, r["peak_mb"]
    assert tree(run) == before and not (tmp_path / "site").exists()


@pytest.mark.parametrize("key", ["sprite", "bookmarks"])
def test_publish_streams_a_huge_sprite_or_bookmarks_file(cli, tmp_path, key):
    """The run's own files are copied, whatever their size, in chunks: memory stays flat."""
    run = _run(tmp_path)
    big = run / ("big.png" if key == "sprite" else "big.json")
    with open(big, "wb") as f:
        f.truncate(256 * MiB)
    _add_to_entry(run, KEYS[key].format(big.name))
    r = cli.run("publish", run, "--out", tmp_path / "site", "--json")
    succeeded(r)
    assert r["peak_mb"] < 200, r["peak_mb"]
    copied = json.loads(r["stdout"])["tensors"][0][f"{key}_path"]
    assert os.path.getsize(tmp_path / "site" / copied) == 256 * MiB


@pytest.mark.parametrize("bookmarks", ["deep", "huge"])
def test_layout_on_hostile_bookmarks(cli, tmp_path, bookmarks):
    """``layout`` keeps a run's saved views: deep JSON (a RecursionError before)
    or a file over the JSON ceiling is left out, read within the budgets."""
    run = _run(tmp_path)
    views = run / "views.json"
    if bookmarks == "deep":
        views.write_text("[" * 100_000 + "]" * 100_000)
    else:
        with open(views, "wb") as f:
            f.truncate(256 * MiB)
    _add_to_entry(run, 'bookmarks_path: "views.json"')
    r = cli.run("layout", run, "--method", "pca")
    succeeded(r)
    assert r["peak_mb"] < 300, r["peak_mb"]


def test_show_view_with_hostile_bookmarks(tmp_path, monkeypatch):
    """``show(view=...)`` reads the run's bookmarks to find the view's tensor: deep
    JSON or something other than a list of views is one error, and no site is cached."""
    from projector_tools.errors import ProjectorToolsError
    from projector_tools.viewer.site_cache import CACHE_ENV, site_for

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    run = _run(tmp_path)
    (run / "views.json").write_text("[" * 100_000 + "]" * 100_000)
    _add_to_entry(run, 'bookmarks_path: "views.json"')
    with pytest.raises(ProjectorToolsError, match="nests deeper"):
        site_for(str(run), view="by label")
    (run / "views.json").write_text('{"label": "by label"}')
    with pytest.raises(ProjectorToolsError, match="not a list of saved views"):
        site_for(str(run), view="by label")
    sites = tmp_path / "cache" / "sites"
    assert not sites.exists() or not os.listdir(sites)


# ---------------------------------------------------------------- fastText .bin

def _toy_fasttext() -> bytes:
    from gensim.test.utils import datapath  # gensim ships a real fastText model

    with open(datapath("toy-model.bin"), "rb") as f:
        return f.read()


def _fasttext_one_word(path, word: bytes, maxn: int) -> None:
    """A fastText model of the toy's arguments (``maxn`` replaced) whose dictionary
    is the one ``word``; its input matrix is all zeros."""
    head = bytearray(_toy_fasttext()[:64])
    head[48:52] = struct.pack("<i", maxn)
    dims, bucket = struct.unpack_from("<i", head, 8)[0], struct.unpack_from("<i", head, 40)[0]
    with open(path, "wb") as f:
        f.write(bytes(head) + struct.pack("<3i2q", 1, 1, 0, 1, -1))
        f.write(word + b"\0" + struct.pack("<qb", 1, 0) + b"\0" + struct.pack("<2q", 1 + bucket, dims))
        f.write(b"\0" * (4 * dims * (1 + bucket)))


def test_fasttext_maxn_from_the_header_does_not_drive_the_work(cli, tmp_path):
    """maxn 2**31-1 used to loop over every n-gram length: past 60 s."""
    pytest.importorskip("gensim")
    raw = bytearray(_toy_fasttext())
    raw[48:52] = struct.pack("<i", 2**31 - 1)
    path = tmp_path / "maxn.bin"
    path.write_bytes(bytes(raw))
    r = cli.run("export", path, "--logdir", tmp_path / "a")
    succeeded(r)  # n-grams longer than the longest word do not exist: the same vectors as maxn = that
    assert "exported embedding" in r["stdout"]
    long_word = tmp_path / "long.bin"
    _fasttext_one_word(long_word, b"a" * (2 * MiB), 2**31 - 1)
    refused(cli.run("export", long_word, "--logdir", tmp_path / "b"), "n-grams", "--fasttext-vectors input")
    succeeded(cli.run("export", long_word, "--logdir", tmp_path / "c", "--fasttext-vectors", "input"))
    assert not (tmp_path / "b").exists()


def test_fasttext_word_with_no_end(cli, tmp_path):
    pytest.importorskip("gensim")
    path = tmp_path / "word.bin"
    with open(path, "wb") as f:  # a dictionary of one entry, then 64 MiB with no NUL
        f.write(_toy_fasttext()[:64] + struct.pack("<3i2q", 1, 1, 0, 5, -1))
        for _ in range(64):
            f.write(b"a" * MiB)
    r = cli.run("export", path, "--logdir", tmp_path / "a")
    refused(r, "word longer", "word.bin")
    assert r["peak_mb"] < 200, r["peak_mb"]
    assert not (tmp_path / "a").exists()


# ---------------------------------------------------------------- word2vec binary and text headers

@pytest.fixture
def word2vec_bin(tmp_path):
    """``(header, body)`` of a real word2vec binary file written by gensim."""
    gensim = pytest.importorskip("gensim")
    kv = gensim.models.KeyedVectors(4)
    kv.add_vectors(["the", "cat", "sat"], np.arange(12, dtype="float32").reshape(3, 4))
    kv.save_word2vec_format(str(tmp_path / "w.bin"), binary=True)
    raw = (tmp_path / "w.bin").read_bytes()
    return raw[: raw.index(b"\n") + 1], raw[raw.index(b"\n") + 1:]


@pytest.mark.parametrize("header", [b"3 1000000000\n", b"100000000 4\n", b"1 1000000000000\n"])
def test_word2vec_header_declaring_more_than_the_file(cli, tmp_path, word2vec_bin, header):
    """dims 10**12 with --max-rows 1 used to end in 'unexpected MemoryError'."""
    path = tmp_path / "w.bin"
    path.write_bytes(header + word2vec_bin[1])
    refused(cli.run("export", path, "--logdir", tmp_path / "a"), "w.bin")  # declares too much, or too many rows
    if header.startswith(b"100000000 "):  # the rows it has are there: --max-rows reads them
        succeeded(cli.run("export", path, "--logdir", tmp_path / "b", "--max-rows", "2"))
    else:
        refused(cli.run("export", path, "--logdir", tmp_path / "a", "--max-rows", "1"), "declares")
        text = tmp_path / "t.vec"  # the same for a text header's dims
        text.write_bytes(header + b"the 0.1 0.2 0.3 0.4\n")
        refused(cli.run("export", text, "--logdir", tmp_path / "a", "--max-rows", "1"), "declares")
    assert not (tmp_path / "a").exists()


def test_word2vec_cut_short(cli, tmp_path, word2vec_bin):
    header, body = word2vec_bin
    path = tmp_path / "w.bin"
    path.write_bytes(header + body[:-7])
    refused(cli.run("export", path, "--logdir", tmp_path / "a"), "cut short")
    assert not (tmp_path / "a").exists()


# ---------------------------------------------------------------- .npy, pickles, .npz

class _Planted:
    """Unpickling this creates the file ``path``: proof that a pickle was loaded."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_npy_declared_shapes_objects_and_fifos(cli, tmp_path):
    declared = tmp_path / "declared.npy"
    with open(declared, "wb") as f:  # a header declaring 12 GB, 64 bytes of data
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False,
                                                 "shape": (3_000_000, 1000)})
        f.write(b"\0" * 64)
    refused(cli.run("export", declared, "--logdir", tmp_path / "a"), "declared.npy")
    refused(cli.run("export", declared, "--logdir", tmp_path / "a", "--max-rows", "10"), "declared.npy")
    sparse = tmp_path / "sparse.npy"
    with open(sparse, "wb") as f:  # the 12 GB really there (sparse): --max-rows maps 10 rows
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False,
                                                 "shape": (3_000_000, 1000)})
        f.truncate(f.tell() + 3_000_000 * 1000 * 4)
    refused(cli.run("export", sparse, "--logdir", tmp_path / "a"), "2 GB", "--max-rows")
    r = cli.run("export", sparse, "--logdir", tmp_path / "b", "--max-rows", "10")
    succeeded(r)
    assert "10x1000" in r["stdout"] and r["peak_mb"] < 300, (r["stdout"], r["peak_mb"])
    planted = tmp_path / "PLANTED"
    objects = tmp_path / "objects.npy"
    np.save(objects, np.array([_Planted(planted), 1], dtype=object), allow_pickle=True)
    assert not planted.exists()
    refused(cli.run("export", objects, "--logdir", tmp_path / "a"), "objects.npy")
    fifo = tmp_path / "fifo.npy"
    os.mkfifo(fifo)
    refused(cli.run("export", fifo, "--logdir", tmp_path / "a"), "FIFO")
    assert not planted.exists() and not (tmp_path / "a").exists()


def test_pickles_and_npz_are_never_loaded(cli, tmp_path):
    """gensim's own .kv (written by gensim), a .model pickle that would plant a file,
    an .npz holding an object array: refused with the way out, nothing unpickled."""
    gensim = pytest.importorskip("gensim")
    planted = tmp_path / "PLANTED"
    kv = gensim.models.KeyedVectors(4)
    kv.add_vectors(["the", "cat"], np.ones((2, 4), "float32"))
    kv.save(str(tmp_path / "vectors.kv"))
    (tmp_path / "word2vec.model").write_bytes(pickle.dumps(_Planted(planted)))
    np.savez(tmp_path / "arrays.npz", a=np.ones((3, 2), "float32"),
             b=np.array([_Planted(planted)], dtype=object))
    for name, words in [("vectors.kv", "pickle"), ("word2vec.model", "never loaded"),
                        ("arrays.npz", "np.save")]:
        refused(cli.run("export", tmp_path / name, "--logdir", tmp_path / "a"), name, words)
    assert not planted.exists() and not (tmp_path / "a").exists()


# ---------------------------------------------------------------- text sources, vocabularies, CSVs

def test_tsv_vectors_with_a_long_line(cli, tmp_path):
    path = tmp_path / "vectors.tsv"
    path.write_bytes(b"the\t0.1\t0.2\nof\t0.3\t0.4\nx\t" + b"0.5\t" * (2 * MiB) + b"\n")
    r = cli.run("export", path, "--logdir", tmp_path / "a")
    refused(r, "line longer", "vectors.tsv")
    assert not (tmp_path / "a").exists()


def test_vocab_that_is_binary_with_no_newline(cli, tmp_path):
    np.save(tmp_path / "v.npy", np.ones((4, 2), "float32"))
    vocab = tmp_path / "tokenizer.model"
    vocab.write_bytes(bytes(range(256)).replace(b"\n", b"") * (24 * 1024))  # 6 MiB, no newline
    r = cli.run("export", tmp_path / "v.npy", "--vocab", vocab, "--logdir", tmp_path / "a")
    refused(r, "line longer", "tokenizer.model")
    assert not (tmp_path / "a").exists()


def test_sentencepiece_model_garbage_and_huge(cli, tmp_path):
    from safetensors.numpy import save_file

    pytest.importorskip("sentencepiece")
    model = tmp_path / "model"
    model.mkdir()
    save_file({"embeddings.word_embeddings.weight": np.ones((10, 4), "float32")},
              str(model / "model.safetensors"))
    (model / "tokenizer.model").write_bytes(bytes(range(256)) * 16)
    refused(cli.run("export", model, "--logdir", tmp_path / "a"), "tokenizer.model", "SentencePiece")
    with open(model / "tokenizer.model", "wb") as f:  # 1 GiB, sparse: refused by its size alone
        f.write(b"\x0a\xff\xff\xff\x7f")
        f.truncate(1 << 30)
    r = cli.run("export", model, "--logdir", tmp_path / "a")
    refused(r, "tokenizer.model", "ceiling")
    assert r["peak_mb"] < 200, r["peak_mb"]
    assert not (tmp_path / "a").exists()


def test_train_csv_of_one_huge_line(cli, tmp_path):
    csv = tmp_path / "reviews.csv"
    _one_line(csv, b'text,label\n"')
    r = cli.run("train", "--logdir", tmp_path / "runs", "--data-csv", csv)
    refused(r, "line longer", "reviews.csv")
    assert r["peak_mb"] < 200, r["peak_mb"]
    assert not (tmp_path / "runs").exists()


# ---- audit: small state files of a run or a source folder, and the run's lock file

def _state_fifo(run) -> None:
    (run / "checkpoint").unlink()
    os.mkfifo(run / "checkpoint")


def _state_huge(run) -> None:  # 1 GiB, sparse: TF's latest_checkpoint read and parsed it whole (6.8 GB)
    with open(run / "checkpoint", "ab") as f:
        f.truncate(1 << 30)


@pytest.mark.parametrize("state", [_state_fifo, _state_huge])
def test_a_hostile_checkpoint_state_file(cli, tmp_path, state):
    """A run's ``checkpoint`` state file that is a FIFO hung ``doctor`` and ``export``
    of the folder (past 60 s); one of 1 GiB peaked at 6.8 GB in both. Now doctor
    reports it unreadable, and export takes the folder's one checkpoint."""
    run = _run(tmp_path)
    state(run)
    before = tree(run)
    r = cli.run("doctor", run)
    assert r["status"] == 1 and r["peak_mb"] < 300 and "Traceback" not in r["stderr"], r
    assert "checkpoint_unreadable" in r["stdout"] and ("FIFO" in r["stdout"] or "ceiling" in r["stdout"])
    r = cli.run("export", run, "--logdir", tmp_path / "out")
    succeeded(r)
    assert r["peak_mb"] < 300 and tree(run) == before, r["peak_mb"]


@pytest.mark.parametrize("lock", ["deep", "huge"])
def test_a_hostile_lock_file(cli, tmp_path, lock):
    """``layout`` takes the run's lock: a lock file of deep JSON ended in 'unexpected
    RecursionError'; one of 1 GiB was read whole (3.7 GB)."""
    run = _run(tmp_path)
    path = run / ".projector-tools.lock"
    if lock == "deep":
        path.write_text("[" * 100_000 + "]" * 100_000)
        succeeded(cli.run("layout", run, "--method", "pca"))  # unparseable: a dead writer's lock
    else:
        with open(path, "wb") as f:
            f.truncate(1 << 30)
        before = tree(run)
        r = cli.run("layout", run, "--method", "pca")
        refused(r, ".projector-tools.lock", "ceiling")
        assert r["peak_mb"] < 300 and tree(run) == before, r["peak_mb"]


# ---- audit: a training logdir handed over (train --resume reads its run.json)

@pytest.mark.parametrize("record", ["deep", "huge", "list"])
def test_train_resume_with_a_hostile_run_json(cli, tmp_path, record):
    """Deep JSON in run.json ended in 'unexpected RecursionError'; a huge one was read whole."""
    logdir = tmp_path / "runs"
    logdir.mkdir()
    path = logdir / "run.json"
    if record == "deep":
        path.write_text("[" * 100_000 + "]" * 100_000)
    elif record == "list":
        path.write_text("[1, 2]")
    else:
        with open(path, "wb") as f:
            f.truncate(1 << 30)
    before = tree(logdir)
    r = cli.run("train", "--logdir", logdir, "--resume")
    refused(r, "run.json")
    assert r["peak_mb"] < 300 and tree(logdir) == before, r["peak_mb"]


# ---- audit: an aclImdb folder or archive from someone else (train --data-dir)

def _acl(root):
    for split in ("train", "test"):
        for label in ("pos", "neg"):
            (root / split / label).mkdir(parents=True)
            (root / split / label / "0_7.txt").write_text("a good movie")
    return root


@pytest.mark.parametrize("review", ["fifo", "huge", "symlink", "tar"])
def test_train_on_a_hostile_aclimdb(cli, tmp_path, review):
    """A review that is a FIFO hung ``train`` (past 60 s), one of 2 GiB (sparse) was
    read whole and tokenized (past 60 s), a symlink to a file outside was read into
    the run's vocabulary; a tar member inflating past the one-line ceiling is cut off."""
    import tarfile

    root = _acl(tmp_path / "aclImdb")
    bad = root / "train" / "pos" / "1_8.txt"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    data = root
    if review == "fifo":
        os.mkfifo(bad)
    elif review == "huge":
        with open(bad, "wb") as f:
            f.truncate(2 << 30)
    elif review == "symlink":
        bad.symlink_to(outside / "secret.txt")
    else:
        with open(bad, "wb") as f:
            f.write(b"a" * (64 * MiB))
        data = tmp_path / "aclImdb_v1.tar.gz"
        with tarfile.open(data, "w:gz") as tar:
            tar.add(root, arcname="aclImdb")
    times = stale(outside)
    r = cli.run("train", "--logdir", tmp_path / "runs", "--data-dir", data, trace=True)
    refused(r, "1_8.txt")
    assert r["peak_mb"] < 300, r["peak_mb"]
    not_opened(r, times, outside)
    assert not (tmp_path / "runs").exists()


# ---- audit: a run's tensor_path file (a TSV of floats TensorBoard serves)

def test_tensor_path_tsv_is_parsed_within_budgets(cli, tmp_path):
    """doctor parsed a 200 MB tensor TSV into Python floats: 2.2 GB peak, 27 s.
    Now numpy parses it from bytes read within the line budgets; a 256 MiB
    line is refused while read."""
    run = _run(tmp_path)
    with open(run / "big.tsv", "w") as f:
        f.write(("\t".join(["0.5"] * 100) + "\n") * 500_000)
    _add_to_entry(run, 'tensor_path: "big.tsv"')
    r = cli.run("doctor", run)
    assert r["status"] in (0, 1) and "Traceback" not in r["stderr"], r
    assert "500,000 rows" in r["stdout"] and r["peak_mb"] < 800, r["peak_mb"]
    _one_line(run / "big.tsv", b"0.5\t")
    r = cli.run("neighbors", run, "w1")
    refused(r, "line longer", "big.tsv")
    assert r["peak_mb"] < 300, r["peak_mb"]
