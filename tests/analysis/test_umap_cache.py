"""umap-learn's kernels are compiled once per machine: a second fresh
``projector-tools layout`` finds them in the project's numba cache."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from projector_tools.analysis.stages import Stages
from projector_tools.analysis.umap_cache import CACHE_ENV, cache_dir
from projector_tools.export.embeddings import export_embeddings
from projector_tools.run.metadata import Metadata
from tests.helpers.cli_process import cli_env, run_cli


def small_run(path, seed: int) -> str:
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(loc=8 * i, size=(150, 8)) for i in range(3)]).astype(np.float32)
    export_embeddings(x, str(path), metadata=Metadata([f"w{i}" for i in range(450)]))
    return str(path)


def layout_json(tmp_path, name: str, run: str, cache_root) -> dict:
    done = run_cli(tmp_path, name, ["layout", run, "--json"], env=cli_env(**{CACHE_ENV: str(cache_root)}))
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def cache_state(report: dict) -> str:
    (state,) = [s["numba_cache"] for s in report["stages"] if "numba_cache" in s]
    return state


@pytest.mark.slow
def test_second_fresh_layout_finds_the_cache_warm(tmp_path):
    root = tmp_path / "cache"
    first = layout_json(tmp_path, "first", small_run(tmp_path / "a", 0), root)
    assert cache_state(first) == "cold"
    entries = os.listdir(root / "numba")
    assert entries, "nothing was written to the numba cache"
    indexes = [f for _dirpath, _dirs, files in os.walk(root) for f in files if f.endswith(".nbi")]
    assert indexes, "no cached kernel index (.nbi) in the cache"

    second = layout_json(tmp_path, "second", small_run(tmp_path / "b", 1), root)
    assert cache_state(second) == "warm"
    assert [t["name"] for t in second["tensors"]] == ["embedding", "embedding/umap"]
    stage_names = [s["stage"] for s in second["stages"]]
    assert any("epochs" in s for s in stage_names) and any("clusters" in s for s in stage_names)
    assert all(s["wall_s"] >= 0 and s["cpu_s"] >= 0 for s in second["stages"])


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "pt"))
    assert cache_dir() == str(tmp_path / "pt" / "numba")
    monkeypatch.delenv(CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == str(tmp_path / "xdg" / "projector_tools" / "numba")


def test_stages_say_each_stage_with_its_time():
    said: list[str] = []
    stages = Stages(say=said.append)
    with stages.stage("embedding/umap: epochs") as record:
        record["numba_cache"] = "warm"
    assert said and said[0].startswith("embedding/umap: epochs: ") and said[0].endswith(", numba_cache warm")
    assert stages.records[0]["stage"] == "embedding/umap: epochs"
    assert stages.total_wall_s() == stages.records[0]["wall_s"]
