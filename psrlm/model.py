"""Building and loading models: the scratch tokenizer and tiny causal LM, or an existing model.

Heavy imports (torch, transformers, tokenizers) happen inside the functions that need them.
"""

from __future__ import annotations

import os
from pathlib import Path

from psrlm.errors import PsrlmError

SPECIAL_TOKENS = {"eos": "<|end|>", "pad": "<|pad|>", "user": "<|user|>", "assistant": "<|assistant|>"}
# One user turn, one assistant turn ended by EOS. The prompt rendered alone (with the generation
# prompt) is a prefix of prompt + completion, as TRL's completion-only loss needs.
CHAT_TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'user' %}<|user|>{{ m['content'] }}"
    "{% elif m['role'] == 'assistant' %}<|assistant|>{{ m['content'] }}<|end|>{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def build_tokenizer(corpus: list[str], vocab_size: int):
    """A byte-level BPE trained on `corpus` with Qwen2's own pre-tokenizer (one token per digit),
    returned as a transformers Qwen2Tokenizer, so AutoTokenizer and vLLM rebuild it identically."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import Qwen2Tokenizer

    probe = Qwen2Tokenizer()  # Qwen2's normalizer, pre-tokenizer and decoder, to train with
    bpe = Tokenizer(models.BPE())
    bpe.normalizer = probe.backend_tokenizer.normalizer
    bpe.pre_tokenizer = probe.backend_tokenizer.pre_tokenizer
    specials = list(SPECIAL_TOKENS.values())
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(corpus, trainer=trainer)
    vocab = bpe.get_vocab()
    merges = _merges(bpe)
    tok = Qwen2Tokenizer(vocab=vocab, merges=merges, unk_token=None, eos_token=SPECIAL_TOKENS["eos"],
                         pad_token=SPECIAL_TOKENS["pad"])
    tok.add_special_tokens({"additional_special_tokens": [SPECIAL_TOKENS["user"],
                                                          SPECIAL_TOKENS["assistant"]]})
    tok.chat_template = CHAT_TEMPLATE
    return tok


def _merges(bpe) -> list[tuple[str, str]]:
    import json

    merges = json.loads(bpe.to_str())["model"]["merges"]
    return [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in merges]


def scratch_model(p, tok):
    """A randomly initialised Qwen2-style causal LM for `tok`, shaped by `p` (the `model` params
    section: width, layers, heads, MLP width, context, seed, init_std)."""
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=len(tok), hidden_size=p.hidden_size, num_hidden_layers=p.num_layers,
        num_attention_heads=p.num_heads, num_key_value_heads=p.num_kv_heads,
        intermediate_size=p.intermediate_size, max_position_embeddings=p.max_position_embeddings,
        tie_word_embeddings=True, bos_token_id=None, eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id, dtype="float32", initializer_range=p.init_std,
    )
    torch.manual_seed(p.seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(eos_token_id=tok.eos_token_id,
                                               pad_token_id=tok.pad_token_id, do_sample=False)
    return model


def load(path_or_name: str, dtype: str = "auto"):
    """(model, tokenizer) from a local folder, or from a hub name when the hub can be reached.

    Offline, a hub name fails with a message that says so and that a local path works.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    local = Path(path_or_name)
    if not local.exists() and (path_or_name.startswith((".", "/")) or path_or_name.count("/") != 1):
        raise PsrlmError(f"{path_or_name}: model folder not found")
    # HF_HUB_OFFLINE read now, not when huggingface_hub was imported: with it set, a hub name fails at
    # once instead of after a minute of retries against a hub that cannot be reached.
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}
    try:
        tok = AutoTokenizer.from_pretrained(path_or_name, local_files_only=offline)
        model = AutoModelForCausalLM.from_pretrained(
            path_or_name, dtype=dtype if dtype == "auto" else getattr(torch, dtype), local_files_only=offline)
    except OSError as e:
        if local.exists():
            raise PsrlmError(f"{path_or_name}: not a loadable Hugging Face model folder ({e})") from e
        raise PsrlmError(
            f"{path_or_name}: cannot load it from the hub (this machine looks offline, or the name is "
            f"wrong). Download it elsewhere and set model.base to its local folder.") from e
    return model, tok
