"""Batched generation with transformers (`generate`, KV cache), the CPU default backend."""

from __future__ import annotations

from collections.abc import Sequence


def chat_prompts(tok, user_texts: Sequence[str], continuations: Sequence[str] | None = None) -> list[str]:
    """Render user messages with the model's chat template, opened for the assistant's reply;
    `continuations` (e.g. the steps so far) are appended to the open reply."""
    out = [tok.apply_chat_template([{"role": "user", "content": t}], add_generation_prompt=True,
                                   tokenize=False) for t in user_texts]
    if continuations is not None:
        out = [p + c for p, c in zip(out, continuations)]
    return out


def generate(model, tok, prompts: Sequence[str], max_new_tokens: int, batch_size: int,
             stop: Sequence[str] = (), desc: str = "generate") -> list[str]:
    """Greedy completions of `prompts`, in order. Prompts are batched by length (left padding) so
    little compute goes to padding; generation stops at EOS, or at the first `stop` string, which
    is cut off from the returned text."""
    import torch
    from tqdm import tqdm

    tok.padding_side = "left"
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    out: list[str] = [""] * len(prompts)
    model.eval()
    with torch.inference_mode():
        for start in tqdm(range(0, len(order), batch_size), desc=desc, unit="batch"):
            idx = order[start: start + batch_size]
            enc = tok([prompts[i] for i in idx], return_tensors="pt", padding=True,
                      add_special_tokens=False)
            gen = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
                                 stop_strings=list(stop) or None, tokenizer=tok if stop else None)
            texts = tok.batch_decode(gen[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
            for i, text in zip(idx, texts):
                for s in stop:
                    text = text.split(s, 1)[0]
                out[i] = text
    return out
