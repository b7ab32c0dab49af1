"""fastText model files (``.bin``) written by fastText itself, served by a real TensorBoard.

Writers: the official fastText bindings (``fasttext-wheel``:
``train_unsupervised(...).save_model(...)``, a supervised model and its
``quantize``-d ``.ftz``), trained here on a corpus holding UTF-8
(``café``, ``日本``) and Latin-1 bytes (``clich\\xe9s``); and the fastText
models gensim ships in its test data (``crime-and-punishment.bin``, Cyrillic,
version 12; ``lee_fasttext_new.bin``, version 11;
``pang_lee_polarity_fasttext.bin``, supervised, Latin-1 words). Expected
values are fastText's own reading of the same file (``get_words``,
``get_input_matrix``, ``getWordVector``) and gensim's
(``load_facebook_vectors``).
"""

from __future__ import annotations

import struct

import numpy as np
import pytest

fasttext = pytest.importorskip("fasttext", reason="pip install fasttext-wheel (the 'test' extra)")
gensim = pytest.importorskip("gensim", reason="pip install gensim (the 'test' extra)")
import fasttext_pybind  # noqa: E402  - shipped with the bindings: getWordVector on raw bytes
from gensim.models.fasttext import load_facebook_vectors  # noqa: E402
from gensim.test.utils import datapath  # noqa: E402

from projector_tools.run.metadata import escape_label, parse_projector_tsv  # noqa: E402
from projector_tools.viewer.tensorboard import TensorBoardServer  # noqa: E402
from tests.helpers.projector_checks import assert_run_serves  # noqa: E402
from tests.helpers.export_errors import export, one_line_error

CORPUS = (b"the king and the queen caf\xc3\xa9 na\xc3\xafve \xe6\x97\xa5\xe6\x9c\xac "
          b"clich\xe9s ladr\xf3n the of a city cities\n") * 40
SHIPPED = {"crime": "crime-and-punishment.bin", "lee_v11": "lee_fasttext_new.bin",
           "supervised_latin1": "pang_lee_polarity_fasttext.bin"}



def fasttext_reading(path: str):
    """``(words, input rows, composed rows)`` as fastText's own library reads ``path``."""
    model = fasttext.load_model(path)
    words = model.get_words(on_unicode_error="surrogateescape")
    composed = []
    for w in words:  # bytes, so that Latin-1 words reach fastText unchanged
        vec = fasttext_pybind.Vector(model.get_dimension())
        model.f.getWordVector(vec, w.encode("utf-8", "surrogateescape"))
        composed.append(np.array(vec))
    return words, model.get_input_matrix()[: len(words)], np.stack(composed)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    src = tmp_path_factory.mktemp("ft_sources")
    logs = tmp_path_factory.mktemp("ft_logs")
    (src / "corpus.txt").write_bytes(CORPUS)
    model = fasttext.train_unsupervised(str(src / "corpus.txt"), model="skipgram", dim=8, epoch=2,
                                        minCount=1, minn=2, maxn=4, bucket=3000, thread=1, verbose=0)
    model.save_model(str(src / "model.bin"))
    files = {"trained": str(src / "model.bin")} | {run: datapath(name) for run, name in SHIPPED.items()}
    expected, stderr = {}, {}
    for run, path in files.items():
        words, rows, composed = fasttext_reading(path)
        expected[run] = (words, composed)
        stderr[run] = export(path, "--logdir", str(logs / run))
        expected[run + "_input"] = (words, rows)
        export(path, "--logdir", str(logs / (run + "_input")), "--fasttext-vectors", "input")
    words, _, composed = fasttext_reading(files["trained"])
    expected["trained_max_rows"] = (words[:4], composed[:4])
    export(files["trained"], "--logdir", str(logs / "trained_max_rows"), "--max-rows", "4")
    server = TensorBoardServer(str(logs)).start()
    try:
        server.wait_for_projector_runs(expected=len(expected))
        yield server, expected, stderr, files
    finally:
        server.stop()


@pytest.mark.parametrize("run", ["trained", "crime", "lee_v11", "supervised_latin1", "trained_max_rows"])
def test_composed_vectors_are_fasttexts_own_served_bit_for_bit(served, run):
    tb, expected, _, _ = served
    words, composed = expected[run]
    assert_run_serves(tb, run, {"embedding": composed}, {"embedding": words})


@pytest.mark.parametrize("run", ["trained", "crime", "lee_v11", "supervised_latin1"])
def test_input_rows_are_the_words_rows(served, run):
    tb, expected, _, _ = served
    words, rows = expected[run + "_input"]
    assert_run_serves(tb, run + "_input", {"embedding": rows}, {"embedding": words})


@pytest.mark.parametrize("run", ["trained", "crime", "lee_v11"])
def test_gensim_reads_the_same_words_and_rows(served, run):
    """gensim's reader agrees row for row: words, and the input rows bit for bit;
    its composed vectors only to rounding, and it gives ``</s>`` n-grams that
    fastText does not and hashes the n-grams of its backslash-escaped text for
    words that are not UTF-8 (so those rows are left out of the comparison)."""
    tb, expected, _, files = served
    kv = load_facebook_vectors(files[run])
    words, rows = expected[run + "_input"]
    # gensim decodes bad bytes with backslashreplace: the very \\xHH labels shown
    assert kv.index_to_key == [escape_label(w) for w in words]
    assert tb.tensor(run + "_input", "embedding").tobytes() == np.ascontiguousarray(kv.vectors_vocab).tobytes()
    served_composed = tb.tensor(run, "embedding").reshape(len(words), -1)
    keep = [i for i, w in enumerate(words) if w != "</s>" and escape_label(w) == w]
    np.testing.assert_allclose(served_composed[keep], kv.vectors[keep], rtol=1e-5, atol=1e-6)


def test_non_utf8_words_are_hex_escaped(served):
    tb, _, stderr, _ = served
    labels = [row[0] for row in parse_projector_tsv(tb.metadata("trained", "embedding")).rows]
    assert {"café", "日本", "clich\\xe9s", "ladr\\xf3n", "</s>"} <= set(labels)
    assert "fastText model (version 12" in stderr["trained"]


def test_a_quantized_model_is_refused_in_one_line(tmp_path, capsys):
    corpus = tmp_path / "labelled.txt"
    corpus.write_bytes(b"".join(b"__label__%d w%d x%d the\n" % (i % 2, i, i % 5) for i in range(300)))
    model = fasttext.train_supervised(str(corpus), dim=8, epoch=1, minCount=1, thread=1, verbose=0)
    model.quantize(input=str(corpus), retrain=False, dsub=2, qnorm=False)
    model.save_model(str(tmp_path / "model.ftz"))
    err = one_line_error(tmp_path, capsys, str(tmp_path / "model.ftz"))
    assert "quantized" in err and "model.ftz" in err


@pytest.mark.parametrize("damage", ["version", "cut", "words"])
def test_damaged_headers_are_one_line(tmp_path, capsys, damage):
    raw = bytearray(open(datapath("toy-model.bin"), "rb").read())
    if damage == "version":
        raw[4:8] = struct.pack("<i", 13)
    elif damage == "cut":
        raw = raw[: len(raw) // 2]
    else:  # a dictionary size no file of this length can hold
        raw[64:68] = struct.pack("<i", 2**30)
    path = tmp_path / "damaged.bin"
    path.write_bytes(bytes(raw))
    err = one_line_error(tmp_path, capsys, str(path))
    assert "damaged.bin" in err
    assert {"version": "version 13", "cut": "cut short", "words": "dictionary entries"}[damage] in err


def test_fasttext_vectors_refused_for_other_sources(tmp_path, capsys):
    err = one_line_error(tmp_path, capsys, datapath("lee_fasttext.vec"), "--fasttext-vectors", "input")
    assert "--fasttext-vectors" in err and "lee_fasttext.vec" in err
