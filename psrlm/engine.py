"""Generation engines with one sampling contract (n, temperature, top-p, max tokens, stop strings,
seed): texts come back per prompt, n each, with the stop string cut off; heavy packages are imported
only when an engine is built. `HFEngine` (transformers `generate`, KV cache) is the CPU default; a
vLLM engine with the same contract comes with the search stage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


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


class HFEngine:
    """transformers `generate` with a KV cache, prompts batched by length (left padding)."""

    def __init__(self, model, tok, batch_size: int):
        self.model, self.tok, self.batch_size = model.eval(), tok, batch_size
        self.tok.padding_side = "left"

    def chat(self, user_text: str, reply_so_far: str = "") -> str:
        """`user_text` as one user turn in the model's chat template, the assistant's reply opened
        (and continued with `reply_so_far`, e.g. the steps chosen so far)."""
        return self.tok.apply_chat_template([{"role": "user", "content": user_text}],
                                            add_generation_prompt=True, tokenize=False) + reply_so_far

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
                               add_special_tokens=False)
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
