"""build_subword_encoder: tfds' build_from_corpus subwords, in order, on every corpus tried.

Every comparison runs tfds' own ``SubwordTextEncoder.build_from_corpus`` on
the same texts; nothing here is a hard-coded vocabulary. The big corpora
(speed) live in ``bench/vocab.py``.
"""

from __future__ import annotations

import csv
import random

import pytest

tfds = pytest.importorskip("tensorflow_datasets")

from projector_tools import InputError, build_subword_encoder  # noqa: E402
from projector_tools.training.csv_reviews import load_csv  # noqa: E402
from projector_tools.training.datasets import build_encoder, load_dataset  # noqa: E402
from projector_tools.training.subword_builder import token_counts  # noqa: E402
from projector_tools.training.subword_search import SubwordSearch  # noqa: E402

SubwordTextEncoder = tfds.deprecated.text.SubwordTextEncoder


def _tfds_token_counts(texts):
    from tensorflow_datasets.core.deprecated.text import subword_text_encoder

    return dict(subword_text_encoder._token_counts_from_generator(iter(texts), None, []))


def assert_same_as_tfds(texts, target):
    ours = build_subword_encoder(texts, target)
    theirs = SubwordTextEncoder.build_from_corpus(iter(texts), target)
    assert type(ours) is SubwordTextEncoder
    assert ours.subwords == theirs.subwords
    assert ours.vocab_size == theirs.vocab_size
    return ours


# Characters around which tfds' tokenizer and _prepare_tokens_for_encode
# behave specially: single and double spaces (the "_" suffix), underscores
# (escaped as "\\&undsc"), the escape itself and its halves, other
# whitespace, NUL, combining marks and non-ASCII letters and digits.
_ATOMS = [
    "a", "b", "ab", "ing", "the", "film", "Film", "é", "ß", "日本", "٣", "x1", "2009",
    " ", " ", " ", "  ", "\t", "\n", "\u00a0", "\x00", "\u0301",
    "_", "__", "\\&undsc", "\\&", "undsc", "\\u00e9", "\\", "&",
    ".", ". ", ". ", ".  ", ", ", "!", "?!", "...", "'", '"', "(", ")", "<br />", "-", "—", "…",
]


def _random_texts(rng: random.Random, n: int) -> list[str]:
    return ["".join(rng.choice(_ATOMS) for _ in range(rng.randint(0, 30))) for _ in range(n)]


def test_token_counts_equal_tfds_on_edge_case_texts():
    rng = random.Random(3)
    for _ in range(30):
        texts = _random_texts(rng, 40)
        assert token_counts(texts) == _tfds_token_counts(texts)
    # bytes are decoded as tfds decodes them
    texts = ["naïve film_ \\&undsc".encode(), "a  b"]
    assert token_counts(texts) == _tfds_token_counts(texts)


def _tfds_round(counts, min_count):
    return SubwordTextEncoder._build_from_token_counts(
        token_counts=counts, min_token_count=min_count, reserved_tokens=[], num_iterations=4, max_subword_length=20
    ).subwords


def _random_counts(rng: random.Random, alphabet: str, n: int, longest: int = 30) -> dict[str, int]:
    """Tokens as tfds makes them (``_`` suffixes, the escape) from ``alphabet``, with Zipf-like counts."""
    pieces = list(alphabet) + ["\\&undsc", "_"]
    counts = {}
    for _ in range(n):
        token = "".join(rng.choice(pieces) for _ in range(rng.randint(1, longest)))
        counts[token] = int(1 + 50 / rng.uniform(0.05, 1.0) ** 1.5)
    return counts


def test_a_search_round_equals_tfds_build_from_token_counts():
    rng = random.Random(4)
    cases = [
        ("ab", 300),  # few characters: long shared prefixes, windows cut at 20
        ("abcdeé日\x00 .", 400),  # NUL, space, non-ASCII single characters (candidates)
        ("".join(chr(c) for c in range(0x400, 0x400 + 300)), 300),  # 300 characters: two bytes each
        ("xy\U0001F600\U00010348", 200),  # outside the BMP
    ]
    for alphabet, n in cases:
        counts = _random_counts(rng, alphabet, n)
        search = SubwordSearch(counts)
        for min_count in (1, 2, 7, 60, 400, 10**9):
            assert search.build(min_count) == _tfds_round(counts, min_count), (alphabet[:8], min_count)


def test_a_search_round_over_an_alphabet_needing_three_bytes_a_character():
    rng = random.Random(9)
    chars = [chr(c) for c in range(0x10000, 0x10000 + 66_000)]
    rng.shuffle(chars)
    # every character once (an alphabet past 254 * 255), plus a small repeated core
    counts = {"".join(chars[i : i + 11]) + "_": 1 for i in range(0, len(chars), 11)}
    counts.update(_random_counts(rng, "".join(chars[:40]), 300, longest=12))
    search = SubwordSearch(counts)
    assert search.width == 3
    for min_count in (2, 30):
        assert search.build(min_count) == _tfds_round(counts, min_count)


def test_same_subwords_as_tfds_on_the_demo_corpus():
    texts = load_dataset("demo", progress=lambda m: None).train_texts
    encoder = assert_same_as_tfds(texts, 2**13)
    assert encoder.decode(encoder.encode(texts[0])) == texts[0]


def test_same_subwords_as_tfds_on_a_csv_of_messy_reviews(tmp_path):
    rng = random.Random(7)
    words = ("film movie actor plot scene good bad awful great boring brilliant director's cut "
             "Amélie naïve Zoë Björk café déjà-vu snake_case __init__ 10/10 1999 co-star "
             "don't can't isn't \\&undsc \\u00e9 \\n".split())
    rows = []
    for i in range(300):
        sentence = " ".join(rng.choice(words) for _ in range(rng.randint(3, 40)))
        sentence = sentence.replace(" bad ", " bad!<br /><br />", 1).replace(" plot ", ' "plot" ', 1)
        rows.append([sentence + rng.choice([".", "!!", "?", " :-)", "..."]), rng.choice(["positive", "negative"])])
    path = tmp_path / "reviews.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["review", "sentiment"])
        w.writerows(rows)
    texts = load_csv(str(path), progress=lambda m: None).train_texts
    assert any("_" in t for t in texts) and any("\\&undsc" in t for t in texts)
    assert_same_as_tfds(texts, 500)
    # the raw text too (markup, double spaces, line breaks)
    assert_same_as_tfds([r[0] + "\n\n  " + r[0][:20] for r in rows[:150]], 400)


def test_same_subwords_as_tfds_on_random_edge_case_texts_and_small_targets():
    rng = random.Random(11)
    for target in (258, 300, 400):
        assert_same_as_tfds(_random_texts(rng, 200), target)


def test_refusals_are_input_errors():
    with pytest.raises(InputError, match="at least 258"):
        build_subword_encoder(["a film"], 100)
    with pytest.raises(InputError, match="no characters"):
        build_subword_encoder(["", ""], 300)


def test_the_trainer_vocabulary_is_built_with_it_and_reports_rounds():
    texts = load_dataset("demo", progress=lambda m: None).train_texts[:500]
    notes: list[str] = []
    encoder = build_encoder(texts, 300, progress=notes.append)
    assert encoder.subwords == SubwordTextEncoder.build_from_corpus(iter(texts), 300).subwords
    assert any("search round" in n for n in notes) and any("counted tokens" in n for n in notes)
