"""The hf engine on a real (tiny, random) Qwen2-style model: the sampling contract."""

import pytest

from psrlm import model as models
from psrlm.engine import HFEngine, Sampling
from stages_loader import load_stage

init = load_stage("init_model")
CORPUS = [f"Ann has {i} pens.\nStep 1: {i} + {i % 7} = {i + i % 7}.\n" for i in range(200)]


@pytest.fixture(scope="module")
def engine():
    tok = models.build_tokenizer(CORPUS, 200)
    p = init.ModelParams(base="scratch", seed=0, vocab_size=200, tokenizer_corpus_rows=10, hidden_size=32,
                         num_layers=1, num_heads=2, num_kv_heads=2, intermediate_size=64,
                         max_position_embeddings=256)
    return HFEngine(init.scratch_model(p, tok), tok, batch_size=4)


PROMPTS = ["Ann has 3 pens.", "Ann has 12 pens.\nStep 1:", "Ann has 40 pens. Ann"]


def test_n_samples_per_prompt_cut_at_the_stop_string(engine):
    out = engine.generate(PROMPTS, 3, Sampling(1.0, 0.95, 12, ("\n",)), seed=1)
    assert [len(o) for o in out] == [3, 3, 3]
    assert all("\n" not in s for o in out for s in o)


def test_same_seed_same_samples_other_seed_other_samples(engine):
    sp = Sampling(1.0, 0.95, 12, ())
    a = engine.generate(PROMPTS, 4, sp, seed=1)
    assert engine.generate(PROMPTS, 4, sp, seed=1) == a
    assert engine.generate(PROMPTS, 4, sp, seed=2) != a


def test_greedy_is_deterministic_and_independent_of_batching(engine):
    sp = Sampling(0.0, 1.0, 12, ())
    alone = [engine.generate([p], 1, sp, seed=0)[0][0] for p in PROMPTS]
    together = [o[0] for o in engine.generate(PROMPTS, 1, sp, seed=5)]
    assert alone == together
