"""Metadata (label) columns that the Projector's browser code parses exactly.

The Projector reads a metadata TSV with these rules (its ``parseMetadata``):

* lines split on ``\\n`` only; a ``\\r`` stays in the label;
* a line that is empty or whitespace-only (JavaScript ``trim()``) is skipped;
* if the first kept line holds a tab, it is a header of column names,
  otherwise the file is one column of labels with no header;
* values split on tab; an empty value is "missing".

So a label must never be empty, whitespace-only, or hold a tab, newline or
carriage return, or every later row shifts. :func:`escape_label` makes any
label safe, visibly and reversibly (:func:`unescape_label` undoes it):

=================================  ==========================
original                           written as
=================================  ==========================
backslash ``\\``                   ``\\\\``
tab, newline, carriage return      ``\\t``, ``\\n``, ``\\r``
other control characters           ``\\xHH``
undecodable bytes (not UTF-8)      ``\\xHH`` (the byte value)
lone surrogates                    ``\\uHHHH``
empty label                        ``\\empty``
whitespace-only label              every character as ``\\xHH`` / ``\\uHHHH``
=================================  ==========================

Example::

    >>> escape_label("a\\tb")
    'a\\\\tb'
    >>> unescape_label(escape_label(" "))
    ' '
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from projector_tools.errors import InputError, ShapeMismatchError

__all__ = [
    "EMPTY_LABEL",
    "Metadata",
    "ParsedTSV",
    "as_metadata",
    "escape_label",
    "parse_projector_tsv",
    "subword_metadata",
    "unescape_label",
]

EMPTY_LABEL = "\\empty"
PAD_LABEL = "<pad>"

# What JavaScript's String.prototype.trim() removes (WhiteSpace + LineTerminator).
_JS_WHITESPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_JS_WHITESPACE_SET = frozenset(_JS_WHITESPACE)
# Characters that must be escaped anywhere in a label: backslash, C0
# controls, DEL, C1 controls and lone surrogates.
_NEEDS_ESCAPE = re.compile("[\\\\\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_SIMPLE = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_UNESCAPE = re.compile(r"\\(empty|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|[\\tnr])")


def _escape_char(ch: str) -> str:
    simple = _SIMPLE.get(ch)
    if simple is not None:
        return simple
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return "\\x%02x" % (code - 0xDC00)
    if code < 0x100:
        return "\\x%02x" % code
    return "\\u%04x" % code


def escape_label(label: Any) -> str:
    """Return ``label`` as one safe metadata value (see the module table).

    ``bytes`` are decoded as UTF-8; bytes that are not UTF-8 become ``\\xHH``.
    Anything else goes through ``str()`` (``np.str_``, numbers, ...).

        >>> escape_label("")
        '\\\\empty'
        >>> escape_label(b"caf\\xc3\\xa9 \\xff")
        'café \\\\xff'
    """
    if isinstance(label, (bytes, bytearray, memoryview)):
        text = bytes(label).decode("utf-8", errors="surrogateescape")
    elif isinstance(label, str):
        text = str(label)
    elif label is None:
        text = ""
    else:
        text = str(label)
    if not text:
        return EMPTY_LABEL
    if _JS_WHITESPACE_SET.issuperset(text):
        return "".join(_escape_char(ch) for ch in text)
    if _NEEDS_ESCAPE.search(text) is None:
        return text
    return _NEEDS_ESCAPE.sub(lambda m: _escape_char(m.group(0)), text)


def unescape_label(value: str) -> str:
    """Reverse :func:`escape_label`.

        >>> unescape_label("a\\\\tb")
        'a\\tb'
    """
    if value == EMPTY_LABEL:
        return ""

    def repl(match: re.Match) -> str:
        token = match.group(1)
        if token == "empty":
            return ""
        if token[0] in "xu":
            return chr(int(token[1:], 16))
        return {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}[token]

    return _UNESCAPE.sub(repl, value)


def _column_values(name: str, values: Any) -> list[Any]:
    if isinstance(values, (str, bytes)):
        raise InputError(
            f"metadata column {name!r} is a single string; pass one label per "
            "row (a list of strings)"
        )
    try:
        return list(values)
    except TypeError:
        raise InputError(
            f"metadata column {name!r} is not a sequence of labels "
            f"(got {type(values).__name__}); pass a list of strings"
        ) from None


class Metadata:
    """Named label columns of equal length: one row per matrix row.

    One column is written without a header (the Projector calls it
    "label"); several columns get a header row of their names. Columns come
    as a mapping, as keywords, or (one column) as a plain list.

        >>> m = Metadata({"label": ["<pad>", "the_"], "id": [0, 1]})
        >>> len(m), m.names
        (2, ('label', 'id'))
        >>> m.to_tsv().split("\\n")
        ['label\\tid', '<pad>\\t0', 'the_\\t1', '']
    """

    __slots__ = ("_columns",)

    def __init__(self, columns: Mapping[str, Iterable[Any]] | Iterable[Any] | None = None,
                 **named: Iterable[Any]):
        if isinstance(columns, Metadata):
            self._columns = dict(columns._columns)
            return
        if columns is None:
            columns = {}
        elif not isinstance(columns, Mapping):
            if isinstance(columns, (str, bytes)):
                raise InputError(
                    "Metadata got a single string; pass one label per row, e.g. "
                    "Metadata({'label': words}) or Metadata(label=words)"
                )
            columns = {"label": columns}  # a plain list of labels
        columns = {**columns, **named}
        if not columns:
            raise InputError(
                "Metadata needs at least one named column, e.g. "
                "Metadata({'label': words}) or Metadata(label=words, kind=kinds)"
            )
        cols: dict[str, list[Any]] = {}
        for name, values in columns.items():
            if not isinstance(name, str) or not name.strip():
                raise InputError(
                    f"metadata column name {name!r} must be a non-empty string"
                )
            cols[name] = _column_values(name, values)
        lengths = {name: len(v) for name, v in cols.items()}
        if len(set(lengths.values())) > 1:
            detail = ", ".join(f"{n}={k}" for n, k in lengths.items())
            raise ShapeMismatchError(
                f"metadata columns differ in length ({detail}); every column "
                "needs one value per row"
            )
        self._columns = cols

    @classmethod
    def from_labels(cls, labels: Iterable[Any], name: str = "label") -> "Metadata":
        """One column of labels: ``Metadata.from_labels(["a", "b"])``."""
        return cls({name: _column_values(name, labels)})

    @property
    def names(self) -> tuple[str, ...]:
        """Column names, in order."""
        return tuple(self._columns)

    def column(self, name: str) -> list[Any]:
        """The raw values of column ``name`` (not escaped)."""
        try:
            return list(self._columns[name])
        except KeyError:
            raise InputError(
                f"no metadata column {name!r}; columns are {list(self._columns)}"
            ) from None

    def labels(self) -> list[str]:
        """The first column, escaped as written: what the Projector labels by."""
        return [escape_label(v) for v in next(iter(self._columns.values()))]

    def __len__(self) -> int:
        return len(next(iter(self._columns.values())))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Metadata) and self._columns == other._columns

    def __repr__(self) -> str:
        return f"Metadata(columns={list(self._columns)}, rows={len(self)})"

    def take(self, rows: Sequence[int]) -> "Metadata":
        """The rows at ``rows`` (ids), in that order."""
        return Metadata({n: [v[i] for i in rows] for n, v in self._columns.items()})

    def with_column(self, name: str, values: Iterable[Any]) -> "Metadata":
        """A copy with column ``name`` added (or replaced)."""
        cols = dict(self._columns)
        cols[name] = _column_values(name, values)
        return Metadata(cols)

    def tsv_lines(self) -> Iterator[str]:
        """The file's lines, without newlines (header first, if any)."""
        cols = list(self._columns.values())
        if len(cols) == 1:
            for value in cols[0]:
                yield escape_label(value)
            return
        yield "\t".join(escape_label(n) for n in self._columns)
        for row in zip(*cols):
            yield "\t".join(escape_label(v) for v in row)

    def to_tsv(self) -> str:
        """The whole TSV text, one line per row plus the header if any."""
        return "".join(line + "\n" for line in self.tsv_lines())

    def to_bytes(self) -> bytes:
        """The TSV as UTF-8 bytes (always valid UTF-8)."""
        return self.to_tsv().encode("utf-8")


def as_metadata(labels: Any) -> Metadata:
    """Coerce labels (a list of strings or a :class:`Metadata`) to Metadata."""
    if isinstance(labels, Metadata):
        return labels
    if isinstance(labels, Mapping):
        return Metadata(labels)
    return Metadata.from_labels(labels)


@dataclass(frozen=True)
class ParsedTSV:
    """A metadata file as the Projector's browser code sees it."""

    header: tuple[str, ...] | None
    rows: tuple[tuple[str, ...], ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return self.header if self.header is not None else ("label",)

    def column(self, name: str = "label") -> list[str | None]:
        """Values of one column; ``None`` where the browser sees "missing"."""
        index = self.columns.index(name)
        out: list[str | None] = []
        for row in self.rows:
            value = row[index] if index < len(row) else None
            out.append(None if value == "" else value)
        return out


def is_skipped_line(line: str) -> bool:
    """True for a metadata line the browser skips: empty once JavaScript's
    ``trim()`` has removed its whitespace.

        >>> is_skipped_line(" \u3000"), is_skipped_line("a")
        (True, False)
    """
    return not line.strip(_JS_WHITESPACE)


def parse_projector_tsv(text: str | bytes) -> ParsedTSV:
    """Parse metadata exactly as the Projector's browser code does.

    Lines split on ``\\n`` only; lines that JavaScript's ``trim()`` empties are
    skipped; a tab in the first kept line makes it a header.

        >>> parse_projector_tsv("a\\n \\nb\\n").rows
        (('a',), ('b',))
    """
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", errors="replace")
    header: tuple[str, ...] | None = None
    rows: list[tuple[str, ...]] = []
    first = True
    for line in text.split("\n"):
        if is_skipped_line(line):
            continue
        if first:
            first = False
            if "\t" in line:
                header = tuple(line.split("\t"))
                continue
        rows.append(tuple(line.split("\t")))
    return ParsedTSV(header=header, rows=tuple(rows))


def subword_metadata(encoder: Any) -> Metadata:
    """Metadata for every id of a ``tfds.deprecated.text.SubwordTextEncoder``.

    Exactly ``encoder.vocab_size`` rows in id order: row 0 is padding
    (``<pad>``), rows 1..S the subwords (a trailing ``_`` marks the end of a
    word and is kept), rows S+1..S+256 the bytes 0..255, labelled
    ``<0xHH>``. Columns: ``label``, ``id``, ``kind`` (``pad``/``subword``/
    ``byte``), ``word_end`` (``yes``/``no``).

        >>> import tensorflow_datasets as tfds
        >>> enc = tfds.deprecated.text.SubwordTextEncoder(vocab_list=["the_", "a"])
        >>> m = subword_metadata(enc)
        >>> len(m) == enc.vocab_size, m.column("label")[:3]
        (True, ['<pad>', 'the_', 'a'])
    """
    try:
        subwords = list(encoder.subwords)
        vocab_size = int(encoder.vocab_size)
    except AttributeError:
        raise InputError(
            "subword_metadata() needs a tfds.deprecated.text.SubwordTextEncoder "
            f"(with .subwords and .vocab_size), got {type(encoder).__name__}"
        ) from None
    return _subword_rows(subwords, vocab_size)


def _subword_rows(subwords: Sequence[str], vocab_size: int | None = None) -> Metadata:
    n_bytes = 256
    expected = 1 + len(subwords) + n_bytes
    if vocab_size is not None and vocab_size != expected:
        raise InputError(
            f"encoder.vocab_size is {vocab_size} but 1 + {len(subwords)} subwords "
            f"+ 256 bytes = {expected}; this is not a SubwordTextEncoder layout"
        )
    labels: list[str] = [PAD_LABEL]
    kinds = ["pad"]
    word_end = ["no"]
    for s in subwords:
        labels.append(s)
        kinds.append("subword")
        word_end.append("yes" if s.endswith("_") else "no")
    for b in range(n_bytes):
        labels.append("<0x%02X>" % b)
        kinds.append("byte")
        word_end.append("no")
    return Metadata(
        {"label": labels, "id": range(expected), "kind": kinds, "word_end": word_end}
    )


def subword_metadata_from_list(subwords: Sequence[str]) -> Metadata:
    """Like :func:`subword_metadata` for the subword list of a vocab file."""
    return _subword_rows(list(subwords))
