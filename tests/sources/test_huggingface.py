"""`projector-tools export` on Hugging Face model folders, served by a real TensorBoard.

Every input file is written by the tool that writes it in the wild: weights by
``safetensors.numpy.save_file`` (sharded as ``huggingface_hub`` plans shards,
with the index laid out as ``save_torch_state_dict`` writes it), tokenizers by
the ``tokenizers`` library (trained here on a few sentences, then
``tokenizer.save`` / ``model.save`` for ``vocab.txt``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import ml_dtypes
import numpy as np
import pytest

pytest.importorskip("safetensors")
pytest.importorskip("tokenizers")

from huggingface_hub.serialization import split_state_dict_into_shards_factory  # noqa: E402
from safetensors.numpy import save_file  # noqa: E402
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers  # noqa: E402

from projector_tools.cli import main  # noqa: E402
from projector_tools.sources.huggingface import HF_EXTRA_HINT, UNUSED_LABEL  # noqa: E402
from projector_tools.run.metadata import escape_label, parse_projector_tsv  # noqa: E402
from projector_tools.viewer.tensorboard import TensorBoardServer  # noqa: E402
from tests.helpers import REPO_ROOT  # noqa: E402
from tests.helpers.projector_checks import assert_run_serves  # noqa: E402

SENTENCES = [
    "the quick brown fox jumps over the lazy dog",
    "café au lait, a naïve résumé, and the über-cool smörgåsbord",
    "hello world! hello tokens; the embedding projector shows every token",
    "tokenizers split words into subwords: un-believ-able",
] * 3
DIMS = 8


def wordpiece() -> Tokenizer:
    """A BERT-style WordPiece tokenizer, with added tokens after the vocabulary."""
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(SENTENCES, trainers.WordPieceTrainer(
        vocab_size=90, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]))
    tok.add_special_tokens(["[NEW]"])
    tok.add_tokens(["<new tok>"])
    return tok


def byte_level_bpe() -> Tokenizer:
    """A GPT-2-style byte-level BPE tokenizer (tokens like ``Ġthe``)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(SENTENCES, trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.add_special_tokens(["<|pad|>"])
    tok.add_tokens(["naïve résumé"])
    return tok


def unigram() -> Tokenizer:
    """A T5-style SentencePiece Unigram tokenizer (``model.vocab`` is a list)."""
    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.train_from_iterator(SENTENCES, trainers.UnigramTrainer(
        vocab_size=70, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>"))
    tok.add_special_tokens([f"<extra_id_{i}>" for i in range(3)])
    return tok


def tokens_of(tok: Tokenizer, rows: int, added: bool = True) -> list[str]:
    """What each row must be labelled: the token of its id, or the placeholder."""
    n = tok.get_vocab_size(with_added_tokens=added)
    out = [tok.id_to_token(i) for i in range(n)]
    assert None not in out
    return out + [UNUSED_LABEL.format(id=i) for i in range(n, rows)]


def rand(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.normal(size=shape).astype(np.float32)


def padded(n: int, multiple: int = 8) -> int:
    return -(-n // multiple) * multiple


def run_cli(*argv: str) -> None:
    assert main(list(argv)) == 0


def save_sharded(state: dict[str, np.ndarray], folder: str, max_shard_size: int) -> list[str]:
    """Shards planned by huggingface_hub, written by safetensors, indexed as
    huggingface_hub's ``save_torch_state_dict`` indexes them."""
    split = split_state_dict_into_shards_factory(
        state, get_storage_size=lambda t: t.nbytes,
        filename_pattern="model{suffix}.safetensors", max_shard_size=max_shard_size)
    assert split.is_sharded
    for filename, keys in split.filename_to_tensors.items():
        save_file({k: state[k] for k in keys}, os.path.join(folder, filename), metadata={"format": "pt"})
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": dict(split.metadata), "weight_map": split.tensor_to_filename}, f, indent=2)
    return sorted(split.filename_to_tensors)


@pytest.fixture(scope="module")
def hf_runs(tmp_path_factory):
    src = tmp_path_factory.mktemp("hf_models")
    logs = tmp_path_factory.mktemp("hf_logs")
    rng = np.random.default_rng(0)
    expected: dict[str, tuple[dict, dict]] = {}
    texts: dict[str, list[str]] = {}

    # BERT: vocab.txt only (as WordPiece's model.save writes it), one row per token.
    wp = wordpiece()
    bert_vocab = src / "bert_vocab"
    bert_vocab.mkdir()
    wp.model.save(str(bert_vocab))
    base = wp.get_vocab_size(with_added_tokens=False)
    word = rand(rng, base, DIMS)
    bert_state = {
        "bert.embeddings.word_embeddings.weight": word,
        "bert.embeddings.position_embeddings.weight": rand(rng, 16, DIMS),
        "bert.embeddings.token_type_embeddings.weight": rand(rng, 2, DIMS),
        "bert.embeddings.LayerNorm.weight": rand(rng, DIMS),
        "bert.encoder.layer.0.attention.self.query.weight": rand(rng, DIMS, DIMS),
        "cls.predictions.bias": rand(rng, base),
    }
    save_file(bert_state, str(bert_vocab / "model.safetensors"), metadata={"format": "pt"})
    run_cli("export", str(bert_vocab), "--logdir", str(logs / "bert_vocab"))
    expected["bert_vocab"] = ({"word_embeddings": word}, {"word_embeddings": tokens_of(wp, base, added=False)})

    # BERT with tokenizer.json (added tokens) beside vocab.txt; the matrix is
    # padded to a multiple of 8 rows, as models pad their vocabulary.
    bert_json = src / "bert_json"
    bert_json.mkdir()
    wp.model.save(str(bert_json))
    wp.save(str(bert_json / "tokenizer.json"))
    rows = padded(wp.get_vocab_size(with_added_tokens=True) + 1)
    word_padded = rand(rng, rows, DIMS)
    save_file({**bert_state, "bert.embeddings.word_embeddings.weight": word_padded},
              str(bert_json / "model.safetensors"), metadata={"format": "pt"})
    run_cli("export", str(bert_json), "--logdir", str(logs / "bert_json"))
    expected["bert_json"] = ({"word_embeddings": word_padded}, {"word_embeddings": tokens_of(wp, rows)})

    # Without the tokenizers package, vocab.txt beside tokenizer.json still labels it.
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(sys.modules, "tokenizers", None)
        run_cli("export", str(bert_json), "--logdir", str(logs / "bert_no_tokenizers"))
    expected["bert_no_tokenizers"] = (
        {"word_embeddings": word_padded},
        {"word_embeddings": tokens_of(wp, base, added=False)
         + [UNUSED_LABEL.format(id=i) for i in range(base, rows)]})

    # GPT-2 layout (no prefix, wte/wpe), byte-level BPE; given as the file.
    bpe = byte_level_bpe()
    gpt2 = src / "gpt2"
    gpt2.mkdir()
    bpe.save(str(gpt2 / "tokenizer.json"))
    n_bpe = bpe.get_vocab_size(with_added_tokens=True)
    wte, wpe = rand(rng, n_bpe, DIMS), rand(rng, 32, DIMS)
    save_file({"wte.weight": wte, "wpe.weight": wpe, "h.0.attn.c_attn.weight": rand(rng, DIMS, 3 * DIMS),
               "h.0.attn.c_attn.bias": rand(rng, 3 * DIMS), "ln_f.weight": rand(rng, DIMS)},
              str(gpt2 / "model.safetensors"), metadata={"format": "pt"})
    run_cli("export", str(gpt2 / "model.safetensors"), "--logdir", str(logs / "gpt2"))
    expected["gpt2"] = ({"wte": wte}, {"wte": tokens_of(bpe, n_bpe)})
    texts["gpt2"] = bpe.decode_batch([[i] for i in range(n_bpe)], skip_special_tokens=False)
    # --layer picks another tensor: position embeddings, labelled by id.
    run_cli("export", str(gpt2), "--logdir", str(logs / "gpt2_wpe"), "--layer", "wpe")
    expected["gpt2_wpe"] = ({"wpe": wpe}, {"wpe": [str(i) for i in range(32)]})

    # The same model on another TensorFlow filesystem (ram:// stands for gs://).
    import tensorflow as tf

    for name in ("model.safetensors", "tokenizer.json"):
        tf.io.gfile.makedirs("ram://hf/gpt2")
        tf.io.gfile.copy(str(gpt2 / name), f"ram://hf/gpt2/{name}", overwrite=True)
    run_cli("export", "ram://hf/gpt2", "--logdir", str(logs / "gpt2_ram"))
    expected["gpt2_ram"] = expected["gpt2"]

    # LLaMA layout, sharded; the embedding and lm_head in different shards.
    llama = src / "llama"
    llama.mkdir()
    bpe.save(str(llama / "tokenizer.json"))
    embed, head = rand(rng, n_bpe, DIMS), rand(rng, n_bpe, DIMS)
    llama_state = {
        "model.embed_tokens.weight": embed,
        "model.layers.0.mlp.up_proj.weight": rand(rng, 4 * DIMS, DIMS),
        "model.norm.weight": rand(rng, DIMS),
        "lm_head.weight": head,
    }
    shards = save_sharded(llama_state, str(llama), max_shard_size=embed.nbytes + 16)
    assert len(shards) >= 2
    run_cli("export", str(llama), "--logdir", str(logs / "llama"))
    expected["llama"] = ({"embed_tokens": embed}, {"embed_tokens": tokens_of(bpe, n_bpe)})
    run_cli("export", str(llama / "model.safetensors.index.json"), "--logdir", str(logs / "llama_head"),
            "--layer", "lm_head.weight")
    expected["llama_head"] = ({"lm_head": head}, {"lm_head": tokens_of(bpe, n_bpe)})

    # T5 layout in bfloat16, old-style with the tied copies kept, Unigram tokenizer.
    uni = unigram()
    t5 = src / "t5"
    t5.mkdir()
    uni.save(str(t5 / "tokenizer.json"))
    t5_rows = padded(uni.get_vocab_size(with_added_tokens=True) + 1)
    shared = rand(rng, t5_rows, DIMS).astype(ml_dtypes.bfloat16)
    save_file({"shared.weight": shared, "encoder.embed_tokens.weight": shared.copy(),
               "decoder.embed_tokens.weight": shared.copy(),
               "encoder.block.0.layer.0.SelfAttention.q.weight": rand(rng, DIMS, DIMS).astype(ml_dtypes.bfloat16)},
              str(t5 / "model.safetensors"), metadata={"format": "pt"})
    run_cli("export", str(t5), "--logdir", str(logs / "t5_bf16"))
    expected["t5_bf16"] = ({"shared": shared.astype(np.float32)}, {"shared": tokens_of(uni, t5_rows)})

    server = TensorBoardServer(str(logs)).start()
    try:
        server.wait_for_projector_runs(expected=len(expected))
        yield server, expected, texts, src
    finally:
        server.stop()


@pytest.mark.parametrize("run", ["bert_vocab", "bert_json", "bert_no_tokenizers", "gpt2", "gpt2_ram", "gpt2_wpe", "llama", "llama_head", "t5_bf16"])
def test_each_model_layout_is_served(hf_runs, run):
    tb, expected, _, _ = hf_runs
    tensors, labels = expected[run]
    assert_run_serves(tb, run, tensors, labels)


def test_added_tokens_sit_at_their_ids(hf_runs):
    tb, expected, _, _ = hf_runs
    wp = wordpiece()
    rows = parse_projector_tsv(tb.metadata("bert_json", "word_embeddings")).rows
    for token in ("[NEW]", "<new tok>"):
        idx = wp.token_to_id(token)
        assert idx >= wp.get_vocab_size(with_added_tokens=False)
        assert rows[idx][0] == token
    n = wp.get_vocab_size(with_added_tokens=True)
    assert rows[n][0] == UNUSED_LABEL.format(id=n)
    # vocab.txt alone has no added tokens: exactly the base vocabulary
    plain = parse_projector_tsv(tb.metadata("bert_vocab", "word_embeddings")).rows
    assert len(plain) == wp.get_vocab_size(with_added_tokens=False)


def test_byte_level_tokens_get_a_readable_column(hf_runs):
    tb, expected, texts, _ = hf_runs
    parsed = parse_projector_tsv(tb.metadata("gpt2", "wte"))
    assert parsed.header == ("token", "text")
    assert [r[1] for r in parsed.rows] == [escape_label(t) for t in texts["gpt2"]]
    bpe = byte_level_bpe()
    the = bpe.token_to_id("Ġthe")
    assert parsed.rows[the] == ("Ġthe", " the")
    assert parsed.rows[bpe.token_to_id("naïve résumé")] == ("naïve résumé", "naïve résumé")
    # WordPiece tokens read as they are: no second column
    assert parse_projector_tsv(tb.metadata("bert_json", "word_embeddings")).header is None


def test_ambiguous_embeddings_ask_for_layer(tmp_path, capsys):
    folder = tmp_path / "two_berts"
    folder.mkdir()
    rng = np.random.default_rng(1)
    save_file({"query.embeddings.word_embeddings.weight": rand(rng, 20, 4),
               "doc.embeddings.word_embeddings.weight": rand(rng, 20, 4)}, str(folder / "model.safetensors"))
    code = main(["export", str(folder), "--logdir", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 1
    line = [ln for ln in err.splitlines() if "error" in ln]
    assert len(line) == 1 and "--layer" in line[0]
    assert "query.embeddings.word_embeddings.weight" in line[0] and "doc.embeddings.word_embeddings.weight" in line[0]
    assert not (tmp_path / "run").exists()
    # --layer with the full key resolves it, labelled by id (no tokenizer)
    run_cli("export", str(folder), "--logdir", str(tmp_path / "run"),
            "--layer", "doc.embeddings.word_embeddings.weight")
    # a name that is not there lists the 2-D tensors
    code = main(["export", str(folder), "--logdir", str(tmp_path / "bad"), "--layer", "wte"])
    err = capsys.readouterr().err
    assert code == 1 and "query.embeddings.word_embeddings.weight [20, 4]" in err


@pytest.mark.slow  # a fresh process imports TensorFlow
def test_missing_safetensors_is_one_line(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    save_file({"wte.weight": np.ones((3, 2), np.float32)}, str(folder / "model.safetensors"))
    code = (
        "import sys; sys.modules['safetensors'] = None\n"
        "from projector_tools.cli import main\n"
        f"sys.exit(main(['export', {str(folder)!r}, '--logdir', {str(tmp_path / 'run')!r}]))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([REPO_ROOT, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 1
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("projector-tools:")]
    assert errors == [
        "projector-tools: error: reading Hugging Face safetensors needs the 'safetensors' "
        f"package: {HF_EXTRA_HINT}"
    ], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists()


def test_missing_tokenizers_is_one_line(hf_runs, tmp_path, capsys, monkeypatch):
    _, _, _, src = hf_runs  # gpt2/ has tokenizer.json and no vocab.txt
    monkeypatch.setitem(sys.modules, "tokenizers", None)
    code = main(["export", str(src / "gpt2"), "--logdir", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 1
    assert [ln for ln in err.splitlines() if "error" in ln] == [
        f"projector-tools: error: reading tokenizer.json needs the 'tokenizers' package: {HF_EXTRA_HINT}"
    ]
    assert not (tmp_path / "run").exists()
