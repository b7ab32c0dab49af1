"""The trainer's datasets: which reviews a run trains on, and their subword ids.

:func:`load_dataset` turns the trainer's dataset options into a
:class:`~projector_tools.training.text_data.TextData` (a train and a validation
split of texts and 0/1 labels) from one of these sources:

* ``demo``: the generated offline corpus of :mod:`projector_tools.training.demo_corpus`.
* ``imdb_reviews/subwords8k``: the seed notebook's dataset, the IMDB text of
  tensorflow-datasets' ``imdb_reviews/plain_text``, or the archive placed
  locally; offline it fails in seconds with
  :class:`~projector_tools.errors.DatasetUnavailableError`
  (:mod:`projector_tools.training.imdb_tfds`).
* a local ``aclImdb/`` directory (``train/pos``, ``train/neg``, ``test/pos``,
  ``test/neg`` holding ``*.txt``) or its ``.tar.gz``
  (:mod:`projector_tools.training.aclimdb`);
* a CSV file with a text column and a label column (``positive``/``negative``,
  ``pos``/``neg``, ``1``/``0``, ``true``/``false``). A ``split`` column with
  ``train``/``test`` values is honoured; otherwise a seeded 80/20 split
  (:mod:`projector_tools.training.csv_reviews`).

Real review text is cleaned by :func:`~projector_tools.training.text_data.clean_review`
(``<br />`` markup, HTML entities, stray whitespace; quotes and non-ASCII are
kept). The vocabulary is a ``SubwordTextEncoder`` built from the train split
(:func:`build_encoder`), saved and loaded with the run
(:func:`save_encoder`, :func:`load_encoder`).

    >>> data = load_dataset("demo")
    >>> len(data.train_texts), len(data.test_texts), sorted(set(data.train_labels))
    (4000, 1000, [0, 1])
    >>> encoder = build_encoder(data.train_texts)          # SubwordTextEncoder
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence

from projector_tools.training.aclimdb import load_aclimdb
from projector_tools.training.csv_reviews import load_csv
from projector_tools.errors import InputError, SourceError
from projector_tools.training.imdb_tfds import IMDB_ALIASES, load_imdb_tfds
from projector_tools.process import voice
from projector_tools.training.text_data import Progress, TextData

__all__ = [
    "DATASETS",
    "build_encoder",
    "encode_texts",
    "load_dataset",
    "load_demo",
    "load_encoder",
    "save_encoder",
]

DATASETS = ("demo", "imdb_reviews/subwords8k", "aclimdb", "csv")
TARGET_VOCAB_SIZE = 2**13


# --------------------------------------------------------------------------
# The demo corpus


def load_demo() -> TextData:
    """The generated demo corpus (4000 train, 1000 validation reviews)."""
    from projector_tools.training.demo_corpus import demo_reviews

    train, test = demo_reviews()
    return TextData("demo", train.texts, train.labels, test.texts, test.labels, source="generated")


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
    progress: Progress = voice.say,
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
    progress: Progress = voice.say,
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
    from projector_tools.training.subword_builder import build_subword_encoder

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
