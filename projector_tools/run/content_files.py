"""The content-addressed files of an export: metadata TSVs and sprite PNGs.

Each is named by a hash of its content (``metadata-<tensor>-<hash>.tsv``,
``sprite-<tensor>-<hash>.png``) and written under a temporary name, then
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

from projector_tools import fsio
from projector_tools.run.files import is_metadata_file, metadata_filename, sprite_filename
from projector_tools.run.metadata import Metadata
from projector_tools.run.metadata_stream import tsv_chunks
from projector_tools.run.sprite import Sprite


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
    short = hashlib.sha1(sprite.png).hexdigest()[:12]
    fname = sprite_filename(name, short)
    path = fsio.join(logdir, fname)
    if not fsio.exists(path):
        tmp = fsio.tmp_name(path)
        try:
            with fsio.open_stream(tmp) as out:
                out.write(sprite.png)
        except Exception:
            fsio.remove(tmp)
            raise
        fsio.rename(tmp, path)
    return fname

