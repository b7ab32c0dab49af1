r"""The run's config and ``checkpoint`` state file: read, and switched over atomically.

TensorBoard reads ``projector_config.pbtxt`` and the state file
independently, so one export's switch-over is a sequence of renames
(:func:`switch`), with a :func:`transitional_config` in front of it when
labels change (see :func:`projector_tools.run.writer.write_run`). A file
never gets shorter than the one it replaces (:func:`never_shorter`).

    >>> never_shorter("a\n", 5)
    b'a   \n'
"""

from __future__ import annotations

from projector_tools import fsio
from projector_tools.run.budgets import MAX_LINE_BYTES, check_config_size
from projector_tools.errors import LogdirError, SourceError
from projector_tools.run.config import CONFIG_FILENAME, config_text, parse_config, sprite_of

__all__ = ["SWITCH_GRACE_S", "switch", "transitional_config", "old_names", "never_shorter",
           "file_size", "write_tmp", "read_run_config"]

# Pause between the transitional config and the state file's switch: a reader
# that read the old config just before must have read the state file (the
# old checkpoint) by then, so the old labels never meet the new checkpoint.
# 50 ms let 2 of 5,734 reads through mismatched with two test suites running
# on 2 cores (tests/test_concurrency.py); a reader stalled longer than this
# between its two reads can still pair them wrongly.
SWITCH_GRACE_S = 0.25


def old_names(logdir: str, old_rel: str) -> list[str]:
    """The tensor names of the export ``old_rel`` in ``logdir`` (empty if unreadable)."""
    from projector_tools.run.checkpoint import checkpoint_shapes

    try:
        return list(checkpoint_shapes(fsio.join(logdir, old_rel)))
    except SourceError:  # an unreadable old export: nothing to keep
        return []


def transitional_config(
    old_text: str | None, entries: list[tuple], old_names: set[str],
) -> str:
    """The config that is consistent with both the old and the new checkpoint.

    Tensors in both exports keep their metadata only where it is the very
    same file in the old config (same labels, hence same rows); the others
    are listed without metadata. Tensors only in one export are left out
    (TensorBoard lists checkpoint tensors missing from the config unlabelled).
    Sprites and bookmarks (``(name, metadata, sprite[, bookmarks])`` entries)
    follow the same rule as metadata (one image per row; views of that shape).
    """
    old: dict[str, tuple] = {}
    if old_text:
        from google.protobuf import text_format

        try:
            old = {e.tensor_name: (e.metadata_path, sprite_of(e), e.bookmarks_path)
                   for e in parse_config(old_text).embeddings}
        except text_format.ParseError:  # a config edited by hand: keep no labels
            old = {}
    kept = []
    for entry in entries:
        name, fields = entry[0], (tuple(entry[1:]) + (None, None, None))[:3]
        if name in old_names:
            before = old.get(name, (None, None, None))
            kept.append((name, *(new if new and before[i] == new else None
                                 for i, new in enumerate(fields))))
    return config_text(kept)


def switch(logdir: str, steps: list[tuple[str, str]], sizes: dict[str, int]) -> None:
    """Write each ``(target, text)`` to a temporary file, then rename them in order.

    A file never gets shorter than the one it replaces: TensorFlow's
    ``GFile.read()`` (how TensorBoard reads both files) opens the file, then
    takes the length to read from a stat *by name*, so a shorter file renamed
    in between would cut the old content short (measured: a truncated state
    file, "Checkpoint ignored"). Trailing spaces keep the length; the text
    format ignores them. ``sizes`` tracks the current length of each target.
    """
    tmps = []
    planned = dict(sizes)
    try:
        for target, body in steps:
            data = never_shorter(body, planned[target])
            planned[target] = len(data)  # the next step's file follows this one
            tmps.append((write_tmp(target, data), target, len(data)))
        for tmp, target, size in tmps:
            fsio.rename(tmp, target)
            sizes[target] = size
    except fsio.errors().OpError as exc:
        for tmp, _, _ in tmps:
            fsio.remove(tmp)
        raise LogdirError(
            f"switching {logdir!r} to the new export failed: {fsio.reason(exc)}"
        ) from exc


def write_tmp(path: str, data: bytes) -> str:
    tmp = fsio.tmp_name(path)
    with fsio.open_stream(tmp) as out:
        out.write(data)
    return tmp


def file_size(path: str) -> int:
    try:
        return int(fsio.gfile().stat(path).length)
    except fsio.errors().NotFoundError:
        return 0


def never_shorter(text: str, size: int) -> bytes:
    """``text`` as UTF-8, padded with spaces on its last line to ``size`` bytes."""
    data = text.encode("utf-8")
    if len(data) >= size:
        return data
    return data[:-1] + b" " * (size - len(data)) + data[-1:]


def read_run_config(run_dir: str):
    """The parsed ``projector_config.pbtxt`` of ``run_dir`` (or None)."""
    path = fsio.join(run_dir, CONFIG_FILENAME)
    if not fsio.exists(path):
        return None
    from google.protobuf.text_format import ParseError

    check_config_size(path)
    try:
        return parse_config(fsio.read_bytes(path, max_line=MAX_LINE_BYTES).decode("utf-8"))
    except (ParseError, UnicodeDecodeError) as exc:
        raise LogdirError(f"{path!r} is not a projector config ({fsio.reason(exc)}); re-export the run "
                          "or run `projector-tools doctor --fix` on it") from None
