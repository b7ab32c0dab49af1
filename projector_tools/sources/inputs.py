"""The user's own input files, read under one set of rules: text, CSV/TSV, ``.npy``.

Every text file (a ``.txt`` of inputs, a CSV of reviews or inputs) is
decoded the same way: UTF-8, a byte-order mark dropped; a file that is not
valid UTF-8 is read as Windows-1252 (what spreadsheet programs save on
Windows), with a note naming the file. Files are read through
:mod:`projector_tools.fsio`, so ``gs://``-style paths work as local ones.
A CSV is comma-separated, tab-separated when it is named ``.tsv``/``.tab``.

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "inputs.csv")
    >>> with open(path, "wb") as f:
    ...     _ = f.write("Review,stars\\nCaf\\xe9 scene,5\\n".encode("cp1252"))
    >>> notes = []
    >>> texts, meta = read_inputs(path, note=notes.append)
    >>> texts, meta.names, notes[0].endswith("reading it as Windows-1252")
    (['Café scene'], ('Review', 'stars'), True)
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from projector_tools import fsio
from projector_tools.errors import SourceError
from projector_tools.process import voice
from projector_tools.run.budgets import MAX_LINE_BYTES, label_lines
from projector_tools.run.metadata import Metadata

__all__ = [
    "TEXT_COLUMNS",
    "csv_reader",
    "pick_column",
    "read_inputs",
    "read_lines",
    "read_npy",
    "read_text",
]

#: Header names of a text column, tried in this order (case-insensitive).
TEXT_COLUMNS = ("text", "review", "reviews", "sentence", "content", "comment", "body", "document")

Note = Callable[[str], None]


def read_text(path: str, note: Note = voice.note) -> str:
    """The text of ``path``: UTF-8 (BOM dropped), else Windows-1252 with a ``note``.
    A line over ``budgets.MAX_LINE_BYTES`` is refused before the file is held whole."""
    raw = fsio.read_bytes(path, max_line=MAX_LINE_BYTES, max_lines=label_lines())
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        note(f"{path} is not valid UTF-8 ({exc.reason} at byte {exc.start}); reading it as Windows-1252")
        return raw.decode("cp1252", "replace")


def read_lines(path: str, note: Note = voice.note) -> list[str]:
    """The lines of text file ``path`` (:func:`read_text`, :func:`fsio.split_lines`, ``\\r`` dropped)."""
    return fsio.split_lines(read_text(path, note), strip_cr=True)


def _is_tab_separated(path: str) -> bool:
    return path.lower().endswith((".tsv", ".tab"))


def csv_reader(path: str, note: Note = voice.note) -> Any:
    """A ``csv.reader`` over the text of ``path`` (tab-separated for ``.tsv``/``.tab``)."""
    csv.field_size_limit(2**31 - 1)
    delimiter = "\t" if _is_tab_separated(path) else ","
    return csv.reader(io.StringIO(read_text(path, note), newline=""), delimiter=delimiter)


def read_npy(path: str) -> np.ndarray:
    """The array in ``.npy`` file ``path`` (memory-mapped when local; no pickles)."""
    remote = fsio.is_remote(path)
    try:
        source = io.BytesIO(fsio.read_bytes(path)) if remote else path
        return np.load(source, mmap_mode=None if remote else "r", allow_pickle=False)
    except Exception as exc:  # noqa: BLE001
        raise SourceError(f"{path!r} is not a readable .npy array ({exc})") from None


def pick_column(header: Sequence[str], wanted: str | None, candidates: Sequence[str], what: str,
                flag: str, path: str) -> int:
    """The index of the column ``wanted`` (a header name, any case, or a number),
    else of the first of ``candidates`` in ``header``; a :class:`SourceError`
    naming ``flag`` when none fits."""
    norm = [h.strip().lower() for h in header]
    if wanted is not None:
        if wanted in header:
            return list(header).index(wanted)
        if wanted.strip().lower() in norm:
            return norm.index(wanted.strip().lower())
        if wanted.isdigit() and int(wanted) < len(header):
            return int(wanted)
        raise SourceError(f"{path!r} has no {what} column {wanted!r}; its columns are {list(header)}")
    for cand in candidates:
        if cand in norm:
            return norm.index(cand)
    raise SourceError(
        f"cannot tell which column of {path!r} holds the {what} (columns: {list(header)}); "
        f"name it with {flag}"
    )


def read_inputs(path: str, text_column: str | None = None,
                note: Note = voice.note) -> tuple[Any, Metadata | None]:
    """``(inputs, metadata)`` from a ``.npy``, ``.txt`` or ``.csv``/``.tsv`` file.

    A ``.npy`` array has no metadata; the lines of a text file are their own
    ``text`` column; a CSV's ``text_column`` (default: the first of
    :data:`TEXT_COLUMNS`) holds the inputs and every column becomes metadata.
    """
    if not fsio.exists(path):
        raise SourceError(f"inputs file {path!r} does not exist")
    lower = path.lower()
    if lower.endswith(".npy"):
        return read_npy(path), None
    if lower.endswith((".csv", ".tsv", ".tab")):
        return _read_csv_inputs(path, text_column, note)
    lines = read_lines(path, note)
    if not lines:
        raise SourceError(f"{path!r} holds no line of text")
    return lines, Metadata({"text": lines})


def _read_csv_inputs(path: str, text_column: str | None, note: Note) -> tuple[list[str], Metadata]:
    rows = [r for r in csv_reader(path, note) if r]
    if len(rows) < 2:
        raise SourceError(f"{path!r} needs a header row and at least one row of text")
    header, body = rows[0], rows[1:]
    ti = pick_column(header, text_column, TEXT_COLUMNS, "text", "--text-column", path)
    body = [r + [""] * (len(header) - len(r)) for r in body]
    texts = [r[ti] for r in body]
    return texts, Metadata({h or f"column{i}": [r[i] for r in body] for i, h in enumerate(header)})
