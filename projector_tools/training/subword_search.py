"""One ``SubwordTextEncoder`` vocabulary search, as whole-array steps.

:class:`SubwordSearch` holds a corpus's distinct tokens (``{token: count}``)
and answers ``build(min_count)`` with the subword list of tfds'
``SubwordTextEncoder._build_from_token_counts(token_counts, min_count,
reserved_tokens=[], num_iterations=4, max_subword_length=20)``: the same
greedy split, the same substring counts, the same candidate selection and
order. It replaces tfds' per-character Python loops with numpy work over
every *window* of the corpus, computed once:

* **Windows.** All tokens are concatenated; every character position ``q``
  gets the window ``token[q:q + 20]`` cut at its token's end. Each
  character is written as 1-3 bytes that sort like its code point and are
  never 0, and 0 pads a window, so a window is a fixed-width byte string
  whose byte order is the strings' order with a prefix first. Distinct
  windows are sorted once, with the length of the prefix each shares with
  the one before it (``lcp``).
* **A substring is a run.** The windows starting with a substring ``s``
  (``len(s) <= 20``) are one contiguous run of the sorted windows: its
  count is a sum over that run, its prefixes are the enclosing runs.
* **The greedy split** (``_token_to_subwords``) takes, at each start, the
  longest vocabulary entry that begins the window. Each entry is a run; a
  window's longest entry is the deepest run containing it ("painting" the
  runs shortest first). Following ``start + match`` from each token's
  first character gives every subword start of every token at once.
* **Counting** (tfds' ``subword_counts``) weighs each start's window by its
  token's count; a substring's count is the weight of its run among the
  start windows, for every length at once (``numpy.add.reduceat`` per
  length).
* **Selection** (longest first, each accepted candidate decrementing its
  prefixes) walks the lengths from 20 down: a candidate's prefixes are its
  enclosing runs, so what it decrements flows to its parent run, summed.

Example::

    search = SubwordSearch({"the_": 9, "then_": 4, "film_": 3})
    search.build(2)   # == tfds' _build_from_token_counts(counts, 2, [], 4, 20).subwords

``tests/training/test_subword_builder.py`` checks the identity against tfds.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MAX_SUBWORD_LENGTH", "NUM_ITERATIONS", "UNDERSCORE_REPLACEMENT", "SubwordSearch"]

#: tfds' defaults in ``build_from_corpus``.
MAX_SUBWORD_LENGTH = 20
NUM_ITERATIONS = 4
#: tfds' ``_UNDERSCORE_REPLACEMENT``: always a match in the greedy split.
UNDERSCORE_REPLACEMENT = "\\&undsc"


def _char_bytes(ranks: np.ndarray, width: int | None = None) -> np.ndarray:
    """``(n, width)`` uint8 digits of ``ranks`` (1..): base 255, each digit + 1, so never 0.

    ``width`` defaults to the fewest digits the largest rank needs.
    """
    if width is None:
        width = 1
        while 255**width <= int(ranks.max(initial=0)):
            width += 1
    out = np.empty((ranks.size, width), dtype=np.uint8)
    rest = ranks.astype(np.int64)
    for column in range(width - 1, -1, -1):
        out[:, column] = rest % 255 + 1
        rest //= 255
    return out


class SubwordSearch:
    """``build(min_count)`` is tfds' ``_build_from_token_counts`` on ``counts``.

    ``counts`` maps each distinct token (as ``_prepare_tokens_for_encode``
    makes them) to its count.
    """

    def __init__(self, counts: dict[str, int], max_subword_length: int = MAX_SUBWORD_LENGTH) -> None:
        span = self.span = int(max_subword_length)
        tokens = list(counts)
        text = self.text = "".join(tokens)
        n = len(text)
        lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
        self.token_weight = np.fromiter(counts.values(), dtype=np.int64, count=len(tokens))
        ends = np.cumsum(lengths)
        self.token_start = ends - lengths
        self.token_end = ends
        self.token_of = np.repeat(np.arange(len(tokens)), lengths)
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        alphabet, ranks = np.unique(codes, return_inverse=True)
        self.alphabet = alphabet
        digits = _char_bytes(ranks.reshape(-1) + 1)
        width = self.width = digits.shape[1]
        # every position's window, cut at its token's end and padded with 0
        padded = np.concatenate([digits.reshape(-1), np.zeros(span * width, dtype=np.uint8)])
        windows = np.lib.stride_tricks.sliding_window_view(padded, span * width)[: n * width : width]
        windows = np.ascontiguousarray(windows)
        remaining = self.token_end[self.token_of] - np.arange(n)
        self.window_len = np.minimum(remaining, span)
        windows[np.repeat(np.arange(span), width)[None, :] >= self.window_len[:, None]] = 0
        keys = windows.view(f"S{span * width}").reshape(-1)
        # distinct windows, sorted; uid[q] is position q's window
        self.keys, first, self.uid = np.unique(keys, return_index=True, return_inverse=True)
        self.uid = self.uid.reshape(-1)
        self.rep = first  # a position holding each distinct window
        self.ulen = self.window_len[first]
        rows = self.keys.view(np.uint8).reshape(len(self.keys), span * width) if n else np.zeros((0, span * width), np.uint8)
        self._rows = rows
        # lcp[i]: characters window i shares with window i - 1 (lcp[0] = -1)
        lcp = np.full(len(self.keys) + 1, -1, dtype=np.int64)
        if len(self.keys) > 1:
            differ = rows[1:] != rows[:-1]
            lcp[1:-1] = np.where(differ.any(axis=1), differ.argmax(axis=1), span * width) // width
        self.lcp = lcp
        self.ascii_first = codes < 128  # single bytes are never candidates
        self._replacement = self._runs_of_strings([UNDERSCORE_REPLACEMENT])
        self._first_split: np.ndarray | None = None

    # -- runs ------------------------------------------------------------------
    def _key_bounds(self, rows: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The run ``[lo, hi)`` of sorted windows starting with each row's first ``lengths`` characters."""
        cut = np.repeat(np.arange(self.span), self.width)[None, :] >= lengths[:, None]
        low = rows.copy()
        low[cut] = 0
        high = rows.copy()
        high[cut] = 255
        size = f"S{self.span * self.width}"
        lo = np.searchsorted(self.keys, low.view(size).reshape(-1), side="left")
        hi = np.searchsorted(self.keys, high.view(size).reshape(-1), side="right")
        return lo, hi

    def _runs_of_strings(self, strings: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(lo, hi, length)`` runs of strings made of the corpus's characters (others dropped)."""
        keep_rows, lengths = [], []
        for s in strings:
            if not s or len(s) > self.span:
                continue
            codes = np.frombuffer(s.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
            at = np.searchsorted(self.alphabet, codes)
            if (at >= len(self.alphabet)).any() or (self.alphabet[np.minimum(at, len(self.alphabet) - 1)] != codes).any():
                continue  # a character the corpus never has: the string never matches
            row = np.zeros(self.span * self.width, dtype=np.uint8)
            row[: len(s) * self.width] = _char_bytes(at + 1, self.width).reshape(-1)
            keep_rows.append(row)
            lengths.append(len(s))
        if not keep_rows:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty
        length = np.array(lengths, dtype=np.int64)
        lo, hi = self._key_bounds(np.stack(keep_rows), length)
        return lo, hi, length

    # -- one iteration -----------------------------------------------------------
    def _split(self, vocab: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
        """Positions where the greedy split of each token starts a subword."""
        lo, hi, length = (np.concatenate(parts) for parts in zip(vocab, self._replacement))
        deepest = np.zeros(len(self.keys), dtype=np.int64)
        for k in np.unique(length):  # shortest first: deeper runs overwrite
            at = length == k
            edges = np.zeros(len(self.keys) + 1, dtype=np.int64)
            np.add.at(edges, lo[at], 1)
            np.add.at(edges, hi[at], -1)
            deepest[np.cumsum(edges[:-1]) > 0] = k
        step = np.maximum(deepest[self.uid], 1)
        starts = []
        current, end = self.token_start, self.token_end
        while current.size:
            starts.append(current)
            current = current + step[current]
            going = current < end
            current, end = current[going], end[going]
        return np.concatenate(starts) if starts else np.zeros(0, dtype=np.int64)

    def _select(self, starts: np.ndarray, min_count: int) -> tuple[list[str], tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """tfds' substring counts and candidate selection for these subword starts."""
        weight = np.bincount(
            self.uid[starts], weights=self.token_weight[self.token_of[starts]], minlength=len(self.keys)
        ).astype(np.int64)
        rows = np.flatnonzero(weight)
        if not rows.size:
            empty = np.zeros(0, dtype=np.int64)
            return [], (empty, empty, empty)
        row_weight = weight[rows]
        row_len = self.ulen[rows]
        # characters each start window shares with the previous start window
        before = np.full(rows.size, -1, dtype=np.int64)
        if rows.size > 1:
            before[1:] = np.minimum.reduceat(self.lcp, rows + 1)[:-1]
        # one level per length: the runs (first row, count) that reach min_count
        level_first: list[np.ndarray] = []
        level_count: list[np.ndarray] = []
        for k in range(1, self.span + 1):
            members = np.flatnonzero(row_len >= k)
            if not members.size:
                break
            firsts = np.flatnonzero(before[members] < k)
            sums = np.add.reduceat(row_weight[members], firsts)
            keep = sums >= min_count
            if not keep.any():
                break  # a longer substring never counts more than its prefix
            level_first.append(members[firsts[keep]])
            level_count.append(sums[keep])
        # longest first: what an accepted candidate decrements flows to its prefixes
        chosen: list[tuple[int, str]] = []
        vocab_rows, vocab_len = [], []
        text, rep = self.text, self.rep
        decrement = np.zeros(level_count[-1].size, dtype=np.int64) if level_count else None
        for k in range(len(level_count), 0, -1):
            first = level_first[k - 1]
            current = level_count[k - 1] - decrement
            accept = current >= min_count
            if k == 1:  # single bytes are always in the vocabulary
                accept &= ~self.ascii_first[rep[rows[first]]]
            taken = rows[first[accept]]
            vocab_rows.append(taken)
            vocab_len.append(np.full(taken.size, k, dtype=np.int64))
            chosen.extend(zip(current[accept].tolist(), [text[q : q + k] for q in rep[taken].tolist()]))
            if k > 1:
                flow = decrement + np.where(accept, current, 0)
                parent = np.searchsorted(level_first[k - 2], first, side="right") - 1
                heads = np.flatnonzero(np.diff(parent, prepend=-1))
                decrement = np.zeros(level_count[k - 2].size, dtype=np.int64)
                decrement[parent[heads]] = np.add.reduceat(flow, heads)
        chosen.sort(reverse=True)
        if vocab_rows:
            taken_rows = np.concatenate(vocab_rows)
            length = np.concatenate(vocab_len)
            lo, hi = self._key_bounds(self._rows[taken_rows], length)
        else:
            lo = hi = length = np.zeros(0, dtype=np.int64)
        return [s for _, s in chosen], (lo, hi, length)

    def build(self, min_count: int, num_iterations: int = NUM_ITERATIONS) -> list[str]:
        """The subwords ``_build_from_token_counts(counts, min_count, [], num_iterations, span)`` picks."""
        if self._first_split is None:  # iteration 1 of every round: no subwords yet
            empty = np.zeros(0, dtype=np.int64)
            self._first_split = self._split((empty, empty, empty))
        subwords, vocab = self._select(self._first_split, min_count)
        for _ in range(num_iterations - 1):
            following, next_vocab = self._select(self._split(vocab), min_count)
            if following == subwords:
                break  # a fixed point: the remaining iterations return it again
            subwords, vocab = following, next_vocab
        return subwords
