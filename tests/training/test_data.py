"""Datasets of the trainer: the demo corpus, aclImdb trees and archives, CSV files,
the offline IMDB failure, and the SubwordTextEncoder vocabulary."""

from __future__ import annotations

import csv
import os
import re
import socket
import subprocess
import sys
import tarfile
import time

import pytest

from projector_tools.training import demo_corpus
from projector_tools.training.aclimdb import load_aclimdb
from projector_tools.training.csv_reviews import load_csv, parse_label
from projector_tools.training.datasets import (
    build_encoder,
    encode_texts,
    load_dataset,
    load_encoder,
    save_encoder,
)
from projector_tools.errors import DatasetUnavailableError, InputError, SourceError
from projector_tools.training.imdb_tfds import IMDB_ARCHIVE, load_imdb_tfds
from projector_tools.training.text_data import clean_review
from tests.helpers.review_text import NEGATIVE_SNIPPETS, POSITIVE_SNIPPETS


def _messy_reviews(n: int) -> list[tuple[str, int]]:
    out = []
    for i in range(n):
        pos = i % 2 == 0
        pool = POSITIVE_SNIPPETS if pos else NEGATIVE_SNIPPETS
        text = pool[i % len(pool)] + " " + pool[(i // 2) % len(pool)] + f" (review #{i})"
        out.append((text, 1 if pos else 0))
    return out


def _write_acl_tree(root, n_per_class: int = 3) -> dict[str, list[tuple[str, int]]]:
    reviews = _messy_reviews(4 * n_per_class)
    written: dict[str, list[tuple[str, int]]] = {"train": [], "test": []}
    k = 0
    for split in ("train", "test"):
        for label in ("pos", "neg"):
            folder = root / "aclImdb" / split / label
            folder.mkdir(parents=True)
            for j in range(n_per_class):
                text = reviews[k][0]
                k += 1
                (folder / f"{j}_{7 if label == 'pos' else 2}.txt").write_text(text, encoding="utf-8")
                written[split].append((clean_review(text), 1 if label == "pos" else 0))
    unsup = root / "aclImdb" / "train" / "unsup"
    unsup.mkdir()
    (unsup / "0_0.txt").write_text("no label here", encoding="utf-8")
    (root / "aclImdb" / "README").write_text("not a review", encoding="utf-8")
    return written


# --------------------------------------------------------------------------
# demo corpus


def _sentence_polarity(sentence: str) -> int | None:
    words = re.findall(r"[a-z]+", sentence.lower())
    if "out" in words and "ten" in words:
        score = demo_corpus.NUMBER_WORDS.index(words[0])
        return 1 if score >= 7 else -1
    polar = [1 for w in words if w in demo_corpus.POSITIVE_WORDS]
    polar += [-1 for w in words if w in demo_corpus.NEGATIVE_WORDS]
    if not polar:
        return None
    assert len(set(polar)) == 1, sentence
    negated = any(w in demo_corpus.NEGATORS for w in words)
    return -polar[0] if negated else polar[0]


def test_demo_corpus_is_deterministic_balanced_and_labelled_by_its_documented_rule():
    train, test = demo_corpus.demo_reviews()
    again_train, again_test = demo_corpus.demo_reviews()
    assert train.texts == again_train.texts and test.labels == again_test.labels
    assert len(train) >= 2000 and len(test) >= 500
    assert sum(train.labels) * 2 == len(train) and sum(test.labels) * 2 == len(test)
    assert len(set(train.texts) & set(test.texts)) < len(test) // 20
    negated = 0
    for text, label in zip(train.texts + test.texts, train.labels + test.labels):
        sentences = re.split(r"(?<=[.!])\s+", text)
        polarities = [p for p in (_sentence_polarity(s) for s in sentences) if p is not None]
        assert 2 <= len(polarities) <= 5, text
        assert sum(polarities) != 0
        assert (sum(polarities) > 0) == (label == 1), (text, label)
        negated += any(f" {n} " in f" {text} " for n in demo_corpus.NEGATORS)
    assert negated > len(train) // 4  # negation is common, not an edge case
    # every emitted word is documented in the module docstring
    doc = demo_corpus.__doc__.lower()
    for word in demo_corpus.POSITIVE_WORDS + demo_corpus.NEGATIVE_WORDS + demo_corpus.NEGATORS:
        assert word in doc, word


def test_demo_dataset_is_the_default():
    data = load_dataset(None)
    assert data.name == "demo"
    assert data.train_texts == demo_corpus.demo_reviews()[0].texts


# --------------------------------------------------------------------------
# text and labels


def test_clean_review_handles_markup_entities_quotes_and_non_ascii():
    raw = 'Great!<br /><br />"Amélie" &amp; <i>co</i>.<BR/>It\'s   naïve — ★  '
    cleaned = clean_review(raw)
    assert "<br" not in cleaned.lower() and "<i>" not in cleaned
    assert cleaned == 'Great! "Amélie" & co. It\'s naïve — ★'
    assert clean_review(raw.encode("utf-8")) == cleaned


@pytest.mark.parametrize("value", ["positive", "POS", " 1 ", 1, "1.0", "true", True])
def test_parse_label_positive(value):
    assert parse_label(value) == 1


@pytest.mark.parametrize("value", ["negative", "neg", "0", 0, "False", "-1"])
def test_parse_label_negative(value):
    assert parse_label(value) == 0


def test_parse_label_rejects_other_values():
    with pytest.raises(ValueError, match="neutral"):
        parse_label("neutral")


# --------------------------------------------------------------------------
# aclImdb directory and archive


def test_aclimdb_directory_and_targz_give_the_same_reviews(tmp_path):
    written = _write_acl_tree(tmp_path)
    from_dir = load_aclimdb(str(tmp_path / "aclImdb"), progress=lambda m: None)
    archive = tmp_path / IMDB_ARCHIVE
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "aclImdb", arcname="aclImdb")
    from_tar = load_aclimdb(str(archive), progress=lambda m: None)
    for data in (from_dir, from_tar):
        assert sorted(zip(data.train_texts, data.train_labels)) == sorted(written["train"])
        assert sorted(zip(data.test_texts, data.test_labels)) == sorted(written["test"])
        assert "no label here" not in data.train_texts
        assert not any("<br" in t.lower() for t in data.train_texts + data.test_texts)
    # the parent directory of aclImdb/ works too
    assert len(load_aclimdb(str(tmp_path), progress=lambda m: None).train_texts) == len(written["train"])


def test_aclimdb_rejects_other_directories(tmp_path):
    with pytest.raises(SourceError, match="train/pos"):
        load_aclimdb(str(tmp_path))


# --------------------------------------------------------------------------
# CSV


def _write_csv(path, rows, header=("review", "sentiment"), encoding="utf-8-sig", delimiter=","):
    with open(path, "w", encoding=encoding, newline="") as f:
        w = csv.writer(f, delimiter=delimiter)
        w.writerow(header)
        for row in rows:
            w.writerow(row)


def test_csv_review_sentiment_columns_are_found_and_messy_text_survives(tmp_path):
    reviews = _messy_reviews(50)
    path = tmp_path / "imdb.csv"
    _write_csv(path, [(t, "positive" if y else "negative") for t, y in reviews])
    data = load_csv(str(path), progress=lambda m: None)
    got = sorted(zip(data.train_texts + data.test_texts, data.train_labels + data.test_labels))
    assert got == sorted((clean_review(t), y) for t, y in reviews)
    assert len(data.test_texts) == 10  # seeded 80/20 split
    assert any("Zoë" in t for t in data.train_texts + data.test_texts)
    assert any("München" in t and "\t" not in t for t in data.train_texts + data.test_texts)
    again = load_csv(str(path), progress=lambda m: None)
    assert again.test_texts == data.test_texts


def test_csv_named_columns_numeric_labels_and_split_column(tmp_path):
    reviews = _messy_reviews(12)
    path = tmp_path / "reviews.tsv"
    rows = [(i, "train" if i < 8 else "test", y, t) for i, (t, y) in enumerate(reviews)]
    _write_csv(path, rows, header=("id", "split", "stars_binary", "body text"), delimiter="\t")
    data = load_csv(str(path), text_column="body text", label_column="stars_binary", progress=lambda m: None)
    assert data.train_labels == [y for _, y in reviews[:8]]
    assert data.test_texts == [clean_review(t) for t, _ in reviews[8:]]


def test_csv_errors_name_the_column_or_line(tmp_path):
    path = tmp_path / "bad.csv"
    _write_csv(path, [("fine film", "positive"), ("meh", "neutral")])
    with pytest.raises(SourceError, match=r"line 3.*neutral"):
        load_csv(str(path), progress=lambda m: None)
    with pytest.raises(SourceError, match=r"no review text column 'txt'.*\['review', 'sentiment'\]"):
        load_csv(str(path), text_column="txt", progress=lambda m: None)
    odd = tmp_path / "odd.csv"
    _write_csv(odd, [("x", "1")], header=("words", "verdict"))
    with pytest.raises(SourceError, match="--text-column"):
        load_csv(str(odd), progress=lambda m: None)


def test_csv_in_windows_1252_is_read(tmp_path):
    path = tmp_path / "cp1252.csv"
    rows = [(f"Caf\u00e9 review {i} \u2014 {'great' if i % 2 else 'awful'}", str(i % 2)) for i in range(10)]
    _write_csv(path, rows, header=("text", "label"), encoding="cp1252")
    notes = []
    data = load_csv(str(path), progress=notes.append)
    assert any("Windows-1252" in n for n in notes)
    assert all("Café" in t and "—" in t for t in data.train_texts)


# --------------------------------------------------------------------------
# imdb_reviews/subwords8k


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/aclImdb_v1.tar.gz"


def test_imdb_offline_fails_fast_with_the_placement_message(tmp_path, monkeypatch):
    monkeypatch.setenv("PROJECTOR_TOOLS_IMDB_URL", _closed_port_url())
    data_dir = tmp_path / "tfds"
    start = time.monotonic()
    with pytest.raises(DatasetUnavailableError) as info:
        load_dataset("imdb_reviews/subwords8k", data_dir=str(data_dir), progress=lambda m: None)
    assert time.monotonic() - start < 30
    message = str(info.value)
    manual = os.path.join(str(data_dir), "downloads", "manual", IMDB_ARCHIVE)
    assert manual in message
    assert "--data-dir" in message and "--dataset demo" in message
    assert "aclImdb_v1.tar.gz" in message


def test_imdb_uses_the_archive_placed_in_the_manual_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PROJECTOR_TOOLS_IMDB_URL", _closed_port_url())
    written = _write_acl_tree(tmp_path / "src")
    manual = tmp_path / "tfds" / "downloads" / "manual"
    manual.mkdir(parents=True)
    with tarfile.open(manual / IMDB_ARCHIVE, "w:gz") as tar:
        tar.add(tmp_path / "src" / "aclImdb", arcname="aclImdb")
    data = load_imdb_tfds(str(tmp_path / "tfds"), progress=lambda m: None)
    assert data.name == "imdb_reviews/subwords8k"
    assert sorted(zip(data.test_texts, data.test_labels)) == sorted(written["test"])


def test_dataset_option_errors():
    with pytest.raises(InputError, match="--data-csv"):
        load_dataset("csv")
    with pytest.raises(InputError, match="unknown dataset"):
        load_dataset("mnist")
    with pytest.raises(InputError, match="demo"):
        load_dataset("demo", data_dir="/nonexistent")
    with pytest.raises(InputError, match="--data-csv FILE"):
        load_dataset("demo", text_column="review")


# --------------------------------------------------------------------------
# vocabulary


def test_subword_vocabulary_from_messy_reviews_round_trips_and_reports_progress(tmp_path):
    texts = [clean_review(t) for t, _ in _messy_reviews(40)]
    notes: list[str] = []
    encoder = build_encoder(texts, target_vocab_size=300, progress=notes.append)
    import tensorflow_datasets as tfds

    assert type(encoder) is tfds.deprecated.text.SubwordTextEncoder
    assert any("counted tokens" in n for n in notes) and any("search round" in n for n in notes)
    ids = encode_texts(encoder, texts)
    assert all(0 < i < encoder.vocab_size for row in ids for i in row)
    assert [encoder.decode(row) for row in ids] == texts
    path = save_encoder(encoder, str(tmp_path / "encoder"))
    assert path.endswith("encoder.subwords")
    with open(path, encoding="utf-8") as f:
        assert f.readline().startswith("### SubwordTextEncoder")
    assert load_encoder(str(tmp_path / "encoder")).subwords == encoder.subwords
    assert not [n for n in os.listdir(tmp_path) if n != "encoder.subwords"]


def test_importing_the_trainer_modules_does_not_import_tensorflow():
    code = (
        "import sys, projector_tools.training.trainer, projector_tools.training.datasets, projector_tools.training.demo_corpus;"
        "print('tensorflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_vocabulary_built_from_text_with_line_breaks_still_saves_and_loads(tmp_path):
    texts = ["Great film.\nReally great.\n"] * 30 + ["Awful film.\nReally awful.\n"] * 30
    encoder = build_encoder(texts, target_vocab_size=300, progress=lambda m: None)
    save_encoder(encoder, str(tmp_path / "enc"))
    loaded = load_encoder(str(tmp_path / "enc"))
    assert loaded.subwords == encoder.subwords
    assert loaded.decode(loaded.encode(texts[0])) == texts[0]


def test_data_dir_may_point_at_the_archive_or_the_extracted_tree(tmp_path, monkeypatch):
    monkeypatch.setenv("PROJECTOR_TOOLS_IMDB_URL", _closed_port_url())
    written = _write_acl_tree(tmp_path)
    archive = tmp_path / IMDB_ARCHIVE
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "aclImdb", arcname="aclImdb")
    quiet = {"progress": lambda m: None}
    for dataset, path in [
        ("imdb_reviews/subwords8k", archive),
        ("imdb_reviews/subwords8k", tmp_path / "aclImdb"),
        ("aclimdb", archive),
        (None, tmp_path),
    ]:
        data = load_dataset(dataset, data_dir=str(path), **quiet)
        assert sorted(zip(data.train_texts, data.train_labels)) == sorted(written["train"]), (dataset, path)


def test_imdb_through_tfds_prepares_once_then_reads_the_prepared_dataset(tmp_path, monkeypatch):
    """The online path with only the network fetch replaced: the probe reaches
    a local listening socket, tfds' download returns a small aclImdb archive,
    and tfds itself prepares ``imdb_reviews/plain_text`` in the data dir."""
    import pathlib

    from tensorflow_datasets.core.download import download_manager

    written = _write_acl_tree(tmp_path / "src", n_per_class=4)
    archive = tmp_path / IMDB_ARCHIVE
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "src" / "aclImdb", arcname="aclImdb")
    fetched: list[str] = []

    def download(self, url):
        fetched.append(url)
        return pathlib.Path(archive)

    monkeypatch.setattr(download_manager.DownloadManager, "download", download)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        monkeypatch.setenv("PROJECTOR_TOOLS_IMDB_URL", f"http://127.0.0.1:{listener.getsockname()[1]}/x.tar.gz")
        data = load_dataset("imdb_reviews/subwords8k", data_dir=str(tmp_path / "tfds"), progress=lambda m: None)
    assert fetched and "aclImdb_v1.tar.gz" in fetched[0]
    assert sorted(zip(data.train_texts, data.train_labels)) == sorted(written["train"])
    assert sorted(zip(data.test_texts, data.test_labels)) == sorted(written["test"])

    # Prepared now: read again with the network closed and the download gone.
    monkeypatch.setenv("PROJECTOR_TOOLS_IMDB_URL", _closed_port_url())
    monkeypatch.setattr(download_manager.DownloadManager, "download", None)
    again = load_dataset("imdb_reviews/subwords8k", data_dir=str(tmp_path / "tfds"), progress=lambda m: None)
    assert sorted(again.test_texts) == sorted(t for t, _ in written["test"])
