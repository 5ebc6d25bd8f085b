"""Benchmark: one SFT setting at reduced scale, measured by what the model learned.

    python benchmarks/sft_levers.py --n 15000 --tag b8init10 --batch 8 --init 0.1 [--wd 1.0] ...

Trains a scratch M0 (psrlm.model.scratch_model with params.yaml's `model` section, the tokenizer of
data/models/m0; `--init` and `--shape` override its init std and shape) on `--n` examples of the
sft stage's mix (the first IFT rows plus the EFT share, seeded like the stage) with the stage's own
trainer (psrlm.sft.trainer: TRL, fp32, cosine, group-by-length, the model's own loss), one pass,
then measures greedy solve on `--evaln` held-out problems, the step arithmetic of those solutions
(written steps whose result fits their operands), the judge on 200 held-out EFT pairs, and the
top-1 accuracy of the gold solutions' tokens by what they take: `A` (the operand copied from the
previous result), `op` and `B` (the operation and operand read from the problem's sentence), `C`
(the result: arithmetic), `text` (the rest). Appends one JSON line to `--out`. Needs the default
run's data/prepare and data/models/m0. Run one at a time (2 cores): ~9 minutes at --n 15000 on an
AVX2 machine.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import os
import re
import tempfile
import time
from pathlib import Path

import polars as pl
import torch
import yaml

from psrlm import arith, prompts, trainlog
from psrlm.engine import HFEngine, greedy
from psrlm.model import scratch_model
from psrlm.params import TrainingParams, load_section
from psrlm.sft import SftParams, as_chat, sft_examples, trainer

STEP = re.compile(r"Step \d+: (\d+) (.) (\d+) = (\d+)\.")
FIELDS = ((1, "A"), (2, "op"), (3, "B"), (4, "C"))


def token_top1(model, tok, eng, solve_t: str, problems: pl.DataFrame) -> dict[str, float]:
    """Top-1 accuracy of the gold solutions' tokens, teacher-forced, by what each token takes."""
    hits = collections.defaultdict(lambda: [0, 0])
    for r in problems.iter_rows(named=True):
        prompt, text = eng.chat(prompts.solve_prompt(solve_t, r["problem"])), r["solution"]
        field = {c: name for m in STEP.finditer(text) for g, name in FIELDS for c in range(m.start(g), m.end(g))}
        enc = tok(prompt + text, return_offsets_mapping=True, return_tensors="pt")
        ids, offsets = enc["input_ids"], enc["offset_mapping"][0]
        with torch.no_grad():
            best = model(ids).logits[0, :-1].argmax(-1)
        for i in range(1, ids.shape[1]):
            start, end = offsets[i].tolist()
            if start < len(prompt):
                continue
            kind = field.get(start - len(prompt), field.get(end - 1 - len(prompt), "text"))
            hits[kind][0] += int(best[i - 1] == ids[0, i])
            hits[kind][1] += 1
    return {k: round(h / n, 3) for k, (h, n) in sorted(hits.items())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--n", type=int, default=15000, help="examples of the mix")
    ap.add_argument("--eft-fraction", type=float, default=0.65)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--warmup", type=float, default=0.03)
    ap.add_argument("--beta2", type=float, default=0.999)
    ap.add_argument("--seed", type=int, default=0, help="SFT data order and dropout")
    ap.add_argument("--mseed", type=int, default=0, help="model initialisation")
    ap.add_argument("--init", type=float, help="init std (default: params' model.init_std)")
    ap.add_argument("--mlp-init", type=float, help="init std of the MLP weights only, after --init")
    ap.add_argument("--shape", help="hidden,layers,heads,intermediate")
    ap.add_argument("--solve", default="solve_v2")
    ap.add_argument("--judge", default="judge_v3")
    ap.add_argument("--evaln", type=int, default=300)
    ap.add_argument("--tag", required=True)
    ap.add_argument("--save", help="folder to save the trained model in")
    ap.add_argument("--out", default="reports/benchmarks/sft_levers.jsonl")
    a = ap.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    p = dataclasses.replace(load_section(a.params, "sft", SftParams), seed=a.seed, learning_rate=a.lr,
                            weight_decay=a.wd, batch_size=a.batch, epochs=1.0, eft_fraction=a.eft_fraction,
                            warmup_ratio=a.warmup)
    solve_t, judge_t = prompts.template(a.solve), prompts.template(a.judge)
    ift = pl.read_parquet("data/prepare/ift_train.parquet").head(round(a.n * (1 - a.eft_fraction)))
    ex = sft_examples(ift, pl.read_parquet("data/prepare/eft_train.parquet"), a.eft_fraction, a.seed,
                      solve_t, judge_t)

    from transformers import AutoTokenizer
    shape = dict(zip(("hidden_size", "num_layers", "num_heads", "intermediate_size"),
                     map(int, a.shape.split(",")))) if a.shape else {}
    if "num_heads" in shape:
        shape["num_kv_heads"] = shape["num_heads"]
    model_p = {**yaml.safe_load(Path(a.params).read_text())["model"], "seed": a.mseed, **shape}
    if a.init:
        model_p["init_std"] = a.init
    tok = AutoTokenizer.from_pretrained("data/models/m0")
    m0 = scratch_model(argparse.Namespace(**model_p), tok)
    if a.mlp_init:
        torch.manual_seed(a.mseed + 1)
        for layer in m0.model.layers:
            for lin in (layer.mlp.gate_proj, layer.mlp.up_proj, layer.mlp.down_proj):
                torch.nn.init.normal_(lin.weight, std=a.mlp_init)

    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        m0.save_pretrained(f"{tmp}/m0")
        tok.save_pretrained(f"{tmp}/m0")
        tr, tok = trainer(f"{tmp}/m0", as_chat(ex), p, f"{tmp}/run",
                          training=load_section(a.params, "training", TrainingParams),
                          callbacks=[trainlog.callback(rows, {"loss": "loss"})])
        tr.args.adam_beta2 = a.beta2
        start = time.time()
        tr.train()
        wall = time.time() - start
    if a.save:
        tr.model.save_pretrained(a.save)
        tok.save_pretrained(a.save)
    model = tr.model.eval()
    eng = HFEngine(model, tok, 64)

    test = pl.read_parquet("data/prepare/test.parquet").head(a.evaln)
    outs = greedy(eng, [eng.chat(prompts.solve_prompt(solve_t, q)) for q in test["problem"]], 128)
    solved = sum(prompts.final_answer(o) == g for o, g in zip(outs, test["gold_answer"]))
    right, written = (sum(x) for x in zip(*(arith.arithmetic_right(o) for o in outs)))
    eft = pl.read_parquet("data/prepare/eft_test.parquet").head(200)
    verdicts = greedy([prompts.judge_prompt(judge_t, r["problem"], r["prefix_steps"], r["candidate_a"],
                                            r["candidate_b"]) for r in eft.iter_rows(named=True)], 96)
    judged = sum(prompts.parse_verdict(o)[0] == b for o, b in zip(verdicts, eft["better"])) / len(eft)
    res = dict(tag=a.tag, args={k: v for k, v in vars(a).items() if k not in ("save", "out")}, params=sum(t.numel() for t in model.parameters()), wall=round(wall),
               tokens=tr.trained_tokens, tok_s=round(tr.trained_tokens / wall), steps=rows[-1]["step"],
               final_loss=rows[-1]["loss"], curve=[r["loss"] for r in rows[::max(1, len(rows) // 10)]],
               solve=round(solved / len(test), 3), step_arith=round(right / max(written, 1), 3), eft=judged,
               top1=token_top1(model, tok, eng, solve_t, pl.read_parquet("data/prepare/ift_train.parquet").tail(200)))
    print(json.dumps(res))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    with open(a.out, "a") as f:
        f.write(json.dumps(res) + "\n")


if __name__ == "__main__":
    main()
