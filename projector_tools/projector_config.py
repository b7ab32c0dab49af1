"""``projector_config.pbtxt``: the text proto the Projector reads in a run.

Only what stays valid when a logdir is copied elsewhere is written: tensor
names and *relative* metadata paths. No ``model_checkpoint_path``:
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

CONFIG_FILENAME = "projector_config.pbtxt"


def build_config(entries: Iterable[tuple[str, str | None]]):
    """A ``ProjectorConfig`` proto with one embedding per (tensor, metadata path)."""
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    config = ProjectorConfig()
    for tensor_name, metadata_path in entries:
        emb = config.embeddings.add()
        emb.tensor_name = tensor_name
        if metadata_path:
            emb.metadata_path = metadata_path
    return config


def config_text(entries: Iterable[tuple[str, str | None]]) -> str:
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
