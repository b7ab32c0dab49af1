"""fastText's subword rows and the vectors it composes from them, over arrays.

A fastText model's input matrix holds one row per word, then ``bucket``
rows shared by character n-grams. ``get_word_vector`` (and
``fasttext print-word-vectors``) gives a word the mean of its own row and
the rows of its n-grams: the n-grams of ``<word>`` with ``minn`` to
``maxn`` characters (UTF-8 characters: a byte ``10xxxxxx`` continues the
one before), the one-character ``<`` and ``>`` left out, each hashed with
32-bit FNV-1a over its bytes *as signed chars* (fastText's
``uint32_t(int8_t(c))``, so a byte >= 0x80 is xor-ed as ``0xFFFFFFxx``),
modulo ``bucket``. The word ``</s>`` has no n-grams. Sums run in float32 in
fastText's order (the word's row, then the n-grams by start, then length)
and are scaled by ``float32(1 / count)``, so the result is fastText's to
the bit. Everything here is vectorised over many words at a time.

    >>> ids = subword_ids([b"ab"], minn=2, maxn=3, bucket=10, nwords=1)
    >>> [len(i) for i in ids]            # the word row, then <a ab b> <ab ab>
    [6]
    >>> int(fnv1a(b"\\xe9")) == (((2166136261 ^ 0xFFFFFFE9) * 16777619) % 2**32)
    True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["EOS", "compose_vectors", "fnv1a", "ngram_counts", "subword_ids"]

EOS = b"</s>"  # fastText's end-of-sentence word: no n-grams
_FNV_OFFSET = np.uint32(2166136261)
_FNV_PRIME = np.uint32(16777619)
CHUNK_WORDS = 50_000  # words composed at a time: bounds the n-gram arrays


def fnv1a(data: bytes) -> np.uint32:
    """fastText's ``Dictionary::hash`` of one byte string (signed-char quirk included)."""
    h = _hash_spans(np.frombuffer(data, np.uint8), np.zeros(1, np.int64), np.array([len(data)]))
    return h[0]


def _hash_spans(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """FNV-1a of ``buf[start:start+length]`` for every span at once."""
    h = np.full(len(starts), _FNV_OFFSET, np.uint32)
    for b in range(int(lengths.max(initial=0))):
        live = np.flatnonzero(lengths > b)
        byte = buf[starts[live] + b].view(np.int8).astype(np.int32).view(np.uint32)
        h[live] = (h[live] ^ byte) * _FNV_PRIME  # uint32 arrays wrap, as C's uint32_t does
    return h


def _ngram_spans(words: Sequence[bytes], minn: int, maxn: int):
    """``(word index, byte start, byte length, buffer)`` of every n-gram, in fastText's order."""
    wrapped = [b"<" + w + b">" if w != EOS else b"" for w in words]
    buf = np.frombuffer(b"".join(wrapped), np.uint8)
    ends = np.cumsum([len(w) for w in wrapped])
    starts = np.flatnonzero((buf & 0xC0) != 0x80)  # character starts; '<' begins each word
    char_end = np.append(starts[1:], len(buf))
    word_of = np.searchsorted(ends, starts, side="right")
    last_char = np.searchsorted(starts, ends[word_of], side="left") - 1  # per character
    first = np.ones(len(starts), bool)
    first[1:] = word_of[1:] != word_of[:-1]
    maxn = min(maxn, int(np.bincount(word_of).max(initial=0)))  # none longer than the longest word
    keys, spans = [], []
    for n in range(max(1, minn), maxn + 1):
        k = np.flatnonzero(np.arange(len(starts)) + n - 1 <= last_char)
        if n == 1:
            k = k[~first[k] & (k != last_char[k])]
        keys.append((k, np.full(len(k), n)))
        spans.append(char_end[k + n - 1] - starts[k])
    if not keys:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty, buf
    k = np.concatenate([a for a, _ in keys])
    n = np.concatenate([b for _, b in keys])
    lengths = np.concatenate(spans)
    order = np.lexsort((n, k))
    return word_of[k[order]], starts[k[order]], lengths[order], buf


def ngram_counts(words: Sequence[bytes], minn: int, maxn: int) -> np.ndarray:
    """An upper bound on each word's number of n-grams (``<word>`` of ``L``
    characters has ``L - n + 1`` of each length ``n``), counted without listing them.

        >>> ngram_counts([b"ab", EOS], minn=2, maxn=3).tolist()   # <ab>: 3 + 2
        [5, 0]
    """
    sizes = np.array([len(w) for w in words], np.int64)
    buf = np.frombuffer(b"".join(words), np.uint8)
    continuation = np.concatenate(([0], np.cumsum((buf & 0xC0) == 0x80)))
    ends = np.cumsum(sizes)
    chars = sizes + 2 - (continuation[ends] - continuation[ends - sizes])
    chars[[w == EOS for w in words]] = 0
    lo = max(1, minn)
    hi = np.minimum(maxn, chars)
    k = np.maximum(hi - lo + 1, 0)
    return k * (chars + 1) - (lo + hi) * k // 2


def subword_ids(words: Sequence[bytes], *, minn: int, maxn: int, bucket: int, nwords: int,
                first_id: int = 0, prune: dict[int, int] | None = None) -> list[np.ndarray]:
    """Each word's input rows as fastText's ``getSubwords`` lists them: its own
    row (``first_id + i``), then ``nwords + hash % bucket`` for each n-gram
    (``prune``, a quantized model's bucket map, drops or renumbers them)."""
    word_of, starts, lengths, buf = _ngram_spans(words, minn, maxn) if maxn > 0 and bucket > 0 \
        else (np.zeros(0, np.int64),) * 3 + (None,)
    ids = np.zeros(0, np.int64) if buf is None else (_hash_spans(buf, starts, lengths) % np.uint32(bucket)).astype(np.int64)
    if prune is not None:  # pushHash: ids the quantizer kept, renumbered
        keep = np.array([int(x) in prune for x in ids], bool)
        ids = np.array([prune[int(x)] for x in ids[keep]], np.int64)
        word_of = word_of[keep]
    split = np.searchsorted(word_of, np.arange(1, len(words)))
    return [np.concatenate(([first_id + i], nwords + part)) for i, part in enumerate(np.split(ids, split))]


def compose_vectors(subwords: Sequence[np.ndarray], rows: Callable[[np.ndarray], np.ndarray],
                    dims: int) -> np.ndarray:
    """The mean of each word's rows, summed in fastText's order in float32.

    ``rows(ids)`` returns the input-matrix rows ``ids`` (a memory map or an array).

        >>> table = np.array([[1, 2], [3, 4], [5, 7]], np.float32)
        >>> compose_vectors([np.array([0, 2]), np.array([1])], lambda i: table[i], 2).tolist()
        [[3.0, 4.5], [3.0, 4.0]]
    """
    out = np.zeros((len(subwords), dims), np.float32)
    counts = np.array([len(s) for s in subwords], np.int64)
    flat = np.concatenate(subwords) if subwords else np.zeros(0, np.int64)
    word = np.repeat(np.arange(len(subwords)), counts)
    slot = np.arange(len(flat)) - np.repeat(np.cumsum(counts) - counts, counts)
    order = np.argsort(slot, kind="stable")
    bounds = np.searchsorted(slot[order], np.arange(int(counts.max(initial=0)) + 1))
    for s in range(len(bounds) - 1):
        part = order[bounds[s] : bounds[s + 1]]  # one row per word: its s-th subword
        unique, inverse = np.unique(flat[part], return_inverse=True)
        out[word[part]] += np.asarray(rows(unique), np.float32)[inverse]
    scale = np.array([1.0 / c if c else 0.0 for c in counts], np.float64).astype(np.float32)
    out *= scale[:, None]
    return out
