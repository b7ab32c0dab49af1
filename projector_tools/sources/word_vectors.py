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
their rows. This module opens a file and tells its layout; the body is
parsed in large blocks straight into a float32 matrix by
:mod:`projector_tools.sources.word_vector_parsers` (see ``docs/design.md``,
*Word-vector files*).

    >>> import gzip, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny.vec.gz")
    >>> with gzip.open(path, "wb") as f:
    ...     _ = f.write(b"3 2 \\n, 0.1 0.2 \\nthe 0.3 0.4 \\nof 0.5 0.6 \\n")
    >>> vectors = load_word_vectors(path, max_rows=2)
    >>> vectors.kind, vectors.compression, vectors.matrix.shape, vectors.tokens
    ('text', 'gzip', (2, 2), [',', 'the'])
"""

from __future__ import annotations

import bz2
import gzip
import re
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np

from projector_tools import fsio
from projector_tools.errors import SourceError
from projector_tools.run.budgets import check_declared, check_labelled_rows
from projector_tools.run.matrix import check_size
from projector_tools.sources.word_vector_parsers import BinaryReader, TextReader, read_decompressed

__all__ = ["KINDS", "WordVectors", "describe_kinds", "load_word_vectors", "sniff"]

KINDS = {
    "text": "word2vec/fastText text ('rows dims' line, then 'token v1 ... vd' lines)",
    "glove": "GloVe text (no header, 'token v1 ... vd' lines)",
    "binary": "word2vec binary ('rows dims' line, then token, space, dims float32 per row)",
}
COMPRESSIONS = {b"\x1f\x8b": "gzip", b"BZh": "bzip2"}
# fastText's own model file (``model.bin``): not word vectors, but often mistaken for them.
_FASTTEXT_MODEL_MAGIC = b"\xba\x16\x4f\x2f"

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

        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "vectors.txt")
        >>> with open(path, "w", encoding="utf-8") as f:
        ...     _ = f.write("the 0.1 0.2\\nof 0.3 0.4\\n")
        >>> sniff(path)
        'glove'
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
    if magic[:1] == b"\x80" and magic[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return (
            " (it is a Python pickle, e.g. a gensim .model or .kv: a pickle is never loaded, "
            "since loading one runs code from the file; save its vectors with "
            "model.wv.save_word2vec_format('vectors.bin', binary=True) and export that)"
        )
    if magic == b"PK\x03\x04" and path.lower().endswith(".npz"):
        return " (it is a .npz archive: save the one array to export with np.save('vectors.npy', array))"
    return ""


def load_word_vectors(path: str, *, max_rows: int | None = None) -> WordVectors:
    """Read a word-vector file (see the module docstring) into tokens and a matrix.

    ``max_rows`` stops after the first N rows (the way to a subset of files
    over TensorBoard's 2 GB limit, such as fastText's 2,000,000 x 300).

        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "glove.txt")
        >>> with open(path, "w", encoding="utf-8") as f:
        ...     _ = f.write("the 0.1 0.2 0.3\\nof 0.4 0.5 0.6\\n")
        >>> wv = load_word_vectors(path)
        >>> wv.kind, len(wv.tokens) == wv.matrix.shape[0], wv.matrix.shape
        ('glove', True, (2, 3))
    """
    stream, compression = _open(path)
    with stream:
        head = read_decompressed(stream, _SNIFF_BYTES, path)
        found = _sniff_head(head)
        if found is None:
            raise SourceError(f"{path!r} is not a word-vector file; recognised: {describe_kinds()}")
        kind, rows, dims = found
        _check_header(path, kind, rows, dims, max_rows, compression)
        reader = BinaryReader if kind == "binary" else TextReader
        tokens, matrix = reader(path, stream, head, rows, dims, max_rows).read()
    vectors = WordVectors(kind=kind, tokens=tokens, matrix=matrix, compression=compression)
    note = duplicates_note(tokens)
    if note:
        vectors.notes.append(note)
    return vectors


def _check_header(path: str, kind: str, rows: int | None, dims: int, max_rows: int | None,
                  compression: str | None) -> None:
    """Refuse the rows a header declares before any matrix exists: more bytes than
    an uncompressed file holds (4 per number in binary, at least 2 in text), or
    over 2 GB or MAX_LABELLED_ROWS (the answer is --max-rows)."""
    if rows is not None and max_rows is None:
        check_labelled_rows(path, rows)
    want = rows if max_rows is None else (max_rows if rows is None else min(rows, max_rows))
    if compression is None and want is not None:
        size = fsio.stat(path)
        if size is not None:
            check_declared(path, (want, dims), 4 if kind == "binary" else 2, size[0])
    check_size((1 if want is None else want, dims))


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
