"""What the Projector shows beyond one embedding, served by a real TensorBoard:
layer activations (export_activations, the callback's ActivationSpec, the
CLI), image sprites (scikit-learn's 8x8 digits, shipped with the package),
token statistics and the trainer's ``reviews`` tensor."""

from __future__ import annotations

import csv
import io
import os

import numpy as np
import pytest

from projector_tools.errors import InputError
from projector_tools.run.metadata import parse_projector_tsv


def digits(n: int = 300):
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.data[:n].astype("float32"), d.images[:n] / 16.0, [str(t) for t in d.target[:n]]


def functional_model():
    import keras

    inp = keras.Input((64,), name="pixels")
    h = keras.layers.Dense(32, activation="relu", name="first")(inp)
    h = keras.layers.Dense(12, activation="tanh", name="hidden")(h)
    out = keras.layers.Dense(10, name="logits")(h)
    return keras.Model(inp, out, name="digits_mlp")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Three runs under one logdir, served by one real TensorBoard process."""
    import keras

    from projector_tools import ActivationSpec, ProjectorCallback, export_activations, export_embeddings
    from projector_tools.viewer.tensorboard import TensorBoardServer

    logdir = tmp_path_factory.mktemp("story")
    x, images, target = digits()
    keras.utils.set_random_seed(0)
    model = functional_model()

    runs = {}
    # 1. an embedding with a sprite
    runs["digits"] = export_embeddings({"pixels": x}, str(logdir / "digits"),
                                       metadata={"pixels": target}, images={"pixels": images})
    # 2. activations of an intermediate layer of a functional model
    runs["acts"] = export_activations(model, x, str(logdir / "acts"), layer="hidden",
                                      metadata={"digit": target, "row": range(len(x))},
                                      images=images)
    # 3. the callback exporting activations of a fixed example set at each export
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    y = np.array([int(t) for t in target])
    emb_model = _model_with_embedding()
    cb = ProjectorCallback(str(logdir / "cb"), activations=[
        ActivationSpec(np.arange(40).reshape(20, 2) % 16, layer="pool", name="pairs",
                       metadata=lambda out: {"score": np.round(out[:, 0], 3).tolist()},
                       images=images[:20]),
    ])
    emb_model.fit(np.arange(40).reshape(20, 2) % 16, np.arange(20) % 2, epochs=2, verbose=0,
                  callbacks=[cb])
    model.fit(x, y, epochs=1, verbose=0)
    tb = TensorBoardServer(str(logdir)).start()
    try:
        yield tb, logdir, runs, model, x, images, target, emb_model
    finally:
        tb.stop()


def _model_with_embedding():
    import keras

    model = keras.Sequential([
        keras.Input((2,), dtype="int32"),
        keras.layers.Embedding(16, 4, name="tokens"),
        keras.layers.GlobalAveragePooling1D(name="pool"),
        keras.layers.Dense(1, name="out"),
    ], name="pairs_model")
    model.compile("adam", keras.losses.BinaryCrossentropy(from_logits=True))
    return model


@pytest.mark.slow  # the module's TensorBoard and three exports: ~60 s on 2 busy cores
def again_tensor(run_dir):
    """The tensor the export wrote (read back from its checkpoint)."""
    from projector_tools.run.writer import read_current_tensors

    return read_current_tensors(str(run_dir))["hidden"]


def test_export_activations_serves_what_a_sub_model_computes(served):
    import keras

    tb, logdir, runs, model, x, images, target, *_ = served
    # the model was trained after the export: recompute with the exported weights
    exported = runs["acts"]
    assert exported.names == ("hidden",)
    served_tensor = tb.tensor("acts", "hidden").reshape(exported["hidden"].shape)
    assert served_tensor.shape == (len(x), 12)
    parsed = parse_projector_tsv(tb.metadata("acts", "hidden"))
    assert parsed.columns == ("digit", "row") and len(parsed.rows) == len(x)
    assert parsed.column("digit") == target
    # the numbers are exactly what keras.Model(inputs, layer.output) gives, for
    # a fresh export of the current weights
    from projector_tools import export_activations

    again = export_activations(model, x, str(logdir / "acts2"), layer=model.get_layer("hidden"))
    # Equal to float32 rounding: on CPUs where oneDNN picks other kernels for
    # predict's compiled graph than for a direct call (AVX-512/AMX), the last
    # bits of the sums differ; what is served must still be those numbers.
    sub = keras.Model(model.inputs, model.get_layer("hidden").output)
    want = np.asarray(sub.predict(x, batch_size=256, verbose=0), dtype=np.float32)
    tb.wait_for_projector_runs(expected=4)
    served_again = tb.tensor("acts2", "hidden").reshape(want.shape)
    np.testing.assert_allclose(served_again, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(served_again, again_tensor(logdir / "acts2"))
    labels = parse_projector_tsv(tb.metadata("acts2", "hidden"))
    assert labels.column(labels.columns[0]) == [str(i) for i in range(len(x))]
    assert again["hidden"].metadata_rows == len(x)


@pytest.mark.slow  # shares the module fixture (see above)
def test_sprites_are_served_with_their_image_size(served):
    from PIL import Image

    tb, logdir, runs, *_ = served
    for run, name, rows in (("digits", "pixels", 300), ("acts", "hidden", 300), ("cb", "pairs", 20)):
        info = tb.info(run)
        entry = next(e for e in info["embeddings"] if e["tensorName"] == name)
        assert [int(v) for v in entry["sprite"]["singleImageDim"]] == [8, 8], entry
        png = tb.get("/data/plugin/projector/sprite_image", {"run": run, "name": name})
        img = Image.open(io.BytesIO(png))
        side = int(np.ceil(np.sqrt(rows)))
        assert img.size == (side * 8, side * 8)
    # the first thumbnail is the first image
    _, images, _ = digits(1)
    png = tb.get("/data/plugin/projector/sprite_image", {"run": "digits", "name": "pixels"})
    first = np.asarray(Image.open(io.BytesIO(png)).convert("L"))[:8, :8]
    assert np.array_equal(first, np.round(images[0] * 255).astype(np.uint8))


@pytest.mark.slow  # shares the module fixture (see above)
def test_callback_exports_activations_beside_the_embedding(served):
    import keras

    tb, logdir, runs, model, x, images, target, emb_model = served
    info = tb.info("cb")
    assert sorted(e["tensorName"] for e in info["embeddings"]) == ["pairs", "tokens"]
    inputs = np.arange(40).reshape(20, 2) % 16
    pooled = keras.Model(emb_model.inputs[0], emb_model.get_layer("pool").output)
    want = np.asarray(pooled(inputs), dtype=np.float32)
    assert np.array_equal(tb.tensor("cb", "pairs").reshape(want.shape), want)
    # one column: written without a header, so the Projector calls it "label"
    scores = parse_projector_tsv(tb.metadata("cb", "pairs")).column("label")
    out = np.asarray(emb_model(inputs))[:, 0]
    assert [float(s) for s in scores] == pytest.approx(np.round(out, 3).tolist(), abs=1e-3)
    # only the final export's sprite and metadata stay on disk
    names = os.listdir(logdir / "cb")
    assert sum(n.startswith("sprite-") for n in names) == 1, names


def test_sequence_output_and_unknown_layer_are_refused_before_writing(tmp_path):
    from projector_tools import export_activations

    model = _model_with_embedding()
    ids = np.ones((3, 2), "int32")
    with pytest.raises(InputError, match=r"\(None, 2, 4\).*Pool it.*\['pool', 'out'\]"):
        export_activations(model, ids, str(tmp_path / "a"), layer="tokens")
    with pytest.raises(InputError, match="no layer 'poool'.*'pool'"):
        export_activations(model, ids, str(tmp_path / "a"), layer="poool")
    with pytest.raises(InputError, match="does not start with a TextVectorization"):
        export_activations(model, ["good", "bad"], str(tmp_path / "a"), layer="pool")
    assert not (tmp_path / "a").exists()


def test_text_model_takes_strings_and_a_dataset(tmp_path):
    import keras
    import tensorflow as tf

    from projector_tools import export_activations
    from projector_tools.run.writer import read_current_tensors

    texts = ["a great film", "an awful film", "great great acting", "awful plot"]
    tv = keras.layers.TextVectorization(max_tokens=20, output_sequence_length=4)
    tv.adapt(texts)
    inp = keras.Input((1,), dtype="string")
    h = keras.layers.Embedding(20, 3, mask_zero=True)(tv(inp))
    h = keras.layers.GlobalAveragePooling1D(name="pool")(h)
    model = keras.Model(inp, keras.layers.Dense(1)(h))
    res = export_activations(model, texts, str(tmp_path / "t"), layer="pool",
                             metadata={"text": texts}, batch_size=3)
    want = np.asarray(keras.Model(inp, model.get_layer("pool").output)(tf.constant([[t] for t in texts])))
    got = read_current_tensors(str(tmp_path / "t"))["pool"]
    assert np.array_equal(got, want) and res["pool"].metadata_rows == 4
    # a tf.data.Dataset of (x, y), unbatched, with max_rows
    ds = tf.data.Dataset.from_tensor_slices((np.array(texts).reshape(-1, 1), np.arange(4)))
    res = export_activations(model, ds, str(tmp_path / "d"), layer="pool", max_rows=3)
    assert res["pool"].shape == (3, 3)
    assert np.array_equal(read_current_tensors(str(tmp_path / "d"))["pool"], want[:3])


def test_cli_export_activations_npy(tmp_path, capsys):
    import keras

    from projector_tools.cli import main
    from projector_tools.run.writer import read_current_tensors

    model = functional_model()
    path = str(tmp_path / "m.keras")
    model.save(path)
    x, _, _ = digits(50)
    np.save(tmp_path / "x.npy", x)
    assert main(["export-activations", path, str(tmp_path / "x.npy"), "--layer", "first",
                 "--logdir", str(tmp_path / "run")]) == 0
    assert "exported first 50x32" in capsys.readouterr().out
    want = np.asarray(keras.Model(model.inputs[0], model.get_layer("first").output)(x))
    assert np.array_equal(read_current_tensors(str(tmp_path / "run"))["first"], want)
    assert main(["export-activations", path, str(tmp_path / "x.npy"), "--layer", "nope",
                 "--logdir", str(tmp_path / "run2")]) == 1
    assert "has no layer 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "run2").exists()


def test_sprite_shrinks_to_the_browser_limit_and_says_so():
    from projector_tools.run.sprite import MAX_SPRITE_PX, build_sprite, build_sprites

    sprite = build_sprite(np.zeros((4, 4400, 2200), "uint8"))  # 2 x 4400 px > 8192
    assert sprite.note and "shrunk" in sprite.note
    from PIL import Image

    img = Image.open(io.BytesIO(sprite.png))
    assert max(img.size) <= MAX_SPRITE_PX and img.size == (2 * sprite.thumb_size[0], 2 * sprite.thumb_size[1])
    assert sprite.thumb_size[0] / sprite.thumb_size[1] == pytest.approx(2200 / 4400, rel=0.01)
    with pytest.warns(UserWarning, match="shrunk"):
        build_sprites({"t": np.zeros((4, 4400, 10), "uint8")}, {"t": 4})
    with pytest.raises(InputError, match="outside \\[0, 1\\]"):
        build_sprite(np.full((2, 4, 4), 3.0))
    with pytest.raises(InputError, match="3 images but the tensor has 4 rows"):
        build_sprite(np.zeros((3, 4, 4)), rows=4)


def test_token_statistics_formula():
    from projector_tools.training.token_stats import PRIOR_REVIEWS, token_statistics

    reviews = [[1, 1, 2], [1, 3], [3], [2, 2]]
    labels = [1, 1, 0, 0]
    count, pos = token_statistics(reviews, labels, vocab_size=5)
    assert count.tolist() == [0, 3, 3, 2, 0]
    p0, m = 0.5, PRIOR_REVIEWS
    # id 1: in 2 reviews, both positive; id 2: in 2 reviews, one positive
    assert pos[1] == pytest.approx((2 + m * p0) / (2 + m))
    assert pos[2] == pytest.approx((1 + m * p0) / (2 + m))
    assert pos[0] == pos[4] == pytest.approx(p0)


@pytest.mark.slow
def test_trained_csv_run_has_token_statistics_and_review_points(tmp_path, tensorboard):
    """Acceptance: a run trained on a CSV of reviews (the generated demo corpus:
    no real IMDB text ships with any installed package and there is no
    network) colours by positivity and shows its validation reviews."""
    from projector_tools.cli import main
    from projector_tools.training.demo_corpus import demo_reviews
    from projector_tools.training.review_points import shorten
    from projector_tools.training.text_data import clean_review

    train_split, test_split = demo_reviews(n_train=1200, n_test=300, seed=7)
    csv_path = tmp_path / "reviews.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["review", "sentiment", "split"])
        for split, part in (("train", train_split), ("test", test_split)):
            for text, label in zip(part.texts, part.labels):
                w.writerow([text, "positive" if label else "negative", split])
    logdir = tmp_path / "run"
    assert main(["train", "--logdir", str(logdir), "--data-csv", str(csv_path), "--epochs", "2",
                 "--review-points", "200", "--quiet"]) == 0
    tb = tensorboard(logdir)
    assert tb.wait_for_projector_runs() == ["train"]
    info = {e["tensorName"]: [int(v) for v in e["tensorShape"]] for e in tb.info("train")["embeddings"]}
    assert set(info) == {"embedding", "reviews"}

    tokens = parse_projector_tsv(tb.metadata("train", "embedding"))
    assert tokens.columns == ("label", "id", "kind", "word_end", "count", "positivity")
    assert len(tokens.rows) == info["embedding"][0] == len(tb.tensor("train", "embedding")) // info["embedding"][1]
    assert [int(v) for v in tokens.column("id")] == list(range(len(tokens.rows)))
    positivity = dict(zip(tokens.column("label"), map(float, tokens.column("positivity"))))
    good = [positivity[w] for w in ("great_", "excellent_", "wonderful_", "superb_", "good_") if w in positivity]
    bad = [positivity[w] for w in ("awful_", "terrible_", "bad_", "boring_", "dull_") if w in positivity]
    assert len(good) >= 3 and len(bad) >= 3, sorted(positivity)[:50]
    assert np.mean(good) > np.mean(bad) + 0.1, (good, bad)
    counts = [int(c) for c in tokens.column("count")]
    assert counts[0] == 0 and sum(counts) > 1200  # padding never occurs in a review

    reviews = parse_projector_tsv(tb.metadata("train", "reviews"))
    assert reviews.columns == ("text", "label", "predicted", "correct")
    assert len(reviews.rows) == info["reviews"][0] == 200
    assert reviews.column("label").count("positive") == 100
    by_text = {shorten(clean_review(t)): ("positive" if y else "negative")
               for t, y in zip(test_split.texts, test_split.labels)}
    assert [by_text[t] for t in reviews.column("text")] == reviews.column("label")
    for p, lab, ok in zip(reviews.column("predicted"), reviews.column("label"), reviews.column("correct")):
        if p != "0.500":  # rounded: 0.4996 is shown as 0.500 and predicts negative
            assert ok == ("yes" if (float(p) >= 0.5) == (lab == "positive") else "no")


def test_cli_export_activations_csv_for_a_text_model(tmp_path, capsys):
    """A .keras text model (TextVectorization inside) and a CSV of reviews:
    one point per row, every CSV column as metadata."""
    import keras
    import tensorflow as tf

    from projector_tools.cli import main
    from projector_tools.run.writer import read_current_tensors

    rows = [("a great film, truly", "positive"), ("an awful\tfilm", "negative"),
            ("great acting", "positive")]
    tv = keras.layers.TextVectorization(max_tokens=20, output_sequence_length=6)
    tv.adapt([r[0] for r in rows])
    inp = keras.Input((1,), dtype="string")
    h = keras.layers.Embedding(20, 3, mask_zero=True)(tv(inp))
    h = keras.layers.GlobalAveragePooling1D(name="pool")(h)
    model = keras.Model(inp, keras.layers.Dense(1)(h))
    model.save(tmp_path / "text.keras")
    with open(tmp_path / "r.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["review", "sentiment"])
        w.writerows(rows)
    assert main(["export-activations", str(tmp_path / "text.keras"), str(tmp_path / "r.csv"),
                 "--layer", "pool", "--name", "reviews", "--logdir", str(tmp_path / "run")]) == 0
    assert "exported reviews 3x3" in capsys.readouterr().out
    want = np.asarray(keras.Model(inp, model.get_layer("pool").output)(tf.constant([[r[0]] for r in rows])))
    assert np.array_equal(read_current_tensors(str(tmp_path / "run"))["reviews"], want)
    meta = next(p for p in os.listdir(tmp_path / "run") if p.startswith("metadata-"))
    with open(tmp_path / "run" / meta, encoding="utf-8") as f:
        parsed = parse_projector_tsv(f.read())
    assert parsed.columns == ("review", "sentiment")
    assert parsed.column("review")[1] == "an awful\\tfilm" and parsed.column("sentiment")[2] == "positive"


def test_sprite_files_follow_the_switch(tmp_path, monkeypatch):
    """Content-addressed like metadata: same images, same file; new images, a
    new file written before the switch, and the old one kept while the
    previous export is (a reader may have just read its config), removed
    after the next; the transitional config never pairs the old sprite with
    the new rows."""
    from projector_tools import export_embeddings
    from projector_tools.run import cleanup as run_cleanup
    from projector_tools.run.config import SpriteRef, config_text, parse_config, sprite_of
    from projector_tools.run.switch import transitional_config

    monkeypatch.setattr(run_cleanup, "RETAIN_RECENT_S", 0.0)  # only the previous export stays

    def sprites() -> list[str]:
        return sorted(n for n in os.listdir(run) if n.startswith("sprite-"))

    run = str(tmp_path / "run")
    x, images, _ = digits(30)
    first = export_embeddings(x, run, images=images)["embedding"].sprite_path
    assert export_embeddings(x, run, images=images)["embedding"].sprite_path == first
    second = export_embeddings(x, run, images=images[::-1])["embedding"].sprite_path
    assert second != first
    assert sprites() == sorted([os.path.basename(first), os.path.basename(second)])
    export_embeddings(x, run, images=images[::-1])
    assert sprites() == [os.path.basename(second)]
    with open(os.path.join(run, "projector_config.pbtxt"), encoding="utf-8") as f:
        entry = parse_config(f.read()).embeddings[0]
    assert sprite_of(entry) == SpriteRef(os.path.basename(second), 8, 8)
    old = config_text([("embedding", "m.tsv", SpriteRef("old.png", 8, 8))])
    kept = parse_config(transitional_config(
        old, [("embedding", "m.tsv", SpriteRef("new.png", 8, 8))], {"embedding"})).embeddings[0]
    assert sprite_of(kept) is None and kept.metadata_path == "m.tsv"
