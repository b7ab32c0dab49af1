"""fastText's own model file (``model.bin``, ``cc.<lang>.300.bin``): its word vectors.

The layout, as ``FastText::saveModel`` writes it (little-endian, versions
11 and 12, both starting with the magic number 793712314):

* ``int32 magic, version``; the arguments: 12 ``int32`` (``dim ws epoch
  minCount neg wordNgrams loss model bucket minn maxn lrUpdateRate``) and
  ``double t``;
* the dictionary: ``int32 size nwords nlabels``, ``int64 ntokens
  pruneidx_size``, then ``size`` entries ``word\\0 int64 count int8 type``
  (the ``nwords`` words first, in row order, then the labels of a
  supervised model), then ``pruneidx_size`` pairs of ``int32``;
* ``bool quant_input``, then the input matrix: ``int64 m n`` and ``m x n``
  float32 (rows ``0..nwords-1`` the words, then ``bucket`` n-gram rows);
  a quantized model (``.ftz``) stores codes instead: refused here.

Every declared count is checked against the file's size before anything is
allocated. ``vectors="input"`` gives the words' own rows;
``"composed"`` (the default) what ``get_word_vector`` and ``fasttext
print-word-vectors`` give (:mod:`~projector_tools.sources.fasttext_subwords`).
Words are labels as for ``.vec`` files: bytes that are not UTF-8 show as
``\\xHH``. See ``docs/design.md``, *fastText binary models*.

    >>> import io, struct
    >>> head = struct.pack("<ii", FASTTEXT_MAGIC, 12)
    >>> is_fasttext_head(head), is_fasttext_head(b"3 2\\nthe ")
    (True, False)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np

from projector_tools import fsio
from projector_tools.errors import InputError, SourceError
from projector_tools.run.matrix import check_size
from projector_tools.run.budgets import MAX_LINE_BYTES, MAX_NGRAMS
from projector_tools.sources.fasttext_subwords import CHUNK_WORDS, compose_vectors, ngram_counts, subword_ids
from projector_tools.sources.word_vector_parsers import decode_tokens

__all__ = ["FASTTEXT_MAGIC", "VECTOR_CHOICES", "FastTextModel", "is_fasttext_bin", "read_fasttext_bin"]

FASTTEXT_MAGIC = 793712314
VERSIONS = (11, 12)
VECTOR_CHOICES = ("composed", "input")
_ARGS = struct.Struct("<12id")
_DICT = struct.Struct("<3i2q")
_ARG_NAMES = ("dim", "ws", "epoch", "min_count", "neg", "word_ngrams", "loss", "model",
              "bucket", "minn", "maxn", "lr_update_rate")
_SUPERVISED = 3  # args.model of `fasttext supervised`
_BLOCK = 1 << 22
_MIN_ENTRY = 10  # "\\0", int64 count, int8 type


@dataclass
class FastTextModel:
    """The words of a fastText model and one float32 vector each, in row order."""

    words: list[str]
    matrix: np.ndarray
    args: dict[str, int]
    version: int
    notes: list[str] = field(default_factory=list)


def is_fasttext_head(head: bytes) -> bool:
    """True when ``head`` starts with fastText's magic number (any version:
    the reader names the versions it reads)."""
    return len(head) >= 8 and struct.unpack_from("<i", head)[0] == FASTTEXT_MAGIC


def is_fasttext_bin(path: str) -> bool:
    """True for a fastText model file (by its first 8 bytes; the name is not used)."""
    try:
        with fsio.open_read(path) as f:
            return is_fasttext_head(f.read(8))
    except Exception:  # noqa: BLE001 - a directory, unreadable: not this kind
        return False


class _Reader:
    """Sequential reads over a seekable stream, each refused past the end of the file."""

    def __init__(self, path: str, stream: BinaryIO):
        self.path, self.stream = path, stream
        stream.seek(0, 2)
        self.size = stream.tell()
        stream.seek(0)

    def take(self, n: int) -> bytes:
        data = self.stream.read(n)
        if len(data) != n:
            raise SourceError(f"{self.path!r} ends early (a fastText model cut short); is the download complete?")
        return data

    def need(self, what: str, nbytes: int) -> None:
        """Refuse a declared size the rest of the file cannot hold (before allocating it)."""
        left = self.size - self.stream.tell()
        if nbytes < 0 or nbytes > left:
            raise SourceError(f"{self.path!r} declares {what} ({nbytes} bytes) but only {left} bytes follow; "
                              "the file is damaged or cut short")


def _read_words(r: _Reader, size: int) -> list[bytes]:
    """The ``size`` dictionary entries' words (count and type skipped)."""
    r.need(f"{size} dictionary entries", size * _MIN_ENTRY)
    words: list[bytes] = []
    buf, pos = b"", 0
    while len(words) < size:
        end = buf.find(b"\0", pos)
        if (end < 0 and len(buf) - pos > MAX_LINE_BYTES) or end - pos > MAX_LINE_BYTES:
            raise SourceError(f"{r.path!r} has a dictionary word longer than {MAX_LINE_BYTES >> 20} MiB "
                              "(the ceiling for one label); the file is damaged or not a fastText model")
        if end < 0 or end + _MIN_ENTRY > len(buf):
            more = r.stream.read(_BLOCK)
            if not more:
                raise SourceError(f"{r.path!r} ends inside its dictionary; the file is damaged or cut short")
            buf, pos = buf[pos:] + more, 0
            continue
        words.append(buf[pos:end])
        pos = end + _MIN_ENTRY
    r.stream.seek(pos - len(buf), 1)  # back to the first byte after the entries
    return words


def _read_header(r: _Reader) -> tuple[int, dict[str, int], list[bytes], int, int, int]:
    """``(version, args, words, pruneidx_size, matrix offset, matrix rows)``, each count checked."""
    magic, version = struct.unpack("<ii", r.take(8))
    if magic != FASTTEXT_MAGIC or version not in VERSIONS:
        raise SourceError(f"{r.path!r} is a fastText model of version {version}; versions "
                          f"{' and '.join(map(str, VERSIONS))} are read: export its .vec "
                          "(fasttext print-word-vectors) or save it with fastText 0.9")
    values = _ARGS.unpack(r.take(_ARGS.size))
    args = dict(zip(_ARG_NAMES, values[:12]))
    if version == 11 and args["model"] == _SUPERVISED:
        args["maxn"] = 0  # fastText: old supervised models use no character n-grams
    size, nwords, nlabels, _, prune_size = _DICT.unpack(r.take(_DICT.size))
    if not (0 <= nwords <= size and nlabels >= 0 and args["dim"] > 0 and args["bucket"] >= 0):
        raise SourceError(f"{r.path!r}: implausible fastText header (dim {args['dim']}, "
                          f"{size} entries, {nwords} words, bucket {args['bucket']})")
    words = _read_words(r, size)[:nwords]
    if prune_size > 0:
        r.need(f"{prune_size} pruned n-gram ids", prune_size * 8)
        r.take(prune_size * 8)
    if r.take(1) != b"\0":
        raise SourceError(f"{r.path!r} is a quantized fastText model (.ftz): its vectors are stored as "
                          "codes, not read here; export the full model's .bin, or its .vec "
                          "(fasttext print-word-vectors model.ftz < words.txt)")
    rows, dims = struct.unpack("<2q", r.take(16))
    if dims != args["dim"] or rows < nwords:
        raise SourceError(f"{r.path!r}: its input matrix is {rows} x {dims}, which does not fit "
                          f"{nwords} words of {args['dim']} dimensions")
    r.need(f"a {rows} x {dims} input matrix", rows * dims * 4)
    return version, args, words, prune_size, r.stream.tell(), rows


def _matrix_rows(path: str, offset: int, rows: int, dims: int) -> np.ndarray:
    """The input matrix, mapped (local files) or read (``scheme://`` paths)."""
    if not fsio.is_remote(path):
        return np.memmap(path, np.float32, "r", offset=offset, shape=(rows, dims))
    with fsio.open_read(path) as f:
        f.seek(offset)
        return np.frombuffer(f.read(rows * dims * 4), np.float32).reshape(rows, dims)


def read_fasttext_bin(path: str, *, vectors: str = "composed", max_rows: int | None = None) -> FastTextModel:
    """The words of a fastText model and their vectors (see the module docstring).

    ``max_rows`` keeps the first N words (fastText sorts them by frequency).
    """
    if vectors not in VECTOR_CHOICES:
        raise InputError(f"--fasttext-vectors must be one of {', '.join(VECTOR_CHOICES)}, not {vectors!r}")
    with fsio.open_read(path) as stream:
        version, args, words, prune_size, offset, rows = _read_header(_Reader(path, stream))
    nwords, dims = len(words), args["dim"]
    rows_total = (nwords + args["bucket"]) if prune_size < 0 else None
    keep = nwords if max_rows is None else min(nwords, max(int(max_rows), 0))
    check_size((keep, dims))
    if keep == 0:
        raise SourceError(f"{path!r} is a fastText model with no words to show")
    if rows_total is not None and rows_total != rows:
        raise SourceError(f"{path!r}: {rows} input rows, but {nwords} words + "
                          f"{args['bucket']} buckets declared")
    table = _matrix_rows(path, offset, rows, dims)
    if vectors == "input":
        matrix = np.array(table[:keep], np.float32)
    else:
        matrix = _composed(words[:keep], args, nwords, prune_size, table)
    notes = [f"fastText model (version {version}, {nwords} words, dim {dims}, "
             f"n-grams {args['minn']}-{args['maxn']} in {args['bucket']} buckets): "
             f"{'each word row plus its n-gram rows, averaged (as print-word-vectors)' if vectors == 'composed' else 'the words own input rows'}"]
    if keep < nwords:
        notes.append(f"kept the first {keep} of {nwords} words")
    return FastTextModel(decode_tokens(words[:keep]), matrix, args, version, notes)


def _composed(words: list[bytes], args: dict[str, int], nwords: int, prune_size: int,
              table: np.ndarray) -> np.ndarray:
    """``get_word_vector`` for each word, ``CHUNK_WORDS`` at a time."""
    dims = args["dim"]
    maxn = 0 if prune_size == 0 else args["maxn"]
    if prune_size > 0:
        raise SourceError("pruned n-gram buckets come only with quantized models, which are not read")
    out = np.empty((len(words), dims), np.float32)
    for lo, hi in _chunks(words, args["minn"], maxn if args["bucket"] > 0 else 0):
        chunk = words[lo:hi]
        ids = subword_ids(chunk, minn=args["minn"], maxn=maxn, bucket=args["bucket"],
                          nwords=nwords, first_id=lo)
        out[lo:hi] = compose_vectors(ids, lambda i: table[i], dims)
    return out


def _chunks(words: list[bytes], minn: int, maxn: int) -> list[tuple[int, int]]:
    """``(start, end)`` of runs of at most ``CHUNK_WORDS`` words and ``MAX_NGRAMS`` n-grams."""
    if maxn <= 0:
        return [(lo, min(lo + CHUNK_WORDS, len(words))) for lo in range(0, len(words), CHUNK_WORDS)]
    counts = ngram_counts(words, minn, maxn)
    if counts.size and counts.max() > MAX_NGRAMS:
        i = int(counts.argmax())
        raise SourceError(f"the word {words[i][:40]!r}... ({len(words[i]):,} bytes) with n-grams of "
                          f"{minn} to {maxn} characters makes {int(counts[i]):,} n-grams, over the "
                          f"{MAX_NGRAMS:,} ceiling: not a real fastText model; "
                          "--fasttext-vectors input reads the words' own rows")
    bounds, lo, total = [], 0, 0
    for i, c in enumerate(counts.tolist()):
        if i - lo == CHUNK_WORDS or total + c > MAX_NGRAMS:
            bounds.append((lo, i))
            lo, total = i, 0
        total += c
    return bounds + ([(lo, len(words))] if lo < len(words) else [])
