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

The options are declared once in :mod:`projector_tools.training.options`; the
input pipeline and the model are :mod:`projector_tools.training.pipeline`;
``run.json`` is kept by :mod:`projector_tools.training.run_record` and the
checkpoints by :mod:`projector_tools.training.session`.
Seeding is scoped to the run: ``seed`` seeds the initial weights, the batch
order and the review sample; the process's global random state is left
alone unless ``global_seed=True`` (``keras.utils.set_random_seed``).
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass, field, fields
from typing import Any

from projector_tools import fsio
from projector_tools.errors import LogdirError
from projector_tools.process.interrupts import resume_hint
from projector_tools.process.voice import say
from projector_tools.training.options import TrainOptions, add_arguments, given_from_args, merge_options
from projector_tools.training.pipeline import POOL_LAYER, make_dataset
from projector_tools.training.run_record import (
    CHECKPOINT_DIR,
    RUN_FILE,
    check_fresh_logdir,
    read_run_file,
    write_run_file,
)
from projector_tools.training.session import Session, epoch_checkpoint_callback, model_session

__all__ = ["TrainResult", "TrainOptions", "train", "configure_parser", "run_cli", "DEFAULTS"]

#: Defaults of the options (``TrainOptions``' own), for scripts that show them.
DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(TrainOptions) if f.default is not None}
ENCODER_PREFIX = "encoder"
MODEL_DESCRIPTION = "Embedding -> GlobalAveragePooling1D -> Dense(16, relu) -> Dense(1)"


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


# --------------------------------------------------------------------------
# The steps of a run


def _start(logdir: str, given: dict[str, Any], resume: bool) -> tuple[TrainOptions, bool]:
    """Check ``logdir`` and merge the options; nothing is written yet."""
    if fsio.is_remote(logdir):
        raise LogdirError(f"train writes a local run directory; {logdir!r} is remote (export to it afterwards)")
    if not resume:
        check_fresh_logdir(logdir)
    opts, resuming = merge_options(read_run_file(logdir) if resume else None, given)
    if resume and not resuming:
        if os.path.isdir(logdir) and any(not e.startswith(".") for e in os.listdir(logdir)):
            raise LogdirError(
                f"--resume: {logdir!r} has no {RUN_FILE}, so it is not a run of `projector-tools train`; "
                "train into a new --logdir"
            )
        say(f"--resume: nothing to resume in {logdir}; starting a new run")
    return opts, resuming


def _load_data(opts: TrainOptions):
    """The dataset's train and test reviews (may fail offline: nothing written yet)."""
    from projector_tools.training.datasets import load_dataset

    data = load_dataset(opts.dataset, data_dir=opts.data_dir, data_csv=opts.data_csv,
                        text_column=opts.text_column, label_column=opts.label_column,
                        seed=opts.seed, progress=say)
    say(data.summary())
    return data


def _vocabulary(logdir: str, data, opts: TrainOptions, resuming: bool):
    """(encoder, its file): the run's own, or built from the train split."""
    from projector_tools.training.datasets import build_encoder, load_encoder

    prefix = os.path.join(logdir, ENCODER_PREFIX)
    path = prefix + ".subwords"
    if resuming and os.path.isfile(path):
        encoder = load_encoder(prefix)
        say(f"vocabulary: {encoder.vocab_size} ids from {path}")
        return encoder, path
    return build_encoder(data.train_texts, opts.target_vocab_size, progress=say), path


def _record_run(logdir: str, opts: TrainOptions, encoder, encoder_path: str, resuming: bool) -> dict[str, Any]:
    """Write ``run.json`` and the vocabulary: from here on the run can be resumed."""
    from projector_tools.training.datasets import save_encoder

    old = (read_run_file(logdir) if resuming else None) or {}
    record = {
        "options": opts.to_dict(),
        "vocab_size": int(encoder.vocab_size),
        "encoder": os.path.basename(encoder_path),
        "mask_zero": True,
        "model": MODEL_DESCRIPTION,
        "epochs_done": old.get("epochs_done", 0),
    }
    if "val_accuracy" in old:  # kept when a resume has no epoch left to train
        record["val_accuracy"] = old["val_accuracy"]
    os.makedirs(logdir, exist_ok=True)
    write_run_file(logdir, record)
    if not os.path.isfile(encoder_path):
        save_encoder(encoder, encoder_path[: -len(".subwords")])
    return record


def _encode(encoder, data):
    """(train ids, test ids, the embedding's labels with token statistics)."""
    from projector_tools.training.datasets import encode_texts
    from projector_tools.run.metadata import subword_metadata
    from projector_tools.training.token_stats import with_token_statistics

    t0 = time.monotonic()
    train_ids = encode_texts(encoder, data.train_texts, progress=say)
    test_ids = encode_texts(encoder, data.test_texts, progress=say)
    say(f"encoded {len(train_ids) + len(test_ids)} reviews in {time.monotonic() - t0:.1f} s")
    t0 = time.monotonic()
    token_meta = with_token_statistics(subword_metadata(encoder), train_ids, data.train_labels)
    say(f"token statistics (count, positivity) from {len(train_ids)} train reviews "
         f"in {time.monotonic() - t0:.1f} s")
    return train_ids, test_ids, token_meta


def _export_restored(logdir: str, model, token_meta, reviews) -> str:
    """Export the restored weights when no epoch ran in this call; the run's directory."""
    from projector_tools.export.activations import activation_tensor
    from projector_tools.export.callback import projector_run_dir
    from projector_tools.export.embeddings import export_embeddings
    from projector_tools.sources.keras_layers import layer_weights

    run_dir = projector_run_dir(logdir)
    tensors = {"embedding": layer_weights(model.get_layer("embedding"))}
    metas = {"embedding": token_meta}
    if reviews is not None:
        name, matrix, meta = activation_tensor(model, reviews)
        tensors[name], metas[name] = matrix, meta
    export_embeddings(tensors, run_dir, metadata=metas, views=story_views(reviews is not None))
    return run_dir


def story_views(with_reviews: bool) -> list:
    """The run's named views (the Projector's Bookmarks): tokens by ``positivity``,
    and the reviews by ``correct`` when there are reviews."""
    from projector_tools.run.views import View
    from projector_tools.training.review_points import REVIEWS_TENSOR

    views = [View("words by positivity", "embedding", color_by="positivity")]
    if with_reviews:
        views.append(View("reviews by correct", REVIEWS_TENSOR, color_by="correct", label_by="text"))
    return views


def _resume_hint(logdir: str, ckpt_dir: str, progress: dict[str, int | None]):
    def hint() -> str:
        saved = (f"{progress['saved']} epochs are saved" if progress["saved"] is not None
                 else "the saved epochs are")
        return f"{saved} in {ckpt_dir}; continue with: projector-tools train --logdir {logdir} --resume"

    return hint


@dataclass
class _Inputs:
    """What a run trains on, recorded: reviews, vocabulary, ``run.json``, encoded ids."""

    data: Any
    encoder: Any
    encoder_path: str
    record: dict[str, Any]
    train_ids: Any
    test_ids: Any
    token_meta: Any


def _prepare(logdir: str, opts: TrainOptions, resuming: bool) -> _Inputs:
    """Load the reviews, build (or reload) the vocabulary, record the run, encode."""
    data = _load_data(opts)
    encoder, encoder_path = _vocabulary(logdir, data, opts, resuming)
    record = _record_run(logdir, opts, encoder, encoder_path, resuming)
    train_ids, test_ids, token_meta = _encode(encoder, data)
    return _Inputs(data, encoder, encoder_path, record, train_ids, test_ids, token_meta)


def _datasets(inputs: _Inputs, opts: TrainOptions):
    """(train, validation) batches: the train split reshuffled every epoch, seeded."""
    data = inputs.data
    train_ds = make_dataset(inputs.train_ids, data.train_labels, batch_size=opts.batch_size, shuffle=True,
                            seed=opts.seed)
    val_ds = make_dataset(inputs.test_ids, data.test_labels, batch_size=max(opts.batch_size, 256), shuffle=False)
    return train_ds, val_ds


def _projector_callback(logdir: str, inputs: _Inputs, opts: TrainOptions):
    """(the reviews' activation spec or None, the callback exporting the run every epoch)."""
    from projector_tools.export.callback import ProjectorCallback
    from projector_tools.training.review_points import review_spec

    reviews = review_spec(inputs.test_ids, inputs.data.test_texts, inputs.data.test_labels, layer=POOL_LAYER,
                          n=opts.review_points, seed=opts.seed)
    projector_cb = ProjectorCallback(logdir, metadata=inputs.token_meta,
                                     activations=[reviews] if reviews is not None else [],
                                     views=story_views(reviews is not None))
    return reviews, projector_cb


def _fit(logdir: str, session: Session, datasets, opts: TrainOptions, projector_cb,
         progress: dict[str, int | None], callbacks: list, verbose: int | str) -> dict[str, list[float]]:
    """Train the epochs left, a checkpoint and an export after each; the history."""
    import keras

    train_ds, val_ds = datasets
    cbs = [keras.callbacks.TensorBoard(log_dir=logdir),
           epoch_checkpoint_callback(session.manager, session.epoch_var, progress), projector_cb]
    # Ctrl-C during fit keeps every finished epoch's checkpoint.
    history = session.model.fit(train_ds, validation_data=val_ds, epochs=max(opts.epochs, session.initial_epoch),
                                initial_epoch=session.initial_epoch, callbacks=cbs + callbacks,
                                verbose=verbose, shuffle=False)  # the dataset reshuffles itself
    return {k: [float(v) for v in vals] for k, vals in (history.history or {}).items()}


def _finish(logdir: str, opts: TrainOptions, inputs: _Inputs, session: Session, hist: dict[str, list[float]],
            projector_cb, reviews) -> TrainResult:
    """Record the epochs done in ``run.json``; export if no epoch ran; the result."""
    record = inputs.record
    record["epochs_done"] = int(session.epoch_var.numpy())
    if hist.get("val_accuracy"):
        record["val_accuracy"] = hist["val_accuracy"][-1]
    write_run_file(logdir, record)
    run_dir = projector_cb.run_dir
    if run_dir is None or projector_cb.last_result is None:  # no epoch ran in this call
        run_dir = _export_restored(logdir, session.model, inputs.token_meta, reviews)
    return TrainResult(
        logdir=logdir, projector_run=run_dir, encoder_path=inputs.encoder_path,
        checkpoint=session.manager.latest_checkpoint, vocab_size=int(inputs.encoder.vocab_size),
        embedding_dim=opts.embedding_dim, initial_epoch=session.initial_epoch,
        epochs=record["epochs_done"], history=hist, model=session.model, encoder=inputs.encoder,
        review_points=min(opts.review_points, len(inputs.test_ids)),
    )


# --------------------------------------------------------------------------
# The entry point


def train(logdir: str, options: TrainOptions | None = None, *, resume: bool = False, verbose: int | str = 1,
          callbacks: list | None = None, max_to_keep: int = 3, global_seed: bool = False,
          **option_values: Any) -> TrainResult:
    """Train the seed's model on a review dataset and export its embedding.

    The options are the fields of :class:`~projector_tools.training.options.TrainOptions`,
    given as ``options`` or as keywords (keywords win): ``dataset`` is
    ``demo`` (default, offline), ``imdb_reviews/subwords8k`` (``data_dir`` =
    tfds data dir, or an aclImdb dir/archive), ``aclimdb`` (``data_dir``) or
    ``csv`` (``data_csv``, with ``text_column``/``label_column`` when they are
    not named ``text``/``review`` and ``label``/``sentiment``); also
    ``embedding_dim``, ``epochs``, ``batch_size``, ``target_vocab_size``,
    ``seed`` and ``review_points``. Everything is written under ``logdir``
    (see the module docstring); the Projector run is ``result.projector_run``.

    ``resume=True`` continues the run in ``logdir`` from its last saved
    epoch with its saved options and vocabulary; ``epochs`` is the total,
    so ``train(L, epochs=15, resume=True)`` after 10 epochs trains 5 more.
    ``seed`` seeds this run only; ``global_seed=True`` also calls
    ``keras.utils.set_random_seed(seed)``, which seeds Python, NumPy and
    TensorFlow for the whole process.

    The Projector run holds ``embedding`` (one row per id; columns ``label``,
    ``id``, ``kind``, ``word_end``, ``count``, ``positivity``, see
    :mod:`projector_tools.training.token_stats`) and ``reviews`` (up to
    ``review_points`` validation reviews with ``text``, ``label``,
    ``predicted``, ``correct``, see :mod:`projector_tools.training.review_points`).

    Example::

        result = train("runs/demo", epochs=5, verbose=0)
        result.initial_epoch, len(result.history["val_accuracy"])   # (0, 5)

    Raises :class:`~projector_tools.errors.DatasetUnavailableError` (data
    cannot be had here), :class:`~projector_tools.errors.LogdirError` (the
    logdir holds something else) or an :class:`InputError` before anything
    is written into ``logdir``.
    """
    logdir = os.path.expanduser(str(logdir))
    given = {**(options.to_dict() if options is not None else {}), **option_values}
    opts, resuming = _start(logdir, given, bool(resume))
    # Ctrl-C at any point below leaves a run that --resume continues: run.json
    # and the vocabulary are renamed into place, checkpoints are written
    # before the state file names them, exports switch over atomically.
    ckpt_dir = os.path.join(logdir, CHECKPOINT_DIR)
    progress: dict[str, int | None] = {"saved": None if resuming else 0}
    with resume_hint(_resume_hint(logdir, ckpt_dir, progress)):
        inputs = _prepare(logdir, opts, resuming)
        if global_seed:
            import keras

            keras.utils.set_random_seed(opts.seed)
        datasets = _datasets(inputs, opts)
        session = model_session(ckpt_dir, int(inputs.encoder.vocab_size), opts, max_to_keep, resuming, progress)
        reviews, projector_cb = _projector_callback(logdir, inputs, opts)
        hist = _fit(logdir, session, datasets, opts, projector_cb, progress, list(callbacks or []), verbose)
        return _finish(logdir, opts, inputs, session, hist, projector_cb, reviews)


# --------------------------------------------------------------------------
# Command line


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Options of ``projector-tools train``: :class:`TrainOptions`' fields, plus the run's controls."""
    parser.add_argument("--logdir", required=True, help="run directory to create (or continue with --resume)")
    add_arguments(parser)
    parser.add_argument("--resume", action="store_true", help="continue the run in --logdir from its last saved epoch")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch progress bar")


def run_cli(args: argparse.Namespace) -> int:
    result = train(args.logdir, resume=args.resume, verbose=0 if args.quiet else 1, **given_from_args(args))
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
