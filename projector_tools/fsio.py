"""File I/O at the edge, through ``tf.io.gfile`` (local, ``gs://``, ``ram://``...).

Writes are atomic where the filesystem allows it: the bytes go to a
temporary name beside the target, which is then renamed over it, so a
reader sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import posixpath
import uuid

from projector_tools.errors import LogdirError

TMP_MARK = ".tmp-pt-"


def gfile():
    import tensorflow as tf  # imported lazily: importing TF takes seconds

    return tf.io.gfile


def is_remote(path: str) -> bool:
    """True for ``scheme://`` paths (``gs://``, ``ram://``, ``s3://``...)."""
    return "://" in path


def join(base: str, *parts: str) -> str:
    """Join path parts; ``posixpath`` for URLs, ``os.path`` otherwise."""
    if is_remote(base):
        return posixpath.join(base, *parts)
    import os

    return os.path.join(base, *parts)


def basename(path: str) -> str:
    return posixpath.basename(path.rstrip("/")) if is_remote(path) else __import__("os").path.basename(path)


def exists(path: str) -> bool:
    return gfile().exists(path)


def isdir(path: str) -> bool:
    return gfile().isdir(path)


def listdir(path: str) -> list[str]:
    try:
        return [name.rstrip("/") for name in gfile().listdir(path)]
    except Exception:  # noqa: BLE001 - NotFoundError and friends
        return []


def read_bytes(path: str) -> bytes:
    with gfile().GFile(path, "rb") as f:
        return f.read()


def open_read(path: str):
    """A binary file object to stream ``path``: ``open`` for local paths (several
    times faster than ``GFile`` on large reads), ``GFile`` for ``scheme://`` ones."""
    if is_remote(path):
        return gfile().GFile(path, "rb")
    return open(path, "rb")


def read_text(path: str) -> str:
    return read_bytes(path).decode("utf-8")


def remove(path: str) -> None:
    try:
        gfile().remove(path)
    except Exception:  # noqa: BLE001 - already gone is fine
        pass


def ensure_dir(path: str) -> None:
    """Create ``path`` (and parents) or raise :class:`LogdirError` saying why."""
    g = gfile()
    if g.exists(path) and not g.isdir(path):
        raise LogdirError(
            f"logdir {path!r} is a file, not a directory; pass a directory path "
            "(it is created if missing)"
        )
    try:
        g.makedirs(path)
    except Exception as exc:  # noqa: BLE001
        raise LogdirError(
            f"cannot create logdir {path!r}: {_reason(exc)}; choose a writable location"
        ) from None
    probe = join(path, f"{TMP_MARK}probe-{uuid.uuid4().hex}")
    try:
        with g.GFile(probe, "wb") as f:
            f.write(b"")
    except Exception as exc:  # noqa: BLE001
        raise LogdirError(
            f"logdir {path!r} is not writable: {_reason(exc)}; fix its permissions "
            "or choose another directory"
        ) from None
    remove(probe)


def _reason(exc: Exception) -> str:
    msg = getattr(exc, "message", None) or str(exc)
    return msg.strip().splitlines()[0] if msg.strip() else type(exc).__name__


def atomic_write(path: str, data: bytes | str) -> None:
    """Write ``data`` to ``path`` via a temporary file and a rename."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    g = gfile()
    tmp = f"{path}{TMP_MARK}{uuid.uuid4().hex}"
    try:
        with g.GFile(tmp, "wb") as f:
            f.write(data)
        g.rename(tmp, path, overwrite=True)
    except Exception as exc:  # noqa: BLE001
        remove(tmp)
        raise LogdirError(f"cannot write {path!r}: {_reason(exc)}") from None


def open_stream(path: str):
    """Open ``path`` (any TensorFlow filesystem) for streaming ``bytes`` writes.

        >>> with open_stream("ram://x/data.bin") as out:
        ...     out.write(b"abc")
    """
    try:
        return gfile().GFile(path, "wb")
    except Exception as exc:  # noqa: BLE001
        raise LogdirError(f"cannot write {path!r}: {_reason(exc)}") from None


def rename(src: str, dst: str) -> None:
    """Rename ``src`` over ``dst`` (atomic on local filesystems: rename(2))."""
    gfile().rename(src, dst, overwrite=True)


def tmp_name(path: str) -> str:
    """A fresh temporary name beside ``path`` (cleaned up by the next export)."""
    return f"{path}{TMP_MARK}{uuid.uuid4().hex}"
