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

    python bench/train.py                      # demo corpus + IMDB-length reviews, 10 epochs
    python bench/train.py --data-dir aclImdb_v1.tar.gz   # the real IMDB (not on this machine)
    python bench/train.py --data-csv imdb.csv --epochs 5
    python bench/train.py --long-reviews 25000           # IMDB's size and review length

Targets: ours >= 3x faster per epoch, validation accuracy no lower
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
DEFAULT_LONG_REVIEWS = 5000
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

    from projector_tools.training.demo_corpus import generate_reviews

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


def bench_case(train_kwargs: dict, epochs: int, verbose: int, tmp: str) -> dict:
    """One side-by-side run: our train() then the seed pipeline on the same data."""
    import keras

    from projector_tools.training.datasets import encode_texts, load_dataset, load_encoder
    from projector_tools.training.trainer import DEFAULTS, train

    logdir = os.path.join(tmp, f"ours-{len(os.listdir(tmp))}")
    timer = _timer_callback()
    t0 = time.perf_counter()
    result = train(logdir, epochs=epochs, verbose=verbose, callbacks=[timer], **train_kwargs)
    ours_wall = time.perf_counter() - t0
    ours_acc = result.history["val_accuracy"]

    # The seed's pipeline on exactly the same reviews and vocabulary.
    with open(os.path.join(logdir, "run.json"), encoding="utf-8") as f:
        opts = json.load(f)["options"]
    data = load_dataset(
        opts["dataset"], data_dir=opts["data_dir"], data_csv=opts["data_csv"],
        text_column=opts["text_column"], label_column=opts["label_column"], seed=opts["seed"],
        progress=lambda m: None,
    )
    encoder = load_encoder(os.path.join(logdir, "encoder"))
    train_ids = encode_texts(encoder, data.train_texts)
    test_ids = encode_texts(encoder, data.test_texts)
    keras.utils.set_random_seed(0)
    seed_times, seed_acc = run_seed(
        train_ids, data.train_labels, test_ids, data.test_labels,
        int(encoder.vocab_size), epochs, verbose,
    )
    ours = summarize(timer.times)
    seed = summarize(seed_times)
    ratio = seed["median_epoch_s"] / ours["median_epoch_s"]
    acc_diff = (ours_acc[-1] - seed_acc[-1]) * 100
    lengths = [len(x) for x in train_ids]
    return {
        "dataset": train_kwargs.get("label") or data.name,
        "train_reviews": len(data.train_texts),
        "validation_reviews": len(data.test_texts),
        "mean_subwords_per_review": round(sum(lengths) / len(lengths), 1),
        "max_subwords_per_review": max(lengths),
        "vocab_size": int(encoder.vocab_size),
        "epochs": epochs,
        "ours": {
            **ours,
            "batch_size": DEFAULTS["batch_size"],
            "pipeline": "ids encoded once in memory, reshuffled each epoch, length-sorted "
                        "pools cut into batches, prefetch, steps_per_execution=8",
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
        "targets_met": bool(ratio >= 3.0 and acc_diff >= -1.0),
    }


def print_case(r: dict) -> None:
    rows = [
        ("pipeline", "median epoch s", "first epoch s", "final val acc"),
        ("seed: shuffle(1000).padded_batch(10)", f"{r['seed']['median_epoch_s']:.3f}",
         f"{r['seed']['first_epoch_s']:.3f}", f"{r['seed']['val_accuracy'][-1]:.4f}"),
        (f"ours: projector_tools.train (batch {r['ours']['batch_size']})", f"{r['ours']['median_epoch_s']:.3f}",
         f"{r['ours']['first_epoch_s']:.3f}", f"{r['ours']['val_accuracy'][-1]:.4f}"),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    print(f"\n{r['dataset']}: {r['train_reviews']} train / {r['validation_reviews']} validation reviews, "
          f"{r['mean_subwords_per_review']} subwords per review on average, vocab {r['vocab_size']}, "
          f"{r['epochs']} epochs")
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)))
    print(f"epoch-time ratio (seed / ours): {r['epoch_time_ratio_seed_over_ours']:.2f}x   (target >= 3x)")
    print(f"validation accuracy, ours - seed: {r['final_val_accuracy_ours_minus_seed_points']:+.2f} points"
          "   (target >= -1)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default=None, help="as for `projector-tools train`")
    parser.add_argument("--data-dir")
    parser.add_argument("--data-csv")
    parser.add_argument("--text-column")
    parser.add_argument("--label-column")
    parser.add_argument(
        "--long-reviews", type=int, metavar="N", default=None,
        help="N train + N validation generated reviews as long as IMDB's (about 215 words, "
        "up to ~450), written to a CSV and trained from it",
    )
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--output", default=os.path.join(HERE, "results", "train.json"))
    parser.add_argument("--verbose", type=int, default=0)
    args = parser.parse_args(argv)

    import keras
    import tensorflow as tf

    chosen = any(v is not None for v in (args.dataset, args.data_dir, args.data_csv, args.long_reviews))
    reports = []
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        cases: list[dict] = []
        if not chosen:
            # Default: the demo corpus (what `make demo` trains) and reviews of IMDB's length.
            cases.append({"dataset": "demo"})
            args.long_reviews = DEFAULT_LONG_REVIEWS
        elif any(v is not None for v in (args.dataset, args.data_dir, args.data_csv)):
            cases.append({
                "dataset": args.dataset, "data_dir": args.data_dir, "data_csv": args.data_csv,
                "text_column": args.text_column, "label_column": args.label_column,
            })
        if args.long_reviews:
            path = write_long_reviews_csv(os.path.join(tmp, "long.csv"), args.long_reviews)
            cases.append({"data_csv": path, "label": f"generated IMDB-length reviews ({args.long_reviews} + {args.long_reviews})"})
        for case in cases:
            label = case.pop("label", None)
            report = bench_case(case, args.epochs, args.verbose, tmp)
            if label:
                report["dataset"] = label
            print_case(report)
            reports.append(report)

    out = {
        "benchmark": "trainer epoch time and validation accuracy: projector_tools.train vs the seed pipeline",
        "command": "python bench/train.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "targets": {"epoch_time_ratio_at_least": 3.0, "accuracy_points_at_least": -1.0},
        "targets_met": all(r["targets_met"] for r in reports),
        "runs": reports,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "platform": platform.platform(),
        },
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=2)
        f.write("\n")
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
