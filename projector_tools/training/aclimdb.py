"""The aclImdb reviews: an extracted ``aclImdb/`` directory or its ``.tar.gz``.

The layout of the Stanford Large Movie Review Dataset (``aclImdb_v1.tar.gz``):
``train/pos``, ``train/neg``, ``test/pos`` and ``test/neg`` hold one review
per ``*.txt`` file; the folder is the label. ``train`` becomes the training
split and ``test`` the validation split (as in the seed notebook); ``unsup``
is ignored. The path may be the ``aclImdb/`` directory, its parent, or the
tar archive (``.tar.gz``, ``.tgz``, ``.tar``).

    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> for split, label, text in [("train", "pos", "Great!<br />Loved it."),
    ...                            ("train", "neg", "Dull."), ("test", "pos", "Fine.")]:
    ...     os.makedirs(os.path.join(root, "aclImdb", split, label))
    ...     with open(os.path.join(root, "aclImdb", split, label, "0_7.txt"), "w") as f:
    ...         _ = f.write(text)
    >>> os.makedirs(os.path.join(root, "aclImdb", "test", "neg"))
    >>> looks_like_aclimdb(root)
    True
    >>> data = load_aclimdb(root, progress=lambda message: None)
    >>> data.train_texts, data.train_labels, data.test_texts
    (['Great! Loved it.', 'Dull.'], [1, 0], ['Fine.'])
"""

from __future__ import annotations

import os
import re
import tarfile
import time

from projector_tools import fsio
from projector_tools.errors import SourceError
from projector_tools.process import voice
from projector_tools.run.budgets import MAX_LINE_BYTES, read_capped
from projector_tools.run.containment import inside_logdir
from projector_tools.training.text_data import Progress, TextData, clean_review

__all__ = ["load_aclimdb", "looks_like_aclimdb"]

_ACL_RE = re.compile(r"(?:^|/)(train|test)/(pos|neg)/[^/]+\.txt$")


def _find_acl_root(path: str) -> str | None:
    """The directory holding ``train/`` and ``test/`` at or just below ``path``."""
    for cand in (path, os.path.join(path, "aclImdb")):
        if os.path.isdir(os.path.join(cand, "train", "pos")) and os.path.isdir(os.path.join(cand, "test", "pos")):
            return cand
    return None


def _is_archive(path: str) -> bool:
    return os.path.isfile(path) and path.lower().endswith((".tar.gz", ".tgz", ".tar"))


def _read_review(path: str, root: str) -> bytes:
    """One review file, within the budgets: a FIFO hung ``train`` and a 2 GiB file
    was read whole (past 60 s); a symlink out of ``root`` would put a file
    elsewhere into the run's vocabulary and labels."""
    if not inside_logdir(path, root):
        raise SourceError(f"review file {path!r} leads outside {root!r} (a symlink); it is not read "
                          "(copy the file into the folder)")
    return fsio.read_bytes(path, limit=MAX_LINE_BYTES)


def looks_like_aclimdb(path: str) -> bool:
    """True for an ``aclImdb`` directory (or its parent) or a tar archive."""
    return _is_archive(path) or _find_acl_root(path) is not None


def load_aclimdb(path: str, progress: Progress = voice.say) -> TextData:
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
                            add(info.name, read_capped(f, MAX_LINE_BYTES, path, info.name))
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
                        add(f"{split}/{label}/{name}", _read_review(os.path.join(folder, name), root))
    # Archive order is by folder; keep it (the trainer shuffles).
    return TextData(
        "aclImdb",
        splits["train"][0],
        splits["train"][1],
        splits["test"][0],
        splits["test"][1],
        source=path,
    )

