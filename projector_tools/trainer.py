"""Train the seed notebook's model and show its embedding in the Projector.

    projector-tools train --logdir runs/demo                       # offline demo corpus
    projector-tools train --logdir runs/imdb --dataset imdb_reviews/subwords8k
    projector-tools train --logdir runs/csv --data-csv reviews.csv --text-column review
    projector-tools train --logdir runs/demo --resume              # after an interruption

From a notebook::

    from projector_tools import train
    result = train("runs/demo", epochs=10)
    result.history["val_accuracy"][-1], result.projector_run
    # then: tensorboard --logdir runs/demo

The model is the seed's ``Embedding(vocab_size, 16) -> GlobalAveragePooling1D
-> Dense(16, relu) -> Dense(1)`` with binary cross-entropy from logits, Adam
and accuracy, validated every epoch. One difference, on purpose: the
embedding uses ``mask_zero=True``, so the average ignores padding and a
review's prediction no longer depends on how long the other reviews of its
batch are (the seed averages padding zeros in). The layer still has
``vocab_size`` rows, one per id, padding included.

What a run directory ``L`` holds::

    L/run.json                 the options of the run (reused by --resume)
    L/encoder.subwords         the SubwordTextEncoder vocabulary (save_to_file)
    L/checkpoints/ckpt-N.*     tf.train.CheckpointManager checkpoints: model,
                               optimizer, the epoch number N (key ``epoch``)
                               and the embedding (key ``embedding``)
    L/train/                   Keras TensorBoard scalars + the Projector run
    L/validation/              Keras TensorBoard validation scalars

Checkpoints live in ``L/checkpoints`` (no event file, so not a run): the
Projector run's ``checkpoint`` state file in ``L/train`` stays the exporter's.

The input pipeline encodes every review once, keeps the ids in memory
(a cache), reshuffles every epoch, groups reviews of similar length into
batches (length bucketing: little padding) and prefetches; the seed's
``shuffle(1000).padded_batch(10)`` is the slow baseline (``bench/train.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from projector_tools import fsio
from projector_tools.errors import InputError, LogdirError
from projector_tools.interrupts import hints_changed, resume_hint

__all__ = ["TrainResult", "train", "configure_parser", "run_cli", "DEFAULTS"]

#: Defaults of the options that ``--resume`` may take from ``run.json``.
DEFAULTS: dict[str, Any] = {
    "dataset": "demo",
    "embedding_dim": 16,
    "epochs": 10,
    "batch_size": 64,
    "target_vocab_size": 2**13,
    "seed": 0,
    "review_points": 2000,
}
RUN_FILE = "run.json"
STEPS_PER_EXECUTION = 8
POOL_LAYER = "pool"
ENCODER_PREFIX = "encoder"
CHECKPOINT_DIR = "checkpoints"
# Options that define the model and its vocabulary: a resumed run must keep them.
_FIXED_ON_RESUME = ("dataset", "data_dir", "data_csv", "text_column", "label_column",
                    "embedding_dim", "target_vocab_size")


@dataclass
class TrainResult:
    """What :func:`train` did and where it wrote it."""

    logdir: str
    projector_run: str
    encoder_path: str
    checkpoint: str | None
    vocab_size: int
    embedding_dim: int
    initial_epoch: int
    epochs: int
    history: dict[str, list[float]] = field(default_factory=dict)
    model: Any = None
    encoder: Any = None
    review_points: int = 0  # rows of the Projector tensor 'reviews' (0: none)

    @property
    def val_accuracy(self) -> float | None:
        """Validation accuracy after the last epoch of this call (None if none ran)."""
        values = self.history.get("val_accuracy") or []
        return float(values[-1]) if values else None

    def tensorboard_command(self) -> str:
        return f"tensorboard --logdir {self.logdir}"


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Run directory bookkeeping


def _read_run_file(logdir: str) -> dict[str, Any] | None:
    path = os.path.join(logdir, RUN_FILE)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as exc:
        raise LogdirError(f"{path!r} is not readable ({exc}); it records the run's options") from None


def _write_run_file(logdir: str, data: dict[str, Any]) -> None:
    path = os.path.join(logdir, RUN_FILE)
    # A dot name: an interrupted write leaves nothing that makes the logdir
    # look like something other than a run (see _check_fresh_logdir, --resume).
    tmp = os.path.join(logdir, "." + RUN_FILE + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def _check_fresh_logdir(logdir: str) -> None:
    if os.path.isfile(logdir):
        raise LogdirError(f"--logdir {logdir!r} is a file; give a directory for the run")
    if not os.path.isdir(logdir):
        return
    entries = [e for e in os.listdir(logdir) if not e.startswith(".")]
    if not entries:
        return
    if RUN_FILE in entries or CHECKPOINT_DIR in entries:
        raise LogdirError(
            f"{logdir!r} already holds a training run; continue it with --resume, "
            "or train into a new --logdir"
        )
    raise LogdirError(
        f"{logdir!r} is not empty ({', '.join(sorted(entries)[:5])}); train into a new, "
        "empty --logdir so that TensorBoard shows only this run"
    )


def _merge_options(logdir: str, given: dict[str, Any], resume: bool) -> tuple[dict[str, Any], bool]:
    """(options, resuming). Given options win; on resume the saved ones fill the gaps."""
    saved = _read_run_file(logdir) if resume else None
    opts = dict(DEFAULTS)
    opts.update({"data_dir": None, "data_csv": None, "text_column": None, "label_column": None})
    if saved is not None:
        for key in _FIXED_ON_RESUME:
            want = given.get(key)
            have = saved.get(key)
            if want is not None and key in ("data_dir", "data_csv") and have is not None:
                want = os.path.abspath(os.path.expanduser(want))
            if want is not None and want != have:
                raise InputError(
                    f"--resume: this run was trained with {key.replace('_', '-')}={have!r}, "
                    f"not {want!r}; drop the option to keep the run's value, or train into a new --logdir"
                )
        opts.update({k: v for k, v in saved.get("options", saved).items() if k in opts})
    for key, value in given.items():
        if value is not None:
            opts[key] = value
    if opts.get("data_dir"):
        opts["data_dir"] = os.path.abspath(os.path.expanduser(opts["data_dir"]))
    if opts.get("data_csv"):
        opts["data_csv"] = os.path.abspath(os.path.expanduser(opts["data_csv"]))
    if opts.get("data_csv") and given.get("dataset") is None and (saved is None or not saved.get("dataset")):
        opts["dataset"] = "csv"
    elif opts.get("data_dir") and given.get("dataset") is None and saved is None:
        opts["dataset"] = "aclimdb"
    for key in ("embedding_dim", "epochs", "batch_size", "target_vocab_size"):
        if int(opts[key]) < 1:
            raise InputError(f"{key.replace('_', '-')} must be >= 1, got {opts[key]}")
        opts[key] = int(opts[key])
    if int(opts["review_points"]) < 0:
        raise InputError(f"review-points must be >= 0, got {opts['review_points']}")
    opts["review_points"] = int(opts["review_points"])
    return opts, saved is not None


# --------------------------------------------------------------------------
# Input pipeline


def length_batches(lengths, batch_size: int, rng, pool_batches: int = 50) -> list:
    """One epoch of batches (arrays of example indices), grouped by length.

    The examples are shuffled, cut into pools of ``pool_batches`` batches,
    each pool is sorted by length and cut into batches, and the batch order
    is shuffled. Reviews in a batch then have similar lengths (little
    padding) while batch composition and order change every epoch. The
    number of batches depends only on the number of examples.
    """
    import numpy as np

    lengths = np.asarray(lengths)
    perm = rng.permutation(len(lengths))
    pool = batch_size * pool_batches
    batches = []
    for start in range(0, len(perm), pool):
        chunk = perm[start:start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def count_batches(n: int, batch_size: int, pool_batches: int = 50) -> int:
    pool = batch_size * pool_batches
    full, rest = divmod(n, pool)
    return full * pool_batches + -(-rest // batch_size)


def make_dataset(ids: list[list[int]], labels: list[int], *, batch_size: int, shuffle: bool, seed: int = 0):
    """``tf.data`` pipeline over reviews encoded once and kept in memory.

    Every epoch: reshuffle, group reviews of similar length into batches
    (:func:`length_batches`), pad each batch only to its longest review,
    prefetch in the background. Without ``shuffle`` (validation) the
    batches are sorted by length and fixed. Yields
    ``(int32 [batch, longest in batch], float32 [batch])``.

    (``tf.data``'s own ``bucket_by_sequence_length`` does the same per
    element in graph ops; measured here it was 2-4x slower per epoch and left
    4x more padding than pool sorting, so the batches are cut in numpy.)
    """
    import numpy as np
    import tensorflow as tf

    lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    flat = np.fromiter((i for x in ids for i in x), dtype=np.int32, count=int(offsets[-1]))
    y_all = np.asarray(labels, dtype=np.float32)
    if len(ids) == 0:
        raise InputError("no reviews to batch")
    rng = np.random.default_rng(seed)
    if shuffle:
        n_batches = count_batches(len(ids), batch_size)
    else:
        order = np.argsort(lengths, kind="stable")
        fixed = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
        n_batches = len(fixed)

    def epoch():
        for b in (length_batches(lengths, batch_size, rng) if shuffle else fixed):
            x = np.zeros((len(b), int(lengths[b].max())), dtype=np.int32)
            for row, j in enumerate(b):
                x[row, : lengths[j]] = flat[offsets[j]:offsets[j + 1]]
            yield x, y_all[b]

    ds = tf.data.Dataset.from_generator(
        epoch,
        output_signature=(
            tf.TensorSpec([None, None], tf.int32),
            tf.TensorSpec([None], tf.float32),
        ),
    )
    ds = ds.apply(tf.data.experimental.assert_cardinality(n_batches))
    return ds.prefetch(tf.data.AUTOTUNE)


def build_model(vocab_size: int, embedding_dim: int = 16, *, mask_zero: bool = True,
                steps_per_execution: int = 1):
    """The seed's model (compiled): Embedding -> average -> Dense(16, relu) -> Dense(1).

    ``steps_per_execution`` > 1 runs that many batches per call into the
    compiled graph: the same updates, less Python overhead per step (this
    model does so little work per batch that the overhead dominates).
    """
    import keras

    model = keras.Sequential(
        [
            keras.Input(shape=(None,), dtype="int32"),
            keras.layers.Embedding(vocab_size, embedding_dim, mask_zero=mask_zero, name="embedding"),
            keras.layers.GlobalAveragePooling1D(name=POOL_LAYER),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(1),
        ],
        name="seed_model",
    )
    model.compile(
        optimizer="adam",
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
    )
    return model


def _epoch_checkpoint_callback(manager, epoch_var, progress: dict[str, int]):
    import keras

    class EpochCheckpoint(keras.callbacks.Callback):
        """Save model, optimizer and the finished-epoch count after every epoch."""

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            epoch_var.assign(epoch + 1)
            manager.save(checkpoint_number=epoch + 1)
            progress["saved"] = epoch + 1  # a plain int: the interrupt hint reads it
            hints_changed()  # and a supervisor that may have to print it learns it

    return EpochCheckpoint()


# --------------------------------------------------------------------------
# The entry point


def train(
    logdir: str,
    *,
    dataset: str | None = None,
    data_dir: str | None = None,
    data_csv: str | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    embedding_dim: int | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    resume: bool = False,
    verbose: int | str = 1,
    target_vocab_size: int | None = None,
    seed: int | None = None,
    callbacks: list | None = None,
    max_to_keep: int = 3,
    review_points: int | None = None,
) -> TrainResult:
    """Train the seed's model on a review dataset and export its embedding.

    ``dataset`` is ``demo`` (default, offline), ``imdb_reviews/subwords8k``
    (``data_dir`` = tfds data dir, or an aclImdb dir/archive), ``aclimdb``
    (``data_dir``) or ``csv`` (``data_csv``, with ``text_column`` and
    ``label_column`` when they are not named ``text``/``review`` and
    ``label``/``sentiment``). Everything is written under ``logdir`` (see
    the module docstring); the Projector run is ``result.projector_run``.

    ``resume=True`` continues the run in ``logdir`` from its last saved
    epoch with its saved options and vocabulary; ``epochs`` is the total
    number of epochs, so ``train(L, epochs=15, resume=True)`` after a
    10-epoch run trains 5 more.

    The Projector run holds two tensors: ``embedding`` (one row per id;
    columns ``label``, ``id``, ``kind``, ``word_end``, plus ``count`` and
    ``positivity`` from the train split, see
    :mod:`projector_tools.token_stats`) and ``reviews``: the pooled vectors
    of up to ``review_points`` validation reviews (default 2,000; 0 for none)
    with ``text``, ``label``, ``predicted``, ``correct`` (see
    :mod:`projector_tools.review_points`), refreshed at every export.

        >>> result = train("runs/demo", epochs=5, verbose=0)
        >>> result.initial_epoch, len(result.history["val_accuracy"])
        (0, 5)

    Raises :class:`~projector_tools.errors.DatasetUnavailableError` (data
    cannot be had here), :class:`~projector_tools.errors.LogdirError` (the
    logdir holds something else) or an :class:`InputError` before anything
    is written into ``logdir``.
    """
    logdir = os.path.expanduser(str(logdir))
    if fsio.is_remote(logdir):
        raise LogdirError(f"train writes a local run directory; {logdir!r} is remote (export to it afterwards)")
    given = {
        "dataset": dataset, "data_dir": data_dir, "data_csv": data_csv,
        "text_column": text_column, "label_column": label_column,
        "embedding_dim": embedding_dim, "epochs": epochs, "batch_size": batch_size,
        "target_vocab_size": target_vocab_size, "seed": seed,
        "review_points": review_points,
    }
    resume = bool(resume)
    if not resume:
        _check_fresh_logdir(logdir)
    opts, resuming = _merge_options(logdir, given, resume)
    if resume and not resuming:
        if os.path.isdir(logdir) and any(not e.startswith(".") for e in os.listdir(logdir)):
            raise LogdirError(
                f"--resume: {logdir!r} has no {RUN_FILE}, so it is not a run of `projector-tools train`; "
                "train into a new --logdir"
            )
        _say(f"--resume: nothing to resume in {logdir}; starting a new run")

    # Ctrl-C at any point below leaves a run that --resume continues: run.json
    # and the vocabulary are renamed into place, checkpoints are written
    # before the state file names them, exports switch over atomically.
    ckpt_dir = os.path.join(logdir, CHECKPOINT_DIR)
    progress: dict[str, int | None] = {"saved": None if resuming else 0}

    def hint() -> str:
        saved = (f"{progress['saved']} epochs are saved" if progress["saved"] is not None
                 else "the saved epochs are")
        return (f"{saved} in {ckpt_dir}; continue with: "
                f"projector-tools train --logdir {logdir} --resume")

    with resume_hint(hint):
        # 1. Data (may fail offline): nothing has been written yet.
        from projector_tools.data import (
            build_encoder,
            encode_texts,
            load_dataset,
            load_encoder,
            save_encoder,
        )

        data = load_dataset(
            opts["dataset"],
            data_dir=opts["data_dir"],
            data_csv=opts["data_csv"],
            text_column=opts["text_column"],
            label_column=opts["label_column"],
            seed=opts["seed"],
            progress=_say,
        )
        _say(data.summary())

        # 2. Vocabulary: the run's own, or built from the train split.
        encoder_prefix = os.path.join(logdir, ENCODER_PREFIX)
        encoder_path = encoder_prefix + ".subwords"
        if resuming and os.path.isfile(encoder_path):
            encoder = load_encoder(encoder_prefix)
            _say(f"vocabulary: {encoder.vocab_size} ids from {encoder_path}")
        else:
            encoder = build_encoder(data.train_texts, opts["target_vocab_size"], progress=_say)
        record = {
            "options": opts,
            "vocab_size": int(encoder.vocab_size),
            "encoder": os.path.basename(encoder_path),
            "mask_zero": True,
            "model": "Embedding -> GlobalAveragePooling1D -> Dense(16, relu) -> Dense(1)",
            "dataset": opts["dataset"],
            "data_dir": opts["data_dir"],
            "data_csv": opts["data_csv"],
            "text_column": opts["text_column"],
            "label_column": opts["label_column"],
            "embedding_dim": opts["embedding_dim"],
            "target_vocab_size": opts["target_vocab_size"],
        }
        old = (_read_run_file(logdir) if resuming else None) or {}
        record["epochs_done"] = old.get("epochs_done", 0)
        # run.json first: a run killed at any later point can be resumed.
        os.makedirs(logdir, exist_ok=True)
        _write_run_file(logdir, record)
        if not os.path.isfile(encoder_path):
            save_encoder(encoder, encoder_prefix)

        # 3. Encode once; tf.data keeps the ids in memory.
        t0 = time.monotonic()
        train_ids = encode_texts(encoder, data.train_texts, progress=_say)
        test_ids = encode_texts(encoder, data.test_texts, progress=_say)
        _say(f"encoded {len(train_ids) + len(test_ids)} reviews in {time.monotonic() - t0:.1f} s")

        import keras
        import tensorflow as tf

        from projector_tools.callback import ProjectorCallback
        from projector_tools.metadata import subword_metadata
        from projector_tools.review_points import review_spec
        from projector_tools.token_stats import with_token_statistics

        t0 = time.monotonic()
        token_meta = with_token_statistics(subword_metadata(encoder), train_ids, data.train_labels)
        _say(f"token statistics (count, positivity) from {len(train_ids)} train reviews "
             f"in {time.monotonic() - t0:.1f} s")

        keras.utils.set_random_seed(int(opts["seed"]))
        train_ds = make_dataset(train_ids, data.train_labels, batch_size=opts["batch_size"], shuffle=True, seed=opts["seed"])
        val_ds = make_dataset(test_ids, data.test_labels, batch_size=max(opts["batch_size"], 256), shuffle=False)

        # 4. Model, optimizer and the checkpoint that also counts epochs.
        model = build_model(int(encoder.vocab_size), opts["embedding_dim"], steps_per_execution=STEPS_PER_EXECUTION)
        model.optimizer.build(model.trainable_variables)
        epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        # The embedding is also a direct child, so that its checkpoint key is the
        # readable ``embedding/.ATTRIBUTES/VARIABLE_VALUE`` (a checkpoint names a
        # variable by its shortest path; without it that would be an optimizer path).
        ckpt = tf.train.Checkpoint(
            embedding=model.get_layer("embedding").embeddings,
            model=model,
            optimizer=model.optimizer,
            epoch=epoch_var,
        )
        manager = tf.train.CheckpointManager(ckpt, ckpt_dir, max_to_keep=max_to_keep)
        initial_epoch = 0
        if resuming and manager.latest_checkpoint:
            ckpt.restore(manager.latest_checkpoint).assert_existing_objects_matched()
            initial_epoch = int(epoch_var.numpy())
            progress["saved"] = initial_epoch
            hints_changed()
            _say(f"resuming from {manager.latest_checkpoint}: {initial_epoch} epochs done")
        elif resuming:
            _say("no checkpoint saved yet; training from epoch 0")
        n_epochs = opts["epochs"]
        if initial_epoch >= n_epochs:
            _say(f"{initial_epoch} epochs already done (--epochs {n_epochs}); pass a larger --epochs to train more")

        reviews = review_spec(test_ids, data.test_texts, data.test_labels, layer=POOL_LAYER,
                              n=opts["review_points"], seed=opts["seed"])
        tensorboard_cb = keras.callbacks.TensorBoard(log_dir=logdir)
        projector_cb = ProjectorCallback(logdir, metadata=token_meta,
                                         activations=[reviews] if reviews is not None else [])
        cbs = [tensorboard_cb, _epoch_checkpoint_callback(manager, epoch_var, progress), projector_cb]
        cbs += list(callbacks or [])

        # 5. Train. Ctrl-C keeps every finished epoch's checkpoint.
        history = model.fit(
            train_ds,
            validation_data=val_ds,
            epochs=max(n_epochs, initial_epoch),
            initial_epoch=initial_epoch,
            callbacks=cbs,
            verbose=verbose,
            shuffle=False,  # the dataset reshuffles itself every epoch
        )
        record["epochs_done"] = int(epoch_var.numpy())
        hist = {k: [float(v) for v in vals] for k, vals in (history.history or {}).items()}
        if hist.get("val_accuracy"):
            record["val_accuracy"] = hist["val_accuracy"][-1]
        _write_run_file(logdir, record)

        if projector_cb.run_dir is None or projector_cb.last_result is None:
            # No epoch ran in this call (already complete): export the restored weights.
            from projector_tools.activations import activation_tensor
            from projector_tools.callback import projector_run_dir
            from projector_tools.export import export_embeddings
            from projector_tools.keras_layers import layer_weights

            run_dir = projector_run_dir(logdir)
            tensors = {"embedding": layer_weights(model.get_layer("embedding"))}
            metas = {"embedding": token_meta}
            if reviews is not None:
                name, matrix, meta = activation_tensor(model, reviews)
                tensors[name], metas[name] = matrix, meta
            export_embeddings(tensors, run_dir, metadata=metas)
        else:
            run_dir = projector_cb.run_dir
        return TrainResult(
            logdir=logdir,
            projector_run=run_dir,
            encoder_path=encoder_path,
            checkpoint=manager.latest_checkpoint,
            vocab_size=int(encoder.vocab_size),
            embedding_dim=int(opts["embedding_dim"]),
            initial_epoch=initial_epoch,
            epochs=int(record["epochs_done"]),
            history=hist,
            model=model,
            encoder=encoder,
            review_points=min(opts["review_points"], len(test_ids)),
        )


# --------------------------------------------------------------------------
# Command line


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Options of ``projector-tools train``."""
    parser.add_argument("--logdir", required=True, help="run directory to create (or continue with --resume)")
    parser.add_argument(
        "--dataset",
        help="demo (default, generated offline), imdb_reviews/subwords8k (needs the IMDB "
        "archive: downloaded once, or placed in --data-dir), aclimdb (--data-dir), csv (--data-csv)",
    )
    parser.add_argument("--data-dir", help="tfds data dir, or an aclImdb/ directory or aclImdb_v1.tar.gz")
    parser.add_argument("--data-csv", metavar="FILE", help="CSV file with a text and a label column")
    parser.add_argument("--text-column", help="CSV column holding the review text (default: text/review/...)")
    parser.add_argument("--label-column", help="CSV column holding the label (default: label/sentiment/...)")
    parser.add_argument("--embedding-dim", type=int, help=f"embedding size (default {DEFAULTS['embedding_dim']})")
    parser.add_argument("--epochs", type=int, help=f"total epochs (default {DEFAULTS['epochs']})")
    parser.add_argument("--batch-size", type=int, help=f"batch size (default {DEFAULTS['batch_size']})")
    parser.add_argument("--seed", type=int, help="random seed (default 0)")
    parser.add_argument("--review-points", type=int, metavar="N",
                        help=f"validation reviews shown as points in the tensor 'reviews' (default "
                        f"{DEFAULTS['review_points']}, balanced by label; 0: none)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --logdir from its last saved epoch")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch progress bar")


def run_cli(args: argparse.Namespace) -> int:
    result = train(
        args.logdir,
        dataset=args.dataset,
        data_dir=args.data_dir,
        data_csv=args.data_csv,
        text_column=args.text_column,
        label_column=args.label_column,
        embedding_dim=args.embedding_dim,
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        review_points=args.review_points,
        resume=args.resume,
        verbose=0 if args.quiet else 1,
    )
    acc = result.val_accuracy
    print(
        f"trained epochs {result.initial_epoch + 1}-{result.epochs}"
        if result.epochs > result.initial_epoch
        else f"no epoch to train ({result.epochs} done)"
    )
    if acc is not None:
        print(f"validation accuracy: {acc:.4f}")
    print(f"vocabulary: {result.vocab_size} ids, SubwordTextEncoder {result.encoder_path}")
    print(f"checkpoint: {result.checkpoint}")
    print(f"projector run: {result.projector_run} ({result.vocab_size} x {result.embedding_dim}, labelled, "
          "with count and positivity)")
    if result.review_points:
        print(f"projector tensor 'reviews': {result.review_points} validation reviews "
              "(text, label, predicted, correct)")
    print(f"view: {result.tensorboard_command()}")
    return 0
