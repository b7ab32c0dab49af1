"""The hostile inputs of ``bench/hostile.py``, at the issue's sizes, each built
once into the work folder (a builder skips what exists). Every case is a
folder ``<work>/cases/<name>``; outside files live in ``<work>/outside``."""

from __future__ import annotations

import gzip
import json
import os
import struct
import zipfile
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

GIB = 1 << 30


@dataclass
class Command:
    argv: list[str]
    watch: list[str] = field(default_factory=list)  # folders that must not change on failure
    expect: str = "any"  # "ok": must succeed
    exported_mb: int = 0


@dataclass
class Case:
    name: str
    make: Callable[[], None]
    commands: list[Command]


def _once(path: str, build: Callable[[str], None]) -> Callable[[], None]:
    def make() -> None:
        if not os.path.exists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = os.path.join(os.path.dirname(path), ".part-" + os.path.basename(path))
            build(tmp)
            os.replace(tmp, path)
    return make


def _gzip(path: str, head: bytes, body: bytes, total: int) -> None:
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(head)
        for _ in range(total // len(body)):
            f.write(body)


def _zip(path: str, entries: dict[str, tuple[bytes, int]]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, (data, total) in entries.items():
            with zf.open(name, "w", force_zip64=True) as out:
                for _ in range(max(1, total // len(data))):
                    out.write(data)


def _run(folder: str, rows: int = 6) -> str:
    """A healthy exported run of ``rows`` labelled points (built by the package)."""
    from projector_tools.export.embeddings import export_embeddings

    export_embeddings(np.arange(rows * 3, dtype="float32").reshape(rows, 3) + 1, folder,
                      metadata=[f"w{i}" for i in range(rows)])
    return folder


def _metadata_name(run: str) -> str:
    text = open(os.path.join(run, "projector_config.pbtxt")).read()
    return next(ln.split('"')[1] for ln in text.splitlines() if "metadata_path" in ln)


def _set_metadata_path(run: str, target: str) -> None:
    path = os.path.join(run, "projector_config.pbtxt")
    text = open(path).read()
    old = next(ln for ln in text.splitlines() if "metadata_path" in ln)
    open(path, "w").write(text.replace(old, f'  metadata_path: "{target}"'))


def _readers(run: str, out: str = "{out}") -> list[Command]:
    """The commands that read a run: those that only read first, then the two that
    may rewrite it on success (doctor --fix, layout), so each sees the hostile run."""
    cmds = [["doctor", run], ["neighbors", run, "w1"], ["plot", run, "-o", out + ".png"],
            ["publish", run, "--out", out], ["doctor", run, "--fix"], ["layout", run, "--method", "pca"]]
    return [Command(c, watch=[run]) for c in cmds]


def _export(src: str, *extra: str, expect: str = "any", exported_mb: int = 0) -> Command:
    return Command(["export", src, "--logdir", "{out}", *extra], expect=expect, exported_mb=exported_mb)


def _outside(work: str) -> str:
    """``<work>/outside``: a secret label file, a safetensors file, a TF checkpoint."""
    out = os.path.join(work, "outside")
    if not os.path.exists(os.path.join(out, "ckpt", "checkpoint")):
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "secret.tsv"), "w") as f:
            f.write("".join(f"secret-{i}-do-not-copy\n" for i in range(6)))
        from safetensors.numpy import save_file

        save_file({"embeddings.word_embeddings.weight": np.ones((6, 3), "float32")},
                  os.path.join(out, "secret.safetensors"))
        import tensorflow as tf

        ckpt = tf.train.Checkpoint(embedding=tf.Variable(np.ones((6, 3), "float32")))
        ckpt.save(os.path.join(out, "ckpt", "ckpt"))
    return out


# ------------------------------------------------------------------ word vectors

def word_vector_cases(c: str) -> list[Case]:
    def gz(name, head, body, total=8 * GIB):
        path = os.path.join(c, name)
        return path, _once(path, lambda p: _gzip(p, head, body, total))

    rows = b"a 0.1 0.2\n" * (1 << 16)
    cases = []
    for name, head, body in [
        ("vec-gz-8g-of-zeros.vec.gz", b"3 2\n", b"\0" * (1 << 20)),
        ("vec-gz-8g-one-line.vec.gz", b"2 3\nthe ", b"0.1 " * (1 << 18)),
        ("vec-gz-header-2-rows-8g-rows.vec.gz", b"2 2\n", rows),
        ("vec-gz-honest-header-8g-rows.vec.gz", b"858993459 2\n", rows),
        ("glove-8g-rows.txt.gz", b"", rows),
        ("glove-8g-one-token.txt.gz", b"the 0.1 0.2 0.3\n", b"x" * (1 << 20)),
    ]:
        path, make = gz(name, head, body)
        cases.append(Case(name, make, [_export(path), _export(path, "--max-rows", "10")]))
    sparse = os.path.join(c, "sparse-8g.vec")

    def _sparse(p):
        with open(p, "wb") as f:
            f.write(b"3 2\n")
            f.truncate(8 * GIB)
    cases.append(Case("sparse-8g.vec", _once(sparse, _sparse), [_export(sparse)]))
    vocab, npy = os.path.join(c, "vocab-2g-lines", "vocab.txt"), os.path.join(c, "vocab-2g-lines", "v.npy")

    def _vocab(p):
        np.save(npy, np.ones((3, 2), "float32"))
        _lines(p, b"a\n", 2 * GIB)
    cases.append(Case("vocab-2g-lines", _once(vocab, _vocab), [_export(npy, "--vocab", vocab)]))
    return cases


def _lines(path: str, line: bytes, total: int) -> None:
    block = line * ((1 << 20) // len(line))
    with open(path, "wb") as f:
        for _ in range(total // len(block)):
            f.write(block)


# ------------------------------------------------------------------ model files

def _keras_vocab_model(path: str) -> None:
    import keras

    tv = keras.layers.TextVectorization(max_tokens=20, output_sequence_length=4, name="tv")
    tv.adapt(["the cat sat on the mat", "a dog ran"])
    ids = keras.Input((1,), dtype="string")
    keras.Model(ids, keras.layers.Embedding(20, 4, name="words")(tv(ids))).save(path)


def _replace_entries(src: str, dst: str, replace: Callable[[str], tuple[bytes, int] | None]) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zout:
        for info in zin.infolist():
            new = replace(info.filename)
            with zout.open(info.filename, "w", force_zip64=True) as out:
                if new is None:
                    out.write(zin.read(info.filename))
                else:
                    for _ in range(new[1] // len(new[0])):
                        out.write(new[0])


def _h5_sparse(path: str, legacy: bool) -> None:
    """A contiguous 3,000,000 x 1,000 float32 dataset whose storage is allocated
    (a sparse 12 GB file), in the Keras 3 weights layout or the legacy one."""
    import h5py

    with h5py.File(path, "w") as f:
        if legacy:
            mw = f.create_group("model_weights")
            mw.attrs["layer_names"] = [b"embedding"]
            g = mw.create_group("embedding")
            g.attrs["weight_names"] = [b"embedding/embeddings:0"]
            ds = g.create_dataset("embedding/embeddings:0", shape=(3_000_000, 1000), dtype="float32")
        else:
            ds = f.create_dataset("layers/embedding/vars/0", shape=(3_000_000, 1000), dtype="float32")
        ds[-1, -1] = 1.0  # allocates the whole contiguous extent: a sparse file


def _safetensors_sparse(path: str) -> None:
    nbytes = 3_000_000 * 1000 * 4
    header = json.dumps({"embeddings.word_embeddings.weight": {
        "dtype": "F32", "shape": [3_000_000, 1000], "data_offsets": [0, nbytes]}}).encode()
    header += b" " * (-len(header) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
        f.truncate(8 + len(header) + nbytes)


def _hf(folder: str, files: dict[str, str], rows: int = 10) -> None:
    from safetensors.numpy import save_file

    os.makedirs(folder, exist_ok=True)
    save_file({"embeddings.word_embeddings.weight": np.ones((rows, 4), "float32")},
              os.path.join(folder, "model.safetensors"))
    for name, text in files.items():
        with open(os.path.join(folder, name), "w") as f:
            f.write(text)


def _dir_once(folder: str, build: Callable[[str], None]) -> Callable[[], None]:
    def make() -> None:
        if not os.path.exists(folder):
            tmp = folder + ".part"
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
            os.makedirs(tmp)
            build(tmp)
            os.replace(tmp, folder)
    return make


def model_cases(c: str, work: str) -> list[Case]:
    cases = []
    good = os.path.join(c, "good-tv.keras")
    make_good = _once(good, _keras_vocab_model)

    config = os.path.join(c, "config-5g.keras")
    cases.append(Case("keras-config-5g", _once(config, lambda p: _zip(
        p, {"config.json": (b" " * (1 << 20), 5 * GIB), "model.weights.h5": (b"\0", 1)})), [_export(config)]))

    vocab = os.path.join(c, "vocab-4g.keras")

    def _vocab(p):
        make_good()
        _replace_entries(good, p, lambda n: (b"\0" * (1 << 20), 4 * GIB)
                         if n.startswith("assets/") and n.endswith("vocabulary.txt") else None)
    cases.append(Case("keras-vocab-asset-4g", _once(vocab, _vocab), [_export(vocab)]))

    deep = os.path.join(c, "deep.keras")
    cases.append(Case("keras-config-deep-200k", _once(deep, lambda p: _zip(p, {
        "config.json": (b"[" * 200_000 + b"]" * 200_000, 1), "model.weights.h5": (b"\0", 1)})),
        [_export(deep)]))

    for name, legacy in [("weights-h5-3m-sparse.weights.h5", False), ("legacy-3m-sparse.h5", True)]:
        path = os.path.join(c, name)
        cases.append(Case(name, _once(path, lambda p, legacy=legacy: _h5_sparse(p, legacy)),
                          [_export(path), _export(path, "--max-rows", "10")]))

    from tests.helpers.hostile_files import deep_legacy_h5

    deep_h5 = os.path.join(c, "deep-config.h5")
    cases.append(Case("legacy-h5-config-deep-30k", _once(deep_h5, deep_legacy_h5), [_export(deep_h5)]))

    st = os.path.join(c, "st-3m", "model.safetensors")
    cases.append(Case("safetensors-3m-sparse", _once(st, _safetensors_sparse),
                      [_export(os.path.dirname(st)), _export(os.path.dirname(st), "--max-rows", "10")]))

    tok = {"version": "1.0", "model": {"type": "WordLevel", "vocab": {"a": 0, "b": 1_000_000_000}, "unk_token": "a"}}
    for name, files in [("tokenizer-id-1e9", {"tokenizer.json": json.dumps(tok)}),
                        ("added-tokens-2e9", {"vocab.txt": "a\nb\n", "added_tokens.json": '{"big": 2000000000}'}),
                        ("added-tokens-negative", {"vocab.txt": "a\nb\n", "added_tokens.json": '{"neg": -5}'})]:
        folder = os.path.join(c, name)
        cases.append(Case(name, _dir_once(folder, lambda d, files=files: _hf(d, files)), [_export(folder)]))

    for name, target in [("st-index-dotdot", "../../../outside/secret.safetensors"),
                         ("st-index-absolute", os.path.join(work, "outside", "secret.safetensors")),
                         ("st-index-etc", "/etc/shadow")]:
        folder = os.path.join(c, name, "a", "model")

        def _index(d, target=target):
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
                json.dump({"weight_map": {"embeddings.word_embeddings.weight": target}}, f)
        cases.append(Case(name, _chain(lambda: _outside(work), _dir_once(folder, _index)), [_export(folder)]))

    for name, target in [("ckpt-state-etc", "/etc/shadow"), ("ckpt-state-dotdot", "../../../outside/ckpt/ckpt-1")]:
        folder = os.path.join(c, name, "a", "ckpt")

        def _state(d, target=target):
            with open(os.path.join(d, "checkpoint"), "w") as f:
                f.write(f'model_checkpoint_path: "{target}"\nall_model_checkpoint_paths: "{target}"\n')
        cases.append(Case(name, _chain(lambda: _outside(work), _dir_once(folder, _state)), [_export(folder)]))
    sparse_index = os.path.join(c, "ckpt-index-8g-sparse", "ckpt.index")

    def _sparse_index(p):
        with open(p, "wb") as f:
            f.truncate(8 * GIB)
        with open(os.path.join(os.path.dirname(p), "ckpt.data-00000-of-00001"), "wb") as f:
            f.write(b"\0" * 64)
    cases.append(Case("ckpt-index-8g-sparse", _once(sparse_index, _sparse_index),
                      [_export(sparse_index[: -len(".index")])]))
    npy = os.path.join(c, "npy-3m-sparse.npy")

    def _npy(p):
        arr = np.lib.format.open_memmap(p + ".npy", mode="w+", dtype="float32", shape=(3_000_000, 1000))
        del arr
        os.replace(p + ".npy", p)
    cases.append(Case("npy-3m-sparse", _once(npy, _npy), [_export(npy), _export(npy, "--max-rows", "10")]))
    return cases


def _chain(*steps: Callable[[], None]) -> Callable[[], None]:
    def make() -> None:
        for step in steps:
            step()
    return make


# ------------------------------------------------------------------ runs and FIFOs

def _patch_dtype(run: str) -> None:
    from tests.helpers.hostile_files import patch_dtype

    index = next(os.path.join(run, n) for n in os.listdir(run) if n.endswith(".index"))
    patch_dtype(index)


def run_cases(c: str, work: str) -> list[Case]:
    cases = []

    def tampered(name: str, tamper: Callable[[str], None]) -> None:
        run = os.path.join(c, name, "logdir", "run")

        def build(d):
            _run(os.path.join(d, "logdir", "run"))
            tamper(os.path.join(d, "logdir", "run"))
        cases.append(Case(name, _chain(lambda: _outside(work), _dir_once(os.path.join(c, name), build)),
                          _readers(run)))

    def fifo_metadata(run):
        meta = os.path.join(run, _metadata_name(run))
        os.unlink(meta)
        os.mkfifo(meta)
    tampered("run-metadata-fifo", fifo_metadata)
    tampered("run-dtype-99", _patch_dtype)
    secret = os.path.join(work, "outside", "secret.tsv")
    tampered("run-metadata-etc-shadow", lambda run: _set_metadata_path(run, "/etc/shadow"))
    tampered("run-metadata-absolute-outside", lambda run: _set_metadata_path(run, secret))
    tampered("run-metadata-dotdot", lambda run: _set_metadata_path(run, "../../../outside/secret.tsv"))

    def meta_link(run):
        meta = os.path.join(run, _metadata_name(run))
        os.unlink(meta)
        os.symlink(secret, meta)
    tampered("run-metadata-symlink-out", meta_link)

    def ckpt_link(run):
        data = next(os.path.join(run, n) for n in os.listdir(run) if ".data-" in n)
        other = os.path.join(work, "outside", "run")
        if not os.path.exists(other):
            _run(other)
        os.unlink(data)
        os.symlink(next(os.path.join(other, n) for n in os.listdir(other) if ".data-" in n), data)
    tampered("run-checkpoint-symlink-out", ckpt_link)
    tampered("run-config-not-protobuf", lambda run: open(os.path.join(run, "projector_config.pbtxt"), "w")
             .write("embeddings { this is not protobuf"))

    def repeat_200k(run):
        entry = (f'embeddings {{\n  tensor_name: "embedding"\n  metadata_path: "{_metadata_name(run)}"\n}}\n')
        open(os.path.join(run, "projector_config.pbtxt"), "w").write(entry * 200_000)
    tampered("run-config-200k-entries", repeat_200k)

    def repeat_under_ceiling(run):
        from projector_tools.run.budgets import MAX_CONFIG_BYTES

        entry = (f'embeddings {{\n  tensor_name: "embedding"\n  metadata_path: "{_metadata_name(run)}"\n}}\n')
        open(os.path.join(run, "projector_config.pbtxt"), "w").write(entry * (MAX_CONFIG_BYTES // len(entry)))
    tampered("run-config-just-under-ceiling", repeat_under_ceiling)

    def state_1g(run):
        with open(os.path.join(run, "checkpoint"), "wb") as f:
            f.truncate(GIB)
    tampered("run-checkpoint-state-1g", state_1g)

    def state_fifo(run):
        os.unlink(os.path.join(run, "checkpoint"))
        os.mkfifo(os.path.join(run, "checkpoint"))
    tampered("run-checkpoint-state-fifo", state_fifo)

    def one_line_1g(run):
        with open(os.path.join(run, _metadata_name(run)), "wb") as f:
            for _ in range(1024):
                f.write(b"x" * (1 << 20))
    tampered("run-metadata-1g-one-line", one_line_1g)
    tampered("run-metadata-2g-lines", lambda run: _lines(os.path.join(run, _metadata_name(run)), b"x\n", 2 * GIB))

    logdir = os.path.join(c, "logdir-with-linked-child", "logdir")

    def linked(d):
        _run(os.path.join(d, "logdir", "inside"))
        _outside(work)
        other = os.path.join(work, "outside", "linked-run")
        if not os.path.exists(other):
            _run(other)
            with open(os.path.join(other, _metadata_name(other)), "w") as f:
                f.write("".join(f"secret-{i}\n" for i in range(6)))
        os.symlink(other, os.path.join(d, "logdir", "linked"))
    cases.append(Case("logdir-symlinked-child-run", _dir_once(os.path.dirname(logdir), linked),
                      [Command(["doctor", logdir]), Command(["neighbors", logdir, "secret-1", "--run", "linked"]),
                       Command(["publish", logdir, "--out", "{out}"])]))

    fifo = os.path.join(c, "fifo", "pipe.vec")
    npy = os.path.join(c, "fifo", "v.npy")

    def fifos(d):
        os.mkfifo(os.path.join(d, "pipe.vec"))
        np.save(os.path.join(d, "v.npy"), np.ones((3, 2), "float32"))
    cases.append(Case("fifo-as-source-and-vocab", _dir_once(os.path.dirname(fifo), fifos),
                      [_export(fifo), _export(npy, "--vocab", fifo)]))
    return cases


def cases(work: str) -> list[Case]:
    c = os.path.join(work, "cases")
    return word_vector_cases(c) + model_cases(c, work) + run_cases(c, work)


def main() -> None:
    """``python bench/hostile_inputs.py WORK NAME``: build case NAME (run in its own
    process, so the sweep's memory measurements never include TensorFlow)."""
    import sys

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    work, name = sys.argv[1], sys.argv[2]
    next(case for case in cases(work) if case.name == name).make()


if __name__ == "__main__":
    main()
