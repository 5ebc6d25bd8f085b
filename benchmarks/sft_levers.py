"""Benchmark: one SFT setting at reduced scale, measured by what the model learned.

    python benchmarks/sft_levers.py --n 30000 --tag fp32_adamw30k [--opt muon] [--wd 0.1] ...

Trains M0 (data/models/m0) on `--n` examples of the sft stage's mix (the first IFT rows plus the
EFT share, seeded like the stage), trained by the stage's own trainer (psrlm.sft.trainer: fp32,
cosine, group-by-length) with one pass and the given seed, learning rate, weight decay and batch,
then measures greedy solve on 300 held-out problems, the step arithmetic of those solutions
(written steps whose result fits their operands), the judge on 200 held-out EFT pairs and on 300
held-out own-sample rows. `--opt muon`: torch.optim.Muon for the transformer blocks' matrices,
AdamW (betas 0.9/0.95) for embeddings, norms and head. Appends one JSON line to `--out`. Needs the
default run's data/prepare and data/own_eft/test. Run one at a time (2 cores).
"""
import argparse
import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path

import polars as pl
import torch

from psrlm import arith, prompts, trainlog
from psrlm.engine import HFEngine, Sampling
from psrlm.params import TrainingParams, load_section
from psrlm.sft import SftParams, as_chat, sft_examples, trainer


class Both(torch.optim.Optimizer):
    """Muon and AdamW stepped as one optimizer, so that the Trainer's scheduler drives both."""

    def __init__(self, opts):
        self.opts, self.defaults, self.state = opts, {}, {}
        self.param_groups = [g for o in opts for g in o.param_groups]

    def step(self, closure=None):
        for o in self.opts:
            o.step()

    def zero_grad(self, set_to_none=True):
        for o in self.opts:
            o.zero_grad(set_to_none=set_to_none)

    def state_dict(self):  # accelerate reads it when it wraps the optimizer
        return [o.state_dict() for o in self.opts]

    def load_state_dict(self, states):
        for o, s in zip(self.opts, states):
            o.load_state_dict(s)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--n", type=int, default=30000)
    ap.add_argument("--eft-fraction", type=float, default=0.65)
    ap.add_argument("--opt", choices=("adamw", "muon"), default="adamw")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--muon-lr", type=float, default=0.02)
    ap.add_argument("--wd", type=float, default=0.0)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tag", required=True)
    ap.add_argument("--m0", default="data/models/m0")
    ap.add_argument("--out", default="reports/benchmarks/sft_levers.jsonl")
    a = ap.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    p = dataclasses.replace(load_section(a.params, "sft", SftParams), seed=a.seed, learning_rate=a.lr,
                            weight_decay=a.wd, batch_size=a.batch, epochs=1.0, eft_fraction=a.eft_fraction)
    solve_t, judge_t = prompts.template("solve_v1"), prompts.template("judge_v1")
    ift = pl.read_parquet("data/prepare/ift_train.parquet").head(round(a.n * (1 - a.eft_fraction)))
    ex = sft_examples(ift, pl.read_parquet("data/prepare/eft_train.parquet"), a.eft_fraction, a.seed,
                      solve_t, judge_t)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        tr, tok = trainer(a.m0, as_chat(ex), p, tmp, training=load_section(a.params, "training", TrainingParams), callbacks=[trainlog.callback(rows, {"loss": "loss"})])
        if a.opt == "muon":  # Muon for the blocks' matrices, AdamW for embeddings, norms and head
            blocks = [(n, w) for n, w in tr.model.named_parameters()]
            mats = [w for n, w in blocks if w.ndim == 2 and "layers." in n]
            rest = [w for n, w in blocks if not (w.ndim == 2 and "layers." in n)]
            tr.optimizer = Both([torch.optim.Muon(mats, lr=a.muon_lr, weight_decay=a.wd),
                                 torch.optim.AdamW(rest, lr=a.lr, weight_decay=0.0, betas=(0.9, 0.95))])
        start = time.time()
        tr.train()
        wall = time.time() - start
    tokens = sum(len(x) for x in tr.train_dataset["input_ids"])
    eng = HFEngine(tr.model, tok, 64)

    def greedy(users, max_tokens):
        sp = Sampling(0.0, 1.0, max_tokens, ())
        return [o[0] for o in eng.generate([eng.chat(u) for u in users], 1, sp, 0, "greedy")]

    def judge(df):
        out = greedy([prompts.judge_prompt(judge_t, r["problem"], r["prefix_steps"], r["candidate_a"],
                                           r["candidate_b"]) for r in df.iter_rows(named=True)], 96)
        return sum(prompts.parse_verdict(o)[0] == b for o, b in zip(out, df["better"])) / len(df)

    test = pl.read_parquet("data/prepare/test.parquet").head(300)
    outs = greedy([prompts.solve_prompt(solve_t, q) for q in test["problem"]], 128)
    solved = sum(prompts.final_answer(o) == g for o, g in zip(outs, test["gold_answer"]))
    right, written = (sum(x) for x in zip(*(arith.arithmetic_right(o) for o in outs)))
    res = dict(tag=a.tag, args=vars(a), wall=round(wall), tok_s=round(tokens / wall), final_loss=rows[-1]["loss"],
               loss_curve=[r["loss"] for r in rows[::max(1, len(rows) // 12)]],
               solve=solved / len(test), step_arith=round(right / max(written, 1), 3),
               eft=judge(pl.read_parquet("data/prepare/eft_test.parquet").head(200)),
               own=round(judge(pl.read_parquet("data/own_eft/test/eft.parquet").head(300)), 3))
    print(json.dumps(res))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    with open(a.out, "a") as f:
        f.write(json.dumps(res) + "\n")


if __name__ == "__main__":
    main()
