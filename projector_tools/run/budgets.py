"""Budgets before bytes: the one home of the limits on files the tool did not write.

Every reader of a file someone else wrote (a source, a ``--vocab`` list, a
run's metadata) knows how much it may allocate before it allocates: a
declared shape is checked against the file's real size and the Projector's
2 GB limit, decompression stops at a ceiling, one line may not be longer than
:data:`MAX_LINE_BYTES`, JSON may not nest deeper than :data:`MAX_JSON_DEPTH`,
and only regular files are opened (a FIFO would block forever). Each
refusal is one :class:`~projector_tools.errors.SourceError` line naming the
file, the limit and the way out. ``docs/design.md`` (*Hostile files*) lists
the values and why.

    >>> check_declared("v.safetensors", (3_000_000, 1000), 4, file_bytes=1 << 20)
    Traceback (most recent call last):
    ...
    projector_tools.errors.SourceError: 'v.safetensors' declares a tensor of shape (3000000, 1000) (11.2 GiB) but the file holds 1.0 MiB; the file is damaged or not what it claims to be
    >>> json_loads(b"[" * 600 + b"]" * 600, "config.json")
    Traceback (most recent call last):
    ...
    projector_tools.errors.SourceError: 'config.json' nests deeper than 256 levels; it is not a model or tokenizer file (refused, see docs/design.md 'Hostile files')
"""

from __future__ import annotations

import json
import os
import stat
import zipfile
import zlib
from typing import Any, BinaryIO

from projector_tools.errors import SourceError

#: Longest line (bytes) of a text file read line by line: a metadata TSV row,
#: a vocabulary entry, a word-vector line (which may be longer: 64 bytes per
#: declared number, see :func:`line_ceiling`). Longer lines are refused
#: before they are held whole: the 1 GiB one-line metadata file of a hostile run.
MAX_LINE_BYTES = 4 << 20
#: Deepest nesting of a JSON file (``.keras`` config.json, a legacy ``.h5``
#: ``model_config``, ``tokenizer.json``, ``added_tokens.json``). Keras configs
#: measured 12 deep, tokenizers 6; Python's parser fails near 1,000.
MAX_JSON_DEPTH = 256
#: Largest JSON file held in memory (decompressed ``config.json`` in a zip,
#: ``tokenizer.json``, a safetensors index, a run's bookmarks for ``show(view=)``):
#: the largest real tokenizer.json seen is ~35 MB; Python objects cost ~10x the
#: text. Also the ceiling for a SentencePiece ``tokenizer.model`` (read whole;
#: real ones are a few MB).
MAX_JSON_BYTES = 128 << 20
#: Largest decompressed file a zip entry (a ``.keras`` vocabulary asset) may
#: inflate to when nothing declares its size: 10x a 5M-token vocabulary.
MAX_ASSET_BYTES = 512 << 20
#: Bytes of a word-vector file read past a declared row count just to say how
#: many rows the file really has; beyond it the message says "more than".
MAX_COUNT_BYTES = 64 << 20
#: Most rows of a file whose labels are parsed one per row (a word-vector file)
#: read without ``--max-rows``: each label costs ~100 bytes of Python objects,
#: so 5,000,000 rows hold ~0.5 GB of labels. The largest published files hold
#: 3,000,000 (word2vec GoogleNews) and 2,200,000 (GloVe 840B). Without it a
#: GloVe file of 2-number rows could fill 2 GB with 268,000,000 labels (~25 GB).
MAX_LABELLED_ROWS = 5_000_000

#: Most character n-grams of fastText words composed at once (each costs ~100
#: bytes of index arrays): real models make ~30 per word, 1.5 M per 50,000-word
#: chunk; a header declaring ``maxn`` 2**31 or a word of a million characters
#: would make billions. Chunks are cut to it; one word over it alone is refused.
MAX_NGRAMS = 1 << 22

#: Largest ``projector_config.pbtxt`` parsed: protobuf's text parser runs at
#: ~2,000 entries a second on a loaded 2-core machine (200,000 repeated entries
#: took minutes) and ``doctor --fix`` parses a config five times; a real config
#: lists a few tensors in well under 100 KB. At 4 MiB (52,000 entries) ``doctor
#: --fix`` ran past 120 s under strace on a loaded machine; 1 MiB is ~13,000.
MAX_CONFIG_BYTES = 1 << 20

#: Largest small state file of a run or a source folder read before the tool
#: writes it again: a ``checkpoint`` state file (TensorFlow's
#: ``latest_checkpoint`` reads and text-parses it whole: 1 GiB peaked at 6.8 GB;
#: a real one names a few checkpoints, ~60 bytes each, so 1 MiB holds ~15,000),
#: a run's lock file (~200 bytes), a training run's ``run.json`` (~2 KB).
MAX_STATE_BYTES = 1 << 20


def check_config_size(path: str) -> None:
    """Refuse a run config over :data:`MAX_CONFIG_BYTES` before it is parsed."""
    try:
        size = os.stat(path).st_size if "://" not in path else 0
    except OSError:
        return
    if size > MAX_CONFIG_BYTES:
        raise SourceError(f"{path!r} is {_human(size)}, over the {_human(MAX_CONFIG_BYTES)} ceiling for a "
                          "projector config (a real one lists a few tensors); refused")


_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def special_kind(path: str) -> str | None:
    """What ``path`` is when it is neither a regular file nor a directory (a FIFO,
    a device, a socket), else None. Remote (``scheme://``) paths are never special.

        >>> special_kind("/dev/null"), special_kind("/etc")
        ('a character device', None)
    """
    if "://" in path:
        return None
    try:
        mode = os.stat(os.path.expanduser(path)).st_mode
    except OSError:
        return None  # missing or unreadable: the reader's own error says so
    return next((what for test, what in _KINDS if test(mode)), None)


def require_regular(path: str, what: str = "file") -> str:
    """``path``, or a :class:`SourceError` when it is a FIFO, device or socket
    (opening one blocks or reads forever). Checked with ``stat``, before any open."""
    kind = special_kind(path)
    if kind is not None:
        raise SourceError(f"{what} {path!r} is {kind}, not a regular file; only regular files are read "
                          "(a pipe or device could block or never end)")
    return path


def check_labelled_rows(path: str, rows: int) -> None:
    """Refuse ``rows`` labelled rows over :data:`MAX_LABELLED_ROWS` (called with a
    header's count before parsing, and as a headerless file grows past it)."""
    if rows > MAX_LABELLED_ROWS:
        raise SourceError(f"{path!r} has more than {MAX_LABELLED_ROWS:,} rows (the ceiling for a file read "
                          f"without --max-rows, its labels alone would fill memory); pass --max-rows N "
                          "to read its first N rows")


def label_lines(rows: int | None = None) -> int:
    """Most lines a file of labels may hold: a header and one per row of its
    tensor, and never fewer than :data:`MAX_LABELLED_ROWS` (so a run's own large
    tensors stay readable). Counted while reading, before the file is held whole."""
    return max(MAX_LABELLED_ROWS, int(rows or 0)) + 1


def over_ceiling(path: str, size: int, limit: int) -> SourceError:
    return SourceError(f"{path!r} is {_human(size)}, over the {_human(limit)} ceiling for it; refused before "
                       "it was read (see docs/design.md 'Hostile files')")


def too_many_lines(path: str, limit: int) -> SourceError:
    return SourceError(f"{path!r} has more than {limit:,} lines, the ceiling for a file of labels or rows "
                       "(one per row of its tensor, at least 5,000,000); refused before it was held whole "
                       "(see docs/design.md 'Hostile files')")


def line_ceiling(dims: int = 0) -> int:
    """Longest accepted line: :data:`MAX_LINE_BYTES`, or 64 bytes per declared number when more."""
    return max(MAX_LINE_BYTES, 64 * int(dims) + 4096)


def line_too_long(path: str, limit: int) -> SourceError:
    return SourceError(f"{path!r} has a line longer than {limit >> 20} MiB (the ceiling for one line); "
                       "it is not a text file of labels, vectors or inputs (see docs/design.md 'Hostile files')")


def _human(nbytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if nbytes < 1024 or unit == "GiB":
            return f"{nbytes:.1f} {unit}" if unit != "B" else f"{int(nbytes)} B"
        nbytes /= 1024
    return f"{nbytes:.1f} TiB"  # pragma: no cover


def check_declared(path: str, shape: tuple[int, ...], itemsize: int, file_bytes: int) -> None:
    """Refuse a declared tensor whose bytes cannot be in a file of ``file_bytes``."""
    need = int(itemsize)
    for dim in shape:
        if int(dim) < 0:
            raise SourceError(f"{path!r} declares a negative dimension in shape {tuple(shape)}")
        need *= int(dim)
    if need > file_bytes:
        raise SourceError(
            f"{path!r} declares a tensor of shape {tuple(int(d) for d in shape)} ({_human(need)}) but the "
            f"file holds {_human(file_bytes)}; the file is damaged or not what it claims to be")


def read_capped(stream: BinaryIO, limit: int, path: str, what: str) -> bytes:
    """All of ``stream`` (a decompressing one included), or a :class:`SourceError`
    as soon as more than ``limit`` bytes come out: decompression never runs past it."""
    chunks, total = [], 0
    while True:
        chunk = stream.read(min(1 << 20, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise SourceError(f"{what} in {path!r} inflates past {_human(limit)}, the ceiling for it; "
                              "refused (a decompression bomb, or not the file it claims to be)")


def read_zip_entry(zf: Any, name: str, limit: int, path: str, out: BinaryIO | None = None) -> bytes:
    """Entry ``name`` of zip ``zf``, refused when its declared size is over ``limit``
    and cut off when it inflates past it (the declared size may lie). With
    ``out``, the bytes are streamed there and ``b""`` is returned."""
    declared = zf.getinfo(name).file_size
    if declared > limit:
        raise SourceError(f"{name} in {path!r} declares {_human(declared)}, over the {_human(limit)} "
                          "ceiling for it; refused (see docs/design.md 'Hostile files')")
    try:
        return _stream_entry(zf, name, limit, path, out)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise SourceError(f"{name} in {path!r} is damaged ({exc})") from None


def _stream_entry(zf: Any, name: str, limit: int, path: str, out: BinaryIO | None) -> bytes:
    with zf.open(name) as src:
        if out is None:
            return read_capped(src, limit, path, name)
        total = 0
        while True:
            chunk = src.read(1 << 20)
            if not chunk:
                return b""
            total += len(chunk)
            if total > limit:
                raise SourceError(f"{name} in {path!r} inflates past {_human(limit)}, the ceiling for it; "
                                  "refused (a decompression bomb, or not the file it claims to be)")
            out.write(chunk)


def read_dataset(dataset: Any, path: str, max_rows: int | None = None) -> Any:
    """The first ``max_rows`` rows (all without it) of an HDF5 dataset, after checking
    the shape read against the 2 GB limit and what the file really stores."""
    import numpy as np

    from projector_tools.run.matrix import check_size

    shape = tuple(int(d) for d in dataset.shape)
    if dataset.compression is None and dataset.chunks is None:
        check_declared(f"{path}:{dataset.name}", shape, dataset.dtype.itemsize,
                       int(dataset.id.get_storage_size()))
    if shape and max_rows is not None and 0 < max_rows < shape[0]:
        shape = (int(max_rows),) + shape[1:]
    check_size(shape, str(dataset.name))
    return np.asarray(dataset[: shape[0]] if shape else dataset[()])


def json_depth(value: Any) -> int:
    """Nesting depth of parsed JSON, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, depth)
            if depth > MAX_JSON_DEPTH:
                return depth
            stack.extend((v, depth + 1) for v in (node.values() if isinstance(node, dict) else node))
    return deepest


def json_loads(data: bytes | str, what: str) -> Any:
    """``json.loads`` within :data:`MAX_JSON_BYTES` and :data:`MAX_JSON_DEPTH`; any
    failure is one :class:`SourceError` naming ``what``."""
    if len(data) > MAX_JSON_BYTES:
        raise SourceError(f"{what!r} is {_human(len(data))}, over the {_human(MAX_JSON_BYTES)} ceiling for "
                          "a JSON file; refused (see docs/design.md 'Hostile files')")
    deep = SourceError(f"{what!r} nests deeper than {MAX_JSON_DEPTH} levels; it is not a model or "
                       "tokenizer file (refused, see docs/design.md 'Hostile files')")
    try:
        value = json.loads(data)
    except RecursionError:
        raise deep from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise SourceError(f"{what!r} is not valid JSON ({exc})") from None
    if json_depth(value) > MAX_JSON_DEPTH:
        raise deep
    return value


def check_token_ids(ids: list[int], rows: int | None, what: str) -> None:
    """Refuse a token id that is negative or (when ``rows`` is known) past the embedding's rows."""
    if not ids:
        return
    low, high = min(ids), max(ids)
    if low < 0:
        raise SourceError(f"{what!r} gives token id {low}: ids are row numbers and cannot be negative")
    if rows is not None and high >= rows:
        raise SourceError(f"{what!r} gives token id {high:,} but the embedding has {rows:,} rows; "
                          "the tokenizer is not this model's (ids must be row numbers)")


__all__ = [
    "MAX_ASSET_BYTES", "MAX_COUNT_BYTES", "MAX_JSON_BYTES", "MAX_JSON_DEPTH", "MAX_LINE_BYTES", "MAX_NGRAMS",
    "MAX_STATE_BYTES",
    "check_declared", "check_token_ids", "json_loads", "line_ceiling", "line_too_long",
    "read_capped", "read_dataset", "read_zip_entry", "require_regular", "special_kind",
]
