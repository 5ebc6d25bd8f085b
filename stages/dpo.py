"""Stage `dpo`: M(i) → M(i+1) by step-wise DPO on iteration i's preference pairs (method.md §6).

TRL's DPOTrainer with M(i) as the frozen reference, its losses mixed as `dpo.loss_type` and
`dpo.loss_weights`: `sigmoid` is the paper's DPO, `sft` the NLL of the chosen step. The embedded
default trains `sft` alone: on the 1M model every DPO term measured lowered greedy accuracy even
with always-right pairs (params.yaml). The prompt is the exact text the search fed the
model (chat-rendered problem prompt + the previous steps); chosen and rejected are single steps. A
step ends the way the model ends it: a mid-solution step with the newline that starts the next
step, a final step (one with a \\boxed{} answer) with EOS — so no pair teaches the model to stop
mid-solution. The pairs are tokenized here (prompt tokens checked to be a prefix of prompt+step),
because TRL's own preprocessing appends EOS to every completion.

Reads:  params.yaml [dpo, pipeline.seed] (the seed of shuffling and dropout); --pairs (PAIRS); --model (M(i) folder).
Writes: --out (M(i+1) folder); --log, loss, reward margin and accuracy every `dpo.logging_steps`
        steps (TSV, DVC plots); --report, pairs, steps, tokens trained on (policy, every epoch) and
        scored by the frozen reference (once), wall time and TRL's final reward margins and
        accuracies (DVC metrics).

Run: dvc repro dpo@1   (or: python stages/dpo.py --pairs ... --model data/models/m1 --out data/models/m2 ...)
"""

from __future__ import annotations

import argparse
import os
import tempfile
from dataclasses import dataclass
from typing import Literal
from pathlib import Path

import polars as pl

from psrlm import trainlog
from psrlm.errors import PsrlmError, run
from psrlm.outputs import Outputs, is_main_process
from psrlm.params import (Count, NonNegative, ParamsError, Positive, Rate, Share, TrainingParams, load_key,
                          load_section)
from psrlm.tables import PAIRS, read_table


# TRL 1.16's DPO losses (trl/trainer/dpo_trainer.py): its config accepts any string and fails
# only in the first training step, after both models have loaded.
TrlLoss = Literal["sigmoid", "hinge", "ipo", "exo_pair", "nca_pair", "robust", "bco_pair", "sppo_hard", "aot",
                  "aot_unpaired", "apo_zero", "apo_down", "discopop", "sft", "sigmoid_norm"]


@dataclass(frozen=True)
class DpoParams:
    beta: Rate
    loss_type: tuple[TrlLoss, ...]
    loss_weights: tuple[NonNegative, ...]
    learning_rate: Rate
    optim: str
    epochs: Rate
    batch_size: Positive
    warmup_ratio: Share
    max_length: Positive
    logging_steps: Positive

    def check(self) -> None:
        from transformers.training_args import OptimizerNames

        if self.optim not in {o.value for o in OptimizerNames}:
            raise ParamsError(f"dpo.optim: {self.optim!r} is not one of transformers' optimizer names "
                              f"(e.g. adamw_torch_fused, sgd)")
        if not self.loss_type or len(self.loss_weights) != len(self.loss_type):
            raise ParamsError("dpo: loss_weights needs one weight per loss_type entry")


# dpo log column ← TRL log key
LOG = {"loss": "loss", "margin": "rewards/margins", "accuracy": "rewards/accuracies",
       "chosen_reward": "rewards/chosen", "rejected_reward": "rewards/rejected"}


def step_completion(step: str, final: bool, eos: str) -> str:
    """A step as the model writes it: a final step (the search's `is_final`: a \\boxed{} answer, or
    the end of the sequence) ends with EOS, any other with the newline after which the next step
    begins."""
    return step + (eos if final else "\n")


def tokenize_pairs(pairs: pl.DataFrame, tok, max_length: int) -> tuple[dict[str, list[list[int]]], int]:
    """TRL's pre-tokenized DPO columns, and how many pairs were dropped because prompt + step is
    longer than `max_length` (TRL would cut the step off and train on what is left of it). Each
    completion is tokenized together with its prompt and cut after the prompt's tokens, which must
    be a prefix: otherwise the model would be trained on a context it never sees at search time,
    so that is an error, not a warning. Whether a step ends with EOS is the pairs table's
    `is_final_step` / `rejected_is_final`, which the search decided (psrlm.search.is_final)."""
    out: dict[str, list[list[int]]] = {"prompt_ids": [], "chosen_ids": [], "rejected_ids": []}
    too_long = 0
    for r in pairs.iter_rows(named=True):
        prompt_ids = tok(r["prompt"], add_special_tokens=False)["input_ids"]
        steps = {}
        for col in ("chosen", "rejected"):
            final = r["is_final_step"] if col == "chosen" else r["rejected_is_final"]
            full = tok(r["prompt"] + step_completion(r[col], final, tok.eos_token),
                       add_special_tokens=False)["input_ids"]
            if full[:len(prompt_ids)] != prompt_ids:
                raise PsrlmError(f"pairs {r['problem_id']} step {r['step_idx']}: the prompt's tokens are not a "
                                 f"prefix of prompt + {col} (a token merges across the boundary)")
            steps[col] = full[len(prompt_ids):]
        if len(prompt_ids) + max(len(s) for s in steps.values()) > max_length:
            too_long += 1
            continue
        out["prompt_ids"].append(prompt_ids)
        for col, ids in steps.items():
            out[f"{col}_ids"].append(ids)
    return out, too_long


def train(model_dir: str, data: dict, p: DpoParams, seed: int, out: Path, log_path: Path,
          training: TrainingParams) -> dict:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    class StepDPOTrainer(DPOTrainer):
        """DPOTrainer on pairs tokenized by `tokenize_pairs` (TRL would append EOS to each step)."""

        def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
            return dataset

    rows: list[dict] = []
    torch.manual_seed(seed)
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    ref = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)  # frozen M(i)
    with tempfile.TemporaryDirectory() as tmp:
        config = DPOConfig(
            output_dir=tmp, seed=seed, data_seed=seed, beta=p.beta, loss_type=list(p.loss_type),
            loss_weights=list(p.loss_weights), learning_rate=p.learning_rate, optim=p.optim,
            num_train_epochs=p.epochs, per_device_train_batch_size=p.batch_size,
            lr_scheduler_type="cosine", warmup_steps=p.warmup_ratio, max_length=p.max_length,
            logging_steps=p.logging_steps, save_strategy="no", report_to=[], bf16=training.bf16, fp16=False,
            gradient_checkpointing=training.gradient_checkpointing,
            use_cpu=not torch.cuda.is_available(), dataloader_num_workers=0,
            # The reference is frozen: its log-probabilities are computed once, not once per epoch.
            precompute_ref_log_probs=True,
        )
        trainer = StepDPOTrainer(model=model, ref_model=ref, args=config, processing_class=tok,
                                 train_dataset=Dataset.from_dict(data),
                                 callbacks=[trainlog.callback(rows, LOG)])
        result, wall = trainlog.fit(trainer, tok, out, log_path, rows, LOG)
    last = rows[-1] if rows else {}
    return {"trained": True, "steps": result.global_step, "train_loss": round(result.training_loss, 5),
            "final_margin": last.get("margin"), "final_accuracy": last.get("accuracy"),
            "train_seconds": round(wall, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--pairs", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--report", required=True)
    args = ap.parse_args()
    seed = load_key(args.params, "pipeline.seed", Count)
    p = load_section(args.params, "dpo", DpoParams)
    training = load_section(args.params, "training", TrainingParams)
    pairs = read_table(args.pairs, PAIRS).collect()
    too_long = 0
    if pairs.height:
        from transformers import AutoTokenizer

        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        data, too_long = tokenize_pairs(pairs, AutoTokenizer.from_pretrained(args.model), p.max_length)
        if too_long:
            print(f"dpo: WARNING dropped {too_long} of {pairs.height} pairs longer than dpo.max_length "
                  f"({p.max_length} tokens)")
    with Outputs(commit=is_main_process()) as o:
        if pairs.height == too_long:
            # Nothing to learn from: M(i+1) is M(i), said loudly and recorded, so the chain still runs.
            print(f"dpo: WARNING {args.pairs} holds no trainable pairs; {args.out} is a copy of {args.model}")
            trainlog.untrained(args.model, o.path(args.out), o.path(args.log), LOG)
            stats = {"trained": False, "steps": 0, "train_tokens": 0, "reference_tokens": 0}
        else:
            stats = train(args.model, data, p, seed, o.path(args.out), o.path(args.log), training)
            # The training compute a baseline of plain SFT must match: tokens through the policy
            # (prompt + step, chosen and rejected) every epoch, and one forward pass of the reference.
            stats["tokens_per_epoch"] = sum(2 * len(pr) + len(c) + len(r) for pr, c, r in
                                            zip(data["prompt_ids"], data["chosen_ids"], data["rejected_ids"]))
            stats["train_tokens"] = round(stats["tokens_per_epoch"] * p.epochs)
            stats["reference_tokens"] = stats["tokens_per_epoch"]
        stats.update(pairs=pairs.height, pairs_too_long=too_long,
                     final_step_pairs=int(pairs["is_final_step"].sum()))
        o.json(args.report, stats)
    print(f"dpo: {stats}")


if __name__ == "__main__":
    run(main, "dpo")
