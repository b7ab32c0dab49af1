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
* **The first iteration** of every search round starts from the same
  vocabulary (no subwords), so its substring counts are computed once,
  sorted by count, and each round only takes those at or above its
  minimum count.
* **Substring counting** aggregates equal split suffixes before expanding
  them into prefixes, and a round stops iterating once its vocabulary no
  longer changes (an iteration is a function of its input vocabulary).

    >>> from projector_tools import build_subword_encoder
    >>> encoder = build_subword_encoder(["a good film", "a bad film"] * 50, 2**8 + 20)
    >>> encoder.decode(encoder.encode("a good film"))
    'a good film'

``tests/test_subword_builder.py`` checks the identity against
``build_from_corpus``; ``bench/vocab.py`` measures the speed.
"""

from __future__ import annotations

import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from projector_tools.errors import InputError

__all__ = ["build_subword_encoder", "token_counts"]

#: tfds' defaults in ``build_from_corpus``.
MAX_SUBWORD_LENGTH = 20
NUM_ITERATIONS = 4

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


def _prefix_counts(weighted: dict[str, int], min_count: int, span: int) -> dict[str, int]:
    """``{p: n}`` for every prefix ``p`` of the keys whose keys weigh ``n >= min_count`` in all.

    Equal to expanding each key into its prefixes in a dict, without making
    a string per prefix: the keys (at most ``span`` characters) are sorted,
    so the keys sharing a prefix of length ``k`` are one run, whose start is
    where the common prefix with the previous key drops below ``k``. Only
    prefixes that reach ``min_count`` become strings.
    """
    import numpy as np

    keys = sorted(weighted)
    n = len(keys)
    if not n or "\x00" in "".join(keys):  # NUL would read as numpy's padding
        counts: dict[str, int] = defaultdict(int)
        for key, weight in weighted.items():
            for end in range(1, len(key) + 1):
                counts[key[:end]] += weight
        return {p: c for p, c in counts.items() if c >= min_count}
    weights = np.fromiter((weighted[k] for k in keys), dtype=np.int64, count=n)
    codes = np.array(keys, dtype=f"<U{span}").view(np.uint32).reshape(n, span)
    lengths = np.count_nonzero(codes, axis=1)
    same = codes[1:] == codes[:-1]
    common = np.where(same.all(axis=1), span, same.argmin(axis=1))
    before = np.concatenate(([-1], common))  # common prefix with the previous key
    out: dict[str, int] = {}
    for k in range(1, span + 1):
        rows = np.flatnonzero(lengths >= k)
        if not rows.size:
            break
        firsts = np.flatnonzero(before[rows] < k)  # positions in rows where a run starts
        sums = np.add.reduceat(weights[rows], firsts)
        keep = np.flatnonzero(sums >= min_count)
        for row, total in zip(rows[firsts[keep]].tolist(), sums[keep].tolist()):
            out[keys[row][:k]] = total
    return out


class _Search:
    """One vocabulary search: ``build(min_count)`` is tfds' ``_build_from_token_counts``."""

    def __init__(self, counts: dict[str, int], max_subword_length: int = MAX_SUBWORD_LENGTH) -> None:
        ste, _ = _tfds_text()
        from tensorflow_datasets.core.utils.lazy_imports_utils import tensorflow as tf

        self._as_bytes = tf.compat.as_bytes
        self._replacement = ste._UNDERSCORE_REPLACEMENT
        self.max_len = max_subword_length
        self.tokens = list(counts.items())
        # Iteration 1 of every round: the vocabulary holds no subwords.
        first = self._substring_counts([], 1)
        self._first = sorted(first.items(), key=lambda kv: kv[1], reverse=True)
        self._first_negated = [-c for _, c in self._first]  # ascending, for bisect

    # -- the greedy split of SubwordTextEncoder._token_to_subwords, starts only
    def _split_suffixes(self, subwords: list[str]) -> dict[str, int]:
        """``token[start:start+max_len]`` for every subword start, weighted by count.

        The greedy split from a position depends only on the rest of the
        token, so equal rests ("ing_", "s_", ...) are split once: rests are
        collected with their summed counts and processed longest first.
        The longest vocabulary match is found walking forward while the
        text is still a prefix of some subword (tfds walks backward from
        ``_max_subword_len``; both find the longest match, or one character).
        """
        vocab = set(subwords)
        vocab.add(self._replacement)
        prefixes = {s[:k] for s in vocab for k in range(1, len(s) + 1)}
        max_piece = max(len(self._replacement), max((len(s) for s in subwords), default=1))
        span = self.max_len
        suffixes: dict[str, int] = defaultdict(int)
        buckets: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for token, count in self.tokens:
            buckets[len(token)][token] += count
        for length in range(max(buckets, default=0), 0, -1):
            for rest, count in buckets.pop(length, {}).items():
                suffixes[rest[:span]] += count
                match = 1
                limit = min(length, max_piece)
                k = 1
                while k <= limit:
                    head = rest[:k]
                    if head not in prefixes:
                        break
                    if head in vocab:
                        match = k
                    k += 1
                if match < length:
                    buckets[length - match][rest[match:]] += count
        return suffixes

    def _substring_counts(self, subwords: list[str], min_count: int = 1) -> dict[str, int]:
        """Every substring a subword start begins (up to ``max_len``) counted at least ``min_count`` times."""
        return _prefix_counts(self._split_suffixes(subwords), min_count, self.max_len)

    def _select(self, current: dict[str, int], min_count: int) -> list[str]:
        """Candidates by descending length, prefixes decremented, sorted by count."""
        by_len: list[list[str]] = [[] for _ in range(self.max_len + 1)]
        as_bytes = self._as_bytes
        for s in current:
            if len(s) == 1 and len(as_bytes(s)) <= 1:
                continue  # single bytes are always in the vocabulary
            by_len[len(s)].append(s)
        chosen: list[tuple[int, str]] = []
        for length in range(self.max_len, 0, -1):
            for s in by_len[length]:
                count = current[s]
                if count < min_count:
                    continue
                chosen.append((count, s))
                for end in range(1, length):
                    current[s[:end]] -= count
        chosen.sort(reverse=True)
        return [s for _, s in chosen]

    def build(self, min_count: int, num_iterations: int = NUM_ITERATIONS) -> list[str]:
        import bisect

        # self._first is sorted by descending count: take the head >= min_count.
        n = bisect.bisect_right(self._first_negated, -min_count)
        subwords = self._select(dict(self._first[:n]), min_count)
        for _ in range(num_iterations - 1):
            nxt = self._select(self._substring_counts(subwords, min_count), min_count)
            if nxt == subwords:
                break  # a fixed point: the remaining iterations return it again
            subwords = nxt
        return subwords


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
    target_vocab_size = int(target_vocab_size)
    try:
        ste._validate_build_arguments(
            max_subword_length=MAX_SUBWORD_LENGTH, reserved_tokens=[], target_vocab_size=target_vocab_size
        )
    except ValueError as exc:
        raise InputError(
            f"target_vocab_size must be at least 258 (padding + 256 bytes + 1 subword), got {target_vocab_size}"
        ) from exc
    start = time.monotonic()
    texts = list(texts)
    say(f"building a SubwordTextEncoder vocabulary (target {target_vocab_size}) from {len(texts)} texts ...")
    counts = token_counts(texts)
    say(f"  vocabulary: counted tokens of {len(texts)} texts: {len(counts)} distinct ({time.monotonic() - start:.1f} s)")
    search = _Search(counts)
    say(f"  vocabulary: {len(search._first)} first-iteration candidates ({time.monotonic() - start:.1f} s)")
    # tfds' vocab_size: padding + subwords + 256 bytes.
    rounds = [0]

    def size(subwords: list[str]) -> int:
        return 1 + len(subwords) + 256

    def attempt(min_count: int) -> list[str]:
        subwords = search.build(min_count)
        rounds[0] += 1
        say(
            f"  vocabulary: search round {rounds[0]}, min count {min_count}: {size(subwords)} ids "
            f"(target {target_vocab_size}, {time.monotonic() - start:.1f} s)"
        )
        return subwords

    # tfds' _binary_search, unrolled into a loop with the same choices.
    def binary_search(low: int, high: int) -> list[str]:
        candidate = (low + high) // 2
        subwords = attempt(candidate)
        vocab_size = size(subwords)
        if abs(vocab_size - target_vocab_size) * 100 < target_vocab_size or low >= high or candidate <= 1:
            return subwords
        if vocab_size > target_vocab_size:
            other = binary_search(candidate + 1, high)
        else:
            other = binary_search(low, candidate - 1)
        if abs(vocab_size - target_vocab_size) < abs(size(other) - target_vocab_size):
            return subwords
        return other

    if not counts:
        raise InputError("build_subword_encoder: the texts hold no characters; give at least one non-empty text")
    values = counts.values()
    subwords = binary_search(max(min(values), 1), max(values))
    return ste.SubwordTextEncoder(vocab_list=subwords)
