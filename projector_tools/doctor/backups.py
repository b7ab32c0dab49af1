"""``doctor --fix`` never deletes a user's file: what it replaces stays beside it.

    saved = backup("runs/imdb/projector_config.pbtxt")
    # saved == "runs/imdb/projector_config.pbtxt.bak-<UTC time>"
"""

from __future__ import annotations

import time

from projector_tools import fsio


def backup(path: str) -> str:
    """Copy ``path`` to ``path.bak-<UTC time>`` (never overwriting); return the copy."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = f"{path}.bak-{stamp}"
    k = 1
    while fsio.exists(target):
        target = f"{path}.bak-{stamp}-{k}"
        k += 1
    fsio.gfile().copy(path, target, overwrite=False)
    return target


def move_aside(path: str) -> str:
    """Rename ``path`` to a backup name (the file stays, under another name)."""
    target = backup(path)
    fsio.remove(path)
    return target
