"""TensorBoard's Projector shows the first 100,000 rows of a tensor: every
export says so in one line, ``doctor`` warns with the rows dropped, and a
tensor that fits says nothing (through the real CLI, on files it reads)."""

from __future__ import annotations

import numpy as np
import pytest

from projector_tools.run.limits import TENSORBOARD_NUM_ROWS
from tests.helpers.cli_process import run_cli

LINE = "TensorBoard's Projector shows only the first 100,000"


def npy(path, rows: int) -> str:
    rng = np.random.default_rng(0)
    np.save(path, rng.normal(size=(rows, 4)).astype("float32"))
    return str(path)


def test_limit_is_tensorboards_constant():
    import os

    import tensorboard

    js = os.path.join(os.path.dirname(tensorboard.__file__), "plugins", "projector",
                      "tf_projector_plugin", "projector_binary.js")
    import re

    with open(js, encoding="utf-8") as f:
        bundle = f.read()
    # the minified bundle: `...&num_rows=${IO}` with `var IO=1e5`
    names = set(re.findall(r"num_rows=\$\{(\w+)\}", bundle))
    assert len(names) == 1, names
    values = re.findall(rf"\b{names.pop()}=([0-9.e]+)", bundle)
    assert [float(v) for v in values] == [TENSORBOARD_NUM_ROWS]


def test_150k_export_says_the_limit_once_and_doctor_names_the_rows_dropped(tmp_path):
    logdir = tmp_path / "logs"
    proc = run_cli(tmp_path, "export", ["export", npy(tmp_path / "big.npy", 150_000),
                                        "--logdir", str(logdir / "big")])
    assert proc.returncode == 0, proc.stderr
    said = [ln for ln in proc.stderr.splitlines() if LINE in ln]
    assert len(said) == 1, proc.stderr
    assert said[0].startswith("projector-tools: ") and "150,000 rows" in said[0] and "drops 50,000" in said[0]
    assert "--max-rows" in said[0] and "publish" in said[0]

    doctor = run_cli(tmp_path, "doctor", ["doctor", str(logdir)])
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr  # a viewer limit, not a broken run
    warning = [ln for ln in doctor.stdout.splitlines() if ln.startswith("WARNING [tensorboard_row_limit]")]
    assert len(warning) == 1, doctor.stdout
    assert "100,000" in warning[0] and "drops 50,000 of 150,000" in warning[0]
    assert "OK: every run loads with its labels." in doctor.stdout


def test_99999_row_export_says_nothing_of_the_kind(tmp_path):
    logdir = tmp_path / "logs"
    proc = run_cli(tmp_path, "export", ["export", npy(tmp_path / "fits.npy", 99_999),
                                        "--logdir", str(logdir / "fits")])
    assert proc.returncode == 0, proc.stderr
    assert "100,000" not in proc.stderr and "publish" not in proc.stderr, proc.stderr
    from projector_tools.doctor import diagnose

    assert not [f for f in diagnose(str(logdir)).findings if f.code == "tensorboard_row_limit"]


@pytest.mark.slow  # trains a tiny Keras model twice
def test_callback_says_the_limit_once_per_training(tmp_path, capfd):
    import keras

    from projector_tools import ProjectorCallback

    rows = TENSORBOARD_NUM_ROWS + 1
    model = keras.Sequential([keras.Input((1,), dtype="int32"), keras.layers.Embedding(rows, 2),
                              keras.layers.Flatten(), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x, y = np.zeros((4, 1), dtype="int32"), np.zeros((4, 1))
    model.fit(x, y, epochs=2, verbose=0, callbacks=[ProjectorCallback(str(tmp_path / "logs"))])
    err = capfd.readouterr().err
    assert err.count(LINE) == 1, err
