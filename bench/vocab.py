"""Vocabulary benchmark: ``build_subword_encoder`` vs tfds' ``build_from_corpus``.

Both build a ``SubwordTextEncoder`` with target size 2**13 from the same
train texts, in this one process, one after the other (ours first), after
TensorFlow has been imported (both call ``tf.compat`` and would otherwise
pay its import). The subword lists must be identical, in order; the script
fails otherwise. Corpora, each read through the trainer's own loaders
(``load_dataset``: CSV parsing, ``clean_review``, the train split):

* ``demo``: the offline demo corpus (4,000 short generated reviews);
* ``realish``: real English prose cut into IMDB-length "reviews" with
  IMDB's noise, written to a CSV (``<br /><br />`` markup, quotes, years,
  ratings like ``7/10``, non-ASCII names, occasional typos and
  ``snake_case`` words). The sentences are the docstrings of the Python
  standard library and the installed packages, so the vocabulary has a
  real long tail (tens of thousands of distinct words), unlike the
  generated corpora. No real review text ships with the installed
  packages and the machine is offline;
* ``long``: generated IMDB-length reviews (``bench/train.py``'s generator);
* ``csv`` / ``aclimdb``: your own real reviews, added when ``--data-csv
  FILE`` (the trainer's CSV reader: a ``review``/``text`` column) or
  ``--data-dir DIR`` (an ``aclImdb`` directory or its ``.tar.gz``) is given.

    python bench/vocab.py                                  # -> bench/results/vocab.json
    python bench/vocab.py --realish 10000 --long 25000 --corpora realish,long
    python bench/vocab.py --corpora csv --data-csv reviews.csv --out /tmp/vocab.json

Target: ours at least 4x faster on every corpus but ``demo``.
"""

from __future__ import annotations

import argparse
import csv
import gc
import os
import random
import re
import sys
import sysconfig
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from _common import machine, print_table, write_json  # noqa: E402
from train import write_long_reviews_csv  # noqa: E402  (the IMDB-length generator)

TARGET_VOCAB_SIZE = 2**13
TARGET_RATIO = 4.0

_DOCSTRING = re.compile(r'"""(.*?)"""', re.S)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_NAMES = ["Amélie", "Zoë", "Björk", "Almodóvar", "Kieślowski", "Renée", "Beyoncé", "Ōzu", "Nuñez", "Dvořák"]
_ASIDES = ["(spoilers!)", "- really -", '"classic"', "...", "?!", "(sigh)", "— again —", "…"]


def prose_sentences(limit: int = 250_000) -> list[str]:
    """Sentences of the docstrings of the standard library and site-packages, sorted."""
    paths = sysconfig.get_paths()
    found: set[str] = set()
    for root in (paths["stdlib"], paths["purelib"]):
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d not in ("test", "tests", "__pycache__"))
            for name in sorted(files):
                if not name.endswith(".py"):
                    continue
                try:
                    with open(os.path.join(folder, name), encoding="utf-8") as f:
                        source = f.read()
                except (OSError, UnicodeDecodeError):
                    continue
                for doc in _DOCSTRING.findall(source):
                    for para in doc.split("\n\n"):
                        for s in _SENTENCE_END.split(" ".join(para.split())):
                            prose = sum(ch.isalpha() or ch == " " for ch in s)
                            if 30 <= len(s) <= 300 and s[-1] in ".!?" and prose > 0.9 * len(s):
                                found.add(s)
                if len(found) >= limit:
                    return sorted(found)
    return sorted(found)


def _typo(rng: random.Random, word: str) -> str:
    i = rng.randrange(len(word))
    kind = rng.randrange(3)
    if kind == 0:
        return word[:i] + word[i + 1 :]
    if kind == 1:
        return word[:i] + word[i] + word[i:]
    return word[:i] + rng.choice("aeiourstln") + word[i + 1 :]


def write_realish_csv(path: str, n: int, seed: int = 5) -> dict:
    """``n`` train + ``n // 4`` test IMDB-length reviews of real prose with IMDB's noise."""
    sentences = prose_sentences()
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["review", "sentiment", "split"])
        for split, count in (("train", n), ("test", n // 4)):
            for _ in range(count):
                parts = []
                for _ in range(rng.randint(3, 22)):
                    words = rng.choice(sentences).split(" ")
                    for j, word in enumerate(words):
                        r = rng.random()
                        if r < 0.015 and len(word) > 2:
                            words[j] = _typo(rng, word)
                        elif r < 0.02:
                            words[j] = rng.choice(_NAMES)
                        elif r < 0.022:
                            words[j] = f"{rng.randint(1920, 2009)}"
                        elif r < 0.023:
                            words[j] = f"{word}_{rng.choice(words)}"
                    if rng.random() < 0.1:
                        words.insert(rng.randrange(len(words) + 1), rng.choice(_ASIDES))
                    parts.append(" ".join(words))
                    parts.append("<br /><br />" if rng.random() < 0.15 else " ")
                if rng.random() < 0.3:
                    parts.append(f" {rng.randint(1, 10)}/10")
                w.writerow(["".join(parts).strip(), rng.choice(["positive", "negative"]), split])
    return {"prose_sentences": len(sentences)}


def time_both(texts: list[str]) -> dict:
    import tensorflow_datasets as tfds

    from projector_tools.training.subword_builder import build_subword_encoder

    gc.collect()
    t = time.perf_counter()
    ours = build_subword_encoder(texts, TARGET_VOCAB_SIZE)
    ours_s = time.perf_counter() - t
    gc.collect()
    load_before = os.getloadavg()[0]
    t = time.perf_counter()
    theirs = tfds.deprecated.text.SubwordTextEncoder.build_from_corpus(texts, TARGET_VOCAB_SIZE)
    tfds_s = time.perf_counter() - t
    identical = ours.subwords == theirs.subwords
    if not identical:
        raise SystemExit(f"subword lists differ: ours {len(ours.subwords)}, tfds {len(theirs.subwords)}")
    return {
        "reviews": len(texts),
        "characters": sum(len(x) for x in texts),
        "vocab_size": ours.vocab_size,
        "identical_subwords": identical,
        "ours_s": round(ours_s, 3),
        "tfds_build_from_corpus_s": round(tfds_s, 3),
        "speedup": round(tfds_s / ours_s, 2),
        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", default="demo,realish,long", help="comma-separated: demo, realish, long")
    parser.add_argument("--realish", type=int, default=5000, metavar="N", help="train reviews of real prose")
    parser.add_argument("--long", type=int, default=25000, metavar="N", help="generated IMDB-length train reviews")
    parser.add_argument("--data-csv", metavar="FILE", help="a CSV of real reviews: adds the corpus 'csv'")
    parser.add_argument("--data-dir", metavar="DIR", help="an aclImdb directory or archive: adds the corpus 'aclimdb'")
    parser.add_argument("--out", default=os.path.join(HERE, "results", "vocab.json"))
    args = parser.parse_args(argv)
    corpora = [c.strip() for c in args.corpora.split(",") if c.strip()]
    for name, given in (("csv", args.data_csv), ("aclimdb", args.data_dir)):
        if given and name not in corpora:
            corpora.append(name)
        if name in corpora and not given:
            parser.error(f"corpus {name!r} needs --{'data-csv' if name == 'csv' else 'data-dir'}")

    import tensorflow as tf  # noqa: F401  (imported once, outside both timings)

    from projector_tools.training.datasets import load_dataset
    from projector_tools.training.subword_builder import token_counts

    quiet = lambda message: None  # noqa: E731
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-vocab-") as tmp:
        for name in corpora:
            extra: dict = {}
            if name == "demo":
                texts = load_dataset("demo", progress=quiet).train_texts
                label = "demo corpus (projector_tools.training.demo_corpus)"
            elif name == "realish":
                path = os.path.join(tmp, "realish.csv")
                extra = write_realish_csv(path, args.realish)
                texts = load_dataset(None, data_csv=path, progress=quiet).train_texts
                label = f"real prose as IMDB-length reviews ({args.realish}, CSV)"
            elif name == "long":
                path = write_long_reviews_csv(os.path.join(tmp, "long.csv"), args.long)
                texts = load_dataset(None, data_csv=path, progress=quiet).train_texts
                label = f"generated IMDB-length reviews ({args.long}, CSV)"
            elif name == "csv":
                texts = load_dataset(None, data_csv=args.data_csv, progress=quiet).train_texts
                label = f"real reviews from {os.path.basename(args.data_csv)} (train split)"
            elif name == "aclimdb":
                texts = load_dataset("aclimdb", data_dir=args.data_dir, progress=quiet).train_texts
                label = f"real reviews from {os.path.basename(args.data_dir.rstrip('/'))} (train split)"
            else:
                parser.error(f"unknown corpus {name!r}")
            print(f"{name}: {len(texts)} reviews; building both vocabularies ...", flush=True)
            run = {"corpus": name, "label": label, **extra, "distinct_tokens": len(token_counts(texts))}
            run.update(time_both(texts))
            run["target_met"] = name == "demo" or run["speedup"] >= TARGET_RATIO
            print(f"  ours {run['ours_s']:.2f} s, tfds {run['tfds_build_from_corpus_s']:.2f} s: "
                  f"{run['speedup']:.2f}x, identical subwords", flush=True)
            runs.append(run)

    print()
    print_table(
        ["corpus", "reviews", "distinct tokens", "vocab", "ours s", "tfds s", "speedup"],
        [[r["corpus"], r["reviews"], r["distinct_tokens"], r["vocab_size"], r["ours_s"],
          r["tfds_build_from_corpus_s"], f"{r['speedup']:.2f}x"] for r in runs],
    )
    write_json(args.out, {
        "benchmark": "SubwordTextEncoder vocabulary (target 2**13): build_subword_encoder vs "
                     "tfds build_from_corpus, same process, identical subwords asserted",
        "command": "python bench/vocab.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "target": {"speedup_at_least": TARGET_RATIO, "on": [r["corpus"] for r in runs if r["corpus"] != "demo"]},
        "targets_met": all(r["target_met"] for r in runs),
        "runs": runs,
        "machine": {**machine(), "load_average_1_5_15min": [round(x, 2) for x in os.getloadavg()]},
    })
    return 0 if all(r["target_met"] for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
