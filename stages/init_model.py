"""Stage `init_model`: M0, the base model (method.md §1).

With `model.base: scratch` (the embedded default) it trains a byte-level BPE on the training corpus
(solve and judge prompts as the pipeline renders them, with their targets) and builds a randomly
initialised Qwen2-style causal LM from params. Otherwise it loads `model.base` (a local folder, or a
hub name when the hub is reachable) and saves it unchanged, so every later stage reads M0 from one place.

Reads:  params.yaml [model, prompts]; --ift, --eft (PROBLEMS, EFT) for the scratch tokenizer.
Writes: --out, a Hugging Face model folder (config, safetensors, tokenizer with chat template);
        --report, size of the model (DVC metrics).

Run: dvc repro init_model
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from psrlm import model as models
from psrlm import prompts
from psrlm.errors import run
from psrlm.outputs import Outputs
from psrlm.params import Count, ParamsError, Positive, PromptsParams, Rate, load_section
from psrlm.tables import EFT, PROBLEMS, read_table


@dataclass(frozen=True)
class ModelParams:
    base: str
    seed: Count
    vocab_size: Positive
    tokenizer_corpus_rows: Positive
    hidden_size: Positive
    num_layers: Positive
    num_heads: Positive
    num_kv_heads: Positive
    intermediate_size: Positive
    max_position_embeddings: Positive
    init_std: Rate

    def check(self) -> None:
        if self.hidden_size % self.num_heads or self.num_heads % self.num_kv_heads:
            raise ParamsError("model: hidden_size must divide by num_heads, num_heads by num_kv_heads")


def tokenizer_corpus(ift: pl.DataFrame, eft: pl.DataFrame, solve_t: str, judge_t: str) -> list[str]:
    texts = [prompts.solve_prompt(solve_t, p) + "\n" + s
             for p, s in zip(ift["problem"], ift["solution"])]
    texts += [prompts.judge_prompt(judge_t, r["problem"], r["prefix_steps"], r["candidate_a"],
                                   r["candidate_b"]) + "\n" + r["judgment"]
              for r in eft.iter_rows(named=True)]
    return texts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--ift", default="data/prepare/ift_train.parquet")
    ap.add_argument("--eft", default="data/prepare/eft_train.parquet")
    ap.add_argument("--out", default="data/models/m0")
    ap.add_argument("--report", default="reports/init_model.json")
    args = ap.parse_args()
    p = load_section(args.params, "model", ModelParams)
    templates = load_section(args.params, "prompts", PromptsParams)

    if p.base == "scratch":
        n = p.tokenizer_corpus_rows
        ift = read_table(args.ift, PROBLEMS).head(n).collect()
        eft = read_table(args.eft, EFT).head(n).collect()
        corpus = tokenizer_corpus(ift, eft, prompts.template(templates.solve),
                                  prompts.template(templates.judge))
        tok = models.build_tokenizer(corpus, p.vocab_size)
        model = models.scratch_model(p, tok)
    else:
        model, tok = models.load(p.base)

    out = Path(args.out)
    n_params = sum(t.numel() for t in model.parameters())
    with Outputs() as o:
        staged = o.path(out)
        model.save_pretrained(staged)
        tok.save_pretrained(staged)
        o.json(args.report, {"parameters": n_params, "vocab_size": len(tok), "base": p.base})
    print(f"init_model: M0 with {n_params:,} parameters, vocabulary {len(tok)}, saved to {out}")


if __name__ == "__main__":
    run(main, "init_model")
