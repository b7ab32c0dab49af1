"""Named views (the Projector's Bookmarks): the State objects, and the runs that carry them.

The States are checked field by field against what TensorBoard 2.21's
Projector writes itself (``getCurrentState`` + ``populateBookmarkFromUI`` in
``projector_binary.js``, read from the installed package); runs are written
by ``export_embeddings`` and read back as TensorBoard's plugin reads them.
"""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest

from projector_tools import InputError, Metadata, View, export_embeddings
from projector_tools.run.config import parse_config
from projector_tools.run.views import NO_COLOR, STATE_FIELDS, states, views_from_bookmarks


def projector_js() -> str:
    import tensorboard

    path = os.path.join(os.path.dirname(tensorboard.__file__), "plugins", "projector",
                        "tf_projector_plugin", "projector_binary.js")
    with open(path, encoding="utf-8") as f:
        return f.read()


def test_state_fields_are_every_field_the_projector_writes():
    js = projector_js()
    start = js.index("getCurrentState(){")
    written = set(re.findall(r"\bt\.(\w+)=(?![=>])", js[start:js.index("loadState(t){", start)]))
    panel = js.index("populateBookmarkFromUI(t){this.disablePolymerChangesTriggerReprojection()")
    written |= set(re.findall(r"\bt\.(\w+)=(?![=>])", js[panel:js.index("restoreUIFromBookmark", panel)]))
    written |= {"cameraDef"}  # the scatter plot adapter's populateBookmarkFromUI
    written |= {"label", "isSelected"}  # the bookmark panel's _addBookmark
    assert set(STATE_FIELDS) == written


def test_states_hold_every_field_with_the_values_that_restore():
    views = [View("words by positivity", "embedding", color_by="positivity"),
             View("plain", "embedding", label_by="count")]
    out = states(views, rows=8185, dims=16, columns=("label", "count", "positivity"))
    assert [s["label"] for s in out] == ["words by positivity", "plain"]
    for s in out:
        assert list(s) == list(STATE_FIELDS)
        assert s["filteredPoints"] is None  # [] would filter every point out
        assert s["shuffledDataIndices"] is None  # [] would leave t-SNE/UMAP no sample
        assert s["projections"] == [] and s["selectedPoints"] == []
        assert s["selectedProjection"] == "pca" and s["pcaComponentDimensions"] == [0, 1, 2]
        assert s["dataSetDimensions"] == [8185, 16]
        assert s["isSelected"] is False
        assert s["cameraDef"]["orthographic"] is False and len(s["cameraDef"]["position"]) == 3
        for side in ("XLeft", "XRight", "YUp", "YDown"):
            assert s[f"custom{side}Text"] == "" and s[f"custom{side}Regex"] is False
    assert out[0]["selectedColorOptionName"] == "positivity"
    assert out[0]["selectedLabelOption"] == "label"  # the first column when not named
    assert out[1]["selectedColorOptionName"] == NO_COLOR and out[1]["selectedLabelOption"] == "count"
    json.dumps(out)  # plain JSON


def test_a_two_column_tensor_gets_a_2d_view_and_one_column_is_called_label():
    (s,) = states([View("v", "t", color_by="word")], rows=5, dims=2, columns=("label",), names=("word",))
    assert s["pcaComponentDimensions"] == [0, 1] and s["cameraDef"]["orthographic"] is True
    assert s["selectedColorOptionName"] == "label"


def run_files(run_dir) -> list[str]:
    return sorted(os.listdir(run_dir)) if os.path.isdir(run_dir) else []


def export_with_views(run_dir, views, n=60):
    rng = np.random.default_rng(0)
    meta = Metadata({"word": [f"w{i}" for i in range(n)], "kind": ["a", "b", "c"] * (n // 3),
                     "count": list(range(n))})
    return export_embeddings({"embedding": rng.normal(size=(n, 5)), "other": rng.normal(size=(n, 3))},
                             str(run_dir), metadata={"embedding": meta, "other": meta}, views=views)


def test_export_writes_each_tensors_views_where_its_config_says(tmp_path):
    run = tmp_path / "run"
    views = [View("by kind", "embedding", color_by="kind"), View("by count", "embedding", color_by="count"),
             View("other by kind", "other", color_by="kind", label_by="word")]
    result = export_with_views(run, views)
    config = parse_config((run / "projector_config.pbtxt").read_text())
    paths = {e.tensor_name: e.bookmarks_path for e in config.embeddings}
    assert all(re.fullmatch(r"bookmarks-(embedding|other)-[0-9a-f]{12}\.json", p) for p in paths.values())
    assert result["embedding"].bookmarks_path == str(run / paths["embedding"])
    emb = json.loads((run / paths["embedding"]).read_text())
    assert [(s["label"], s["selectedColorOptionName"], s["dataSetDimensions"]) for s in emb] == [
        ("by kind", "kind", [60, 5]), ("by count", "count", [60, 5])]
    assert views_from_bookmarks("other", (run / paths["other"]).read_text()) == [views[2]]

    # a new export with other views replaces the file (content-addressed), keeping the previous
    # export's one until the next, like metadata
    export_with_views(run, views[:1])
    new = {e.tensor_name: e.bookmarks_path
           for e in parse_config((run / "projector_config.pbtxt").read_text()).embeddings}
    assert new["embedding"] != paths["embedding"] and not new["other"]
    assert [s["label"] for s in json.loads((run / new["embedding"]).read_text())] == ["by kind"]


@pytest.mark.parametrize("view, words", [
    (View("by size", "embedding", color_by="size"), ["'by size'", "'size'", "word, kind, count", "color_by="]),
    (View("typo", "embeding", color_by="kind"), ["'typo'", "'embeding'", "embedding, other", "tensor="]),
    (View("labels", "embedding", label_by="nope"), ["'labels'", "'nope'", "label_by="]),
    (View("by word", "embedding", color_by="word"), ["'by word'", "60 distinct values", "color_by="]),
    (View("umap", "embedding", projection="umap"), ["'umap'", "only 'pca'", "embedding/umap"]),
    (View(" ", "embedding"), ["needs a name", "View("]),
])
def test_a_view_the_projector_cannot_open_is_one_clear_error_and_nothing_is_written(tmp_path, view, words):
    run = tmp_path / "run"
    with pytest.raises(InputError) as err:
        export_with_views(run, [View("fine", "embedding", color_by="kind"), view])
    message = str(err.value)
    assert "\n" not in message
    for w in words:
        assert w in message, message
    assert run_files(run) == []


def test_views_of_an_existing_run_that_fail_leave_it_as_it_was(tmp_path):
    run = tmp_path / "run"
    export_with_views(run, [View("by kind", "embedding", color_by="kind")])
    before = {n: (run / n).read_bytes() for n in run_files(run)}
    with pytest.raises(InputError):
        export_with_views(run, [View("by size", "embedding", color_by="size")])
    assert {n: (run / n).read_bytes() for n in run_files(run)} == before


def test_views_must_be_view_items(tmp_path):
    with pytest.raises(InputError, match="View items"):
        export_with_views(tmp_path / "run", ["embedding"])
    assert run_files(tmp_path / "run") == []


def test_bookmarks_files_follow_the_switch_like_metadata(tmp_path, monkeypatch):
    """Same views, same file; new views, a new file, the previous one kept while the
    previous export is, removed after the next; the transitional config keeps a views
    file only when it is the very same one (its States hold the tensor's shape)."""
    from projector_tools.run import cleanup as run_cleanup
    from projector_tools.run.config import config_text
    from projector_tools.run.switch import transitional_config

    monkeypatch.setattr(run_cleanup, "RETAIN_RECENT_S", 0.0)  # only the previous export stays
    run = tmp_path / "run"

    def files() -> list[str]:
        return sorted(n for n in run_files(run) if n.startswith("bookmarks-"))

    by_kind = [View("by kind", "embedding", color_by="kind")]
    first = export_with_views(run, by_kind)["embedding"].bookmarks_path
    assert export_with_views(run, by_kind)["embedding"].bookmarks_path == first
    second = export_with_views(run, [View("by count", "embedding", color_by="count")])["embedding"].bookmarks_path
    assert files() == sorted([os.path.basename(first), os.path.basename(second)])
    export_with_views(run, [View("by count", "embedding", color_by="count")])
    assert files() == [os.path.basename(second)]

    old = config_text([("embedding", "m.tsv", None, "bookmarks-embedding-1.json")])
    same, changed = (parse_config(transitional_config(old, [("embedding", "m.tsv", None, b)], {"embedding"}))
                     .embeddings[0].bookmarks_path
                     for b in ("bookmarks-embedding-1.json", "bookmarks-embedding-2.json"))
    assert (same, changed) == ("bookmarks-embedding-1.json", "")


def test_a_callbacks_bad_view_stops_training_before_the_first_epoch(tmp_path):
    import keras

    from projector_tools import ProjectorCallback

    model = keras.Sequential([keras.Input((4,), dtype="int32"), keras.layers.Embedding(20, 3, name="words"),
                              keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1)])
    model.compile("adam", "mse")
    x, y = np.arange(40).reshape(10, 4) % 20, np.ones((10, 1))
    epochs: list[int] = []
    labels = Metadata({"word": [f"w{i}" for i in range(20)], "kind": ["a", "b"] * 10})
    run = tmp_path / "run"
    callback = ProjectorCallback(str(run), metadata=labels,
                                 views=[View("by size", "words", color_by="size")])
    spy = keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: epochs.append(epoch))
    with pytest.raises(InputError, match="'by size'.*no metadata column 'size'"):
        model.fit(x, y, epochs=2, verbose=0, callbacks=[callback, spy])
    assert epochs == [] and run_files(run) == []

    good = ProjectorCallback(str(run), metadata=labels, views=[View("by kind", "words", color_by="kind")])
    model.fit(x, y, epochs=1, verbose=0, callbacks=[good])
    (entry,) = parse_config((run / "projector_config.pbtxt").read_text()).embeddings
    assert [s["label"] for s in json.loads((run / entry.bookmarks_path).read_text())] == ["by kind"]
