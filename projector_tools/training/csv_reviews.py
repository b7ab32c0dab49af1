"""Reviews of a CSV (or tab-separated) file with a header row.

A text column and a label column (``positive``/``negative``, ``pos``/``neg``,
``1``/``0``, ``true``/``false``; see :func:`parse_label`), found by their
header or named. A ``split`` column with ``train``/``test`` values is
honoured; otherwise a seeded 80/20 split. The file is read, and its columns
found, by :mod:`projector_tools.sources.inputs` (:func:`pick_column`), as
``export-activations`` reads its inputs file.

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "reviews.csv")
    >>> with open(path, "w", encoding="utf-8") as f:
    ...     _ = f.write("review,sentiment,split\\n"
    ...                 'A "wonderful" film.<br />Loved it,positive,train\\n'
    ...                 "Dull,negative,train\\n"
    ...                 "Fine,pos,test\\n")
    >>> data = load_csv(path, progress=lambda message: None)
    >>> data.train_texts, data.train_labels, data.test_labels
    (['A "wonderful" film. Loved it', 'Dull'], [1, 0], [1])
"""

from __future__ import annotations

import csv
import os
import random
from collections.abc import Sequence
from typing import Any

from projector_tools import fsio
from projector_tools.errors import InputError, SourceError
from projector_tools.sources.inputs import TEXT_COLUMNS, csv_reader, pick_column
from projector_tools.process import voice
from projector_tools.training.text_data import Progress, TextData, clean_review

__all__ = ["LABEL_COLUMNS", "TEXT_COLUMNS", "load_csv", "parse_label", "pick_column"]

_POSITIVE = {"1", "1.0", "pos", "positive", "true", "yes", "y", "+", "+1", "good"}
_NEGATIVE = {"0", "0.0", "neg", "negative", "false", "no", "n", "-", "-1", "bad"}


def parse_label(value: object) -> int:
    """``1`` for a positive label, ``0`` for a negative one.

    Accepts ``positive``/``negative``, ``pos``/``neg``, ``1``/``0``,
    ``true``/``false`` (any case, surrounding spaces ignored); raises
    :class:`ValueError` otherwise.
    """
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return int(value)
    key = str(value).strip().strip("'\"").strip().lower()
    if key in _POSITIVE:
        return 1
    if key in _NEGATIVE:
        return 0
    raise ValueError(f"label {value!r} is neither positive (positive/pos/1/true) nor negative (negative/neg/0/false)")


LABEL_COLUMNS = ("label", "sentiment", "polarity", "class", "target", "labels")
VALIDATION_SPLITS = ("test", "validation", "valid", "val", "dev")


def load_csv(
    path: str,
    text_column: str | None = None,
    label_column: str | None = None,
    *,
    validation_fraction: float = 0.2,
    seed: int = 0,
    progress: Progress = voice.say,
) -> TextData:
    """Reviews of a CSV (``.tsv``: tab-separated) file with a header row.

    The text column defaults to the first of ``text``, ``review``,
    ``sentence``, ... and the label column to the first of ``label``,
    ``sentiment``, ``polarity``, ... (case-insensitive); name them with
    ``text_column``/``label_column``. A ``split`` column with ``train`` and
    ``test``/``validation`` values is honoured, otherwise a seeded
    ``validation_fraction`` of the rows is held out. Rows whose text is
    empty are skipped (and counted); an unreadable label is an error that
    names the line. The file is decoded as :mod:`projector_tools.sources.inputs`
    decodes every input (UTF-8, else Windows-1252 with a note).
    """
    path = os.path.expanduser(str(path))
    if not fsio.exists(path) or fsio.isdir(path):
        raise SourceError(f"CSV file {path!r} does not exist")
    if not 0.0 < validation_fraction < 1.0:
        raise InputError(f"validation_fraction must be between 0 and 1, got {validation_fraction}")
    reader = csv_reader(path, note=lambda message: progress(f"note: {message}"))
    try:
        header = next(reader)
    except StopIteration:
        raise SourceError(f"CSV file {path!r} is empty") from None
    except csv.Error as exc:
        raise SourceError(f"{path!r} is not a readable CSV file ({exc})") from None
    ti, li, si = _columns(header, text_column, label_column, path)
    rows, skipped = _read_rows(reader, header, ti, li, si, path)
    if skipped:
        progress(f"note: skipped {skipped} rows of {path} with an empty text")
    train, test = _split(rows, si, validation_fraction, seed)
    data = TextData(
        "csv",
        [r[0] for r in train],
        [r[1] for r in train],
        [r[0] for r in test],
        [r[1] for r in test],
        source=path,
    )
    if len(set(data.train_labels)) < 2:
        raise SourceError(f"{path!r}: the training rows hold only one label; a classifier needs both")
    return data


def _columns(header: Sequence[str], text_column: str | None, label_column: str | None,
             path: str) -> tuple[int, int, int | None]:
    """Indexes of the text, label and (when there is one) split columns."""
    ti = pick_column(header, text_column, TEXT_COLUMNS, "review text", "--text-column", path)
    li = pick_column(header, label_column, LABEL_COLUMNS, "label", "--label-column", path)
    if ti == li:
        raise SourceError(f"text and label columns of {path!r} are the same column {header[ti]!r}")
    norm = [h.strip().lower() for h in header]
    si = norm.index("split") if "split" in norm and norm.index("split") not in (ti, li) else None
    return ti, li, si


def _read_rows(reader: Any, header: Sequence[str], ti: int, li: int, si: int | None,
               path: str) -> tuple[list[tuple[str, int, str | None]], int]:
    """``([(review, label, split)], rows skipped for an empty text)`` from the rest of ``reader``."""
    rows: list[tuple[str, int, str | None]] = []
    skipped = 0
    try:
        for row in reader:
            if not row or all(not c.strip() for c in row):
                continue
            line = reader.line_num
            if len(row) <= max(ti, li):
                raise SourceError(
                    f"{path!r} line {line}: {len(row)} fields, but the text/label columns "
                    f"are number {ti + 1} and {li + 1} (a quote left open?)"
                )
            review = clean_review(row[ti])
            if not review:
                skipped += 1
                continue
            try:
                label = parse_label(row[li])
            except ValueError as exc:
                raise SourceError(f"{path!r} line {line}, column {header[li]!r}: {exc}") from None
            split = row[si].strip().lower() if si is not None and si < len(row) else None
            rows.append((review, label, split))
    except csv.Error as exc:
        raise SourceError(f"{path!r} line {reader.line_num}: not readable as CSV ({exc})") from None
    return rows, skipped


def _split(rows: list[tuple[str, int, str | None]], si: int | None, validation_fraction: float,
           seed: int) -> tuple[list[tuple[str, int, str | None]], list[tuple[str, int, str | None]]]:
    """``(train, test)``: by the split column when every row has one, else a seeded random cut."""
    if si is not None and all(r[2] for r in rows):
        train = [r for r in rows if r[2] == "train"]
        test = [r for r in rows if r[2] in VALIDATION_SPLITS]
        return train, test
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    n_val = max(1, round(len(rows) * validation_fraction)) if len(rows) > 1 else 0
    val_ids = set(order[:n_val])
    train = [r for i, r in enumerate(rows) if i not in val_ids]
    test = [r for i, r in enumerate(rows) if i in val_ids]
    return train, test
