"""A Hugging Face model folder tokenized by SentencePiece (``tokenizer.model``, no
``tokenizer.json``): the tokenizer trained here by ``sentencepiece`` itself, the
weights written by ``safetensors``, the run served by a real TensorBoard."""

from __future__ import annotations


import numpy as np
import pytest

spm = pytest.importorskip("sentencepiece", reason="pip install 'projector_tools[hf]'")
from safetensors.numpy import save_file  # noqa: E402

from projector_tools.cli import main  # noqa: E402
from projector_tools.run.metadata import escape_label, parse_projector_tsv  # noqa: E402
from tests.helpers.projector_checks import assert_run_serves  # noqa: E402
from tests.helpers.export_errors import export  # noqa: E402

TEXT = "the cat sat on the mat. the dog ate the café crème. naïve résumé, 日本語 the end.\n" * 30



def test_tokenizer_model_labels_rows_by_piece(tmp_path, tensorboard):
    (tmp_path / "text.txt").write_text(TEXT, encoding="utf-8")
    model = tmp_path / "llama"
    model.mkdir()
    spm.SentencePieceTrainer.train(input=str(tmp_path / "text.txt"), model_prefix=str(model / "tokenizer"),
                                   vocab_size=300, model_type="bpe", byte_fallback=True,
                                   character_coverage=1.0,
                                   minloglevel=2)
    processor = spm.SentencePieceProcessor(model_file=str(model / "tokenizer.model"))
    n = processor.get_piece_size()
    embed = np.random.default_rng(3).standard_normal((n + 4, 6)).astype(np.float32)  # padded vocabulary
    save_file({"model.embed_tokens.weight": embed,
               "model.layers.0.mlp.up_proj.weight": np.ones((12, 6), np.float32)},
              str(model / "model.safetensors"), metadata={"format": "pt"})
    assert not (model / "tokenizer.json").exists()
    export(str(model), "--logdir", str(tmp_path / "logs" / "sp"))

    pieces = [processor.id_to_piece(i) for i in range(n)] + [f"<unused:{i}>" for i in range(n, n + 4)]
    tb = tensorboard(tmp_path / "logs")
    assert_run_serves(tb, "sp", {"embed_tokens": embed}, {"embed_tokens": pieces})
    parsed = parse_projector_tsv(tb.metadata("sp", "embed_tokens"))
    assert parsed.header == ("token", "text")
    rows = dict(zip(pieces, parsed.rows))
    assert rows["▁the"] == ("▁the", "the")
    assert rows["<unk>"] == ("<unk>", "<unk>") and rows["<s>"] == ("<s>", "<s>")
    assert rows["<0x41>"] == ("<0x41>", "<0x41>")  # byte-fallback pieces keep their piece
    texts = [r[1] for r in parsed.rows[:n]]
    readable = [processor.decode([i]) for i in range(n) if processor.id_to_piece(i).startswith("▁")]
    assert set(escape_label(t) for t in readable) <= set(texts)


def test_a_broken_tokenizer_model_is_one_line(tmp_path, capsys):
    model = tmp_path / "broken"
    model.mkdir()
    (model / "tokenizer.model").write_bytes(b"not a protobuf \xff\xff")
    save_file({"model.embed_tokens.weight": np.ones((8, 4), np.float32)}, str(model / "model.safetensors"))
    code = main(["export", str(model), "--logdir", str(tmp_path / "never")])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1, err
    assert "tokenizer.model" in err and "SentencePiece" in err
    assert not (tmp_path / "never").exists()
