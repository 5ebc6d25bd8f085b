import polars as pl
import pytest

from psrlm import sft
from psrlm.errors import PsrlmError

IFT = pl.DataFrame({"problem": [f"p{i}" for i in range(30)], "solution": [f"s{i}" for i in range(30)]})
EFT = pl.DataFrame({"problem": [f"q{i}" for i in range(40)], "prefix_steps": [[]] * 40,
                    "candidate_a": ["a"] * 40, "candidate_b": ["b"] * 40,
                    "judgment": [f"j{i}\n[[A]]" for i in range(40)]})


def test_mix_uses_all_ift_and_the_eft_share_asked():
    mix = sft.sft_examples(IFT, EFT, 0.5, 0, "S {problem}", "J {problem} {steps} {step_a} {step_b}")
    assert (mix["kind"] == "ift").sum() == 30 and (mix["kind"] == "eft").sum() == 30
    assert set(mix.filter(pl.col("kind") == "ift")["prompt"]) == {f"S p{i}" for i in range(30)}
    assert mix.equals(sft.sft_examples(IFT, EFT, 0.5, 0, "S {problem}", "J {problem} {steps} {step_a} {step_b}"))


def test_mix_refuses_more_eft_than_there_is():
    with pytest.raises(PsrlmError, match="needs 90 EFT rows"):
        sft.sft_examples(IFT, EFT, 0.75, 0, "S {problem}", "J")


def test_ema_leaves_training_alone_and_saves_the_moving_average(tmp_path):
    """Real TRL on a tiny scratch model: the weight average changes no training step (same loss log)
    and the saved model is the average (decay 0.5 ≈ the last few steps), not the last weights."""
    from types import SimpleNamespace

    from safetensors.torch import load_file

    from psrlm import model as models
    from psrlm.params import TrainingParams

    corpus = [f"Ann has {i} pens.\nStep 1: {i} + 1 = {i + 1}." for i in range(60)]
    tok = models.build_tokenizer(corpus, 200)
    shape = SimpleNamespace(hidden_size=16, num_layers=1, num_heads=2, num_kv_heads=2, intermediate_size=32,
                            max_position_embeddings=64, seed=0, init_std=0.1)
    m0 = tmp_path / "m0"
    models.scratch_model(shape, tok).save_pretrained(m0)
    tok.save_pretrained(m0)
    data = sft.as_chat(pl.DataFrame({"kind": "ift", "prompt": [f"Ann has {i} pens." for i in range(48)],
                                     "completion": [f"Step 1: {i} + 1 = {i + 1}." for i in range(48)]}))
    p = sft.SftParams(seed=0, learning_rate=0.01, epochs=1.0, batch_size=8, warmup_ratio=0.0, weight_decay=0.0,
                      max_length=64, logging_steps=1, eft_fraction=0.5, ema_decay=0.5)
    training = TrainingParams(launcher="python", gradient_checkpointing=False, bf16=False)
    runs = {}
    for decay in (0.0, 0.5):
        out, log = tmp_path / f"m{decay}", tmp_path / f"loss{decay}.tsv"
        stats = sft.train(str(m0), data, p, out, log, training=training, ema_decay=decay)
        runs[decay] = (log.read_text(), load_file(out / "model.safetensors"), stats["steps"])
    assert runs[0.0][2] == runs[0.5][2] == 6
    assert runs[0.0][0] == runs[0.5][0]  # the same six steps
    first, last, avg = load_file(m0 / "model.safetensors"), runs[0.0][1], runs[0.5][1]
    moved = [k for k in last if not last[k].equal(first[k])]
    assert moved and all(not avg[k].equal(last[k]) for k in moved)
    # the average lies between the start and the end of training on every weight that moved
    for k in moved:
        assert (avg[k] - last[k]).abs().sum() < (first[k] - last[k]).abs().sum()
