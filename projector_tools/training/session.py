"""The trainer's model and its checkpoints: built, restored on ``--resume``, saved every epoch.

A run's checkpoints (``L/checkpoints/ckpt-N.*``, a
``tf.train.CheckpointManager``) hold the model, the optimizer, the number
of finished epochs (key ``epoch``) and the embedding (key ``embedding``).
Each is written after an epoch ends (:func:`epoch_checkpoint_callback`),
before the state file names it, so an interrupted run resumes from its
last finished epoch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from projector_tools.process.interrupts import hints_changed
from projector_tools.process.voice import say
from projector_tools.training.options import TrainOptions
from projector_tools.training.pipeline import build_model

STEPS_PER_EXECUTION = 8


@dataclass
class Session:
    """The model and the checkpoint that also counts finished epochs."""

    model: Any
    epoch_var: Any
    manager: Any
    initial_epoch: int


def model_session(ckpt_dir: str, vocab_size: int, opts: TrainOptions, max_to_keep: int,
                  resuming: bool, progress: dict[str, int | None]) -> Session:
    """Build the model and restore the latest checkpoint of a resumed run."""
    import tensorflow as tf

    model = build_model(vocab_size, opts.embedding_dim, steps_per_execution=STEPS_PER_EXECUTION,
                        seed=opts.seed)
    model.optimizer.build(model.trainable_variables)
    epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
    # The embedding is also a direct child, so that its checkpoint key is the
    # readable ``embedding/.ATTRIBUTES/VARIABLE_VALUE`` (a checkpoint names a
    # variable by its shortest path; without it that would be an optimizer path).
    ckpt = tf.train.Checkpoint(embedding=model.get_layer("embedding").embeddings, model=model,
                               optimizer=model.optimizer, epoch=epoch_var)
    manager = tf.train.CheckpointManager(ckpt, ckpt_dir, max_to_keep=max_to_keep)
    initial_epoch = 0
    if resuming and manager.latest_checkpoint:
        ckpt.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        initial_epoch = int(epoch_var.numpy())
        progress["saved"] = initial_epoch
        hints_changed()
        say(f"resuming from {manager.latest_checkpoint}: {initial_epoch} epochs done")
    elif resuming:
        say("no checkpoint saved yet; training from epoch 0")
    if initial_epoch >= opts.epochs:
        say(f"{initial_epoch} epochs already done (--epochs {opts.epochs}); pass a larger --epochs to train more")
    return Session(model, epoch_var, manager, initial_epoch)


def epoch_checkpoint_callback(manager, epoch_var, progress: dict[str, int]):
    """A Keras callback: after every epoch, save the checkpoint and count the epoch in ``progress``."""
    import keras

    class EpochCheckpoint(keras.callbacks.Callback):
        """Save model, optimizer and the finished-epoch count after every epoch."""

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            epoch_var.assign(epoch + 1)
            manager.save(checkpoint_number=epoch + 1)
            progress["saved"] = epoch + 1  # a plain int: the interrupt hint reads it
            hints_changed()  # and a supervisor that may have to print it learns it

    return EpochCheckpoint()
