"""run_layout: the names and the state file, checked against TensorFlow's own readers."""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from projector_tools import export_embeddings
from projector_tools.run.files import (
    current_export,
    history_name,
    is_event_file,
    metadata_filename,
    state_file_text,
    state_latest,
    state_listed,
    state_paths,
)


def test_state_file_we_write_is_what_tensorflow_reads(tmp_path):
    latest, listed = "embeddings-3", ["embeddings-2", 'we"ird\\name-1', "embeddings-3"]
    text = state_file_text(latest, listed)
    (tmp_path / "checkpoint").write_text(text)
    state = tf.train.get_checkpoint_state(str(tmp_path))
    assert state.model_checkpoint_path == os.path.join(str(tmp_path), latest)
    assert list(state.all_model_checkpoint_paths) == [os.path.join(str(tmp_path), p) for p in listed]
    # our reader keeps escapes as written; plain names come back as they are
    assert state_latest(text) == latest
    assert [p for p in state_listed(text) if "\\" not in p] == ["embeddings-2", "embeddings-3"]
    assert len(state_paths(text)) == 1 + len(listed)


def test_export_is_found_as_tensorflow_finds_it(tmp_path):
    run = str(tmp_path / "run")
    export_embeddings(np.ones((4, 2), "float32"), run)
    export_embeddings(np.zeros((4, 2), "float32"), run)
    rel, step = current_export(run)
    assert step == 2
    assert tf.train.latest_checkpoint(run) == os.path.join(run, rel)


def test_event_files_tensorflow_writes_are_event_files(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        tf.summary.scalar("loss", 1.0, step=0)
    writer.close()
    names = os.listdir(tmp_path)
    assert names and all(is_event_file(n) for n in names)
    assert not is_event_file(names[0] + ".tmp-pt-0123")


def test_history_tensors_share_their_layers_labels_file():
    digest = "0123456789ab"
    assert metadata_filename(history_name("embedding", 3), digest) == metadata_filename("embedding", digest)
    assert metadata_filename("model/embedding", digest) != metadata_filename("model", digest)
