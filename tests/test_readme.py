"""Every Python and shell example of README.md runs, as written, on small data.

The examples are read from README.md at test time, so an example that stops
working fails here:

* a ``python`` block runs in a fresh interpreter, in a new directory, after
  a small prelude that defines the names the block takes from the text
  around it (``model``, ``encoder``, ``x_train`` ...) on tiny data; then
  what it wrote is read as TensorBoard's Projector plugin resolves it;
* a ``sh`` block runs command by command in a directory where the files it
  names were first written by the tools that write them (Keras, TensorFlow,
  gensim, safetensors and tokenizers, numpy, tarfile). ``projector-tools``
  commands run the CLI's ``main`` exactly as the console script does, in a
  child forked from a server that imported TensorFlow once (the import is
  what would cost most here; the export block's first command runs the
  installed console script itself); ``python`` commands run in a fresh
  interpreter. Only the commands in :data:`SKIPPED` are not run, each for
  the reason given there;
* the untagged block (what a run holds) is compared with a run's files.

:data:`BLOCKS` names the test of each block; ``test_every_block_is_run``
fails for a block no test runs, so a new README example needs a test here.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import textwrap
from dataclasses import dataclass

import numpy as np
import pytest

from projector_tools.run.metadata import escape_label, parse_projector_tsv, subword_metadata
from projector_tools.run.vocab_labels import vocabulary_metadata
from tests.helpers import REPO_ROOT
from tests.helpers.cli_process import ForkServer, cli_env
from tests.helpers.run_resolver import resolve_like_tensorboard

pytestmark = pytest.mark.slow  # trains small models and runs ~40 commands (about 2 minutes on 2 cores)

README = os.path.join(REPO_ROOT, "README.md")
TIMEOUT_S = 300  # per command or block; a hang dumps the command's stacks, then fails

# The test that runs each README block, by a line only that block holds.
BLOCKS = {
    "two_commands": "make demo   # venv + install",
    "export_after_training": 'export_embeddings(model, "runs/imdb", metadata=subword_metadata(encoder))',
    "callback_in_fit": "model.fit(train_batches, epochs=10, validation_data=test_batches,",
    "export_cli": "projector-tools export model.keras --logdir runs/imdb --vocab encoder.subwords",
    "train_cli": "projector-tools train --logdir runs/demo --resume",
    "export_activations": 'export_activations(model, x_test[:2000], "runs/acts", layer="hidden",',
    "activation_spec": 'ActivationSpec(x_val[:2000], layer="pool", name="reviews",',
    "export_activations_cli": "projector-tools export-activations model.keras x.npy --layer hidden",
    "sprites": "d = load_digits()",
    "views_python": 'views=[View("words by mood", "embedding", color_by="mood")])',
    "doctor_neighbors_plot": "projector-tools doctor runs/ --json",
    "run_files": "  events.out.tfevents.*",
    "layout_cli": "projector-tools layout runs/demo/train --method tsne --tensor embedding",
    "layout_python": 'export_embeddings(model, "runs/imdb", metadata=labels, layouts=("umap",))',
    "benchmarks": "python bench/parse.py",
    "publish_cli": "projector-tools publish runs/demo --out site --tensor reviews --tsv",
    "notebook_install": "pip install 'projector_tools[notebook]'",
    "in_a_notebook": "projector_tools.show(callback)",
}

# The only README commands not run here (as shlex.join writes them, comments dropped).
SKIPPED = {
    "make demo": "recreates the venv (pip, network) before it trains; its training is "
                 "`projector-tools train --dataset demo`, run by test_train_cli; `make -n demo` is checked",
    "make test": "runs this whole suite, this test included; `make -n test` is checked",
    "projector-tools train --logdir runs/imdb --dataset imdb_reviews/subwords8k":
        "downloads IMDB (80 MB) from the network; aclimdb and CSV reviews given as files are trained instead",
    "pip install 'projector_tools[layout]'": "installs from the network; the test environment has the extra",
    "pip install 'projector_tools[notebook]'": "installs from the network; the test environment has the "
                                                "extra, test_notebook_install checks what it declares",
    "python bench/export.py": "benchmark: minutes of machine time, results in bench/results/",
    "python bench/export.py --rows 1000000 --dims 300 --methods ours,npsave --repeat 5":
        "benchmark: a 1.2 GB matrix, 5 repeats",
    "python bench/export.py --rows 1000000 --dims 300 --methods ours,npsave --repeat 5 --warm":
        "benchmark: a 1.2 GB matrix, 5 repeats in one process",
    "python bench/load.py": "benchmark: many TensorBoard starts on a 200,000-row run",
    "python bench/vocab.py": "benchmark: vocabularies of 30,000 reviews, both builders",
    "python bench/parse.py": "benchmark: 100,000 x 300 word-vector files",
    "python -m http.server -d site --bind 127.0.0.1 8000":
        "a server that runs until stopped; tests/viewer/test_publish_browser.py serves sites this way",
}


# --------------------------------------------------------------------------
# README.md's code blocks


@dataclass(frozen=True)
class Block:
    lang: str  # "python", "sh" or "" (untagged)
    line: int  # line of the opening fence
    text: str


def readme_blocks() -> list[Block]:
    blocks, lang, start, body = [], None, 0, []
    with open(README, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            fence = re.match(r"^```(\S*)\s*$", line)
            if lang is None and fence:
                lang, start, body = fence.group(1), number, []
            elif lang is not None and line.rstrip() == "```":
                blocks.append(Block(lang, start, "".join(body)))
                lang = None
            elif lang is not None:
                body.append(line)
    assert lang is None, f"README.md: the code block opened at line {start} is not closed"
    return blocks


def readme_block(key: str) -> Block:
    found = [b for b in readme_blocks() if BLOCKS[key] in b.text]
    assert len(found) == 1, f"{len(found)} README blocks hold {BLOCKS[key]!r} (the marker of {key})"
    return found[0]


def commands_of(block: Block) -> list[str]:
    """The block's commands, ``\\``-continued lines joined, comments dropped."""
    out, pending = [], ""
    for line in block.text.splitlines():
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        words = shlex.split(pending + line, comments=True)
        pending = ""
        if words:
            out.append(shlex.join(words))
    return out


def test_every_block_is_run():
    blocks = readme_blocks()
    assert len(blocks) >= 14, [(b.lang, b.line) for b in blocks]
    for block in blocks:
        assert block.lang in ("python", "sh", ""), f"README.md line {block.line}: a ```{block.lang} block"
        keys = [key for key, marker in BLOCKS.items() if marker in block.text]
        assert len(keys) == 1, (
            f"README.md line {block.line} ({block.lang or 'untagged'} block) is run by {keys or 'no test'}; "
            f"give it one entry in BLOCKS and a test_{{key}} that runs it:\n{block.text}"
        )
    for key in BLOCKS:
        readme_block(key)  # each marker names exactly one block
        assert callable(globals().get(f"test_{key}")), f"BLOCKS names {key!r} but test_{key} is missing"
    commands = {c for b in blocks if b.lang == "sh" for c in commands_of(b)}
    assert set(SKIPPED) <= commands, f"SKIPPED names commands README.md no longer has: {set(SKIPPED) - commands}"


def test_no_command_outside_a_fenced_block():
    """Shell examples as indented text would escape this test: they must be ```sh blocks."""
    inside, stray = False, []
    with open(README, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.startswith("```"):
                inside = not inside
            elif not inside and re.match(r"^ {4,}(projector-tools|python|pip|make|tensorboard) ", line):
                stray.append(f"{number}: {line.rstrip()}")
    assert not stray, "commands in indented text, not in a ```sh block:\n" + "\n".join(stray)


# --------------------------------------------------------------------------
# Running blocks


def python_env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=os.pathsep.join(
        [REPO_ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]),
        TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")


def run_python_block(key: str, prelude: str, workdir) -> subprocess.CompletedProcess:
    """The README block after ``prelude``, as one script in a fresh interpreter in ``workdir``."""
    block = readme_block(key)
    assert block.lang == "python"
    script = workdir / "readme_example.py"
    script.write_text(
        "# prelude (tests/test_readme.py): the names the README block takes from its context\n"
        f"{textwrap.dedent(prelude).strip()}\n\n# README.md, line {block.line}\n{block.text}",
        encoding="utf-8",
    )
    proc = subprocess.run([sys.executable, script.name], cwd=workdir, env=python_env(),
                          capture_output=True, text=True, timeout=TIMEOUT_S)
    assert proc.returncode == 0, f"README.md line {block.line} failed:\n{proc.stderr[-5000:]}"
    return proc


@pytest.fixture(scope="module")
def cli():
    """``projector-tools`` commands, each forked from one server that imported TensorFlow."""
    server = ForkServer()
    yield server
    server.close()


class Shell:
    """Runs a README ``sh`` block's commands in ``workdir`` (relative paths as typed there);
    the ``projector-tools`` commands in ``console_script`` through the installed script."""

    def __init__(self, cli: ForkServer, workdir, logs, console_script=()):
        self.cli, self.workdir, self.logs = cli, workdir, logs
        self.console_script = set(console_script)
        logs.mkdir(exist_ok=True)
        self.count = 0

    def run(self, command: str) -> subprocess.CompletedProcess:
        argv = shlex.split(command)
        self.count += 1
        if argv[0] == "projector-tools" and command in self.console_script:
            script = os.path.join(os.path.dirname(sys.executable), "projector-tools")
            assert os.path.isfile(script), f"no console script beside {sys.executable}: pip install -e ."
            return subprocess.run([script, *argv[1:]], cwd=self.workdir, env=cli_env(),
                                  capture_output=True, text=True, timeout=TIMEOUT_S)
        if argv[0] == "projector-tools":
            run = self.cli.start(self.logs, f"command{self.count}", argv[1:], cwd=self.workdir)
            status = run.wait_exit(TIMEOUT_S)
            if status is None:
                run.dump_and_kill(f"{command!r} still running after {TIMEOUT_S} s")
            return subprocess.CompletedProcess(argv, status, run.stdout(), run.stderr())
        if argv[0] == "python":
            return subprocess.run([sys.executable, *argv[1:]], cwd=self.workdir, env=cli_env(),
                                  capture_output=True, text=True, timeout=TIMEOUT_S)
        pytest.fail(f"README command {command!r}: no way to run it here; run it, or add it to "
                    "SKIPPED with the reason")

    def run_block(self, key: str, status: dict[str, int] | None = None,
                  after: dict | None = None) -> dict[str, subprocess.CompletedProcess]:
        """Every command of the block not in SKIPPED, each expected to exit with
        ``status`` (default 0); ``after[command](proc)`` checks what it did."""
        block = readme_block(key)
        assert block.lang == "sh"
        status, after = status or {}, after or {}
        results = {}
        for command in commands_of(block):
            if command in SKIPPED:
                continue
            proc = self.run(command)
            want = status.get(command, 0)
            assert proc.returncode == want, (
                f"README.md line {block.line}: {command!r} exited {proc.returncode}, not {want}:\n"
                f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            )
            results[command] = proc
            if command in after:
                after[command](proc)
        unknown = (set(status) | set(after)) - set(results)
        assert not unknown, f"checks for commands the block does not run: {unknown}"
        return results


# --------------------------------------------------------------------------
# What a run serves


def served(run_dir) -> dict[str, tuple[np.ndarray, list[tuple[str, ...]], tuple[str, ...] | None]]:
    """``{tensor: (matrix, metadata rows, header)}`` as the Projector plugin and browser see
    them; every tensor must have one metadata row per matrix row."""
    out = {}
    for name, (matrix, raw) in resolve_like_tensorboard(str(run_dir)).items():
        assert raw is not None, f"{run_dir}: tensor {name!r} has no labels"
        parsed = parse_projector_tsv(raw)
        assert len(parsed.rows) == matrix.shape[0], (
            f"{run_dir}: tensor {name!r} has {matrix.shape[0]} rows, its metadata {len(parsed.rows)}")
        out[name] = (matrix, list(parsed.rows), parsed.header)
    return out


def labels_of(run: dict, name: str) -> list[str]:
    return [row[0] for row in run[name][1]]


def escaped(labels) -> list[str]:
    return [escape_label(x) for x in labels]


def ids(n: int) -> list[str]:
    return [str(i) for i in range(n)]


def load_encoder(prefix):
    import tensorflow_datasets as tfds

    return tfds.deprecated.text.SubwordTextEncoder.load_from_file(str(prefix))


# --------------------------------------------------------------------------
# Preludes: the names a Python block takes from the text around it

REVIEWS = """
    import numpy as np
    from projector_tools import build_subword_encoder
    from projector_tools.training.demo_corpus import demo_reviews

    train, val = demo_reviews(n_train=200, n_test=50)
    encoder = build_subword_encoder(train.texts, 300)  # a SubwordTextEncoder, as tfds builds it
    encoder.save_to_file("encoder")                    # encoder.subwords, for the test's checks

    def encode(texts, length=40):
        ids = np.zeros((len(texts), length), "int32")
        for i, text in enumerate(texts):
            row = encoder.encode(text)[:length]
            ids[i, :len(row)] = row
        return ids

    x_train, y_train = encode(train.texts), np.array(train.labels, "float32")
    x_val, y_val = encode(val.texts), np.array(val.labels, "float32")
    x_test, y_test = x_val, np.array(val.labels)
"""

TUTORIAL_MODEL = """
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([  # TensorFlow's word-embedding tutorial, layers named as the README uses them
        keras.Input((None,), dtype="int32"),
        keras.layers.Embedding(encoder.vocab_size, 16),
        keras.layers.GlobalAveragePooling1D(name="pool"),
        keras.layers.Dense(16, activation="relu", name="hidden"),
        keras.layers.Dense(1),
    ])
    model.compile("adam", keras.losses.BinaryCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=2, verbose=0)
"""


def prelude(*parts: str) -> str:
    return "\n".join(textwrap.dedent(p).strip() for p in parts)


def assert_subword_labelled(run: dict, name: str, encoder) -> None:
    assert run[name][0].shape == (encoder.vocab_size, 16)
    assert labels_of(run, name) == escaped(subword_metadata(encoder).column("label"))


# --------------------------------------------------------------------------
# "Two commands"


def test_two_commands():
    """Not run (see SKIPPED); the Makefile's targets do what the README says."""
    block = readme_block("two_commands")
    assert set(commands_of(block)) <= set(SKIPPED)
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    demo = subprocess.run(["make", "-n", "demo"], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert demo.returncode == 0, demo.stderr
    assert "projector_tools.cli train --dataset demo" in demo.stdout
    assert "tensorboard --logdir" in demo.stdout
    test = subprocess.run(["make", "-n", "test"], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert test.returncode == 0, test.stderr
    assert "-m pytest" in test.stdout


# --------------------------------------------------------------------------
# "Use it three ways"


def test_export_after_training(tmp_path):
    run_python_block("export_after_training", prelude(REVIEWS, TUTORIAL_MODEL), tmp_path)
    run = served(tmp_path / "runs" / "imdb")
    assert set(run) == {"embedding"}
    assert_subword_labelled(run, "embedding", load_encoder(tmp_path / "encoder"))


def test_callback_in_fit(tmp_path):
    batches = """
        import tensorflow as tf

        train_batches = tf.data.Dataset.from_tensor_slices((x_train, y_train)).batch(20)
        test_batches = tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(20)
    """
    run_python_block("callback_in_fit", prelude(REVIEWS, batches), tmp_path)
    logdir = tmp_path / "runs" / "imdb"
    # Keras' callback wrote the runs train/ and validation/: the Projector run is train/
    assert {"train", "validation"} <= set(os.listdir(logdir))
    assert not (logdir / "projector_config.pbtxt").exists()
    run = served(logdir / "train")
    assert set(run) == {"embedding"}
    assert_subword_labelled(run, "embedding", load_encoder(tmp_path / "encoder"))
    # without keep_history only the latest export (epoch 10) stays on disk
    assert sorted(f for f in os.listdir(logdir / "train") if f.endswith(".index")) == ["embeddings-10.index"]


# --------------------------------------------------------------------------
# "In a notebook"


def test_notebook_install():
    """Not run (see SKIPPED); the extra it installs declares what show() imports."""
    import configparser

    assert set(commands_of(readme_block("notebook_install"))) <= set(SKIPPED)
    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(REPO_ROOT, "setup.cfg"))
    extra = cfg["options.extras_require"]["notebook"].split()
    assert any(req.startswith("ipython") for req in extra), extra
    import IPython.display  # noqa: F401  (installed here by the test extra)


def test_in_a_notebook(tmp_path, monkeypatch):
    """Outside a kernel show() prints the URL; the site it published is in the cache."""
    import json

    monkeypatch.setenv("PROJECTOR_TOOLS_CACHE_DIR", str(tmp_path / "cache"))
    fit = """
        import keras
        from projector_tools import ProjectorCallback, subword_metadata

        model = keras.Sequential([keras.Input((None,), dtype="int32"),
                                  keras.layers.Embedding(encoder.vocab_size, 16),
                                  keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1)])
        model.compile("adam", keras.losses.BinaryCrossentropy(from_logits=True))
        callback = ProjectorCallback("runs/imdb", metadata=subword_metadata(encoder))
        model.fit(x_train, y_train, epochs=1, verbose=0, callbacks=[callback])
    """
    proc = run_python_block("in_a_notebook", prelude(REVIEWS, fit), tmp_path)
    key = re.search(r"http://127\.0\.0\.1:\d+/([0-9a-f]+)/index\.html", proc.stdout)
    assert key, proc.stdout
    site = tmp_path / "cache" / "sites" / key.group(1)
    config = json.loads((site / "config.json").read_text())
    assert [e["tensorShape"] for e in config["embeddings"]] == [
        [load_encoder(tmp_path / "encoder").vocab_size, 16]]


# -- the export command, on files written by the tools that write them ----

@dataclass
class Expected:
    run: str
    tensors: dict[str, tuple[np.ndarray, list[str]]]  # name: (matrix, first-column labels)


def write_export_sources(ws) -> dict[str, Expected]:
    """Every file the export block names, and what each command should export."""
    import keras
    import tensorflow as tf
    from gensim.models import KeyedVectors
    from gensim.test.utils import datapath
    from safetensors.numpy import save_file
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    from projector_tools import build_subword_encoder
    from projector_tools.training.demo_corpus import demo_reviews

    train, _ = demo_reviews(n_train=200, n_test=10)
    texts = train.texts
    y = np.array(train.labels, "float32")
    expected: dict[str, Expected] = {}

    # model.keras + encoder.subwords: the tutorial's model on a subword vocabulary
    encoder = build_subword_encoder(texts, 300)
    encoder.save_to_file(str(ws / "encoder"))
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((None,), dtype="int32"),
        keras.layers.Embedding(encoder.vocab_size, 16, name="embedding"),
        keras.layers.GlobalAveragePooling1D(name="pool"),
        keras.layers.Dense(16, activation="relu", name="hidden"),
        keras.layers.Dense(1, name="logit"),
    ])
    model.compile("adam", keras.losses.BinaryCrossentropy(from_logits=True))
    x = np.zeros((len(texts), 30), "int32")
    for i, t in enumerate(texts):
        row = encoder.encode(t)[:30]
        x[i, :len(row)] = row
    model.fit(x, y, epochs=1, verbose=0)
    model.save(ws / "model.keras")
    emb = model.get_layer("embedding").get_weights()[0]
    expected["projector-tools export model.keras --logdir runs/imdb --vocab encoder.subwords"] = Expected(
        "runs/imdb", {"embedding": (emb, subword_metadata(encoder).column("label"))})
    expected["python scripts/export_embeddings.py model.keras --logdir runs/imdb"] = Expected(
        "runs/imdb", {"embedding": (emb, ids(len(emb)))})
    os.symlink(os.path.join(REPO_ROOT, "scripts"), ws / "scripts")  # the command is typed in the repository

    # tutorial.keras: TensorFlow's word-embeddings tutorial, TextVectorization first
    vectorize = keras.layers.TextVectorization(max_tokens=120, output_sequence_length=20)
    vectorize.adapt(texts)
    tutorial = keras.Sequential([
        keras.Input((1,), dtype="string"), vectorize,
        keras.layers.Embedding(120, 16, name="embedding"),
        keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1),
    ])
    tutorial.save(ws / "tutorial.keras")
    vocab = vectorize.get_vocabulary()
    labels = vocabulary_metadata(vocab).column("label") + [f"<unused id {i}>" for i in range(len(vocab), 120)]
    expected["projector-tools export tutorial.keras --logdir runs/tut"] = Expected(
        "runs/tut", {"embedding": (tutorial.get_layer("embedding").get_weights()[0], labels)})

    # custom.keras: a layer class of the user's, registered in this process only
    @keras.saving.register_keras_serializable(package="readme_user")
    class ScaledEmbedding(keras.layers.Embedding):
        def call(self, inputs):
            return super().call(inputs) * 2.0

    custom = keras.Sequential([keras.Input((5,), dtype="int32"), ScaledEmbedding(40, 4, name="scaled"),
                               keras.layers.GlobalAveragePooling1D()])
    custom.save(ws / "custom.keras")
    expected["projector-tools export custom.keras --logdir runs/custom"] = Expected(
        "runs/custom", {"scaled": (custom.get_layer("scaled").get_weights()[0], ids(40))})

    # one more model, with a plain vocabulary (words.txt: '' first, TextVectorization's padding)
    words = ["", "[UNK]"] + sorted({w.strip(".,!").lower() for t in texts for w in t.split()})[:58]
    (ws / "words.txt").write_text("".join(f"{w}\n" for w in words), encoding="utf-8")
    word_labels = vocabulary_metadata(words).column("label")
    keras.utils.set_random_seed(1)
    wmodel = keras.Sequential([
        keras.Input((5,), dtype="int32"), keras.layers.Embedding(len(words), 8, name="word_emb"),
        keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(4, name="dense"), keras.layers.Dense(1),
    ], name="words_model")
    wmodel.compile("adam", "mse")
    wx = np.random.default_rng(0).integers(0, len(words), (32, 5))
    wy = np.random.default_rng(1).normal(size=(32, 1))

    def word_emb():
        return wmodel.get_layer("word_emb").get_weights()[0]

    # ckpt_dir/: a training checkpoint directory (model and optimizer, as CheckpointManager writes it)
    wmodel.fit(wx, wy, epochs=1, verbose=0)
    ckpt = tf.train.Checkpoint(model=wmodel, optimizer=wmodel.optimizer)
    tf.train.CheckpointManager(ckpt, str(ws / "ckpt_dir"), max_to_keep=1).save()
    ckpt = tf.train.Checkpoint(model=wmodel, optimizer=wmodel.optimizer)  # numbered from 1 again
    expected["projector-tools export ckpt_dir/ --logdir runs/ckpt"] = Expected(
        "runs/ckpt", {"word_emb": (word_emb(), ids(len(words)))})
    # ckpts/ckpt-3: the third checkpoint of a run
    manager = tf.train.CheckpointManager(ckpt, str(ws / "ckpts"), max_to_keep=3)
    for _ in range(3):
        wmodel.fit(wx, wy, epochs=1, verbose=0)
        manager.save()
    assert manager.latest_checkpoint.endswith("ckpt-3")
    expected["projector-tools export ckpts/ckpt-3 --logdir runs/ckpt --vocab words.txt"] = Expected(
        "runs/ckpt", {"word_emb": (word_emb(), word_labels)})
    wmodel.export(str(ws / "saved_model_dir"))
    expected["projector-tools export saved_model_dir/ --logdir runs/sm"] = Expected(
        "runs/sm", {"word_emb": (word_emb(), ids(len(words)))})
    wmodel.save(ws / "model.h5")  # legacy HDF5
    expected["projector-tools export model.h5 --logdir runs/h5 --vocab words.txt"] = Expected(
        "runs/h5", {"word_emb": (word_emb(), word_labels)})
    np.save(ws / "vectors.npy", word_emb())
    expected["projector-tools export vectors.npy --logdir runs/npy --vocab words.txt"] = Expected(
        "runs/npy", {"embedding": (word_emb(), word_labels)})

    # word vectors written by gensim, and fastText's own .vec (shipped with gensim)
    tokens = [w for w in words if w][:50] + ["New York", "café", "don't"]
    rng = np.random.default_rng(2)

    def keyed(dims, tokens=tokens):
        kv = KeyedVectors(dims)
        kv.add_vectors(tokens, rng.normal(size=(len(tokens), dims)).astype("float32"))
        return kv

    kv = keyed(10)
    kv.save_word2vec_format(str(ws / "vectors.txt"))
    expected["projector-tools export vectors.txt --logdir runs/w2v"] = Expected(
        "runs/w2v", {"embedding": (kv.vectors, tokens)})
    # binary: a token ends at its space (gensim cannot read its own "New York" back either)
    one_word = [t.replace(" ", "_") for t in tokens]
    binary = keyed(10, one_word)
    binary.save_word2vec_format(str(ws / "vectors.bin"), binary=True)
    expected["projector-tools export vectors.bin --logdir runs/bin"] = Expected(
        "runs/bin", {"embedding": (binary.vectors, one_word)})
    glove = keyed(100)
    glove.save_word2vec_format(str(ws / "glove.6B.100d.txt"), write_header=False)
    expected["projector-tools export glove.6B.100d.txt --logdir runs/glove"] = Expected(
        "runs/glove", {"embedding": (glove.vectors, tokens)})
    cc = keyed(300)
    cc.save_word2vec_format(str(ws / "cc.en.300.vec.gz"))  # gensim compresses by the name
    expected["projector-tools export cc.en.300.vec.gz --logdir runs/cc --max-rows 100000"] = Expected(
        "runs/cc", {"embedding": (cc.vectors, tokens)})
    shutil.copy(datapath("lee_fasttext.vec"), ws / "vectors.vec")  # written by fastText: a space ends each line
    ft = KeyedVectors.load_word2vec_format(str(ws / "vectors.vec"))
    expected["projector-tools export vectors.vec --logdir runs/ft"] = Expected(
        "runs/ft", {"embedding": (ft.vectors, ft.index_to_key)})
    # cc.en.300.bin: a fastText model written by fastText (shipped with gensim), read by fastText
    import fasttext

    shutil.copy(datapath("crime-and-punishment.bin"), ws / "cc.en.300.bin")
    ftm = fasttext.load_model(str(ws / "cc.en.300.bin"))
    ft_words = ftm.get_words(on_unicode_error="surrogateescape")
    expected["projector-tools export cc.en.300.bin --logdir runs/ftbin --max-rows 100000"] = Expected(
        "runs/ftbin", {"embedding": (np.stack([ftm.get_word_vector(w) for w in ft_words]), ft_words)})
    # tf1_ckpts/: a tf.compat.v1.train.Saver checkpoint after one Adam step
    from tests.sources.test_tf1_checkpoint import saver_checkpoint

    (ws / "tf1_ckpts").mkdir()
    _, tf1_emb, _ = saver_checkpoint(ws / "tf1_ckpts", "adam", rows=len(words))
    expected["projector-tools export tf1_ckpts/ --logdir runs/tf1 --vocab words.txt"] = Expected(
        "runs/tf1", {"word_embeddings": (tf1_emb, word_labels)})

    # bert-base-uncased/: a WordPiece tokenizer (tokenizers) and its embedding (safetensors)
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(texts, trainers.WordPieceTrainer(
        vocab_size=150, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]))
    bert = ws / "bert-base-uncased"
    bert.mkdir()
    tok.save(str(bert / "tokenizer.json"))
    n = tok.get_vocab_size()
    word_embeddings = rng.normal(size=(n, 8)).astype("float32")
    save_file({"bert.embeddings.word_embeddings.weight": word_embeddings,
               "bert.embeddings.position_embeddings.weight": rng.normal(size=(16, 8)).astype("float32"),
               "bert.encoder.layer.0.attention.self.query.weight": rng.normal(size=(8, 8)).astype("float32")},
              str(bert / "model.safetensors"), metadata={"format": "pt"})
    expected["projector-tools export bert-base-uncased/ --logdir runs/bert"] = Expected(
        "runs/bert", {"word_embeddings": (word_embeddings, [tok.id_to_token(i) for i in range(n)])})
    return expected


def check_export(ws, want: Expected):
    def check(proc):
        run = served(ws / want.run)
        assert set(run) == set(want.tensors), (want.run, set(run), proc.stderr)
        for name, (matrix, labels) in want.tensors.items():
            assert run[name][0].tobytes() == np.asarray(matrix, np.float32).tobytes(), (want.run, name)
            assert labels_of(run, name) == escaped(labels), (want.run, name)
    return check


def test_export_cli(cli, tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    expected = write_export_sources(ws)
    first = commands_of(readme_block("export_cli"))[0]
    shell = Shell(cli, ws, tmp_path / "logs", console_script=[first])  # as typed: the installed script
    results = shell.run_block("export_cli", after={c: check_export(ws, e) for c, e in expected.items()})
    assert set(results) == set(expected), set(results) ^ set(expected)
    # the checkpoint directory: the notes say which tensors were picked
    assert "word_emb" in results["projector-tools export ckpt_dir/ --logdir runs/ckpt"].stderr


# -- the trainer -----------------------------------------------------------

def write_training_files(ws) -> None:
    """aclImdb_v1.tar.gz (the Stanford layout) and reviews.csv, small."""
    from projector_tools.training.demo_corpus import demo_reviews

    train, test = demo_reviews(n_train=160, n_test=40, seed=7)
    root = ws / "acl_src" / "aclImdb"
    for split, data in (("train", train), ("test", test)):
        for label in ("pos", "neg"):
            (root / split / label).mkdir(parents=True)
        for i, (text, label) in enumerate(zip(data.texts, data.labels)):
            folder = root / split / ("pos" if label else "neg")
            (folder / f"{i}_{8 if label else 2}.txt").write_text(text, encoding="utf-8")
    with tarfile.open(ws / "aclImdb_v1.tar.gz", "w:gz") as tar:
        tar.add(root, arcname="aclImdb")
    shutil.rmtree(ws / "acl_src")
    import csv

    with open(ws / "reviews.csv", "w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(["id", "review", "sentiment"])
        for i, (text, label) in enumerate(zip(train.texts + test.texts, train.labels + test.labels)):
            out.writerow([i, text, "positive" if label else "negative"])


def check_trained(logdir) -> None:
    """What the README says a trained logdir holds, and both tensors labelled row for row."""
    assert {"run.json", "encoder.subwords", "checkpoints", "train", "validation"} <= set(os.listdir(logdir))
    run = served(logdir / "train")
    assert set(run) == {"embedding", "reviews"}
    encoder = load_encoder(logdir / "encoder")
    assert run["embedding"][0].shape[0] == encoder.vocab_size
    assert labels_of(run, "embedding") == escaped(subword_metadata(encoder).column("label"))
    assert {"count", "positivity"} <= set(run["embedding"][2])
    assert {"text", "label", "predicted", "correct"} <= set(run["reviews"][2])
    assert 0 < run["reviews"][0].shape[0] <= 2000


@pytest.fixture(scope="module")
def trained(cli, tmp_path_factory):
    """The README's train block, run once: (workspace, results); its runs/demo serves later blocks."""
    ws = tmp_path_factory.mktemp("train_ws")
    write_training_files(ws)
    shell = Shell(cli, ws, tmp_path_factory.mktemp("train_logs"))
    return ws, shell.run_block("train_cli")


def test_train_cli(trained):
    ws, results = trained
    assert set(results) == {
        "projector-tools train --logdir runs/demo",
        "projector-tools train --logdir runs/acl --dataset aclimdb --data-dir aclImdb_v1.tar.gz",
        "projector-tools train --logdir runs/csv --data-csv reviews.csv --text-column review --label-column sentiment",
        "projector-tools train --logdir runs/demo --resume",
    }
    for name in ("demo", "acl", "csv"):
        check_trained(ws / "runs" / name)
    first = results["projector-tools train --logdir runs/demo"].stdout
    assert "trained epochs 1-10" in first and "view: tensorboard --logdir runs/demo" in first
    # 1,000 validation reviews of the demo corpus; 40 test reviews of the archive
    assert served(ws / "runs" / "demo" / "train")["reviews"][0].shape[0] == 1000
    assert served(ws / "runs" / "acl" / "train")["reviews"][0].shape[0] == 40
    resumed = results["projector-tools train --logdir runs/demo --resume"]
    assert "view: tensorboard --logdir runs/demo" in resumed.stdout, resumed.stdout + resumed.stderr


# --------------------------------------------------------------------------
# "What the Projector shows"


def test_export_activations(tmp_path):
    run_python_block("export_activations", prelude(REVIEWS, TUTORIAL_MODEL), tmp_path)
    run = served(tmp_path / "runs" / "acts")
    assert set(run) == {"hidden"}
    assert run["hidden"][0].shape == (50, 16)
    from projector_tools.training.demo_corpus import demo_reviews

    _, val = demo_reviews(n_train=200, n_test=50)
    assert labels_of(run, "hidden") == [str(y) for y in val.labels]


def test_activation_spec(tmp_path):
    labels = """
        labels = ["positive" if y else "negative" for y in y_val[:2000]]
    """
    run_python_block("activation_spec", prelude(REVIEWS, TUTORIAL_MODEL, labels), tmp_path)
    run = served(tmp_path / "runs" / "imdb")
    assert set(run) == {"embedding", "reviews"}
    assert_subword_labelled(run, "embedding", load_encoder(tmp_path / "encoder"))
    matrix, rows, header = run["reviews"]
    assert matrix.shape == (50, 16) and header == ("label", "logit")
    assert {row[0] for row in rows} == {"positive", "negative"}
    assert all(re.fullmatch(r"-?\d+(\.\d{1,3})?", row[1]) for row in rows)


def write_activation_inputs(ws) -> dict[str, int]:
    """model.keras (a layer 'hidden'), x.npy; text_model.keras (TextVectorization first,
    a layer 'pool'), reviews.csv, lines.txt. Returns the rows of each inputs file."""
    import csv

    import keras

    from projector_tools.training.demo_corpus import demo_reviews

    train, val = demo_reviews(n_train=100, n_test=30)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(12, activation="relu", name="hidden"),
                              keras.layers.Dense(1, name="out")])
    model.save(ws / "model.keras")
    np.save(ws / "x.npy", np.random.default_rng(0).normal(size=(25, 6)).astype("float32"))
    vectorize = keras.layers.TextVectorization(max_tokens=200, output_sequence_length=20)
    vectorize.adapt(train.texts)
    text_model = keras.Sequential([keras.Input((1,), dtype="string"), vectorize,
                                   keras.layers.Embedding(200, 8), keras.layers.GlobalAveragePooling1D(name="pool"),
                                   keras.layers.Dense(1, name="out")])
    text_model.save(ws / "text_model.keras")
    with open(ws / "reviews.csv", "w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(["review", "sentiment"])
        for text, label in zip(val.texts, val.labels):
            out.writerow([text, "positive" if label else "negative"])
    (ws / "lines.txt").write_text("".join(t + "\n" for t in val.texts[:12]), encoding="utf-8")
    return {"x.npy": 25, "reviews.csv": len(val.texts), "lines.txt": 12}


def test_export_activations_cli(cli, tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    rows = write_activation_inputs(ws)

    def check(name, n, dims, columns):
        def after(proc):
            run = served(ws / "runs" / "acts")
            assert set(run) == {name}, (set(run), proc.stderr)
            assert run[name][0].shape == (n, dims)
            assert (run[name][2] or ("label",)) == columns
        return after

    shell = Shell(cli, ws, tmp_path / "logs")
    shell.run_block("export_activations_cli", after={
        "projector-tools export-activations model.keras x.npy --layer hidden --logdir runs/acts":
            check("hidden", rows["x.npy"], 12, ("label",)),
        "projector-tools export-activations text_model.keras reviews.csv --layer pool --logdir runs/acts":
            check("pool", rows["reviews.csv"], 8, ("review", "sentiment")),
        "projector-tools export-activations text_model.keras lines.txt --layer pool --logdir runs/acts":
            check("pool", rows["lines.txt"], 8, ("label",)),
    })


def test_sprites(tmp_path):
    from google.protobuf import text_format
    from sklearn.datasets import load_digits
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    run_python_block("sprites", "", tmp_path)
    run_dir = tmp_path / "runs" / "digits"
    run = served(run_dir)
    d = load_digits()
    assert run["digits"][0].shape == (1797, 64)
    assert labels_of(run, "digits") == [str(t) for t in d.target]
    config = text_format.Parse((run_dir / "projector_config.pbtxt").read_text(), ProjectorConfig())
    (entry,) = config.embeddings
    assert list(entry.sprite.single_image_dim) == [8, 8]
    with open(run_dir / entry.sprite.image_path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_views_python(tmp_path):
    """The views block: the config names the tensor's bookmarks file, which holds the view."""
    import json

    from projector_tools.run.switch import read_run_config

    run_python_block("views_python", "", tmp_path)
    run_dir = tmp_path / "runs" / "words"
    assert labels_of(served(run_dir), "embedding") == ["good", "great", "lovely", "bad", "awful", "dull"]
    (entry,) = read_run_config(str(run_dir)).embeddings
    states = json.loads((run_dir / entry.bookmarks_path).read_text(encoding="utf-8"))
    assert [(s["label"], s["selectedColorOptionName"], s["dataSetDimensions"]) for s in states] == [
        ("words by mood", "mood", [6, 8])]


# --------------------------------------------------------------------------
# "When a logdir shows nothing"


def write_tutorial_run(run_dir, encoder) -> None:
    """TensorBoard's projector tutorial: the subwords as metadata.tsv (no padding or byte
    rows), the embedding saved with tf.train.Checkpoint, the config by visualize_embeddings."""
    import tensorflow as tf
    from tensorboard.plugins import projector

    run_dir.mkdir(parents=True)
    (run_dir / "metadata.tsv").write_text("".join(f"{s}\n" for s in encoder.subwords), encoding="utf-8")
    weights = np.random.default_rng(0).normal(size=(encoder.vocab_size, 16)).astype("float32")
    tf.train.Checkpoint(embedding=tf.Variable(weights)).save(str(run_dir / "embedding.ckpt"))
    config = projector.ProjectorConfig()
    entry = config.embeddings.add()
    entry.tensor_name = "embedding/.ATTRIBUTES/VARIABLE_VALUE"
    entry.metadata_path = "metadata.tsv"
    projector.visualize_embeddings(str(run_dir), config)


def test_doctor_neighbors_plot(cli, trained, tmp_path):
    from projector_tools.doctor import diagnose

    ws = tmp_path / "ws"
    shutil.copytree(trained[0] / "runs" / "demo", ws / "runs" / "demo")
    shutil.copy(ws / "runs" / "demo" / "encoder.subwords", ws / "encoder.subwords")
    encoder = load_encoder(ws / "encoder")
    write_tutorial_run(ws / "runs" / "tutorial", encoder)

    def reports(code):
        def after(proc):
            assert code in proc.stdout, proc.stdout
        return after

    def png(proc):
        with open(ws / "demo.png", "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"

    def still_unaligned(proc):  # listed now (it got an event file); its labels need the vocabulary
        assert [f.code for f in diagnose(str(ws / "runs")).findings] == ["metadata_rows"], proc.stdout
        assert "--vocab" in proc.stdout, proc.stdout

    shell = Shell(cli, ws, tmp_path / "logs")
    results = shell.run_block(
        "doctor_neighbors_plot",
        status={  # the tutorial's run: no event file, and labels that do not line up until --vocab
            "projector-tools doctor runs/": 1,
            "projector-tools doctor runs/ --json": 1,
            "projector-tools doctor runs/ --fix": 1,
        },
        after={
            "projector-tools doctor runs/": reports("invisible_run"),
            "projector-tools doctor runs/ --json": reports('"invisible_run"'),
            "projector-tools doctor runs/ --fix": still_unaligned,
            "projector-tools plot runs/demo -o demo.png": png,
            "projector-tools plot runs/demo -o demo.png --method tsne --labels 40 --color positivity": png,
        },
    )
    assert diagnose(str(ws / "runs")).ok
    tutorial = served(ws / "runs" / "tutorial")
    assert labels_of(tutorial, "embedding/.ATTRIBUTES/VARIABLE_VALUE") == escaped(
        subword_metadata(encoder).column("label"))
    listed = results["projector-tools neighbors runs/demo good_ -k 10"].stdout
    assert len(re.findall(r"^\s*\d+\s", listed, re.M)) == 10, listed


# --------------------------------------------------------------------------
# "What a run holds"


def test_run_files(tmp_path):
    """The untagged block lists a run's files: an export with images and views has exactly those."""
    from projector_tools import View, export_embeddings

    block = readme_block("run_files")
    assert block.lang == ""
    lines = block.text.splitlines()
    assert lines[0] == "runs/imdb/"
    listed = [line.split()[0] for line in lines[1:] if line.strip()]
    rng = np.random.default_rng(0)
    run_dir = tmp_path / "runs" / "imdb"
    export_embeddings({"embedding": rng.normal(size=(20, 4)), "words": rng.normal(size=(20, 3))},
                      str(run_dir), metadata={"embedding": ids(20)},
                      images={"embedding": rng.uniform(size=(20, 8, 8))},
                      views=[View("every point", "embedding")])

    def pattern(name: str) -> str:
        rx = re.escape(name).replace(re.escape("<step>"), r"\d+").replace(re.escape("<tensor>"), r"[^/]+")
        rx = rx.replace(re.escape("<hash>"), "[0-9a-f]+").replace(re.escape("*"), ".+")
        return rx.replace(re.escape(".index/.data"), r"\.(index|data-\d+-of-\d+)")

    files = os.listdir(run_dir)
    for name in listed:
        hits = [f for f in files if re.fullmatch(pattern(name), f)]
        if name == ".projector-tools.lock":
            assert not hits, "the lock file stays only while an export writes"
        else:
            assert hits, f"README lists {name!r}; the run holds {sorted(files)}"
    for f in files:
        assert any(re.fullmatch(pattern(name), f) for name in listed), f"{f!r} is not in README's list"


# --------------------------------------------------------------------------
# "Every point laid out"


def test_layout_cli(cli, trained, tmp_path):
    from gensim.models import KeyedVectors

    ws = tmp_path / "ws"
    shutil.copytree(trained[0] / "runs" / "demo", ws / "runs" / "demo")
    kv = KeyedVectors(12)
    kv.add_vectors([f"w{i}" for i in range(150)],
                   np.random.default_rng(3).normal(size=(150, 12)).astype("float32"))
    kv.save_word2vec_format(str(ws / "vectors.vec"))

    def has_layouts(run_dir, names):
        def after(proc):
            run = served(run_dir)
            assert set(names) <= set(run), (sorted(run), proc.stderr)
            for name in names:
                if "/" in name:
                    assert run[name][0].shape[1] == 3 and run[name][2][-1] == "cluster"
        return after

    shell = Shell(cli, ws, tmp_path / "logs")
    shell.run_block("layout_cli", after={
        "projector-tools export vectors.vec --logdir runs/words --layout umap":
            has_layouts(ws / "runs" / "words", ["embedding", "embedding/umap"]),
        "projector-tools layout runs/demo/train":
            has_layouts(ws / "runs" / "demo" / "train", ["embedding", "reviews", "embedding/umap", "reviews/umap"]),
        "projector-tools layout runs/demo/train --method tsne --tensor embedding":
            has_layouts(ws / "runs" / "demo" / "train", ["embedding/umap", "reviews/umap", "embedding/tsne"]),
    })
    # t-SNE is 2-D: the third column is 0
    assert not served(ws / "runs" / "demo" / "train")["embedding/tsne"][0][:, 2].any()
    # the run's own tensors stay first, in their order (the Projector opens the first)
    from projector_tools.run.switch import read_run_config

    order = [e.tensor_name for e in read_run_config(str(ws / "runs" / "demo" / "train")).embeddings]
    assert order[:2] == ["embedding", "reviews"], order


def test_layout_python(tmp_path):
    setup = """
        from projector_tools import ProjectorCallback, export_embeddings, subword_metadata

        labels = subword_metadata(encoder)
    """
    run_python_block("layout_python", prelude(REVIEWS, TUTORIAL_MODEL, setup), tmp_path)
    run = served(tmp_path / "runs" / "imdb")
    assert set(run) == {"embedding", "embedding/umap"}
    encoder = load_encoder(tmp_path / "encoder")
    assert_subword_labelled(run, "embedding", encoder)
    matrix, rows, header = run["embedding/umap"]
    assert matrix.shape == (encoder.vocab_size, 3) and header[-1] == "cluster"
    assert [row[0] for row in rows] == labels_of(run, "embedding")


# --------------------------------------------------------------------------
# "Performance"


def test_publish_cli(cli, trained, tmp_path):
    import json

    ws = tmp_path / "ws"
    shutil.copytree(trained[0] / "runs" / "demo", ws / "runs" / "demo")
    run = served(ws / "runs" / "demo" / "train")

    def site(first: str, url: str | None = None, tsv: bool = False):
        def after(proc):
            with open(ws / "site" / "config.json", encoding="utf-8") as f:
                entries = json.load(f)["embeddings"]
            assert [e["tensorName"] for e in entries][0] == first
            assert {e["tensorName"] for e in entries} == set(run), proc.stdout
            for e in entries:
                path = e["tensorPath"]
                if url:
                    assert path.startswith(url + "/"), path
                    path = path[len(url) + 1:]
                data = np.fromfile(ws / "site" / path, dtype="<f4").reshape(e["tensorShape"])
                assert np.array_equal(data, run[e["tensorName"]][0])
            assert (ws / "site" / "tsv").is_dir() == tsv
        return after

    Shell(cli, ws, tmp_path / "logs").run_block("publish_cli", after={
        "projector-tools publish runs/demo --out site": site("embedding"),
        "projector-tools publish runs/demo --out site --tensor reviews --tsv": site("reviews", tsv=True),
        "projector-tools publish runs/demo --out site --base-url https://example.org/demo":
            site("embedding", url="https://example.org/demo"),
    })


def test_benchmarks():
    """Not run (see SKIPPED): each names a benchmark script of this repository."""
    commands = commands_of(readme_block("benchmarks"))
    assert commands and set(commands) <= set(SKIPPED)
    for command in commands:
        script = shlex.split(command)[1]
        assert os.path.isfile(os.path.join(REPO_ROOT, script)), command
