"""Reviews of a CSV (or tab-separated) file with a header row.

A text column and a label column (``positive``/``negative``, ``pos``/``neg``,
``1``/``0``, ``true``/``false``; see :func:`parse_label`), found by their
header or named. A ``split`` column with ``train``/``test`` values is
honoured; otherwise a seeded 80/20 split. :func:`pick_column` is also how
``export-activations`` finds the text column of its inputs file.

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
import io
import os
import random
from collections.abc import Sequence

from projector_tools.errors import InputError, SourceError
from projector_tools.training.text_data import Progress, TextData, clean_review, stderr_progress

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


TEXT_COLUMNS = ("text", "review", "reviews", "sentence", "content", "comment", "body", "document")
LABEL_COLUMNS = ("label", "sentiment", "polarity", "class", "target", "labels")


def pick_column(header: Sequence[str], wanted: str | None, candidates: Sequence[str], what: str, flag: str, path: str) -> int:
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


def _read_text_file(path: str, progress: Progress) -> str:
    with open(path, "rb") as f:
        raw = f.read()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        progress(f"note: {path} is not valid UTF-8 ({exc.reason} at byte {exc.start}); reading it as Windows-1252")
        return raw.decode("cp1252", "replace")


def load_csv(
    path: str,
    text_column: str | None = None,
    label_column: str | None = None,
    *,
    validation_fraction: float = 0.2,
    seed: int = 0,
    progress: Progress = stderr_progress,
) -> TextData:
    """Reviews of a CSV (``.tsv``: tab-separated) file with a header row.

    The text column defaults to the first of ``text``, ``review``,
    ``sentence``, ... and the label column to the first of ``label``,
    ``sentiment``, ``polarity``, ... (case-insensitive); name them with
    ``text_column``/``label_column``. A ``split`` column with ``train`` and
    ``test``/``validation`` values is honoured, otherwise a seeded
    ``validation_fraction`` of the rows is held out. Rows whose text is
    empty are skipped (and counted); an unreadable label is an error that
    names the line.
    """
    path = os.path.expanduser(str(path))
    if not os.path.isfile(path):
        raise SourceError(f"CSV file {path!r} does not exist")
    if not 0.0 < validation_fraction < 1.0:
        raise InputError(f"validation_fraction must be between 0 and 1, got {validation_fraction}")
    text = _read_text_file(path, progress)
    delimiter = "\t" if path.lower().endswith((".tsv", ".tab")) else ","
    csv.field_size_limit(2**31 - 1)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise SourceError(f"CSV file {path!r} is empty") from None
    except csv.Error as exc:
        raise SourceError(f"{path!r} is not a readable CSV file ({exc})") from None
    ti = pick_column(header, text_column, TEXT_COLUMNS, "review text", "--text-column", path)
    li = pick_column(header, label_column, LABEL_COLUMNS, "label", "--label-column", path)
    if ti == li:
        raise SourceError(f"text and label columns of {path!r} are the same column {header[ti]!r}")
    norm = [h.strip().lower() for h in header]
    si = norm.index("split") if "split" in norm and norm.index("split") not in (ti, li) else None
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
    if skipped:
        progress(f"note: skipped {skipped} rows of {path} with an empty text")
    if si is not None and all(r[2] for r in rows):
        train = [r for r in rows if r[2] == "train"]
        test = [r for r in rows if r[2] in ("test", "validation", "valid", "val", "dev")]
    else:
        order = list(range(len(rows)))
        random.Random(seed).shuffle(order)
        n_val = max(1, round(len(rows) * validation_fraction)) if len(rows) > 1 else 0
        val_ids = set(order[:n_val])
        train = [r for i, r in enumerate(rows) if i not in val_ids]
        test = [r for i, r in enumerate(rows) if i in val_ids]
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
