"""A faster ``SubwordTextEncoder`` vocabulary build with tfds' exact result.

:func:`build_subword_encoder` returns a
``tfds.deprecated.text.SubwordTextEncoder`` whose subword list is identical,
in order, to ``SubwordTextEncoder.build_from_corpus(texts,
target_vocab_size)``: the same token counts (tfds' own ``Tokenizer`` and
``_prepare_tokens_for_encode``), the same binary search over the minimum
subword count, the same four refinement iterations per round, the same
greedy split and the same candidate selection. What changes is how much
work each step repeats:

* **Token counting** tokenizes each distinct *piece* of text once. A text
  is cut into sentences after every ``". "`` followed by a word character
  (``\\w``; the token ``". "`` ends there whatever follows), and sentences
  at every single space between two word characters: the tokenizer always
  makes that space a token of its own, which ``_prepare_tokens_for_encode``
  drops after appending ``_`` to the token before it, so ``tokens(text)``
  is the concatenation of ``tokens(piece + " ")`` over the pieces (the
  last piece of a sentence without the space). Equal sentences are split
  once, and pieces repeat across a corpus far more than texts do.
* **Each search round** (``_build_from_token_counts``) runs as whole-array
  steps over every substring window of the distinct tokens, sorted once
  for the whole search (:mod:`projector_tools.training.subword_search`); the first
  iteration, the same in every round, splits the tokens once, and a round
  stops iterating once its vocabulary no longer changes (an iteration is a
  function of its input vocabulary).

    >>> from projector_tools import build_subword_encoder
    >>> encoder = build_subword_encoder(["a good film", "a bad film"] * 50, 2**8 + 20)
    >>> encoder.decode(encoder.encode("a good film"))
    'a good film'

``tests/training/test_subword_builder.py`` checks the identity against
``build_from_corpus``; ``bench/vocab.py`` measures the speed.
"""

from __future__ import annotations

import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from projector_tools.errors import InputError
from projector_tools.training.subword_search import MAX_SUBWORD_LENGTH, SubwordSearch

__all__ = ["build_subword_encoder", "token_counts"]

# A single space between two word characters: always a token of its own.
_PIECE_BOUNDARY = re.compile(r" (?=\w)(?<=\w )")
# ". " before a word character: the token ". " ends there, whatever follows.
_SENTENCE_END = re.compile(r"\. (?=\w)")

Progress = Callable[[str], Any]


def _tfds_text():
    from tensorflow_datasets.core.deprecated.text import subword_text_encoder, text_encoder

    return subword_text_encoder, text_encoder


def token_counts(texts: Iterable[str | bytes]) -> dict[str, int]:
    """Token counts equal to tfds' ``_token_counts_from_generator(texts, None, [])``.

    A token followed by a single space gets ``_``; an underscore in the text
    is escaped as ``\\&undsc``:

        >>> sorted(token_counts(["a good film", "a film_"]).items())
        [('a_', 2), ('film', 1), ('film\\\\&undsc', 1), ('good_', 1)]
    """
    ste, text_encoder = _tfds_text()
    middles: Counter[str] = Counter()  # sentences followed by ". " and a word
    ends: Counter[str] = Counter()  # the last sentence of a text
    as_text = None
    cut = _SENTENCE_END.split
    for text in texts:
        if not isinstance(text, str):
            if as_text is None:
                from tensorflow_datasets.core.utils.lazy_imports_utils import tensorflow as tf

                as_text = tf.compat.as_text
            text = as_text(text)
        parts = cut(text)
        ends[parts.pop()] += 1
        middles.update(parts)
    pieces: Counter[str] = Counter()  # followed by one space in their sentence
    lasts: Counter[str] = Counter()  # the last piece of a sentence
    split = _PIECE_BOUNDARY.split
    for sentence, n in [(s + ". ", n) for s, n in middles.items()] + list(ends.items()):
        parts = split(sentence)
        lasts[parts.pop()] += n
        if n == 1:
            pieces.update(parts)
        else:
            for part in parts:
                pieces[part] += n
    tokenizer = text_encoder.Tokenizer(alphanum_only=False, reserved_tokens=[ste._UNDERSCORE_REPLACEMENT])
    prepare = ste._prepare_tokens_for_encode
    counts: dict[str, int] = defaultdict(int)
    for group, tail in ((pieces, " "), (lasts, "")):
        for piece, n in group.items():
            for token in prepare(tokenizer.tokenize(piece + tail)):
                counts[token] += n
    return counts


def build_subword_encoder(
    texts: Iterable[str | bytes],
    target_vocab_size: int = 2**13,
    *,
    progress: Progress | None = None,
):
    """``SubwordTextEncoder.build_from_corpus(texts, target_vocab_size)``, faster.

    Example::

        encoder = build_subword_encoder(reviews, 2**13, progress=print)
        assert encoder.subwords == tfds.deprecated.text.SubwordTextEncoder.build_from_corpus(
            reviews, 2**13).subwords

    ``progress`` (e.g. ``print``) receives one line per stage and search
    round. Raises :class:`~projector_tools.errors.InputError` for a target
    size below 258 (padding, 256 bytes and one subword).
    """
    say: Progress = progress or (lambda message: None)
    ste, _ = _tfds_text()
    target_vocab_size = _checked_target(ste, target_vocab_size)
    start = time.monotonic()
    texts = list(texts)
    say(f"building a SubwordTextEncoder vocabulary (target {target_vocab_size}) from {len(texts)} texts ...")
    counts = token_counts(texts)
    say(f"  vocabulary: counted tokens of {len(texts)} texts: {len(counts)} distinct ({time.monotonic() - start:.1f} s)")
    if not counts:
        raise InputError("build_subword_encoder: the texts hold no characters; give at least one non-empty text")
    search = SubwordSearch(counts, MAX_SUBWORD_LENGTH)
    say(f"  vocabulary: {len(search.keys)} distinct substring windows ({time.monotonic() - start:.1f} s)")
    subwords = _closest_vocabulary(search, counts, target_vocab_size, say, start)
    return ste.SubwordTextEncoder(vocab_list=subwords)


def _checked_target(ste, target_vocab_size) -> int:
    """``target_vocab_size`` as an int, refused below what tfds accepts (258)."""
    target_vocab_size = int(target_vocab_size)
    try:
        ste._validate_build_arguments(
            max_subword_length=MAX_SUBWORD_LENGTH, reserved_tokens=[], target_vocab_size=target_vocab_size
        )
    except ValueError as exc:
        raise InputError(
            f"target_vocab_size must be at least 258 (padding + 256 bytes + 1 subword), got {target_vocab_size}"
        ) from exc
    return target_vocab_size


def _vocab_size(subwords: list[str]) -> int:
    """tfds' vocab_size: padding + subwords + 256 bytes."""
    return 1 + len(subwords) + 256


def _closest_vocabulary(search: SubwordSearch, counts: dict[str, int], target_vocab_size: int,
                        say: Progress, start: float) -> list[str]:
    """The subwords of the minimum count whose vocabulary size is nearest the target,
    found as tfds' ``_binary_search`` finds it; one progress line per round."""
    rounds = [0]

    def attempt(min_count: int) -> list[str]:
        subwords = search.build(min_count)
        rounds[0] += 1
        say(
            f"  vocabulary: search round {rounds[0]}, min count {min_count}: {_vocab_size(subwords)} ids "
            f"(target {target_vocab_size}, {time.monotonic() - start:.1f} s)"
        )
        return subwords

    # tfds' _binary_search, with the same choices.
    def binary_search(low: int, high: int) -> list[str]:
        candidate = (low + high) // 2
        subwords = attempt(candidate)
        vocab_size = _vocab_size(subwords)
        if abs(vocab_size - target_vocab_size) * 100 < target_vocab_size or low >= high or candidate <= 1:
            return subwords
        if vocab_size > target_vocab_size:
            other = binary_search(candidate + 1, high)
        else:
            other = binary_search(low, candidate - 1)
        if abs(vocab_size - target_vocab_size) < abs(_vocab_size(other) - target_vocab_size):
            return subwords
        return other

    values = counts.values()
    return binary_search(max(min(values), 1), max(values))
