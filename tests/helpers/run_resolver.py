"""Resolving a run on disk exactly as TensorBoard 2.21's Projector does.

Shared by the tests that export while (or before) a reader looks: the kill
test (test_reliability.py) and the two-writer test (test_concurrency.py).
Exports there are self-describing (see export_loop.py), so a tensor paired
with another export's labels is always detected.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf
from google.protobuf import text_format
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

from projector_tools import parse_projector_tsv
from projector_tools.run.config import CONFIG_FILENAME


def resolve_like_tensorboard(run_dir: str) -> dict[str, tuple[np.ndarray, bytes | None]]:
    """``{tensor: (value, metadata bytes or None)}`` as the Projector plugin finds them.

    Mirrors projector_plugin.py: parse ``projector_config.pbtxt``; with no
    ``model_checkpoint_path`` take ``tf.train.latest_checkpoint`` of the run
    (then its parent); open it with ``tf.train.load_checkpoint``; metadata
    paths are relative to the config's directory.
    """
    config = ProjectorConfig()
    with tf.io.gfile.GFile(os.path.join(run_dir, CONFIG_FILENAME), "r") as f:
        text_format.Parse(f.read(), config)
    assert not config.model_checkpoint_path
    ckpt = tf.train.latest_checkpoint(run_dir) or tf.train.latest_checkpoint(
        os.path.join(run_dir, os.pardir)
    )
    assert ckpt, f"no checkpoint resolves in {os.listdir(run_dir)}"
    reader = tf.train.load_checkpoint(ckpt)
    metadata = {e.tensor_name: e.metadata_path for e in config.embeddings}
    out = {}
    for name, shape in reader.get_variable_to_shape_map().items():
        if len(shape) != 2:
            continue
        data = None
        if metadata.get(name):
            path = os.path.realpath(os.path.join(run_dir, metadata[name]))
            with open(path, "rb") as f:
                data = f.read()
        out[name] = (reader.get_tensor(name), data)
    assert set(metadata) <= set(out), f"config lists {set(metadata)}, checkpoint has {set(out)}"
    return out


def assert_self_consistent(tensor: np.ndarray, metadata: bytes | str | None) -> int:
    """The tensor and its labels come from the same export ``k``; return k.

    ``None`` (no metadata) is the transitional state of a switch whose labels
    change: unlabelled, but never labelled wrongly.
    """
    k = int(tensor[0, 0])
    assert (tensor[:, 0] == k).all()
    if metadata is None:
        return k
    rows = parse_projector_tsv(metadata).rows
    assert len(rows) == tensor.shape[0], f"{tensor.shape[0]} tensor rows, {len(rows)} labels"
    assert [r[0] for r in rows] == [f"e{k}:{i}" for i in range(tensor.shape[0])], (
        f"tensor of export {k} paired with labels {rows[0][0]}..."
    )
    return k
