"""Word-vector files as people have them: word2vec, fastText ``.vec``, GloVe.

Three layouts are recognised by their content (the file name is not used):

* ``text``: word2vec / fastText text. A ``rows dims`` header line, then
  ``token v1 ... vd`` per line (word2vec.c, fastText and gensim end each line
  with a space; ``\\r\\n`` works too).
* ``glove``: GloVe text, the same lines with no header; ``dims`` is the
  number count the first lines agree on.
* ``binary``: word2vec binary (``.bin``). A ``rows dims`` header line, then
  per row the token, a space, ``dims`` little-endian float32 values and
  (as word2vec.c writes it, not gensim) a newline.

Any of them may be gzip- or bzip2-compressed (``cc.en.300.vec.gz``),
recognised by their magic bytes. Token bytes that are not UTF-8 (real
fastText vocabularies carry Latin-1) are decoded with ``surrogateescape``,
so the metadata writer shows each such byte as ``\\xHH``. Tokens may hold
inner spaces where ``dims`` makes them unambiguous. Duplicate tokens keep
their rows. The text is parsed in large blocks straight into a float32
matrix (see ``docs/design.md``, *Word-vector files*).

    >>> vectors = load_word_vectors("cc.en.300.vec.gz", max_rows=50_000)
    >>> vectors.kind, vectors.matrix.shape, vectors.tokens[:2]
    ('text', (50000, 300), [',', 'the'])
"""

from __future__ import annotations

import bz2
import gzip
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np
from numpy.lib.stride_tricks import as_strided

from projector_tools import fsio
from projector_tools.errors import SourceError
from projector_tools.matrix import check_size

__all__ = ["KINDS", "WordVectors", "describe_kinds", "load_word_vectors", "sniff"]

KINDS = {
    "text": "word2vec/fastText text ('rows dims' line, then 'token v1 ... vd' lines)",
    "glove": "GloVe text (no header, 'token v1 ... vd' lines)",
    "binary": "word2vec binary ('rows dims' line, then token, space, dims float32 per row)",
}
COMPRESSIONS = {b"\x1f\x8b": "gzip", b"BZh": "bzip2"}
# fastText's own model file (``model.bin``): not word vectors, but often mistaken for them.
_FASTTEXT_MODEL_MAGIC = b"\xba\x16\x4f\x2f"

_BLOCK = 2 << 20  # bytes per block: 8 MiB measured no faster and left ~15 MB more resident
_SNIFF_BYTES = 1 << 16
_SNIFF_LINES = 20
_NUMBER_TEXT = b"0123456789.-+eEinfatyINFATY \t\r\n"  # what the numbers of a text line are made of
_HEADER = re.compile(rb"\s*(\d+)[ \t]+(\d+)\s*")


def describe_kinds() -> str:
    """One phrase naming every recognised word-vector layout (for error messages)."""
    return "; ".join(KINDS.values()) + "; each may be .gz or .bz2"


@dataclass
class WordVectors:
    """Tokens and their float32 vectors, in file order."""

    kind: str
    tokens: list[str]
    matrix: np.ndarray
    compression: str | None = None
    notes: list[str] = field(default_factory=list)


def _open(path: str) -> tuple[BinaryIO, str | None]:
    """The file's decompressed byte stream, and the compression found by magic bytes."""
    try:
        raw = fsio.open_read(path)
        magic = raw.read(3)
        raw.seek(0)
    except Exception as exc:  # noqa: BLE001 - tf.errors.* and OSError alike
        raise SourceError(f"cannot read {path!r} ({exc})") from exc
    for mark, name in COMPRESSIONS.items():
        if magic.startswith(mark):
            stream: BinaryIO = gzip.GzipFile(fileobj=raw) if name == "gzip" else bz2.BZ2File(raw)
            return stream, name
    return raw, None


def _read(stream: BinaryIO, n: int, path: str) -> bytes:
    try:
        return stream.read(n)
    except (OSError, EOFError, ValueError) as exc:  # gzip/bz2 corruption, truncation
        raise SourceError(f"cannot decompress {path!r} ({exc}); is the download complete?") from exc


def _is_float(field_: bytes) -> bool:
    try:
        float(field_)
    except ValueError:
        return False
    return True


def _numeric_tail(fields: list[bytes]) -> int:
    """How many of ``fields``, counted from the end, are numbers."""
    n = 0
    for f in reversed(fields):
        if not _is_float(f):
            break
        n += 1
    return n


def _sniff_head(head: bytes) -> tuple[str, int | None, int] | None:
    """``(kind, rows, dims)`` from the first bytes of a file (rows None when unknown)."""
    first, nl, rest = head.partition(b"\n")
    m = _HEADER.fullmatch(first)
    if m and nl:
        rows, dims = int(m.group(1)), int(m.group(2))
        if rows < 1 or dims < 1:
            return None
        line, nl2, _ = rest.partition(b"\n")
        fields = line.rstrip().rsplit(None, dims)
        if (nl2 or len(head) < _SNIFF_BYTES) and len(fields) == dims + 1 and _numeric_tail(fields[1:]) == dims:
            return "text", rows, dims
        space = rest.find(b" ")
        if space <= 0:
            return None
        window = rest[space + 1 : space + 1 + min(4 * dims, 512)]
        if not nl2 and len(head) >= _SNIFF_BYTES and not window.translate(None, _NUMBER_TEXT):
            return "text", rows, dims  # a first line longer than what was read
        if len(rest) >= space + 1 + 4 * dims or len(head) < _SNIFF_BYTES:
            return "binary", rows, dims
        return None
    lines = head.split(b"\n")
    if len(head) >= _SNIFF_BYTES:
        lines.pop()  # possibly cut short
    counts: list[int] = []
    numeric_tokens = 0
    for line in lines[:_SNIFF_LINES]:
        fields = line.split()
        if not fields:
            continue
        tail = _numeric_tail(fields)
        if tail == len(fields):
            numeric_tokens += 1
            tail -= 1
        if tail < 1:
            return None
        counts.append(tail)
    if not counts or numeric_tokens == len(counts):
        return None  # nothing, or a table of bare numbers (no tokens)
    dims = max(set(counts), key=counts.count)
    if counts.count(dims) * 2 <= len(counts):
        return None
    return "glove", None, dims


def sniff(path: str) -> str | None:
    """``'text'``, ``'glove'``, ``'binary'`` or None, from the file's first bytes.

        >>> sniff("vectors.vec")
        'text'
    """
    try:
        stream, _ = _open(path)
    except SourceError:
        return None
    with stream:
        try:
            head = stream.read(_SNIFF_BYTES)
        except (OSError, EOFError, ValueError):
            return None
    found = _sniff_head(head)
    return found[0] if found else None


def not_word_vectors_hint(path: str) -> str:
    """A hint for files often mistaken for word vectors ('' when none applies)."""
    try:
        stream, _ = _open(path)
        with stream:
            magic = stream.read(4)
    except (SourceError, OSError, EOFError):
        return ""
    if magic == _FASTTEXT_MODEL_MAGIC:
        return (
            " (it is a fastText model .bin, not word vectors: export its .vec, "
            "e.g. with fastText's print-word-vectors, or pass the .vec that came with it)"
        )
    return ""


def load_word_vectors(path: str, *, max_rows: int | None = None) -> WordVectors:
    """Read a word-vector file (see the module docstring) into tokens and a matrix.

    ``max_rows`` stops after the first N rows (the way to a subset of files
    over TensorBoard's 2 GB limit, such as fastText's 2,000,000 x 300).

        >>> wv = load_word_vectors("glove.6B.50d.txt")
        >>> len(wv.tokens) == wv.matrix.shape[0]
        True
    """
    stream, compression = _open(path)
    with stream:
        head = _read(stream, _SNIFF_BYTES, path)
        found = _sniff_head(head)
        if found is None:
            raise SourceError(f"{path!r} is not a word-vector file; recognised: {describe_kinds()}")
        kind, rows, dims = found
        if rows is not None and max_rows is None:
            check_size((rows, dims))  # before parsing gigabytes: the answer is --max-rows
        reader = _BinaryReader if kind == "binary" else _TextReader
        tokens, matrix = reader(path, stream, head, rows, dims, max_rows).read()
    vectors = WordVectors(kind=kind, tokens=tokens, matrix=matrix, compression=compression)
    note = duplicates_note(tokens)
    if note:
        vectors.notes.append(note)
    return vectors


def duplicates_note(tokens: list[str]) -> str:
    """One sentence about repeated tokens ('' when every token is unique)."""
    unique = set(tokens)
    if len(unique) == len(tokens):
        return ""
    seen: set[str] = set()
    example = next(t for t in tokens if t in seen or seen.add(t))
    repeated = len(tokens) - len(unique)
    return (
        f"{repeated} row{'s' if repeated != 1 else ''} repeat an earlier token "
        f"(e.g. {example!r}); each keeps its own row and label"
    )


class _Matrix:
    """A float32 matrix filled block by block; grown when the row count is open.

    Growth doubles with ``ndarray.resize`` (``realloc``, no second copy held);
    measured cheaper than counting lines first (docs/design.md).
    """

    def __init__(self, rows: int | None, dims: int, cap: int | None):
        self.dims, self.cap = dims, cap
        self.grows = rows is None
        start = max(1024, (64 << 20) // (4 * dims)) if rows is None else rows
        self.array = np.empty((min(start, cap) if cap is not None else start, dims), np.float32)
        self.n = 0

    def room(self, extra: int) -> int:
        """Free rows, after growing (up to ``cap``) if the row count is open."""
        size = self.array.shape[0]
        if self.grows and size - self.n < extra:
            size = max(size * 2, self.n + extra)
            if self.cap is not None:
                size = min(size, self.cap)
            self.array.resize((size, self.dims), refcheck=False)
        return size - self.n

    def add(self, block: np.ndarray) -> None:
        self.array[self.n : self.n + len(block)] = block
        self.n += len(block)

    def done(self) -> np.ndarray:
        if self.array.shape[0] != self.n:
            self.array.resize((self.n, self.dims), refcheck=False)
        return self.array


def _decode(tokens: list[bytes]) -> list[str]:
    """Tokens as str; bytes that are not UTF-8 become lone surrogates (``\\xHH`` labels)."""
    text = b"\n".join(tokens).decode("utf-8", "surrogateescape").split("\n")  # one call, fast
    if len(text) != len(tokens):  # a token holding "\n" (binary files only)
        text = [t.decode("utf-8", "surrogateescape") for t in tokens]
    return text if tokens else []


class _TextReader:
    def __init__(self, path: str, stream: BinaryIO, head: bytes, rows: int | None, dims: int,
                 max_rows: int | None):
        self.path, self.stream, self.head = path, stream, head
        self.rows, self.dims, self.max_rows = rows, dims, max_rows
        want = rows if max_rows is None else (max_rows if rows is None else min(rows, max_rows))
        self.want = want
        self.out = _Matrix(want, dims, cap=max_rows)
        self.tokens: list[str] = []

    def _blocks(self) -> Iterator[tuple[int, list[bytes]]]:
        """``(line number of the first line, lines)`` per block of whole lines."""
        data = self.head
        lineno = 1
        if self.rows is not None:
            data = data[data.index(b"\n") + 1 :]
            lineno = 2
        while True:
            more = _read(self.stream, _BLOCK, self.path)
            data += more
            if not more:
                yield lineno, data.split(b"\n")
                return
            cut = data.rfind(b"\n")
            if cut < 0:
                continue
            lines = data[:cut].split(b"\n")
            data = data[cut + 1 :]
            yield lineno, lines
            lineno += len(lines)

    def read(self) -> tuple[list[str], np.ndarray]:
        for lineno, lines in self._blocks():
            tokens, numbers = self._fast(lines)
            if numbers is None:
                tokens, numbers = self._careful(lineno, lines)
            if not tokens:
                continue
            free = self.out.room(len(tokens))
            if len(tokens) > free:
                if self.max_rows is not None and self.out.n + free == self.max_rows:
                    self._keep(tokens[:free], numbers[:free])
                    break
                self._too_many(len(tokens) - free)
            self._keep(tokens, numbers)
        if self.rows is not None and self.out.n < self.want:
            raise SourceError(
                f"{self.path!r}: the header says {self.rows} rows but the file has {self.out.n}; "
                "the file is cut short or its header is wrong (fix the first line)"
            )
        return self.tokens, self.out.done()

    def _keep(self, tokens: list[bytes], numbers: np.ndarray) -> None:
        self.out.add(numbers)
        self.tokens.extend(_decode(tokens))

    def _fast(self, lines: list[bytes]) -> tuple[list[bytes], np.ndarray | None]:
        """Every line ``token v1 ... vd``: one numpy parse for the whole block.

        ``np.loadtxt`` checks that every line has ``dims`` numbers; None means
        "go line by line" (a token with inner spaces, or an error to locate).
        """
        tokens: list[bytes] = []
        rests: list[bytes] = []
        for line in lines:
            parts = line.split(None, 1)
            if len(parts) == 2:
                tokens.append(parts[0])
                rests.append(parts[1])
            elif parts:
                return tokens, None
        if not tokens:
            return tokens, np.empty((0, self.dims), np.float32)
        try:
            numbers = np.loadtxt(rests, dtype=np.float32, comments=None, ndmin=2)
        except ValueError:
            return tokens, None
        if numbers.shape != (len(tokens), self.dims):
            return tokens, None
        return tokens, numbers

    def _careful(self, lineno: int, lines: list[bytes]) -> tuple[list[bytes], np.ndarray]:
        """Line by line: tokens with inner spaces, and the exact line of an error."""
        dims = self.dims
        tokens: list[bytes] = []
        values = np.empty((len(lines), dims), np.float32)
        for i, line in enumerate(lines):
            parts = line.rstrip().rsplit(None, dims)
            if not parts:
                continue
            if len(parts) != dims + 1:
                raise SourceError(
                    f"{self.path!r} line {lineno + i}: expected a token and {dims} numbers, "
                    f"found {len(parts)} fields ({line[:60]!r}...)"
                )
            try:
                row = np.fromstring(b" ".join(parts[1:]), dtype=np.float32, sep=" ")
            except ValueError:
                row = None
            if row is None or row.size != dims:
                raise SourceError(
                    f"{self.path!r} line {lineno + i}: not {dims} numbers after the token "
                    f"{parts[0][:40]!r}"
                )
            values[len(tokens)] = row
            tokens.append(parts[0].lstrip())
        return tokens, values[: len(tokens)]

    def _too_many(self, extra_in_block: int) -> None:
        more = extra_in_block
        while True:
            chunk = _read(self.stream, _BLOCK, self.path)
            if not chunk:
                break
            more += sum(1 for line in chunk.split(b"\n") if line.strip())
        raise SourceError(
            f"{self.path!r}: the header says {self.rows} rows but the file has "
            f"{self.rows + more}; fix the first line (rows dims) or pass --max-rows"
        )


class _BinaryReader:
    def __init__(self, path: str, stream: BinaryIO, head: bytes, rows: int, dims: int,
                 max_rows: int | None):
        self.path, self.stream, self.head = path, stream, head
        self.rows, self.dims = rows, dims
        self.want = rows if max_rows is None else min(rows, max_rows)

    def read(self) -> tuple[list[str], np.ndarray]:
        """Rows are found by a scan for each token's space; the vectors of a whole
        block are then copied by one numpy gather (a strided window per row start)."""
        want, nbytes = self.want, 4 * self.dims
        matrix = np.empty((want, self.dims), dtype=np.float32)
        matrix_bytes = matrix.view(np.uint8)  # rows of 4 * dims bytes, filled by np.take
        tokens: list[bytes] = []
        data = self.head[self.head.index(b"\n") + 1 :]
        row = 0
        eof = False
        while row < want:
            more = b"" if eof else _read(self.stream, _BLOCK, self.path)
            eof = not more
            data += more
            starts, ends, pos = self._scan(data, nbytes, want - row)
            if starts:
                window = as_strided(np.frombuffer(data, np.uint8), shape=(len(data) - nbytes + 1, nbytes),
                                    strides=(1, 1), writeable=False)
                # fancy indexing gathers the rows in C; np.take(out=) would first
                # copy the whole (non-contiguous) window: gigabytes
                matrix_bytes[row : row + len(starts)] = window[np.array(ends, dtype=np.intp) + 1]
                tokens.extend(data[a:b].lstrip(b"\n") for a, b in zip(starts, ends))
                row += len(starts)
            data = data[pos:]
            if eof:
                break
        if row < want:
            raise SourceError(
                f"{self.path!r}: the header says {self.rows} rows but the file has {row} "
                "whole rows; the file is cut short or its header is wrong"
            )
        if want == self.rows and (data.strip() or (not eof and _read(self.stream, 1 << 16, self.path).strip())):
            raise SourceError(
                f"{self.path!r}: the header says {self.rows} rows but more data follows "
                f"row {self.rows}; fix the first line (rows dims) or pass --max-rows"
            )
        if not np.little_endian:  # the file's floats are little-endian
            matrix.byteswap(inplace=True)
        return _decode(tokens), matrix

    @staticmethod
    def _scan(data: bytes, nbytes: int, most: int) -> tuple[list[int], list[int], int]:
        """Token starts and ends of the whole rows in ``data``, and where the rest begins."""
        starts: list[int] = []
        ends: list[int] = []
        find, size, pos = data.find, len(data), 0
        while len(starts) < most:
            space = find(b" ", pos)
            if space < 0 or space + 1 + nbytes > size:
                break
            starts.append(pos)
            ends.append(space)
            pos = space + 1 + nbytes
        return starts, ends, pos
