"""``publish``: a run as a static Projector site, checked file by file against
the run it came from (runs written by ``export_embeddings``, read back through
the project's readers and TSV parser). The page itself in Chromium:
``test_publish_browser.py``."""

from __future__ import annotations

import glob
import json
import os

import numpy as np
import pytest

from projector_tools import Metadata, export_embeddings, parse_projector_tsv, publish, unescape_label
from projector_tools.errors import ProjectorToolsError
from tests.helpers.cli_process import run_cli

LABELS = ["plain", "tab\there", "new\nline", "back\\slash", "", "  spaced  ", "ünï"]


def two_tensor_run(run_dir: str):
    """A run with a one-column and a two-column tensor, awkward labels, a sprite."""
    rng = np.random.default_rng(0)
    words = rng.normal(size=(len(LABELS), 5)).astype("float32")
    docs = rng.normal(size=(4, 3)).astype("float32")
    export_embeddings(
        {"words": words, "docs": docs}, run_dir,
        metadata={"words": LABELS, "docs": Metadata({"text": ["a", "b\tc", "d", "e"], "label": ["1", "0", "1", "0"]})},
        images={"docs": rng.uniform(size=(4, 8, 8))},
    )
    return {"words": words, "docs": docs}


def run_file(run_dir: str, pattern: str) -> str:
    (path,) = glob.glob(os.path.join(run_dir, pattern))
    return path


def read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def test_site_holds_every_tensor_its_labels_sprite_and_the_projector(tmp_path):
    run = str(tmp_path / "run")
    matrices = two_tensor_run(run)
    result = publish(run, str(tmp_path / "site"), tensor="docs")
    site = result.out
    config = json.loads(read(os.path.join(site, "config.json")))
    entries = config["embeddings"]
    # tensor= opens first; both tensors, with their shape, labels and sprite
    assert [e["tensorName"] for e in entries] == ["docs", "words"]
    assert [(t.name, t.rows, t.dims) for t in result.tensors] == [("docs", 4, 3), ("words", 7, 5)]
    for e in entries:
        m = matrices[e["tensorName"]]
        assert e["tensorShape"] == list(m.shape)
        data = np.frombuffer(read(os.path.join(site, e["tensorPath"])), dtype="<f4").reshape(m.shape)
        assert np.array_equal(data, m)
        # the labels file is the run's, byte for byte (same escaping)
        run_meta = run_file(run, f"metadata-{e['tensorName']}-*.tsv")
        assert read(os.path.join(site, e["metadataPath"])) == read(run_meta)
    docs = entries[0]
    assert docs["sprite"]["singleImageDim"] == [8, 8]
    assert read(os.path.join(site, docs["sprite"]["imagePath"])) == read(run_file(run, "sprite-docs-*.png"))
    # the page and the Projector's code from the installed tensorboard, with its notice
    import tensorboard

    js = os.path.join(os.path.dirname(tensorboard.__file__), "plugins", "projector",
                      "tf_projector_plugin", "projector_binary.js")
    assert read(os.path.join(site, "projector_binary.js")) == read(js)
    assert b"Apache" in read(os.path.join(site, "TENSORBOARD_LICENSE.txt"))
    page = read(result.index).decode()
    assert '<vz-projector-app serving-mode="demo" projector-config-json-path="config.json"' in page
    assert "http" not in page.split("-->", 1)[1]  # nothing fetched from elsewhere


def test_publish_carries_bookmarks_named_in_the_config(tmp_path):
    """A config entry's ``bookmarks_path`` (TensorBoard reads it) becomes ``bookmarksPath``."""
    from projector_tools.run.config import CONFIG_FILENAME, parse_config

    run = str(tmp_path / "run")
    two_tensor_run(run)
    views = [{"label": "docs by label", "selectedColorOptionName": "label"}]
    with open(os.path.join(run, "views-docs.json"), "w") as f:
        json.dump(views, f)
    config_path = os.path.join(run, CONFIG_FILENAME)
    config = parse_config(read(config_path).decode())
    next(e for e in config.embeddings if e.tensor_name == "docs").bookmarks_path = "views-docs.json"
    from google.protobuf import text_format

    with open(config_path, "w") as f:
        f.write(text_format.MessageToString(config))
    site = publish(run, str(tmp_path / "site")).out
    entries = {e["tensorName"]: e for e in json.loads(read(os.path.join(site, "config.json")))["embeddings"]}
    assert "bookmarksPath" not in entries["words"]
    assert json.loads(read(os.path.join(site, entries["docs"]["bookmarksPath"]))) == views


def test_base_url_makes_every_config_path_an_absolute_url_under_it(tmp_path):
    run = str(tmp_path / "run")
    two_tensor_run(run)
    publish(run, str(tmp_path / "site"), base_url="https://example.org/x/")
    config = json.loads(read(str(tmp_path / "site" / "config.json")))
    paths = []
    for e in config["embeddings"]:
        paths += [e["tensorPath"], e["metadataPath"]] + ([e["sprite"]["imagePath"]] if "sprite" in e else [])
    assert len(paths) == 5
    for p in paths:
        assert p.startswith("https://example.org/x/") and "//" not in p[len("https://"):], p
        rel = p[len("https://example.org/x/"):]
        assert os.path.isfile(tmp_path / "site" / rel)


def test_tsv_pair_round_trips_through_the_project_parser(tmp_path):
    run = str(tmp_path / "run")
    matrices = two_tensor_run(run)
    result = publish(run, str(tmp_path / "site"), tsv=True)
    dirs = {t.name: os.path.join(result.out, t.tsv_dir) for t in result.tensors}
    assert len(set(dirs.values())) == 2  # one folder per tensor, the tutorial's two names in each
    for name, folder in dirs.items():
        vectors = parse_projector_tsv(read(os.path.join(folder, "vectors.tsv")))
        # no header line: parse_projector_tsv takes the first (tabbed) line as one
        lines = [vectors.header] + list(vectors.rows)
        assert np.array_equal(np.array(lines, dtype="float32"), matrices[name])
    words = parse_projector_tsv(read(os.path.join(dirs["words"], "metadata.tsv")))
    assert words.header is None  # one column: no header line
    assert [unescape_label(r[0]) for r in words.rows] == LABELS
    docs = parse_projector_tsv(read(os.path.join(dirs["docs"], "metadata.tsv")))
    assert docs.header == ("text", "label")
    assert [[unescape_label(v) for v in r] for r in docs.rows] == [["a", "1"], ["b\tc", "0"], ["d", "1"], ["e", "0"]]


def test_publish_again_replaces_the_site_and_other_folders_are_refused(tmp_path):
    run = str(tmp_path / "run")
    two_tensor_run(run)
    site = str(tmp_path / "site")
    publish(run, site)
    publish(run, site, tensor="words")  # a previous publish is replaced whole
    assert json.loads(read(os.path.join(site, "config.json")))["embeddings"][0]["tensorName"] == "words"
    assert sorted(os.listdir(tmp_path)) == ["run", "site"]  # no temporary left beside it
    other = tmp_path / "notes"
    other.mkdir()
    (other / "mine.txt").write_text("keep")
    with pytest.raises(ProjectorToolsError, match="not empty"):
        publish(run, str(other))
    assert os.listdir(other) == ["mine.txt"]


def _break_tensor(run: str) -> None:
    data = run_file(run, "embeddings-*.data-*")
    with open(data, "r+b") as f:
        f.truncate(3)


def _drop_metadata(run: str) -> None:
    os.remove(run_file(run, "metadata-docs-*.tsv"))


@pytest.mark.parametrize("damage, says", [(_break_tensor, "cannot be read"), (_drop_metadata, "does not exist")])
def test_a_run_that_does_not_load_is_refused_in_one_line_and_nothing_is_written(tmp_path, damage, says):
    run = str(tmp_path / "logs" / "run")
    two_tensor_run(run)
    damage(run)
    site = tmp_path / "site"
    proc = run_cli(tmp_path, "publish", ["publish", run, "--out", str(site)])
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("projector-tools: error: ") and says in lines[0], proc.stderr
    assert "nothing was published" in lines[0]
    assert not site.exists()
    assert sorted(os.listdir(tmp_path / "logs")) == ["run"]


def test_cli_publish_of_a_logdir_with_one_run(tmp_path):
    run = str(tmp_path / "logs" / "run")
    two_tensor_run(run)
    proc = run_cli(tmp_path, "publish", ["publish", str(tmp_path / "logs"), "--out", str(tmp_path / "site"), "--json"])
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert sorted((t["name"], t["rows"], t["dims"]) for t in result["tensors"]) == [("docs", 4, 3), ("words", 7, 5)]
    assert os.path.isfile(result["index"])
