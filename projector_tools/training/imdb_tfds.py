"""IMDB reviews for ``imdb_reviews/subwords8k``, through tensorflow-datasets.

The seed notebook's dataset, rebuilt on tensorflow-datasets 4.9.x (which no
longer ships that config): the IMDB text of ``imdb_reviews/plain_text``
(train and test splits), encoded later with a ``SubwordTextEncoder`` built
from the train split (``target_vocab_size=2**13``, see
:func:`projector_tools.training.datasets.build_encoder`). Found, in this order: an
already prepared tfds dataset in the data dir; ``aclImdb_v1.tar.gz`` or an
extracted ``aclImdb/`` in ``<data_dir>/downloads/manual`` (or the data dir
itself, or ``--data-dir`` pointing at either; read by
:mod:`projector_tools.training.aclimdb`); else a tfds download, only after a short
reachability probe of the download host, so that offline it fails in
seconds with :class:`~projector_tools.errors.DatasetUnavailableError`.

Example (needs the IMDB data, or the network to download it)::

    data = load_imdb_tfds()          # ~/tensorflow_datasets, or $TFDS_DATA_DIR
    data.summary()   # 'imdb_reviews/subwords8k: 25000 train reviews (12500 positive), ...'
"""

from __future__ import annotations

import os
import socket
import threading
import urllib.parse
import urllib.request

from projector_tools.training.aclimdb import load_aclimdb, looks_like_aclimdb
from projector_tools.errors import DatasetUnavailableError, SourceError
from projector_tools.process import voice
from projector_tools.training.text_data import Progress, TextData, clean_review

__all__ = ["IMDB_ALIASES", "IMDB_ARCHIVE", "IMDB_URL", "default_tfds_data_dir", "load_imdb_tfds"]

IMDB_ALIASES = ("imdb_reviews/subwords8k", "imdb_reviews", "imdb_reviews/plain_text")
IMDB_URL = "http://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
IMDB_ARCHIVE = "aclImdb_v1.tar.gz"
# Overridable so that tests can point the download at a closed local port.
_URL_ENV = "PROJECTOR_TOOLS_IMDB_URL"
PROBE_TIMEOUT_S = 4.0


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


def load_imdb_tfds(data_dir: str | None = None, progress: Progress = voice.say) -> TextData:
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
