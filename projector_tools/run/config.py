"""``projector_config.pbtxt``: the text proto the Projector reads in a run.

Only what stays valid when a logdir is copied elsewhere is written: tensor
names and *relative* metadata, sprite and bookmarks paths. No ``model_checkpoint_path``:
TensorBoard resolves that one against its own working directory, so the
checkpoint is found through the run's ``checkpoint`` state file instead.

    >>> print(config_text([("embedding", "metadata-embedding.tsv")]), end="")
    embeddings {
      tensor_name: "embedding"
      metadata_path: "metadata-embedding.tsv"
    }
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Union

CONFIG_FILENAME = "projector_config.pbtxt"


@dataclass(frozen=True)
class SpriteRef:
    """A tensor's sprite: relative image path and one thumbnail's (width, height)."""

    image_path: str
    width: int
    height: int


#: ``(tensor name, metadata path)``, ``(tensor name, metadata path, sprite)``
#: or ``(tensor name, metadata path, sprite, bookmarks path)``.
Entry = Union[tuple[str, Union[str, None]], tuple[str, Union[str, None], Union[SpriteRef, None]],
              tuple[str, Union[str, None], Union[SpriteRef, None], Union[str, None]]]


def build_config(entries: Iterable[Entry]):
    """A ``ProjectorConfig`` proto with one embedding per (tensor, metadata path[, sprite[,
    bookmarks path]]): ``bookmarks_path`` is EmbeddingInfo's field for the
    tensor's views (:mod:`projector_tools.run.views`)."""
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    config = ProjectorConfig()
    for entry in entries:
        tensor_name, metadata_path = entry[0], entry[1]
        sprite = entry[2] if len(entry) > 2 else None
        bookmarks_path = entry[3] if len(entry) > 3 else None
        emb = config.embeddings.add()
        emb.tensor_name = tensor_name
        if metadata_path:
            emb.metadata_path = metadata_path
        if sprite is not None:
            emb.sprite.image_path = sprite.image_path
            emb.sprite.single_image_dim.extend([int(sprite.width), int(sprite.height)])
        if bookmarks_path:
            emb.bookmarks_path = bookmarks_path
    return config


def sprite_of(embedding) -> SpriteRef | None:
    """The :class:`SpriteRef` of a parsed config's embedding (None without one)."""
    if not embedding.HasField("sprite") or not embedding.sprite.image_path:
        return None
    dims = list(embedding.sprite.single_image_dim) + [0, 0]
    return SpriteRef(embedding.sprite.image_path, int(dims[0]), int(dims[1]))


def config_text(entries: Iterable[Entry]) -> str:
    """The pbtxt text for ``entries`` (see :func:`build_config`)."""
    from google.protobuf import text_format

    return text_format.MessageToString(build_config(entries), as_utf8=True)


def parse_config(text: str):
    """Parse pbtxt text into a ``ProjectorConfig`` (raises on bad syntax)."""
    from google.protobuf import text_format
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    config = ProjectorConfig()
    text_format.Parse(text, config)
    return config
