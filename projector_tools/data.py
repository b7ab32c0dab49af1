"""Review datasets for the trainer: texts and 0/1 labels, plus the subword vocabulary.

Sources (all return a :class:`TextData` with a train and a validation split):

* ``demo``: the generated offline corpus of :mod:`projector_tools.demo_corpus`.
* ``imdb_reviews/subwords8k``: the seed notebook's dataset, rebuilt on
  tensorflow-datasets 4.9.x (which no longer ships that config): the IMDB
  text of ``imdb_reviews/plain_text`` (train and test splits), encoded later
  with a ``SubwordTextEncoder`` built from the train split
  (``target_vocab_size=2**13``). Found, in this order: an already prepared
  tfds dataset in the data dir; ``aclImdb_v1.tar.gz`` or an extracted
  ``aclImdb/`` in ``<data_dir>/downloads/manual`` (or the data dir itself, or
  ``--data-dir`` pointing at either); else a tfds download, only after a
  short reachability probe of the download host, so that offline it fails
  in seconds with :class:`~projector_tools.errors.DatasetUnavailableError`.
* a local ``aclImdb/`` directory (``train/pos``, ``train/neg``, ``test/pos``,
  ``test/neg`` holding ``*.txt``) or its ``.tar.gz``;
* a CSV file with a text column and a label column (``positive``/``negative``,
  ``pos``/``neg``, ``1``/``0``, ``true``/``false``). A ``split`` column with
  ``train``/``test`` values is honoured; otherwise a seeded 80/20 split.

Real review text is cleaned by :func:`clean_review` (``<br />`` markup,
HTML entities, stray whitespace; quotes and non-ASCII are kept).

    >>> data = load_dataset("demo")
    >>> len(data.train_texts), len(data.test_texts), sorted(set(data.train_labels))
    (4000, 1000, [0, 1])
    >>> encoder = build_encoder(data.train_texts)          # SubwordTextEncoder
"""

from __future__ import annotations

import csv
import html
import io
import os
import random
import re
import socket
import sys
import tarfile
import threading
import time
import unicodedata
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from projector_tools.errors import DatasetUnavailableError, InputError, SourceError

__all__ = [
    "DATASETS",
    "IMDB_URL",
    "TextData",
    "build_encoder",
    "clean_review",
    "encode_texts",
    "load_aclimdb",
    "load_csv",
    "load_dataset",
    "load_demo",
    "load_encoder",
    "load_imdb_tfds",
    "parse_label",
    "save_encoder",
]

DATASETS = ("demo", "imdb_reviews/subwords8k", "aclimdb", "csv")
IMDB_ALIASES = ("imdb_reviews/subwords8k", "imdb_reviews", "imdb_reviews/plain_text")
IMDB_URL = "http://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
IMDB_ARCHIVE = "aclImdb_v1.tar.gz"
TARGET_VOCAB_SIZE = 2**13
# Overridable so that tests can point the download at a closed local port.
_URL_ENV = "PROJECTOR_TOOLS_IMDB_URL"
PROBE_TIMEOUT_S = 4.0

Progress = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class TextData:
    """Texts and labels (1 positive, 0 negative) of a train and a validation split."""

    name: str
    train_texts: list[str]
    train_labels: list[int]
    test_texts: list[str]
    test_labels: list[int]
    source: str = ""

    def __post_init__(self) -> None:
        for split, texts, labels in (
            ("train", self.train_texts, self.train_labels),
            ("validation", self.test_texts, self.test_labels),
        ):
            if len(texts) != len(labels):
                raise InputError(f"{self.name}: {len(texts)} {split} texts but {len(labels)} labels")
            if not texts:
                raise SourceError(
                    f"{self.name} ({self.source or 'data'}) has no {split} reviews; "
                    "a training run needs reviews in both splits"
                )

    def summary(self) -> str:
        pos = sum(self.train_labels)
        return (
            f"{self.name}: {len(self.train_texts)} train reviews ({pos} positive), "
            f"{len(self.test_texts)} validation reviews"
        )


# --------------------------------------------------------------------------
# Text and labels

_BR = re.compile(r"<\s*br\s*/?\s*>", re.IGNORECASE)
_TAG = re.compile(r"</?(?:i|b|em|strong|p|hr|span|div|a)(?:\s[^<>]{0,200})?\s*/?>", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


def clean_review(text: str | bytes) -> str:
    """Review text as a model should see it.

    ``<br />`` (any spelling) becomes a space, simple formatting tags
    (``<i>``, ``<b>``, ...) are dropped, HTML entities are decoded
    (``&amp;`` -> ``&``), Unicode is NFC-normalised, and every run of
    whitespace (line breaks and tabs included) becomes one space. Quotes,
    apostrophes and non-ASCII letters are kept. No line breaks survive:
    a subword holding one could not be stored in a ``.subwords`` file,
    which has one subword per line.

        >>> clean_review('Great!<br /><br />"Amélie" &amp; co.')
        'Great! "Amélie" & co.'
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = _BR.sub(" ", text)
    text = _TAG.sub("", text)
    text = html.unescape(text)
    text = unicodedata.normalize("NFC", text)
    return _SPACES.sub(" ", text).strip()


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


# --------------------------------------------------------------------------
# Sources


def load_demo() -> TextData:
    """The generated demo corpus (4000 train, 1000 validation reviews)."""
    from projector_tools.demo_corpus import demo_reviews

    train, test = demo_reviews()
    return TextData("demo", train.texts, train.labels, test.texts, test.labels, source="generated")


_ACL_RE = re.compile(r"(?:^|/)(train|test)/(pos|neg)/[^/]+\.txt$")


def _find_acl_root(path: str) -> str | None:
    """The directory holding ``train/`` and ``test/`` at or just below ``path``."""
    for cand in (path, os.path.join(path, "aclImdb")):
        if os.path.isdir(os.path.join(cand, "train", "pos")) and os.path.isdir(os.path.join(cand, "test", "pos")):
            return cand
    return None


def _is_archive(path: str) -> bool:
    return os.path.isfile(path) and path.lower().endswith((".tar.gz", ".tgz", ".tar"))


def looks_like_aclimdb(path: str) -> bool:
    """True for an ``aclImdb`` directory (or its parent) or a tar archive."""
    return _is_archive(path) or _find_acl_root(path) is not None


def load_aclimdb(path: str, progress: Progress = _stderr) -> TextData:
    """Reviews of an extracted ``aclImdb/`` directory or of its ``.tar.gz``.

    Labels come from the ``pos``/``neg`` folder; ``train`` is the training
    split and ``test`` the validation split (as in the seed notebook);
    ``unsup`` is ignored.
    """
    path = os.path.expanduser(str(path))
    splits: dict[str, tuple[list[str], list[int]]] = {"train": ([], []), "test": ([], [])}
    start = time.monotonic()
    count = 0

    def add(member: str, raw: bytes) -> None:
        nonlocal count
        m = _ACL_RE.search(member.replace(os.sep, "/"))
        if not m:
            return
        texts, labels = splits[m.group(1)]
        texts.append(clean_review(raw))
        labels.append(1 if m.group(2) == "pos" else 0)
        count += 1
        if count % 10000 == 0:
            progress(f"  read {count} reviews ({time.monotonic() - start:.0f} s)")

    if _is_archive(path):
        progress(f"reading reviews from {path} ...")
        try:
            with tarfile.open(path, "r:*") as tar:
                for info in tar:
                    if info.isfile() and info.name.endswith(".txt"):
                        f = tar.extractfile(info)
                        if f is not None:
                            add(info.name, f.read())
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise SourceError(f"{path!r} is not a readable aclImdb tar archive ({exc})") from None
    else:
        root = _find_acl_root(path)
        if root is None:
            raise SourceError(
                f"{path!r} is neither an aclImdb directory (with train/pos, train/neg, "
                "test/pos, test/neg) nor an aclImdb_v1.tar.gz archive"
            )
        progress(f"reading reviews from {root} ...")
        for split in ("train", "test"):
            for label in ("pos", "neg"):
                folder = os.path.join(root, split, label)
                for name in sorted(os.listdir(folder)):
                    if name.endswith(".txt"):
                        with open(os.path.join(folder, name), "rb") as f:
                            add(f"{split}/{label}/{name}", f.read())
    # Archive order is by folder; keep it (the trainer shuffles).
    return TextData(
        "aclImdb",
        splits["train"][0],
        splits["train"][1],
        splits["test"][0],
        splits["test"][1],
        source=path,
    )


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
    progress: Progress = _stderr,
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


# --------------------------------------------------------------------------
# IMDB through tensorflow-datasets


def default_tfds_data_dir() -> str:
    return os.path.expanduser(os.environ.get("TFDS_DATA_DIR") or os.path.join("~", "tensorflow_datasets"))


def _local_imdb_candidates(data_dir: str) -> list[str]:
    manual = os.path.join(data_dir, "downloads", "manual")
    cands = [
        data_dir,
        os.path.join(manual, IMDB_ARCHIVE),
        os.path.join(manual, "aclImdb"),
        manual,
        os.path.join(data_dir, IMDB_ARCHIVE),
        os.path.join(data_dir, "downloads", IMDB_ARCHIVE),
    ]
    downloads = os.path.join(data_dir, "downloads")
    if os.path.isdir(downloads):
        # tfds names a finished download after its URL, e.g.
        # ai.stanford.edu_amaas_data_sentiment_aclImdb_v1<hash>.tar.gz
        for name in sorted(os.listdir(downloads)):
            if "aclImdb_v1" in name and name.endswith((".tar.gz", ".tgz")) and ".incomplete" not in name:
                cands.append(os.path.join(downloads, name))
    return cands


def _probe(url: str, timeout: float) -> str | None:
    """None when ``url``'s host accepts a TCP connection within ``timeout``, else why not."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    # Behind a proxy the download goes through the proxy: probe that instead.
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and host not in ("127.0.0.1", "localhost", "::1") and not urllib.request.proxy_bypass(host):
        p = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        if p.hostname:
            host, port = p.hostname, p.port or 80
    result: list[str | None] = []

    def attempt() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(None)
        except OSError as exc:
            result.append(f"{type(exc).__name__}: {exc}")

    # Name resolution has no timeout of its own; bound it with a thread.
    t = threading.Thread(target=attempt, daemon=True)
    t.start()
    t.join(timeout + 0.5)
    if not result:
        return f"no answer from {host}:{port} within {timeout:.0f} s"
    return result[0]


def _unavailable(data_dir: str, reason: str) -> DatasetUnavailableError:
    manual = os.path.join(data_dir, "downloads", "manual")
    return DatasetUnavailableError(
        f"imdb_reviews/subwords8k needs the IMDB archive {IMDB_ARCHIVE}, which is not in the "
        f"data dir {data_dir} and cannot be downloaded here ({reason}). Download {IMDB_URL} "
        f"on a machine with internet and place it at {os.path.join(manual, IMDB_ARCHIVE)} "
        "(tfds' manual dir; --data-dir DIR picks another data dir), or pass "
        f"--data-dir /path/to/{IMDB_ARCHIVE} or an extracted aclImdb/ directory. "
        "`--dataset demo` works offline."
    )


def _tfds_split_texts(builder, split: str) -> tuple[list[str], list[int]]:
    texts: list[str] = []
    labels: list[int] = []
    ds = builder.as_dataset(split=split, as_supervised=True)
    for text, label in ds.as_numpy_iterator():
        texts.append(clean_review(text))
        labels.append(int(label))
    return texts, labels


def load_imdb_tfds(data_dir: str | None = None, progress: Progress = _stderr) -> TextData:
    """IMDB reviews for ``imdb_reviews/subwords8k`` (see the module docstring).

    Raises :class:`DatasetUnavailableError` within seconds when the data is
    neither prepared nor placed locally and the download host is unreachable.
    """
    data_dir = os.path.expanduser(str(data_dir)) if data_dir else default_tfds_data_dir()
    for cand in _local_imdb_candidates(data_dir):
        if os.path.exists(cand) and looks_like_aclimdb(cand):
            return _renamed(load_aclimdb(cand, progress=progress), "imdb_reviews/subwords8k")
    if os.path.isfile(data_dir):
        raise SourceError(f"--data-dir {data_dir!r} is a file but not an aclImdb tar archive")

    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder("imdb_reviews/plain_text", data_dir=data_dir)
        prepared = builder.is_prepared()
    except Exception as exc:  # noqa: BLE001 - a broken data dir
        raise SourceError(f"tensorflow-datasets cannot open imdb_reviews in {data_dir!r}: {exc}") from None
    if not prepared:
        url = os.environ.get(_URL_ENV) or IMDB_URL
        reason = _probe(url, PROBE_TIMEOUT_S)
        if reason is not None:
            raise _unavailable(data_dir, f"{urllib.parse.urlsplit(url).netloc} unreachable: {reason}")
        progress(f"downloading and preparing imdb_reviews into {data_dir} (about 80 MB) ...")
        try:
            builder.download_and_prepare(
                download_config=tfds.download.DownloadConfig(
                    manual_dir=os.path.join(data_dir, "downloads", "manual")
                )
            )
        except Exception as exc:  # noqa: BLE001
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise _unavailable(data_dir, f"download failed: {first}") from None
    progress(f"reading imdb_reviews/plain_text from {data_dir} ...")
    train_texts, train_labels = _tfds_split_texts(builder, "train")
    test_texts, test_labels = _tfds_split_texts(builder, "test")
    return TextData(
        "imdb_reviews/subwords8k", train_texts, train_labels, test_texts, test_labels, source=data_dir
    )


def _renamed(data: TextData, name: str) -> TextData:
    data.name = name
    return data


# --------------------------------------------------------------------------
# Choosing a source


def load_dataset(
    dataset: str | None = "demo",
    *,
    data_dir: str | None = None,
    data_csv: str | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    seed: int = 0,
    progress: Progress = _stderr,
) -> TextData:
    """Load the texts named by the trainer's dataset options.

    ``dataset``: ``demo`` (default), ``imdb_reviews/subwords8k`` (``data_dir``
    is the tfds data dir, or an aclImdb directory/archive), ``aclimdb``
    (``data_dir`` is the directory or archive) or ``csv`` (``data_csv``).
    ``data_csv`` alone means ``csv``; ``data_dir`` alone means ``aclimdb``.
    """
    name = (dataset or "").strip().lower() or None
    if data_csv is not None:
        if name not in (None, "csv"):
            raise InputError(f"--data-csv reads a CSV file; it cannot be combined with --dataset {dataset}")
        return load_csv(data_csv, text_column, label_column, seed=seed, progress=progress)
    if text_column is not None or label_column is not None:
        raise InputError("--text-column/--label-column only apply to --data-csv FILE")
    if name == "csv":
        raise InputError("--dataset csv needs --data-csv FILE")
    if name is None:
        name = "aclimdb" if data_dir is not None else "demo"
    if name == "demo":
        if data_dir is not None:
            raise InputError(
                "--dataset demo is generated and reads no --data-dir; for local IMDB data "
                "use --dataset aclimdb --data-dir PATH"
            )
        return load_demo()
    if name in IMDB_ALIASES:
        return load_imdb_tfds(data_dir, progress=progress)
    if name in ("aclimdb", "local"):
        if data_dir is None:
            raise InputError("--dataset aclimdb needs --data-dir PATH (an aclImdb/ directory or aclImdb_v1.tar.gz)")
        path = os.path.expanduser(data_dir)
        if not os.path.exists(path):
            raise SourceError(f"--data-dir {data_dir!r} does not exist")
        return load_aclimdb(path, progress=progress)
    raise InputError(
        f"unknown dataset {dataset!r}; choose demo, imdb_reviews/subwords8k or aclimdb "
        "(--data-dir PATH), or give --data-csv FILE"
    )


# --------------------------------------------------------------------------
# Vocabulary and encoding


def _subword_encoder_class():
    import tensorflow_datasets as tfds

    return tfds.deprecated.text.SubwordTextEncoder


def build_encoder(
    texts: Sequence[str],
    target_vocab_size: int = TARGET_VOCAB_SIZE,
    progress: Progress = _stderr,
):
    """A ``SubwordTextEncoder`` built from ``texts``, reporting progress.

    The subwords are those of tfds' ``build_from_corpus``, built by
    :func:`projector_tools.build_subword_encoder`: the corpus is counted
    once, then a binary search over the minimum subword count runs several
    rounds; each round is reported with the time so far.
    """
    if int(target_vocab_size) < 258:
        raise InputError(
            f"target_vocab_size must be at least 258 (padding + 256 bytes + 1 subword), got {target_vocab_size}"
        )
    from projector_tools.subword_builder import build_subword_encoder

    base = _subword_encoder_class()
    start = time.monotonic()
    # tfds' build_from_corpus, with the same subwords, several times faster.
    built = build_subword_encoder(texts, target_vocab_size, progress=progress)
    # A subword with a line break cannot be saved (one subword per line);
    # drop such subwords: those characters are then byte-encoded.
    encoder = base(vocab_list=[s for s in built.subwords if "\n" not in s])
    progress(f"vocabulary: {encoder.vocab_size} ids in {time.monotonic() - start:.1f} s")
    return encoder


def save_encoder(encoder, prefix: str) -> str:
    """Write ``<prefix>.subwords`` (via ``save_to_file``), atomically; returns the path."""
    from projector_tools import fsio

    path = prefix + ".subwords"
    tmp = prefix + fsio.TMP_MARK + "enc"
    encoder.save_to_file(tmp)
    fsio.gfile().rename(tmp + ".subwords", path, overwrite=True)
    return path


def load_encoder(prefix: str):
    """The ``SubwordTextEncoder`` saved at ``<prefix>.subwords``."""
    return _subword_encoder_class().load_from_file(prefix)


def encode_texts(encoder, texts: Iterable[str], progress: Progress | None = None) -> list[list[int]]:
    """``encoder.encode`` of every text (ids 1..vocab_size-1; 0 stays padding)."""
    out: list[list[int]] = []
    texts = list(texts)
    start = time.monotonic()
    step = 10000
    for i, t in enumerate(texts, 1):
        out.append(encoder.encode(t))
        if progress is not None and i % step == 0:
            progress(f"  encoded {i}/{len(texts)} reviews ({time.monotonic() - start:.0f} s)")
    return out
