"""Every row of the README's bad-input table (docs/bad_inputs.md), reproduced.

Each refusal is one of the package's exception types, raised before
anything is written: a logdir that did not exist is not created, and an
existing run is left byte for byte as it was.
"""

from __future__ import annotations

import os
import subprocess
import sys

import keras
import ml_dtypes
import numpy as np
import pytest

from projector_tools import (
    InputError,
    LogdirError,
    Metadata,
    ShapeMismatchError,
    export_embeddings,
    parse_projector_tsv,
    unescape_label,
)
from projector_tools.run.checkpoint import write_checkpoint
from projector_tools.cli import main as cli_main
from projector_tools.run.matrix import check_size
from projector_tools.run.switch import read_run_config
from projector_tools.run.writer import read_current_tensors

RNG = np.random.default_rng(7)
MATRIX = RNG.standard_normal((6, 3), dtype=np.float32)
LABELS = [f"w{i}" for i in range(6)]


def snapshot(path) -> dict[str, bytes] | None:
    """Every file under ``path`` with its bytes (None: the path does not exist)."""
    if not os.path.exists(path):
        return None
    out = {}
    for root, _dirs, files in os.walk(path):
        for name in files:
            full = os.path.join(root, name)
            with open(full, "rb") as f:
                out[os.path.relpath(full, path)] = f.read()
    return out


@pytest.fixture
def run_dirs(tmp_path):
    """(a fresh path, an existing run) - both must be untouched by a refusal."""
    existing = tmp_path / "existing run"
    export_embeddings(MATRIX, str(existing), metadata=LABELS)
    return tmp_path / "fresh run", existing


def refused(run_dirs, error, match, source, **kwargs):
    fresh, existing = run_dirs
    before = snapshot(existing)
    for target in (fresh, existing):
        with pytest.raises(error, match=match):
            export_embeddings(source, str(target), **kwargs)
    assert not fresh.exists(), "a refused export created the logdir"
    assert snapshot(existing) == before, "a refused export touched the existing run"


def cli(capsys, *argv):
    """Run the CLI in-process: (exit status, stderr lines)."""
    code = cli_main(list(argv))
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    err = [line for line in err if not line.startswith("projector-tools: picked")]
    return code, err


# -- models ------------------------------------------------------------------------


def test_model_without_embedding_layers(run_dirs):
    dense = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="dense")])
    refused(run_dirs, InputError, "has no keras.layers.Embedding layer", dense)


def test_unknown_layer_name(run_dirs):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Embedding(10, 3, name="words")])
    refused(run_dirs, InputError, "words", model, layers=["wordz"])


# -- arrays --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, match",
    [
        (np.zeros(5, np.float32), r"has shape \(5,\); the Projector needs a 2-D"),
        (np.zeros((2, 3, 4), np.float32), r"has shape \(2, 3, 4\)"),
        (np.zeros((0, 3), np.float32), "is empty"),
        (np.zeros((3, 0), np.float32), "is empty"),
        (np.arange(12).reshape(4, 3), "integer/bool dtype int64.*token ids"),
        (np.array([["a", "b"]]), "not numbers"),
    ],
    ids=["1-D", "3-D", "no rows", "no columns", "integer", "strings"],
)
def test_arrays_that_cannot_be_embeddings(run_dirs, value, match):
    refused(run_dirs, InputError, match, value)


@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16, np.float64])
def test_float16_bfloat16_float64_are_converted(tmp_path, dtype):
    value = MATRIX.astype(dtype)
    export_embeddings(value, str(tmp_path / "run"), metadata=LABELS)
    got = read_current_tensors(str(tmp_path / "run"))["embedding"]
    assert got.dtype == np.float32
    assert np.array_equal(got, value.astype(np.float32))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_refused_unless_allowed(run_dirs, tmp_path, bad):
    value = MATRIX.copy()
    value[4, 2] = bad
    refused(run_dirs, InputError, "holds NaN or Inf.*row 4, column 2.*allow_nonfinite=True", value)
    export_embeddings(value, str(tmp_path / "allowed"), metadata=LABELS, allow_nonfinite=True)
    got = read_current_tensors(str(tmp_path / "allowed"))["embedding"]
    assert np.array_equal(got, value, equal_nan=True)


def test_tensor_over_2gb_is_refused_without_allocating_it(run_dirs, tmp_path):
    # A zero-stride view: 2.2 GB as float32, but a single float in memory.
    huge = np.broadcast_to(np.float32(0.5), (600_000, 1000))
    refused(run_dirs, InputError, r"2\.2 GiB.*issue #1214.*max_rows=", huge)
    with pytest.raises(InputError, match="over 2 GB"):
        check_size((2**31, 1))
    check_size((2**29 - 1, 1))  # just under: accepted
    # the offered way out works: the first N rows, ids kept in a column
    result = export_embeddings(huge, str(tmp_path / "subset"), max_rows=1000)
    assert result["embedding"].shape == (1000, 1000)


# -- labels --------------------------------------------------------------------------


def test_labels_of_the_wrong_count(run_dirs):
    refused(run_dirs, ShapeMismatchError, "has 6 rows but its metadata has 5 labels", MATRIX,
            metadata=LABELS[:5])
    refused(run_dirs, ShapeMismatchError, "has 6 rows but its metadata has 7", MATRIX,
            metadata=LABELS + ["extra"])


def test_tabs_newlines_empty_and_non_utf8_labels_are_escaped(tmp_path):
    labels = ["tab\there", "new\nline", "", " ", b"caf\xc3\xa9 \xff\xfe", "back\\slash", "cr\r", "ok"]
    matrix = RNG.standard_normal((len(labels), 2), dtype=np.float32)
    result = export_embeddings(matrix, str(tmp_path / "run"), metadata=labels)
    with open(result["embedding"].metadata_path, "rb") as f:
        raw = f.read()
    raw.decode("utf-8")  # always valid UTF-8
    rows = parse_projector_tsv(raw).rows
    assert len(rows) == len(labels)  # nothing skipped, nothing split
    written = [r[0] for r in rows]
    assert written[:5] == ["tab\\there", "new\\nline", "\\empty", "\\x20", "café \\xff\\xfe"]
    expected = [l.decode("utf-8", "surrogateescape") if isinstance(l, bytes) else l for l in labels]
    expected[4] = "café \xff\xfe"  # undecodable bytes come back as the code points of their values
    assert [unescape_label(w) for w in written] == expected


# -- logdirs ----------------------------------------------------------------------------


def test_logdir_that_is_a_file(tmp_path):
    path = tmp_path / "run"
    path.write_text("not a directory")
    with pytest.raises(LogdirError, match="is a file, not a directory"):
        export_embeddings(MATRIX, str(path), metadata=LABELS)
    assert path.read_text() == "not a directory"
    with pytest.raises(LogdirError, match="cannot create logdir"):
        export_embeddings(MATRIX, str(path / "below"), metadata=LABELS)


def test_logdir_that_is_not_writable():
    # Tests run as root, which chmod does not stop. /proc/self is a real,
    # existing directory in which nobody, root included, can create a file.
    assert os.path.isdir("/proc/self")
    with pytest.raises(LogdirError, match="is not writable"):
        export_embeddings(MATRIX, "/proc/self", metadata=LABELS)
    with pytest.raises(LogdirError, match="cannot create logdir"):
        export_embeddings(MATRIX, "/proc/self/pt-run", metadata=LABELS)


def test_paths_with_spaces_and_non_ascii(tmp_path):
    run = tmp_path / "my runs" / "Eötvös 日本 run"
    export_embeddings(MATRIX, str(run), metadata=["ä b", "日本", "x", "y", "z", "ü"])
    assert np.array_equal(read_current_tensors(str(run))["embedding"], MATRIX)
    (entry,) = read_run_config(str(run)).embeddings
    with open(run / entry.metadata_path, encoding="utf-8") as f:
        assert f.read().splitlines()[:2] == ["ä b", "日本"]


# -- the CLI -----------------------------------------------------------------------------


def test_cli_vocab_that_does_not_match_the_matrix(tmp_path, capsys):
    np.save(tmp_path / "emb.npy", MATRIX)
    (tmp_path / "vocab.txt").write_text("a\nb\nc\n")
    code, err = cli(capsys, "export", str(tmp_path / "emb.npy"), "--logdir", str(tmp_path / "run"),
                    "--vocab", str(tmp_path / "vocab.txt"))
    assert code != 0
    assert len(err) == 1 and "has 3 entries but tensor 'embedding' has 6 rows" in err[0], err
    assert not (tmp_path / "run").exists()


def _checkpoint(tmp_path):
    prefix = str(tmp_path / "ckpt" / "model-1")
    write_checkpoint(prefix, {"embedding": RNG.standard_normal((50, 8), dtype=np.float32)})
    return prefix


def test_cli_truncated_checkpoint(tmp_path, capsys):
    prefix = _checkpoint(tmp_path)
    data = prefix + ".data-00000-of-00001"
    with open(data, "r+b") as f:
        f.truncate(os.path.getsize(data) // 2)
    code, err = cli(capsys, "export", prefix, "--logdir", str(tmp_path / "run"))
    assert code != 0
    assert len(err) == 1 and "projector-tools: error:" in err[0] and prefix in err[0], err
    assert "Traceback" not in "\n".join(err)
    assert not (tmp_path / "run").exists()


def test_cli_corrupt_checkpoint_one_line_and_debug_traceback(tmp_path):
    prefix = _checkpoint(tmp_path)
    with open(prefix + ".index", "r+b") as f:
        f.seek(0)
        f.write(b"\x00garbage\xff" * 8)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    cmd = [sys.executable, "-m", "projector_tools.cli", "export", prefix, "--logdir", str(tmp_path / "run")]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode != 0
    lines = [l for l in proc.stderr.splitlines() if l.startswith("projector-tools")]
    assert len(lines) == 1 and "cannot read TensorFlow checkpoint" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists()
    debug = subprocess.run(cmd[:3] + ["--debug"] + cmd[3:], capture_output=True, text=True,
                           env=env, timeout=300)
    assert debug.returncode != 0 and "Traceback" in debug.stderr and "SourceError" in debug.stderr


def test_cli_logdir_that_is_a_file(tmp_path, capsys):
    np.save(tmp_path / "emb.npy", MATRIX)
    (tmp_path / "run").write_text("x")
    code, err = cli(capsys, "export", str(tmp_path / "emb.npy"), "--logdir", str(tmp_path / "run"))
    assert code != 0 and len(err) == 1 and "is a file, not a directory" in err[0], err


# -- row selection (max_rows= / rows=) ----------------------------------------------------


def test_max_rows_keeps_metadata_aligned_and_the_original_id(tmp_path):
    matrix = RNG.standard_normal((100, 4), dtype=np.float32)
    labels = [f"tok{i}" for i in range(100)]
    result = export_embeddings(matrix, str(tmp_path / "run"), metadata=labels, max_rows=10)
    got = read_current_tensors(str(tmp_path / "run"))["embedding"]
    assert np.array_equal(got, matrix[:10])
    with open(result["embedding"].metadata_path, encoding="utf-8") as f:
        parsed = parse_projector_tsv(f.read())
    assert parsed.header == ("label", "id")
    assert parsed.column("label") == labels[:10] and parsed.column("id") == [str(i) for i in range(10)]


def test_rows_selection_keeps_metadata_aligned_and_the_original_id(tmp_path):
    matrix = RNG.standard_normal((100, 4), dtype=np.float32)
    meta = Metadata({"word": [f"tok{i}" for i in range(100)], "freq": list(range(100, 0, -1))})
    ids = [42, 7, 99, 0]
    result = export_embeddings(matrix, str(tmp_path / "run"), metadata=meta, rows=ids)
    got = read_current_tensors(str(tmp_path / "run"))["embedding"]
    assert np.array_equal(got, matrix[ids])
    with open(result["embedding"].metadata_path, encoding="utf-8") as f:
        parsed = parse_projector_tsv(f.read())
    assert parsed.header == ("word", "freq", "id")
    assert parsed.column("word") == [f"tok{i}" for i in ids]
    assert parsed.column("id") == [str(i) for i in ids]
    assert parsed.column("freq") == [str(100 - i) for i in ids]


@pytest.mark.parametrize(
    "kwargs, match",
    [({"rows": [0, 100]}, "outside 0..99"), ({"rows": []}, "non-empty"),
     ({"max_rows": 0}, "at least 1"), ({"max_rows": 3, "rows": [1]}, "not both")],
)
def test_bad_row_selections(run_dirs, kwargs, match):
    refused(run_dirs, InputError, match, RNG.standard_normal((100, 4), dtype=np.float32), **kwargs)


def test_metadata_stream_matches_metadata_to_bytes():
    """The exporter's streamed TSV is byte for byte Metadata.to_bytes()."""
    import random

    from projector_tools.run.metadata_stream import tsv_chunks

    rnd = random.Random(0)
    alphabet = ["a", " ", "\t", "\n", "\r", "\\", "", "\u00a0", "\u3000", "é", "\ud800",
                "\x7f", "\x85", "\u2028", "1", "\ufeff"]
    for trial in range(600):
        n = rnd.randint(1, 20)
        labels = ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 3))) for _ in range(n)]
        if trial % 5 == 0:
            labels = [l.encode("utf-8", "surrogatepass") for l in labels]
        if trial % 7 == 0:
            labels = [rnd.randint(-5, 100) for _ in range(n)]
        cols = {"label": labels} if trial % 2 else {"label": labels, "id": list(range(n))}
        meta = Metadata(cols)
        assert b"".join(tsv_chunks(meta, rows_per_chunk=rnd.randint(1, 6))) == meta.to_bytes()


def test_finite_check_over_many_blocks_finds_the_first_bad_cell(monkeypatch):
    """Each block is summed; a non-finite sum is checked value by value. Sums that
    overflow on finite values pass; Inf and -Inf in one block (a NaN sum) and a
    NaN in a later block than an overflowing one are found, the first cell named."""
    from projector_tools.run import matrix

    monkeypatch.setattr(matrix, "FINITE_BLOCK_VALUES", 40)  # 10 rows of 4 a block
    big = np.full((95, 4), 3e38, np.float32)  # every block's sum overflows
    matrix.check_finite(big)
    for cells, first in (
        ({(71, 1): np.nan, (90, 3): np.nan}, "row 71, column 1"),
        ({(12, 0): np.inf, (12, 1): -np.inf}, "row 12, column 0"),  # the block sums to NaN
        ({(94, 3): np.nan}, "row 94, column 3"),  # the last, short block
    ):
        value = big.copy()
        for cell, bad in cells.items():
            value[cell] = bad
        with pytest.raises(InputError, match=first):
            matrix.check_finite(value)
