"""Trainer benchmark: our `train()` against the seed notebook's exact pipeline.

Same data (the same reviews, encoded with the same SubwordTextEncoder),
same number of epochs, one process, one after the other:

* seed: ``train_data.shuffle(1000).padded_batch(10, padded_shapes=([None], []))``
  (and the same for the validation data), the seed's model
  ``Embedding(vocab, 16) -> GlobalAveragePooling1D -> Dense(16, relu) -> Dense(1)``,
  Adam, binary cross-entropy from logits;
* ours: :func:`projector_tools.train` with its defaults (length-bucketed,
  cached, prefetched batches; checkpoints, TensorBoard scalars and the
  Projector export every epoch included in its time).

Both validate on the whole validation split every epoch (the seed notebook
used ``validation_steps=20``, i.e. 200 reviews, too few to compare
accuracies). Epoch time is the wall time from ``on_epoch_begin`` to
``on_epoch_end`` (training + validation); the table shows the median over
epochs 2..N (epoch 1 includes tracing) and the first epoch separately.

    python bench/train.py                       # demo corpus, 10 epochs
    python bench/train.py --data-dir aclImdb_v1.tar.gz   # the real IMDB
    python bench/train.py --data-csv imdb.csv --epochs 5

Targets (issue 7): ours >= 3x faster per epoch, validation accuracy no lower
than the seed's minus 1 point. Writes ``bench/results/train.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def _timer_callback():
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.times: list[float] = []
            self._t = 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self._t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self._t)

    return EpochTimer()


def seed_pipeline(ids, labels, batch_size: int = 10):
    """The seed notebook's pipeline over already-encoded reviews."""
    import numpy as np
    import tensorflow as tf

    # The same in-memory source as ours, so that only the pipeline differs
    # (the notebook read tfds TFRecords, which would only add to its time).
    lengths = np.asarray([len(x) for x in ids], dtype=np.int64)
    flat = np.asarray([i for x in ids for i in x], dtype=np.int64)
    rt = tf.RaggedTensor.from_row_lengths(flat, lengths)
    ds = tf.data.Dataset.from_tensor_slices((rt, np.asarray(labels, dtype=np.int64)))
    ds = ds.map(lambda x, y: (tf.ensure_shape(tf.convert_to_tensor(x), [None]), y))
    return ds.shuffle(1000).padded_batch(batch_size, padded_shapes=([None], []))


def run_seed(train_ids, train_labels, test_ids, test_labels, vocab_size: int, epochs: int, verbose: int):
    import keras

    model = keras.Sequential(
        [
            keras.layers.Embedding(vocab_size, 16),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(1),
        ]
    )
    model.compile(
        optimizer="adam",
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    timer = _timer_callback()
    hist = model.fit(
        seed_pipeline(train_ids, train_labels),
        epochs=epochs,
        validation_data=seed_pipeline(test_ids, test_labels),
        callbacks=[timer],
        verbose=verbose,
    )
    return timer.times, [float(v) for v in hist.history["val_accuracy"]]


def write_long_reviews_csv(path: str, n: int) -> str:
    """IMDB-length generated reviews (``split`` column: n train, n test)."""
    import csv

    from projector_tools.demo_corpus import generate_reviews

    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label", "split"])
        for split, seed in (("train", 11), ("test", 12)):
            part = generate_reviews(n, seed, opinions=(3, 70), neutrals=(0, 12))
            for text, label in zip(part.texts, part.labels):
                w.writerow([text, label, split])
    return path


def summarize(times: list[float]) -> dict[str, float]:
    rest = times[1:] or times
    return {
        "first_epoch_s": round(times[0], 4),
        "median_epoch_s": round(statistics.median(rest), 4),
        "total_s": round(sum(times), 3),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default=None, help="as for `projector-tools train` (default demo)")
    parser.add_argument("--data-dir")
    parser.add_argument("--data-csv")
    parser.add_argument("--text-column")
    parser.add_argument("--label-column")
    parser.add_argument(
        "--long-reviews", type=int, metavar="N",
        help="instead of the demo corpus: N train + N validation generated reviews as long as "
        "IMDB's (about 215 words, up to ~450), written to a CSV and trained from it",
    )
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--output", default=os.path.join(HERE, "results", "train.json"))
    parser.add_argument("--verbose", type=int, default=0)
    args = parser.parse_args(argv)

    import keras
    import tensorflow as tf

    from projector_tools.data import encode_texts, load_encoder
    from projector_tools.train import DEFAULTS, train

    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        logdir = os.path.join(tmp, "ours")
        if args.long_reviews:
            args.data_csv = write_long_reviews_csv(os.path.join(tmp, "long.csv"), args.long_reviews)
        timer = _timer_callback()
        t0 = time.perf_counter()
        result = train(
            logdir,
            dataset=args.dataset,
            data_dir=args.data_dir,
            data_csv=args.data_csv,
            text_column=args.text_column,
            label_column=args.label_column,
            epochs=args.epochs,
            verbose=args.verbose,
            callbacks=[timer],
        )
        ours_wall = time.perf_counter() - t0
        ours_times = timer.times
        ours_acc = result.history["val_accuracy"]

        # The seed's pipeline on exactly the same reviews and vocabulary.
        from projector_tools.data import load_dataset

        with open(os.path.join(logdir, "run.json"), encoding="utf-8") as f:
            opts = json.load(f)["options"]
        data = load_dataset(
            opts["dataset"], data_dir=opts["data_dir"], data_csv=opts["data_csv"],
            text_column=opts["text_column"], label_column=opts["label_column"], seed=opts["seed"],
        )
        encoder = load_encoder(os.path.join(logdir, "encoder"))
        train_ids = encode_texts(encoder, data.train_texts)
        test_ids = encode_texts(encoder, data.test_texts)
        keras.utils.set_random_seed(0)
        seed_times, seed_acc = run_seed(
            train_ids, data.train_labels, test_ids, data.test_labels,
            int(encoder.vocab_size), args.epochs, args.verbose,
        )

    ours = summarize(ours_times)
    seed = summarize(seed_times)
    ratio = seed["median_epoch_s"] / ours["median_epoch_s"]
    acc_diff = (ours_acc[-1] - seed_acc[-1]) * 100
    lengths = [len(x) for x in train_ids]
    report = {
        "dataset": data.name,
        "train_reviews": len(data.train_texts),
        "validation_reviews": len(data.test_texts),
        "mean_subwords_per_review": round(sum(lengths) / len(lengths), 1),
        "vocab_size": int(encoder.vocab_size),
        "epochs": args.epochs,
        "ours": {
            **ours,
            "batch_size": DEFAULTS["batch_size"],
            "pipeline": "ids encoded once in memory, reshuffled each epoch, length-sorted pools cut into batches, prefetch",
            "includes": "checkpoint + TensorBoard scalars + Projector export every epoch",
            "train_call_wall_s": round(ours_wall, 2),
            "val_accuracy": [round(a, 4) for a in ours_acc],
        },
        "seed": {
            **seed,
            "batch_size": 10,
            "pipeline": "shuffle(1000).padded_batch(10)",
            "val_accuracy": [round(a, 4) for a in seed_acc],
        },
        "epoch_time_ratio_seed_over_ours": round(ratio, 2),
        "final_val_accuracy_ours_minus_seed_points": round(acc_diff, 2),
        "targets": {"ratio_at_least": 3.0, "accuracy_points_at_least": -1.0},
        "targets_met": bool(ratio >= 3.0 and acc_diff >= -1.0),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "platform": platform.platform(),
        },
    }

    rows = [
        ("pipeline", "median epoch s", "first epoch s", "final val acc"),
        ("seed shuffle(1000).padded_batch(10)", f"{seed['median_epoch_s']:.3f}",
         f"{seed['first_epoch_s']:.3f}", f"{seed_acc[-1]:.4f}"),
        (f"projector_tools.train (batch {DEFAULTS['batch_size']}, buckets)", f"{ours['median_epoch_s']:.3f}",
         f"{ours['first_epoch_s']:.3f}", f"{ours_acc[-1]:.4f}"),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    print(f"\n{data.name}: {len(data.train_texts)} train / {len(data.test_texts)} validation reviews, "
          f"vocab {encoder.vocab_size}, {args.epochs} epochs, {os.cpu_count()} CPUs")
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    print(f"epoch-time ratio (seed / ours): {ratio:.2f}x   (target >= 3x)")
    print(f"validation accuracy, ours - seed: {acc_diff:+.2f} points   (target >= -1)")
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
