"""Word-vector files, written by the tools that write them, served by a real TensorBoard.

Files shipped inside the installed gensim package (``gensim/test/test_data``),
each a real file from the tool named:

* ``lee_fasttext.vec``: fastText ``.vec`` (header, a space after the last number);
* ``pang_lee_polarity_fasttext.vec``: fastText ``.vec`` whose vocabulary holds
  Latin-1 bytes (``clich\\xe9s``, ``ladr\\xf3n``, a lone ``\\x97``), not UTF-8;
* ``w2v_keyedvectors_load_test.modeldata``: tokens whose UTF-8 is cut short;
* ``word2vec_pre_kv_c``: word2vec.c text output;
* ``test_glove.txt``: GloVe text (no header line);
* ``euclidean_vectors.bin``: word2vec binary with no newline between rows;
* ``pretrained.vec``: a fastText header saying 3 rows above 1 row (a broken file);
* ``toy-model.bin``: a fastText *model* (read by ``sources/fasttext_bin.py``), here
  with its version made one no fastText writes.

Files written here by gensim's ``KeyedVectors.save_word2vec_format`` (text,
binary, ``.gz`` and ``.bz2`` by gensim's own compression, tokens with inner
spaces and non-ASCII, duplicate tokens by gensim's ``append=True``). The one
file no installed tool writes, ``\\r\\n`` line ends, is gensim's text with its
line ends replaced.

Every expected matrix is gensim's own reading of the same file
(``KeyedVectors.load_word2vec_format``) or the vectors gensim saved.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

gensim = pytest.importorskip("gensim", reason="pip install gensim (the 'test' extra)")
from gensim.models import KeyedVectors  # noqa: E402
from gensim.test.utils import datapath  # noqa: E402

from projector_tools.run.metadata import parse_projector_tsv  # noqa: E402
from projector_tools.viewer.tensorboard import TensorBoardServer  # noqa: E402
from tests.helpers import REPO_ROOT  # noqa: E402
from tests.helpers.projector_checks import assert_run_serves  # noqa: E402
from tests.helpers.export_errors import export, one_line_error

TOKENS = ["king", "queen", "café", "日本", "don't", "<br", "naïve", "the"]


def gensim_vectors(tokens, dims=6, seed=7) -> KeyedVectors:
    kv = KeyedVectors(dims)
    kv.add_vectors(tokens, np.random.default_rng(seed).standard_normal((len(tokens), dims), dtype=np.float32))
    return kv



@pytest.fixture(scope="module")
def served(tmp_path_factory):
    src = tmp_path_factory.mktemp("wv_sources")
    logs = tmp_path_factory.mktemp("wv_logs")
    expected: dict[str, tuple[np.ndarray, list]] = {}
    stderr: dict[str, str] = {}

    def shipped(run, name, **gensim_kwargs):
        kv = KeyedVectors.load_word2vec_format(datapath(name), **gensim_kwargs)
        stderr[run] = export(datapath(name), "--logdir", str(logs / run))
        return kv

    kv = shipped("fasttext_vec", "lee_fasttext.vec")
    expected["fasttext_vec"] = (kv.vectors, kv.index_to_key)
    # gensim needs to be told the encoding; the labels keep the raw bytes
    kv = shipped("fasttext_latin1", "pang_lee_polarity_fasttext.vec", encoding="latin-1")
    expected["fasttext_latin1"] = (kv.vectors, [t.encode("latin-1") for t in kv.index_to_key])
    kv = shipped("cut_utf8", "w2v_keyedvectors_load_test.modeldata", unicode_errors="surrogateescape")
    expected["cut_utf8"] = (kv.vectors, kv.index_to_key)
    kv = shipped("word2vec_c_text", "word2vec_pre_kv_c")
    expected["word2vec_c_text"] = (kv.vectors, kv.index_to_key)
    kv = shipped("glove", "test_glove.txt", no_header=True)
    expected["glove"] = (kv.vectors, kv.index_to_key)
    kv = shipped("binary_no_newlines", "euclidean_vectors.bin", binary=True)
    expected["binary_no_newlines"] = (kv.vectors, kv.index_to_key)

    kv = gensim_vectors(TOKENS)
    for run, name, binary in [("gensim_text", "v.txt", False), ("gensim_bin", "v.bin", True),
                              ("gensim_vec_gz", "v.vec.gz", False), ("gensim_txt_bz2", "v.txt.bz2", False),
                              ("gensim_bin_gz", "v.bin.gz", True)]:
        kv.save_word2vec_format(str(src / name), binary=binary)  # gensim compresses by extension
        stderr[run] = export(str(src / name), "--logdir", str(logs / run))
        expected[run] = (kv.vectors, TOKENS)
    # GloVe layout written by gensim (write_header=False), compressed, name says nothing
    kv.save_word2vec_format(str(src / "glove.gz"), write_header=False)
    os.rename(src / "glove.gz", src / "glove_vectors")
    stderr["gensim_glove_gz"] = export(str(src / "glove_vectors"), "--logdir", str(logs / "gensim_glove_gz"))
    expected["gensim_glove_gz"] = (kv.vectors, TOKENS)

    crlf = src / "crlf.txt"
    crlf.write_bytes((src / "v.txt").read_bytes().replace(b"\n", b"\r\n"))
    stderr["crlf"] = export(str(crlf), "--logdir", str(logs / "crlf"))
    expected["crlf"] = (kv.vectors, TOKENS)

    spaced = gensim_vectors(["New York", "the", "San  José", "a b c", "1 2"], dims=3, seed=8)
    spaced.save_word2vec_format(str(src / "spaced.txt"))
    stderr["inner_spaces"] = export(str(src / "spaced.txt"), "--logdir", str(logs / "inner_spaces"))
    expected["inner_spaces"] = (spaced.vectors, spaced.index_to_key)

    # gensim's append=True (how it stores words then document tags in one file)
    # can repeat a token; both rows stay.
    words, tags = gensim_vectors(["the", "cat", "sat"], seed=1), gensim_vectors(["doc0", "cat"], seed=2)
    words.save_word2vec_format(str(src / "dup.txt"), total_vec=5)
    tags.save_word2vec_format(str(src / "dup.txt"), append=True, write_header=False)
    stderr["duplicates"] = export(str(src / "dup.txt"), "--logdir", str(logs / "duplicates"))
    expected["duplicates"] = (np.vstack([words.vectors, tags.vectors]), ["the", "cat", "sat", "doc0", "cat"])

    stderr["max_rows"] = export(str(src / "v.bin"), "--logdir", str(logs / "max_rows"), "--max-rows", "3")
    export(datapath("test_glove.txt"), "--logdir", str(logs / "glove_max_rows"), "--max-rows", "10")

    # the post-training script, as a user runs it
    proc = subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, "scripts", "export_embeddings.py"),
         str(src / "v.vec.gz"), "--logdir", str(logs / "script")],
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, PYTHONPATH=REPO_ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")),
    )
    assert proc.returncode == 0, proc.stderr
    assert "exported embedding 8x6, 8 label rows" in proc.stdout
    expected["script"] = (kv.vectors, TOKENS)

    server = TensorBoardServer(str(logs)).start()
    try:
        server.wait_for_projector_runs(expected=len(expected) + 2)
        yield server, expected, stderr, src, kv
    finally:
        server.stop()


RUNS = ["fasttext_vec", "fasttext_latin1", "cut_utf8", "word2vec_c_text", "glove", "binary_no_newlines",
        "gensim_text", "gensim_bin", "gensim_vec_gz", "gensim_txt_bz2", "gensim_bin_gz", "gensim_glove_gz",
        "crlf", "inner_spaces", "duplicates", "script"]


@pytest.mark.parametrize("run", RUNS)
def test_each_file_is_served_with_its_tokens(served, run):
    tb, expected, _, _, _ = served
    matrix, tokens = expected[run]
    assert_run_serves(tb, run, {"embedding": matrix}, {"embedding": tokens})


def test_non_utf8_token_bytes_are_shown_as_hex_escapes(served):
    tb, _, _, _, _ = served
    labels = [row[0] for row in parse_projector_tsv(tb.metadata("fasttext_latin1", "embedding")).rows]
    assert {"clich\\xe9s", "ladr\\xf3n", "\\x97"} <= set(labels)
    labels = [row[0] for row in parse_projector_tsv(tb.metadata("cut_utf8", "embedding")).rows]
    assert labels == ["ありがとう\\xe3\\x83", "どういたしまして\\xe3\\x83"]


def test_duplicates_are_reported_once(served):
    _, _, stderr, _, _ = served
    lines = stderr["duplicates"].splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("projector-tools: ") and "1 row repeat" in lines[0] and "'cat'" in lines[0]


def test_max_rows_stops_early(served):
    tb, expected, _, _, kv = served
    assert_run_serves(tb, "max_rows", {"embedding": kv.vectors[:3]}, {"embedding": TOKENS[:3]})
    glove, tokens = expected["glove"]
    assert_run_serves(tb, "glove_max_rows", {"embedding": glove[:10]}, {"embedding": tokens[:10]})


def test_header_disagreeing_with_rows_is_one_line_and_writes_nothing(tmp_path, capsys):
    err = one_line_error(tmp_path, capsys, datapath("pretrained.vec"))  # header 3 rows, 1 row follows
    assert "pretrained.vec" in err and "3 rows" in err and "has 1" in err


def test_more_rows_than_the_header_says(tmp_path, capsys):
    kv = gensim_vectors(TOKENS)
    path = str(tmp_path / "short_header.vec")
    kv.save_word2vec_format(path, total_vec=5)
    err = one_line_error(tmp_path, capsys, path)
    assert "5 rows" in err and "8" in err and "short_header.vec" in err


def test_a_fasttext_model_of_an_unread_version_names_it(tmp_path, capsys):
    raw = bytearray(open(datapath("toy-model.bin"), "rb").read())
    raw[4:8] = (99).to_bytes(4, "little")  # a fastText model from a future fastText
    (tmp_path / "future.bin").write_bytes(bytes(raw))
    err = one_line_error(tmp_path, capsys, str(tmp_path / "future.bin"))
    assert "fastText model of version 99" in err and "print-word-vectors" in err
