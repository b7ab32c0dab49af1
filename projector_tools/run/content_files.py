"""The content-addressed files of an export: metadata TSVs, sprite PNGs, bookmarks.

Each is named by a hash of its content (``metadata-<tensor>-<hash>.tsv``,
``sprite-<tensor>-<hash>.png``, ``bookmarks-<tensor>-<hash>.json``) and written under a temporary name, then
renamed, before the run's config is switched over to name it; an
unchanged label set or sprite keeps its file.

    >>> import tempfile
    >>> from projector_tools.run.metadata import Metadata
    >>> run = tempfile.mkdtemp()
    >>> first = write_metadata(run, "embedding", Metadata.from_labels(["a", "b"]))
    >>> first == write_metadata(run, "embedding", Metadata.from_labels(["a", "b"]))
    True
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np

from projector_tools import fsio
from projector_tools.run.files import (
    bookmarks_filename,
    is_metadata_file,
    metadata_filename,
    sprite_filename,
)
from projector_tools.run.metadata import Metadata
from projector_tools.run.metadata_stream import tsv_chunks
from projector_tools.run.sprite import Sprite
from projector_tools.run.views import View, bookmarks_text, projector_columns, states


def write_metadata(logdir: str, name: str, meta: Metadata) -> str:
    """Write ``meta`` as ``metadata-<tensor>-<hash>.tsv`` in ``logdir``; return the name.

    The TSV is streamed (never held whole in memory) into a temporary file
    while being hashed; the file is then renamed to its content-addressed
    name, or dropped when a file with the same content already exists.
    """
    path_tmp = fsio.tmp_name(fsio.join(logdir, "metadata"))
    digest = hashlib.sha1()
    try:
        with fsio.open_stream(path_tmp) as out:
            for chunk in tsv_chunks(meta):
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        fsio.remove(path_tmp)
        raise
    short = digest.hexdigest()[:12]
    same = [n for n in fsio.listdir(logdir) if is_metadata_file(n, short)]
    if same:
        fsio.remove(path_tmp)
        return same[0]
    fname = metadata_filename(name, short)
    fsio.rename(path_tmp, fsio.join(logdir, fname))
    return fname


def write_sprite(logdir: str, name: str, sprite: Sprite) -> str:
    """Write ``sprite`` as ``sprite-<tensor>-<hash>.png`` in ``logdir``; return the name.

    Content-addressed like metadata: a temporary file renamed to its hash
    name (an unchanged sprite keeps its file), before the switch-over.
    """
    return _write_addressed(logdir, sprite.png, lambda short: sprite_filename(name, short))


def write_bookmarks(logdir: str, name: str, text: str) -> str:
    """Write a views file's ``text`` (:func:`projector_tools.run.views.bookmarks_text`)
    as ``bookmarks-<tensor>-<hash>.json`` in ``logdir``; return the name.

    Content-addressed like sprites: the States hold the tensor's shape, so a
    file name seen in a config always goes with a tensor of that shape.
    """
    return _write_addressed(logdir, text.encode("utf-8"), lambda short: bookmarks_filename(name, short))


def _write_addressed(logdir: str, data: bytes, filename) -> str:
    """``data`` under ``filename(<sha1 prefix>)`` in ``logdir`` (a temporary file renamed), unless there."""
    fname = filename(hashlib.sha1(data).hexdigest()[:12])
    path = fsio.join(logdir, fname)
    if not fsio.exists(path):
        tmp = fsio.tmp_name(path)
        try:
            with fsio.open_stream(tmp) as out:
                out.write(data)
        except Exception:
            fsio.remove(tmp)
            raise
        fsio.rename(tmp, path)
    return fname


def write_views(logdir: str, matrices: Mapping[str, np.ndarray], metas: Mapping[str, Metadata],
                 views: list[View]) -> dict[str, str]:
    """Write each viewed tensor's bookmarks file (:func:`write_bookmarks`, before the
    switch-over); ``{tensor: file name}``. ``views`` are checked already
    (:func:`~projector_tools.run.views.check_views`)."""
    out = {}
    for name, matrix in matrices.items():
        mine = [v for v in views if v.tensor == name]
        if mine:
            names = metas[name].names if name in metas else ()
            text = bookmarks_text(states(mine, rows=matrix.shape[0], dims=matrix.shape[1],
                                         columns=projector_columns(names) if names else (), names=names))
            out[name] = write_bookmarks(logdir, name, text)
    return out
