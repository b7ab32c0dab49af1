"""Metadata TSV in chunks, byte for byte what :meth:`Metadata.to_bytes` gives.

For a vocabulary of millions of labels, escaping label by label in Python
costs seconds, and building the whole file in memory before hashing it
holds it twice. :func:`tsv_chunks` escapes a column a chunk at a time: one
regular-expression pass over the chunk's joined text proves that none of
its labels needs escaping (the usual case), and only a chunk that has such
a label goes through :func:`~projector_tools.run.metadata.escape_label` value
by value.

    >>> from projector_tools.run.metadata import Metadata
    >>> m = Metadata({"label": ["a", "b\\tc", ""]})
    >>> b"".join(tsv_chunks(m)) == m.to_bytes()
    True
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from projector_tools.run.metadata import Metadata, escape_label

ROWS_PER_CHUNK = 65536

# A label needs escaping if it holds a backslash, a control character
# (C0, DEL, C1) or a lone surrogate, or if it is empty or whitespace-only
# (JavaScript's trim() empties it). The checks run over the UTF-8 bytes of
# the chunk's labels joined by newlines.
_BAD_BYTES = bytes([*range(0x00, 0x0A), *range(0x0B, 0x20), 0x7F, 0x5C])
_C1 = re.compile(b"\xc2[\x80-\x9f]")
_BLANK_LINE = re.compile(
    "^[ \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]*$", re.MULTILINE
)


def _plain_bytes(strs: list[str]) -> bytes | None:
    """The labels joined by newlines, as UTF-8, if none needs escaping; else None."""
    joined = "\n".join(strs)
    if joined.count("\n") != len(strs) - 1:
        return None  # a label holds a newline
    try:
        data = joined.encode("utf-8")
    except UnicodeEncodeError:
        return None  # lone surrogates
    if len(data.translate(None, _BAD_BYTES)) != len(data):
        return None
    if data.isascii():
        if (
            not data or data.startswith((b"\n", b" ")) or data.endswith(b"\n")
            or b"\n\n" in data or b"\n " in data
        ):
            if _BLANK_LINE.search(joined) is not None:
                return None
    else:
        if b"\xc2" in data and _C1.search(data) is not None:
            return None
        if _BLANK_LINE.search(joined) is not None:
            return None
    return data


def _column_chunk(values: list[Any]) -> tuple[bytes | None, list[str]]:
    """(plain joined bytes or None, escaped values) for one column chunk."""
    types = set(map(type, values))
    if types == {int}:
        strs = list(map(str, values))  # digits and '-' never need escaping
        return None, strs
    if types == {str}:
        data = _plain_bytes(values)
        if data is not None:
            return data, values
    return None, [escape_label(v) for v in values]


def tsv_chunks(meta: Metadata, rows_per_chunk: int = ROWS_PER_CHUNK) -> Iterator[bytes]:
    """The metadata file of ``meta`` as UTF-8 chunks (header first, if any)."""
    names = meta.names
    columns = [meta.column(n) for n in names]
    n_rows = len(meta)
    if len(columns) > 1:
        yield ("\t".join(escape_label(n) for n in names) + "\n").encode("utf-8")
    for start in range(0, n_rows, rows_per_chunk):
        chunks = [_column_chunk(col[start : start + rows_per_chunk]) for col in columns]
        if len(chunks) == 1 and chunks[0][0] is not None:
            yield chunks[0][0] + b"\n"
            continue
        parts = [escaped for _, escaped in chunks]
        lines = parts[0] if len(parts) == 1 else list(map("\t".join, zip(*parts)))
        yield ("\n".join(lines) + "\n").encode("utf-8")
