"""Stage `sft`: M0 → M1, supervised fine-tuning on IFT and EFT mixed (method.md §4).

Every IFT row becomes a (solve prompt → step solution) example; EFT rows, subsampled with the seed
to make `sft.eft_fraction` of the mix, become (judge prompt → judgment) examples. TRL's SFTTrainer
trains on the assistant part only (completion-only loss on conversational prompt/completion data).

Reads:  params.yaml [sft, prompts]; --ift (PROBLEMS), --eft (EFT), --model (M0 folder).
Writes: --out (M1 folder); --log, the loss every `sft.logging_steps` steps (TSV, DVC plots);
        --report, examples, steps, tokens, wall time and final loss (DVC metrics).

Run: dvc repro sft
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from psrlm import prompts, trainlog
from psrlm.errors import PsrlmError, run
from psrlm.params import ParamsError, PromptsParams, load_section
from psrlm.tables import EFT, PROBLEMS, read_table


@dataclass(frozen=True)
class SftParams:
    seed: int
    eft_fraction: float
    learning_rate: float
    epochs: float
    batch_size: int
    warmup_ratio: float
    weight_decay: float
    max_length: int
    logging_steps: int

    def check(self) -> None:
        if not 0 <= self.eft_fraction < 1:
            raise ParamsError("sft: eft_fraction must be in [0, 1)")


def sft_examples(ift: pl.DataFrame, eft: pl.DataFrame, eft_fraction: float, seed: int,
                 solve_t: str, judge_t: str) -> pl.DataFrame:
    """The mixed SFT table: prompt and completion as chat messages, plus the example's kind."""
    n_eft = round(len(ift) * eft_fraction / (1 - eft_fraction))
    if n_eft > len(eft):
        raise PsrlmError(f"sft: eft_fraction {eft_fraction} needs {n_eft} EFT rows, "
                         f"the EFT train table has {len(eft)}")
    eft = eft.sample(n_eft, seed=seed) if n_eft < len(eft) else eft
    solve = pl.DataFrame({
        "kind": "ift",
        "prompt": [prompts.solve_prompt(solve_t, x) for x in ift["problem"]],
        "completion": ift["solution"],
    })
    judge = pl.DataFrame({
        "kind": "eft",
        "prompt": [prompts.judge_prompt(judge_t, r["problem"], r["prefix_steps"], r["candidate_a"],
                                        r["candidate_b"]) for r in eft.iter_rows(named=True)],
        "completion": eft["judgment"],
    })
    return pl.concat([solve, judge]).sample(fraction=1.0, shuffle=True, seed=seed)


def as_chat(df: pl.DataFrame):
    """A `datasets.Dataset` in TRL's conversational prompt-completion format."""
    from datasets import Dataset

    return Dataset.from_dict({
        "prompt": [[{"role": "user", "content": t}] for t in df["prompt"]],
        "completion": [[{"role": "assistant", "content": t}] for t in df["completion"]],
    })


LOG = {"loss": "loss", "learning_rate": "learning_rate"}  # loss.tsv column ← Trainer log key


def train(model_dir: str, data, p: SftParams, out: Path, log_path: Path) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    rows: list[dict] = []
    torch.manual_seed(p.seed)
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    with tempfile.TemporaryDirectory() as tmp:
        config = SFTConfig(
            output_dir=tmp, seed=p.seed, data_seed=p.seed, learning_rate=p.learning_rate,
            num_train_epochs=p.epochs, per_device_train_batch_size=p.batch_size,
            lr_scheduler_type="cosine", warmup_steps=p.warmup_ratio, weight_decay=p.weight_decay,
            max_length=p.max_length, logging_steps=p.logging_steps, save_strategy="no",
            report_to=[], bf16=False, fp16=False, gradient_checkpointing=False, use_cpu=not torch.cuda.is_available(),
            completion_only_loss=True, dataloader_num_workers=0,
            # Batches of similar length: IFT and EFT examples differ ~2x in length, and padding
            # a mixed batch to its longest example wasted about a third of the compute.
            train_sampling_strategy="group_by_length",
        )
        trainer = SFTTrainer(model=model, args=config, train_dataset=data, processing_class=tok,
                             callbacks=[trainlog.callback(rows, LOG)])
        tokens = sum(len(x) for x in trainer.train_dataset["input_ids"])
        result, wall = trainlog.fit(trainer, tok, out, log_path, rows, LOG)
    return {"steps": result.global_step, "train_loss": round(result.training_loss, 5),
            "final_logged_loss": rows[-1]["loss"] if rows else None,
            "tokens_per_epoch": tokens, "train_seconds": round(wall, 1),
            "tokens_per_second": round(tokens * p.epochs / wall, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--ift", default="data/prepare/ift_train.parquet")
    ap.add_argument("--eft", default="data/prepare/eft_train.parquet")
    ap.add_argument("--model", default="data/models/m0")
    ap.add_argument("--out", default="data/models/m1")
    ap.add_argument("--log", default="reports/sft/loss.tsv")
    ap.add_argument("--report", default="reports/sft/metrics.json")
    args = ap.parse_args()
    p = load_section(args.params, "sft", SftParams)
    templates = load_section(args.params, "prompts", PromptsParams)

    ift = read_table(args.ift, PROBLEMS).collect()
    eft = read_table(args.eft, EFT).collect()
    examples = sft_examples(ift, eft, p.eft_fraction, p.seed, prompts.template(templates.solve),
                            prompts.template(templates.judge))
    print(f"sft: {len(examples)} examples ({(examples['kind'] == 'eft').sum()} judge)")
    for path in (args.log, args.report):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    stats = train(args.model, as_chat(examples), p, Path(args.out), Path(args.log))
    stats.update(examples=len(examples), eft_examples=int((examples["kind"] == "eft").sum()))
    Path(args.report).write_text(json.dumps(stats, indent=2, sort_keys=True) + "\n")
    print(f"sft: {stats}")


if __name__ == "__main__":
    run(main, "sft")
