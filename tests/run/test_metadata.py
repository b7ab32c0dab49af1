"""Metadata that the Projector's browser parser reads row for row."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow_datasets as tfds

from projector_tools import (
    InputError,
    Metadata,
    ShapeMismatchError,
    escape_label,
    parse_projector_tsv,
    subword_metadata,
    unescape_label,
    vocabulary_metadata,
)
from tests.helpers.labels import REVIEWS, TRICKY


@pytest.mark.parametrize("label", TRICKY)
def test_escape_is_safe_and_reversible(label):
    escaped = escape_label(label)
    assert escaped.strip() and "\t" not in escaped and "\n" not in escaped and "\r" not in escaped
    escaped.encode("utf-8")  # valid UTF-8, no lone surrogates
    assert unescape_label(escaped) == label


def test_non_utf8_bytes_are_escaped_visibly():
    assert escape_label(b"ok \xff\xfe") == "ok \\xff\\xfe"
    assert escape_label("caf\u00e9".encode()) == "caf\u00e9"


def test_tricky_labels_keep_every_row_in_one_column():
    labels = TRICKY * 3
    parsed = parse_projector_tsv(Metadata.from_labels(labels).to_tsv())
    assert parsed.header is None
    assert [unescape_label(r[0]) for r in parsed.rows] == labels


def test_several_columns_get_a_header_and_stay_aligned():
    meta = Metadata({"label": TRICKY, "n": range(len(TRICKY)), "empty": [""] * len(TRICKY)})
    parsed = parse_projector_tsv(meta.to_tsv())
    assert parsed.header == ("label", "n", "empty")
    assert [int(v) for v in parsed.column("n")] == list(range(len(TRICKY)))
    assert [unescape_label(v) for v in parsed.column("label")] == TRICKY


def test_browser_rules_are_modelled():
    # blank/whitespace-only lines skipped, tab in first kept line = header
    assert parse_projector_tsv("\n \na\tb\n1\t2\n\u3000\n3\t\n").rows == (("1", "2"), ("3", ""))
    assert parse_projector_tsv("x\r\ny\n").rows == (("x\r",), ("y",))


def test_subword_metadata_from_real_review_text():
    encoder = tfds.deprecated.text.SubwordTextEncoder.build_from_corpus(
        REVIEWS, target_vocab_size=400
    )
    meta = subword_metadata(encoder)
    assert len(meta) == encoder.vocab_size == len(encoder.subwords) + 257
    parsed = parse_projector_tsv(meta.to_bytes())
    assert len(parsed.rows) == encoder.vocab_size  # no row lost, none shifted
    assert parsed.header == ("label", "id", "kind", "word_end")
    ids = [int(v) for v in parsed.column("id")]
    assert ids == list(range(encoder.vocab_size))
    labels = [unescape_label(v) for v in parsed.column("label")]
    assert labels[0] == "<pad>"
    assert labels[1 : 1 + len(encoder.subwords)] == encoder.subwords
    kinds = parsed.column("kind")
    assert kinds[0] == "pad" and set(kinds[1 : 1 + len(encoder.subwords)]) == {"subword"}
    assert kinds[-256:] == ["byte"] * 256 and labels[-256 + 0x41] == "<0x41>"
    # every subword id that is not word-final decodes to exactly its label
    for sid in range(1, 1 + len(encoder.subwords)):
        if not labels[sid].endswith("_") and "\\" not in labels[sid]:
            assert encoder.decode([sid]) == labels[sid]
    assert any(not s.strip() or "<" in s for s in encoder.subwords)  # markup/space subwords exist
    word_final = [s for s in encoder.subwords if s.endswith("_")]
    assert word_final and all(
        parsed.column("word_end")[1 + encoder.subwords.index(s)] == "yes" for s in word_final
    )


def test_vocabulary_metadata_keeps_padding_and_unk_rows():
    layer = keras.layers.TextVectorization(max_tokens=50)
    layer.adapt(["the cat sat", "the dog sat down", "a cat"])
    vocab = layer.get_vocabulary()
    assert vocab[0] == "" and vocab[1] == "[UNK]" and isinstance(vocab[2], (str, np.str_))
    meta = vocabulary_metadata(vocab)
    parsed = parse_projector_tsv(meta.to_tsv())
    assert len(parsed.rows) == len(vocab)
    assert parsed.column("label")[:2] == ["<pad>", "[UNK]"]
    assert parsed.column("label")[2:] == [str(t) for t in vocab[2:]]
    assert parsed.column("kind")[:3] == ["pad", "oov", "token"]


def test_columns_of_different_length_are_refused():
    with pytest.raises(ShapeMismatchError, match="label=2, id=3"):
        Metadata({"label": ["a", "b"], "id": [1, 2, 3]})
    with pytest.raises(InputError, match="single string"):
        Metadata.from_labels("abc")
