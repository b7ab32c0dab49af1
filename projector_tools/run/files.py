"""The files of a run, named, read and written in one place.

What TensorBoard looks for in a run directory, and what an export adds::

    events.out.tfevents.*           an event file: TensorBoard lists the directory as a run
    checkpoint                      the state file: (relative) path of the latest checkpoint
    embeddings-<step>[_<k>].*       an export's checkpoint (index + data files)
    metadata-<slug>-<hash>.tsv      labels, named by tensor and content hash
    sprite-<slug>-<hash>.png        thumbnails, one per row (with images=)
    bookmarks-<slug>-<hash>.json    named views of a tensor (with views=), run/views.py
    plugins/org_tensorflow_tensorboard_projector/   the plugin's assets directory

Every module that names, reads or writes one of these (export, inspection,
``doctor``, the callback) imports it from here.

    >>> state_file_text("embeddings-2", ["embeddings-1", "embeddings-2"])
    'model_checkpoint_path: "embeddings-2"\\nall_model_checkpoint_paths: "embeddings-1"\\nall_model_checkpoint_paths: "embeddings-2"\\n'
    >>> parse_export_name("embeddings-3_1")
    ('embeddings-3_1', 3)
    >>> metadata_filename("embedding@epoch3", "0123456789ab")
    'metadata-embedding-0123456789ab.tsv'
"""

from __future__ import annotations

import re

from projector_tools import fsio
from projector_tools.errors import LogdirError

STATE_FILENAME = "checkpoint"
EVENT_MARK = "tfevents"
CKPT_BASENAME = "embeddings"
METADATA_PREFIX = "metadata-"
METADATA_SUFFIX = ".tsv"
SPRITE_PREFIX = "sprite-"
SPRITE_SUFFIX = ".png"
BOOKMARKS_PREFIX = "bookmarks-"
BOOKMARKS_SUFFIX = ".json"
# The run keras.callbacks.TensorBoard(log_dir=L) writes training scalars (and
# its embeddings) into, and the run an export goes into beside child runs.
KERAS_TRAIN_RUN = "train"
OWN_RUN = "projector"
# The plugin-assets directory (metadata.PLUGINS_DIR / PLUGIN_ASSETS_NAME in
# TensorBoard 2.21), *not* plugins/projector.
PLUGIN_ASSETS = ("plugins", "org_tensorflow_tensorboard_projector")

# An export's checkpoint prefix, relative to its run. "./" appears only in
# the transitional state file of a switch (see export.write_run).
_EXPORT_NAME_RE = re.compile(rf"^(?:\./)?({CKPT_BASENAME}-(\d+)(?:_(\d+))?)$")
# One entry of a ``checkpoint`` state file (a CheckpointState text proto),
# quoted, with C escapes kept as they are written.
_STATE_ENTRY_RE = re.compile(
    r'(?P<key>(?:all_)?model_checkpoint_paths?):\s*"(?P<path>(?:[^"\\]|\\.)*)"'
)


# --------------------------------------------------------------------------
# Event files


def is_event_file(name: str) -> bool:
    """True for a finished event file name (not an export's temporary file)."""
    return EVENT_MARK in name and fsio.TMP_MARK not in name


def ensure_event_file(run_dir: str) -> None:
    """Give ``run_dir`` an (empty) event file unless it has one, so that
    TensorBoard lists it as a run."""
    if any(is_event_file(n) for n in fsio.listdir(run_dir)):
        return
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(run_dir)
    writer.flush()
    writer.close()


def child_runs(run_dir: str) -> list[str]:
    """Direct subdirectories of ``run_dir`` that TensorBoard lists as runs."""
    out = []
    for name in fsio.listdir(run_dir):
        path = fsio.join(run_dir, name)
        if fsio.isdir(path) and any(is_event_file(n) for n in fsio.listdir(path)):
            out.append(name)
    return sorted(out)


# --------------------------------------------------------------------------
# The ``checkpoint`` state file


def state_file_text(relative_prefix: str, all_prefixes: list[str] | None = None) -> str:
    """Text of a ``checkpoint`` state file pointing at ``relative_prefix``.

    Relative paths make the run relocatable: TensorFlow resolves them
    against the state file's directory.
    """
    lines = [f'model_checkpoint_path: "{_quote(relative_prefix)}"']
    for p in all_prefixes or [relative_prefix]:
        lines.append(f'all_model_checkpoint_paths: "{_quote(p)}"')
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    from google.protobuf import text_encoding

    return text_encoding.CEscape(text, as_utf8=True)


def state_paths(text: str) -> list[str]:
    """Every path a state file's ``text`` names, latest first, as written
    (escapes kept)."""
    return [m.group("path") for m in _STATE_ENTRY_RE.finditer(text)]


def state_latest(text: str) -> str | None:
    """The ``model_checkpoint_path`` of a state file's ``text`` (None if absent)."""
    return next((m.group("path") for m in _STATE_ENTRY_RE.finditer(text)
                 if m.group("key") == "model_checkpoint_path"), None)


def state_listed(text: str) -> list[str]:
    """The ``all_model_checkpoint_paths`` of a state file's ``text``, in order."""
    return [m.group("path") for m in _STATE_ENTRY_RE.finditer(text)
            if m.group("key") == "all_model_checkpoint_paths"]


def read_state_file(directory: str) -> str | None:
    """The text of ``directory``'s state file; None when there is none.

    Raises ``UnicodeDecodeError`` for a state file that is not text, and a
    ``SourceError`` for one that is a FIFO or device, or over
    ``budgets.MAX_STATE_BYTES``: call it before ``tf.train.latest_checkpoint``,
    which would block on a FIFO and read and parse any size whole.
    """
    from projector_tools.run.budgets import MAX_STATE_BYTES

    path = fsio.join(directory, STATE_FILENAME)
    try:
        return fsio.read_bytes(path, limit=MAX_STATE_BYTES).decode("utf-8")
    except fsio.errors().NotFoundError:
        return None


# --------------------------------------------------------------------------
# Exports: checkpoints and metadata files


def export_name(step: int, k: int = 0) -> str:
    """The checkpoint prefix of export ``step`` (``_k`` when that one is taken)."""
    return f"{CKPT_BASENAME}-{step}" + (f"_{k}" if k else "")


def parse_export_name(rel: str | None) -> tuple[str, int] | None:
    """(prefix, step) when ``rel`` names an export's checkpoint, else None."""
    m = _EXPORT_NAME_RE.match(rel or "")
    return (m.group(1), int(m.group(2))) if m else None


def is_export_checkpoint_file(name: str) -> bool:
    """True for a file of an export's checkpoint (``embeddings-*``), finished or not."""
    return name.startswith(f"{CKPT_BASENAME}-")


def tensor_slug(tensor: str) -> str:
    """The file-name part for ``tensor``'s labels and sprite: history suffixes
    (``@epoch3``) dropped, anything but ``A-Za-z0-9._-`` replaced."""
    base = tensor.split("@")[0]
    return re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("_")[:60] or "tensor"


def metadata_filename(tensor: str, digest: str) -> str:
    """``metadata-<slug>-<digest>.tsv``: the name of ``tensor``'s labels file."""
    return f"{METADATA_PREFIX}{tensor_slug(tensor)}-{digest}{METADATA_SUFFIX}"


def is_metadata_file(name: str, digest: str | None = None) -> bool:
    """True for a metadata file name (with that content ``digest``, if given)."""
    end = f"-{digest}{METADATA_SUFFIX}" if digest else METADATA_SUFFIX
    return name.startswith(METADATA_PREFIX) and name.endswith(end)


def sprite_filename(tensor: str, digest: str) -> str:
    """``sprite-<slug>-<digest>.png``: the name of ``tensor``'s sprite image."""
    return f"{SPRITE_PREFIX}{tensor_slug(tensor)}-{digest}{SPRITE_SUFFIX}"


def is_sprite_file(name: str) -> bool:
    """True for a sprite image name an export writes."""
    return name.startswith(SPRITE_PREFIX) and name.endswith(SPRITE_SUFFIX)


def bookmarks_filename(tensor: str, digest: str) -> str:
    """``bookmarks-<slug>-<digest>.json``: the name of ``tensor``'s views file
    (:mod:`projector_tools.run.views`)."""
    return f"{BOOKMARKS_PREFIX}{tensor_slug(tensor)}-{digest}{BOOKMARKS_SUFFIX}"


def is_bookmarks_file(name: str) -> bool:
    """True for a views (bookmarks) file name an export writes."""
    return name.startswith(BOOKMARKS_PREFIX) and name.endswith(BOOKMARKS_SUFFIX)


def is_export_file(name: str) -> bool:
    """True for a file an export writes and a later one replaces: its
    checkpoint, metadata, sprite and bookmarks files."""
    return (is_export_checkpoint_file(name) or is_metadata_file(name) or is_sprite_file(name)
            or is_bookmarks_file(name))


def current_export(run_dir: str) -> tuple[str | None, int]:
    """(relative checkpoint prefix, step) of the export now in ``run_dir``.

    Raises :class:`LogdirError` when the run's ``checkpoint`` state file
    belongs to something else (a training checkpoint), which an export would
    otherwise clobber.
    """
    try:
        text = read_state_file(run_dir)
    except UnicodeDecodeError:
        text = ""  # not ours: refused below as an unreadable state file
    if text is None:
        return None, 0
    rel = state_latest(text)
    found = parse_export_name(rel)
    if found is None:
        raise LogdirError(
            f"{run_dir!r} already holds another checkpoint ({rel or 'unreadable state file'}) "
            "with its 'checkpoint' state file; TensorBoard reads one checkpoint per run, "
            "so export into a run directory of its own, e.g. "
            f"{fsio.join(run_dir, 'projector')!r}"
        )
    return found


# --------------------------------------------------------------------------
# Tensor names of an export's history (ProjectorCallback(keep_history=True))

HISTORY_NAME_RE = re.compile(r"^(?P<base>.+)@epoch(?P<epoch>\d+)$")


def history_name(base: str, epoch: int) -> str:
    """``<base>@epoch<N>``: the tensor of layer ``base`` at ``epoch``; its
    labels file is named after ``base`` (see :func:`tensor_slug`)."""
    return f"{base}@epoch{epoch}"
