"""File I/O at the edge, through ``tf.io.gfile`` (local, ``gs://``, ``ram://``...).

Writes are atomic where the filesystem allows it: the bytes go to a
temporary name beside the target, which is then renamed over it, so a
reader sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import os
import posixpath
import uuid

from projector_tools.errors import LogdirError

TMP_MARK = ".tmp-pt-"


def gfile():
    import tensorflow as tf  # imported lazily: importing TF takes seconds

    return tf.io.gfile


def errors():
    """``tf.errors``: ``OpError`` and its subclasses, raised by every gfile call."""
    import tensorflow as tf

    return tf.errors


def is_remote(path: str) -> bool:
    """True for ``scheme://`` paths (``gs://``, ``ram://``, ``s3://``...)."""
    return "://" in path


def join(base: str, *parts: str) -> str:
    """Join path parts; ``posixpath`` for URLs, ``os.path`` otherwise."""
    if is_remote(base):
        return posixpath.join(base, *parts)
    return os.path.join(base, *parts)


def basename(path: str) -> str:
    return posixpath.basename(path.rstrip("/")) if is_remote(path) else os.path.basename(path)


def dirname(path: str) -> str:
    """The directory part of ``path``; ``posixpath`` for URLs, ``os.path`` otherwise."""
    return posixpath.dirname(path) if is_remote(path) else os.path.dirname(path)


def normpath(path: str) -> str:
    """``path`` with ``..``, ``.`` and doubled separators resolved (no symlinks);
    ``posixpath`` after the ``scheme://`` of a URL."""
    if is_remote(path):
        scheme, rest = path.split("://", 1)
        return scheme + "://" + posixpath.normpath(rest)
    return os.path.normpath(path)


def is_absolute(path: str) -> bool:
    """True for a ``scheme://`` URL or an absolute local path (``~`` expanded).

    >>> is_absolute("gs://bucket/logdir"), is_absolute("/data/runs"), is_absolute("~/runs"), is_absolute("runs/a")
    (True, True, True, False)
    """
    return is_remote(path) or os.path.isabs(os.path.expanduser(path))


def relpath(path: str, start: str) -> str:
    """``path`` relative to ``start``; ``posixpath`` after the ``scheme://`` of URLs.

    >>> relpath("gs://bucket/logdir/imdb/train", "gs://bucket/logdir")
    'imdb/train'
    >>> relpath("runs/imdb", "runs")
    'imdb'
    """
    if is_remote(path):
        return posixpath.relpath(path.split("://", 1)[1], start.split("://", 1)[1])
    return os.path.relpath(path, start)


def parent_dir(path: str) -> str:
    """The directory above ``path``, resolved lexically (:func:`normpath`, no symlinks).

    >>> parent_dir("ram://logdir/imdb/"), parent_dir("runs/imdb")
    ('ram://logdir', 'runs')
    """
    return normpath(join(path, os.pardir))


def absolute(path: str) -> str:
    """``path`` made absolute against the working directory (URLs are already)."""
    return path if is_remote(path) else os.path.abspath(path)


def makedirs(path: str) -> None:
    """Create directory ``path`` and its parents (fine when it exists); a
    failure is a :class:`LogdirError` naming the path and the cause."""
    try:
        gfile().makedirs(path)
    except errors().OpError as exc:
        raise LogdirError(f"cannot create directory {path!r}: {reason(exc)}") from exc


def exists(path: str) -> bool:
    """Whether ``path`` exists; a failure to find out (permission, network,
    unknown scheme) is a :class:`LogdirError` naming the cause."""
    try:
        return gfile().exists(path)
    except errors().OpError as exc:
        raise LogdirError(f"cannot access {path!r}: {reason(exc)}") from exc


def isdir(path: str) -> bool:
    return gfile().isdir(path)


def listdir(path: str, *, missing_ok: bool = False) -> list[str]:
    """Names in directory ``path``.

    A directory that does not exist is ``[]`` with ``missing_ok=True`` and a
    :class:`LogdirError` otherwise; every other failure (not a directory,
    permission denied, an unreachable or unknown filesystem) is a
    :class:`LogdirError` that names the path and the cause, chained to it.

        >>> listdir("runs/demo/train", missing_ok=True)
        []
    """
    g = gfile()
    try:
        return [name.rstrip("/") for name in g.listdir(path)]
    except errors().NotFoundError as exc:
        # gfile.listdir reports *every* failed directory check as "not found";
        # stat says what really happened (missing, not a directory, scheme...).
        cause = _stat_failure(path)
        if cause is None:
            if missing_ok:
                return []
            raise LogdirError(f"cannot list {path!r}: it does not exist") from exc
        raise LogdirError(f"cannot list {path!r}: {reason(cause)}") from cause
    except errors().OpError as exc:
        raise LogdirError(f"cannot list {path!r}: {reason(exc)}") from exc


def _stat_failure(path: str) -> Exception | None:
    """Why ``path`` cannot be listed, or None when it simply does not exist."""
    try:
        if gfile().stat(path).is_directory:
            return None  # it appeared since: report "not found" of the listing
    except errors().NotFoundError:
        return None
    except errors().OpError as exc:
        return exc
    return NotADirectoryError(f"{path} is a file, not a directory")


def stat(path: str) -> tuple[int, int] | None:
    """``(size in bytes, mtime in ns)`` of file ``path``, or None where it is
    missing or cannot be read: a cheap fingerprint of a file's content.

        >>> atomic_write("ram://x/s.txt", "abc")
        >>> stat("ram://x/s.txt")[0], stat("ram://x/none")
        (3, None)
    """
    try:
        info = gfile().stat(path)
    except errors().OpError:
        return None
    return int(info.length), int(info.mtime_nsec)


def read_bytes(path: str, *, max_line: int | None = None, max_lines: int | None = None,
               limit: int | None = None) -> bytes:
    """The bytes of ``path``. A missing file raises ``tf.errors.NotFoundError``
    (for callers that expect it may be absent); any other failure a
    :class:`LogdirError` naming the path and the cause. A FIFO, device or
    socket is refused before it is opened (``budgets.require_regular``);
    with ``max_line``, a line longer than that many bytes is refused while
    reading, before the file is held whole, and with ``max_lines`` (which
    needs ``max_line``) so is a file of more lines (``budgets.label_lines``);
    with ``limit``, a file of more bytes is refused by its size before it is
    read (and never read past ``limit`` if it grows)."""
    from projector_tools.run.budgets import over_ceiling, require_regular

    require_regular(path)
    try:
        size = gfile().stat(path).length if limit is not None else 0
        if limit is not None and size > limit:
            raise over_ceiling(path, size, limit)
        with gfile().GFile(path, "rb") as f:
            if max_line is not None:
                return _read_lines_within(f, path, max_line, max_lines)
            data = f.read() if limit is None else f.read(limit + 1)
            if limit is not None and len(data) > limit:
                raise over_ceiling(path, len(data), limit)
            return data
    except errors().NotFoundError:
        raise
    except errors().OpError as exc:
        raise LogdirError(f"cannot read {path!r}: {reason(exc)}") from exc


def _read_lines_within(f, path: str, max_line: int, max_lines: int | None = None) -> bytes:
    """All of ``f``, refusing a line over ``max_line`` bytes, or more than
    ``max_lines`` lines, as soon as it shows.

    Chunks are at most ``max_line`` long, so a line inside one cannot be too
    long: only the line that crosses chunk boundaries is counted."""
    from projector_tools.run.budgets import line_too_long, too_many_lines

    chunks: list[bytes] = []
    run = lines = 0  # bytes since the last newline; newlines so far
    while True:
        chunk = f.read(max(1, min(max_line, 8 << 20)))
        if not chunk:
            return b"".join(chunks)
        last = chunk.rfind(b"\n")
        if last < 0:
            run += len(chunk)
        else:
            if run + chunk.find(b"\n") > max_line:
                raise line_too_long(path, max_line)
            run = len(chunk) - last - 1
        if run > max_line:
            raise line_too_long(path, max_line)
        lines += chunk.count(b"\n")
        if max_lines is not None and lines > max_lines:
            raise too_many_lines(path, max_lines)
        chunks.append(chunk)


def open_read(path: str):
    """A binary file object to stream ``path``: ``open`` for local paths (several
    times faster than ``GFile`` on large reads), ``GFile`` for ``scheme://`` ones.
    A FIFO, device or socket is refused before it is opened."""
    from projector_tools.run.budgets import require_regular

    require_regular(path)
    if is_remote(path):
        return gfile().GFile(path, "rb")
    return open(path, "rb")


def read_text(path: str) -> str:
    return read_bytes(path).decode("utf-8")


def split_lines(text: str, *, strip_cr: bool = False) -> list[str]:
    """Lines of ``text`` split on ``\\n`` (the Projector's rule), the empty one after a final newline dropped.

    >>> split_lines("a\\nb\\r\\n")
    ['a', 'b\\r']
    >>> split_lines("a\\nb\\r\\n", strip_cr=True)
    ['a', 'b']
    >>> split_lines("")
    []
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if strip_cr:
        lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    return lines


def remove(path: str) -> None:
    """Delete file ``path``; one already gone is fine, any other failure raises
    :class:`LogdirError` naming the cause."""
    try:
        gfile().remove(path)
    except errors().NotFoundError:
        pass
    except errors().OpError as exc:
        raise LogdirError(f"cannot remove {path!r}: {reason(exc)}") from exc


def ensure_dir(path: str) -> None:
    """Create ``path`` (and parents) or raise :class:`LogdirError` saying why."""
    g = gfile()
    if exists(path) and not g.isdir(path):
        raise LogdirError(
            f"logdir {path!r} is a file, not a directory; pass a directory path "
            "(it is created if missing)"
        )
    try:
        g.makedirs(path)
    except errors().OpError as exc:
        raise LogdirError(
            f"cannot create logdir {path!r}: {reason(exc)}; choose a writable location"
        ) from exc
    probe = join(path, f"{TMP_MARK}probe-{uuid.uuid4().hex}")
    try:
        with g.GFile(probe, "wb") as f:
            f.write(b"")
    except errors().OpError as exc:
        raise LogdirError(
            f"logdir {path!r} is not writable: {reason(exc)}; fix its permissions "
            "or choose another directory"
        ) from exc
    remove(probe)


def reason(exc: BaseException) -> str:
    """The first line of an exception's message, for one-line error messages."""
    msg = getattr(exc, "message", None) or str(exc)
    return msg.strip().splitlines()[0] if msg.strip() else type(exc).__name__


def atomic_write(path: str, data: bytes | str, *, tmp: str | None = None) -> None:
    """Write ``data`` to ``path`` via a temporary file and a rename.

    The temporary file is a fresh name beside ``path`` (:func:`tmp_name`), or
    ``tmp`` where the caller needs a fixed one (a name an interrupted write may
    leave behind without harm, such as a dot name).

        >>> atomic_write("ram://x/run.json", "{}\\n", tmp="ram://x/.run.json.tmp")
        >>> read_text("ram://x/run.json"), exists("ram://x/.run.json.tmp")
        ('{}\\n', False)
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    g = gfile()
    tmp = tmp if tmp is not None else tmp_name(path)
    try:
        with g.GFile(tmp, "wb") as f:
            f.write(data)
        g.rename(tmp, path, overwrite=True)
    except errors().OpError as exc:
        remove(tmp)
        raise LogdirError(f"cannot write {path!r}: {reason(exc)}") from exc


def open_stream(path: str):
    """Open ``path`` (any TensorFlow filesystem) for streaming ``bytes`` writes.

        >>> with open_stream("ram://x/data.bin") as out:
        ...     out.write(b"abc")
    """
    try:
        return gfile().GFile(path, "wb")
    except errors().OpError as exc:
        raise LogdirError(f"cannot write {path!r}: {reason(exc)}") from exc


def write_bytes(path: str, data: bytes | str) -> None:
    """Write ``data`` to ``path`` as it is (no temporary: for files inside a
    folder that is itself renamed into place when complete)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    try:
        with gfile().GFile(path, "wb") as f:
            f.write(data)
    except errors().OpError as exc:
        raise LogdirError(f"cannot write {path!r}: {reason(exc)}") from exc


def copy_stream(src: str, dst: str, chunk: int = 1 << 20) -> None:
    """Copy file ``src`` to ``dst`` in ``chunk``-byte pieces (never held whole);
    ``src`` is refused if it is not a regular file (:func:`open_read`)."""
    try:
        with open_read(src) as f, gfile().GFile(dst, "wb") as out:
            while data := f.read(chunk):
                out.write(data)
    except (OSError, errors().OpError) as exc:
        raise LogdirError(f"cannot copy {src!r} to {dst!r}: {reason(exc)}") from exc


def rmtree(path: str) -> None:
    """Delete the folder ``path`` and everything in it; one already gone is fine."""
    try:
        gfile().rmtree(path)
    except errors().NotFoundError:
        pass
    except errors().OpError as exc:
        raise LogdirError(f"cannot remove {path!r}: {reason(exc)}") from exc


def rename(src: str, dst: str) -> None:
    """Rename ``src`` over ``dst`` (atomic on local filesystems: rename(2))."""
    gfile().rename(src, dst, overwrite=True)


def tmp_name(path: str) -> str:
    """A fresh temporary name beside ``path`` (cleaned up by the next export)."""
    return f"{path}{TMP_MARK}{uuid.uuid4().hex}"
