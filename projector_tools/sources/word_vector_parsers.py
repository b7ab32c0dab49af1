"""Parsing the body of a word-vector file into tokens and a float32 matrix.

:mod:`projector_tools.sources.word_vectors` opens the file (decompressing it) and
tells its layout from the first bytes; the readers here parse the rest,
block by block, straight into a preallocated float32 matrix:
:class:`TextReader` for word2vec/fastText/GloVe text, :class:`BinaryReader`
for word2vec binary (see ``docs/design.md``, *Parsing text* and *Parsing
binary*). Each takes the open stream, the bytes already read from it
(``head``), the header's row count (None for GloVe) and ``dims``.

    >>> import io
    >>> body = b"2 3\\nthe 0.1 0.2 0.3\\nnew york 1 2 3\\n"
    >>> tokens, matrix = TextReader("v.vec", io.BytesIO(b""), body, 2, 3, None).read()
    >>> tokens, matrix.dtype, matrix.tolist()[1]
    (['the', 'new york'], dtype('float32'), [1.0, 2.0, 3.0])
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import numpy as np
from numpy.lib.stride_tricks import as_strided

from projector_tools.errors import SourceError
from projector_tools.run.matrix import check_size
from projector_tools.run.budgets import MAX_COUNT_BYTES, check_labelled_rows, line_ceiling, line_too_long

__all__ = ["BinaryReader", "TextReader", "decode_tokens", "read_decompressed"]

_BLOCK = 2 << 20  # bytes per block: 8 MiB measured no faster and left ~15 MB more resident


def read_decompressed(stream: BinaryIO, n: int, path: str) -> bytes:
    """Up to ``n`` bytes of ``stream``; corruption and truncation become a SourceError."""
    try:
        return stream.read(n)
    except (OSError, EOFError, ValueError) as exc:  # gzip/bz2 corruption, truncation
        raise SourceError(f"cannot decompress {path!r} ({exc}); is the download complete?") from exc


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
            check_size((self.n + extra, self.dims))  # past 2 GB: --max-rows, before growing
            self.array.resize((size, self.dims), refcheck=False)
        return size - self.n

    def add(self, block: np.ndarray) -> None:
        self.array[self.n : self.n + len(block)] = block
        self.n += len(block)

    def done(self) -> np.ndarray:
        if self.array.shape[0] != self.n:
            self.array.resize((self.n, self.dims), refcheck=False)
        return self.array


def decode_tokens(tokens: list[bytes]) -> list[str]:
    """Tokens as str; bytes that are not UTF-8 become lone surrogates (``\\xHH`` labels)."""
    text = b"\n".join(tokens).decode("utf-8", "surrogateescape").split("\n")  # one call, fast
    if len(text) != len(tokens):  # a token holding "\n" (binary files only)
        text = [t.decode("utf-8", "surrogateescape") for t in tokens]
    return text if tokens else []


class TextReader:
    def __init__(self, path: str, stream: BinaryIO, head: bytes, rows: int | None, dims: int,
                 max_rows: int | None):
        self.path, self.stream, self.head = path, stream, head
        self.rows, self.dims, self.max_rows = rows, dims, max_rows
        want = rows if max_rows is None else (max_rows if rows is None else min(rows, max_rows))
        self.want = want
        self.ceiling = line_ceiling(dims)
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
            more = read_decompressed(self.stream, _BLOCK, self.path)
            data += more
            if not more:
                yield lineno, data.split(b"\n")
                return
            cut = data.rfind(b"\n")
            if len(data) - cut > self.ceiling:  # a line with no end in sight: refused, not held
                raise line_too_long(self.path, self.ceiling)
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
            if self.max_rows is None:  # the labels' memory, before they are kept
                check_labelled_rows(self.path, self.out.n + len(tokens))
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
        self.tokens.extend(decode_tokens(tokens))

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
        more, counted, past = extra_in_block, 0, ""
        while True:
            if counted >= MAX_COUNT_BYTES:  # enough to say it: counting on costs time, not insight
                past = "more than "
                break
            chunk = read_decompressed(self.stream, _BLOCK, self.path)
            if not chunk:
                break
            counted += len(chunk)
            more += sum(1 for line in chunk.split(b"\n") if line.strip())
        raise SourceError(
            f"{self.path!r}: the header says {self.rows} rows but the file has "
            f"{past}{self.rows + more}; fix the first line (rows dims) or pass --max-rows"
        )


class BinaryReader:
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
            more = b"" if eof else read_decompressed(self.stream, _BLOCK, self.path)
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
            if len(data) > line_ceiling(self.dims):  # no token end in sight: refused, not held
                raise line_too_long(self.path, line_ceiling(self.dims))
            if eof:
                break
        if row < want:
            raise SourceError(
                f"{self.path!r}: the header says {self.rows} rows but the file has {row} "
                "whole rows; the file is cut short or its header is wrong"
            )
        if want == self.rows and (data.strip() or (not eof and read_decompressed(self.stream, 1 << 16, self.path).strip())):
            raise SourceError(
                f"{self.path!r}: the header says {self.rows} rows but more data follows "
                f"row {self.rows}; fix the first line (rows dims) or pass --max-rows"
            )
        if not np.little_endian:  # the file's floats are little-endian
            matrix.byteswap(inplace=True)
        return decode_tokens(tokens), matrix

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
