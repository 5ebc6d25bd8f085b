"""Supervised fine-tuning on the IFT + EFT mix (method.md §4), shared by the `sft` stage (M0 → M1)
and the `baseline` stage (M1 + the chain's training compute spent on more of the same SFT).

TRL's SFTTrainer trains on the assistant part only (completion-only loss on conversational
prompt/completion data). The `sft` params section is declared here because both stages read it.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from psrlm import prompts, trainlog
from psrlm.errors import PsrlmError
from psrlm.params import Count, NonNegative, Positive, Rate, Share, TrainingParams


@dataclass(frozen=True)
class TrainParams:
    """The training keys every SFT-style section has (`sft`, the judge_sft stage's `judge_sft`)."""
    seed: Count
    learning_rate: Rate
    epochs: Rate
    batch_size: Positive
    warmup_ratio: Share
    weight_decay: NonNegative
    max_length: Positive
    logging_steps: Positive


@dataclass(frozen=True)
class SftParams(TrainParams):
    eft_fraction: Share
    ema_decay: Share


def sft_examples(ift: pl.DataFrame, eft: pl.DataFrame, eft_fraction: float, seed: int,
                 solve_t: str, judge_t: str, judge=None) -> pl.DataFrame:
    """The mixed SFT table: prompt and completion as chat messages, plus the example's kind.
    `judge(eft_rows, template)` renders the judge examples: pairwise step judgments by default
    (`judge_examples`), or `score_examples` for the outcome-based SRLM baseline's M1."""
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
    judged = (judge or judge_examples)(eft, judge_t)
    return pl.concat([solve, judged]).sample(fraction=1.0, shuffle=True, seed=seed)


def judge_examples(eft: pl.DataFrame, judge_t: str, kind: str = "eft") -> pl.DataFrame:
    """EFT rows as (judge prompt → judgment) examples of the given kind."""
    return pl.DataFrame({
        "kind": kind,
        "prompt": [prompts.judge_prompt(judge_t, r["problem"], r["prefix_steps"], r["candidate_a"],
                                        r["candidate_b"]) for r in eft.iter_rows(named=True)],
        "completion": eft["judgment"],
    }, schema={"kind": pl.String, "prompt": pl.String, "completion": pl.String})


def score_examples(score_eft: pl.DataFrame, score_t: str) -> pl.DataFrame:
    """SCORE_EFT rows as (score prompt → rubric judgment) examples (the SRLM baseline's EFT)."""
    return pl.DataFrame({
        "kind": "eft",
        "prompt": [prompts.score_prompt(score_t, r["problem"], r["solution"])
                   for r in score_eft.iter_rows(named=True)],
        "completion": score_eft["judgment"],
    }, schema={"kind": pl.String, "prompt": pl.String, "completion": pl.String})


def as_chat(df: pl.DataFrame):
    """A `datasets.Dataset` in TRL's conversational prompt-completion format."""
    from datasets import Dataset

    return Dataset.from_dict({
        "prompt": [[{"role": "user", "content": t}] for t in df["prompt"]],
        "completion": [[{"role": "assistant", "content": t}] for t in df["completion"]],
    })


LOG = {"loss": "loss", "learning_rate": "learning_rate"}  # loss.tsv column ← Trainer log key


def ema(decay: float):
    """A transformers `TrainerCallback` keeping an exponential moving average of the weights
    (updated after every optimizer step, with the usual warm-up min(decay, (1+t)/(10+t)) so the
    initialisation does not linger) and putting it into the model when training ends, before the
    model is saved. One process only: under ZeRO-3/FSDP each process holds a shard."""
    import torch
    from transformers import TrainerCallback

    class Ema(TrainerCallback):
        def on_train_begin(self, args, state, control, model=None, **kwargs):
            if args.world_size > 1:
                raise PsrlmError(f"sft.ema_decay {decay}: weight averaging runs on one process only, "
                                 f"this run has {args.world_size}")
            self.avg = {n: w.detach().clone() for n, w in model.named_parameters()}

        def on_step_end(self, args, state, control, model=None, **kwargs):
            t = state.global_step
            d = min(decay, (1 + t) / (10 + t))
            with torch.no_grad():
                for n, w in model.named_parameters():
                    self.avg[n].lerp_(w.detach(), 1 - d)

        def on_train_end(self, args, state, control, model=None, **kwargs):
            with torch.no_grad():
                for n, w in model.named_parameters():
                    w.copy_(self.avg[n])

    return Ema()


def trainer(model_dir: str, data, p: TrainParams, output_dir: str, *, training: TrainingParams,
            seed: int | None = None, learning_rate: float | None = None, callbacks=(), ema_decay: float = 0.0):
    """TRL's SFTTrainer on the model in `model_dir` and `data`, configured from the params (the
    training stages and benchmarks/sft_overhead.py build it here, so they train alike): (trainer,
    tokenizer). The seed and learning rate default to the params'."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer
    from trl import SFTConfig, SFTTrainer

    seed = p.seed if seed is None else seed
    learning_rate = p.learning_rate if learning_rate is None else learning_rate
    torch.manual_seed(seed)
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    config = SFTConfig(
        output_dir=output_dir, seed=seed, data_seed=seed, learning_rate=learning_rate,
        num_train_epochs=p.epochs, per_device_train_batch_size=p.batch_size,
        lr_scheduler_type="cosine", warmup_steps=p.warmup_ratio, weight_decay=p.weight_decay,
        max_length=p.max_length, logging_steps=p.logging_steps, save_strategy="no",
        # fp32 unless training.bf16 (mixed precision on a GPU): TRL's SFTConfig turns bf16 on by
        # default, on a CPU too (autocast), where the same 3,000 examples trained in 78 s with it,
        # 28 s without.
        report_to=[], bf16=training.bf16, fp16=False, gradient_checkpointing=training.gradient_checkpointing,
        use_cpu=not torch.cuda.is_available(),
        completion_only_loss=True, dataloader_num_workers=0,
        # Batches of similar length: IFT and EFT examples differ ~2x in length, and padding
        # a mixed batch to its longest example wasted about a third of the compute.
        train_sampling_strategy="group_by_length",
    )

    class PlainLossSFTTrainer(SFTTrainer):
        """TRL's SFTTrainer with the model's own loss (the mean NLL of the completion tokens, as
        TRL's). TRL's fused LM head also works out every token's entropy and top-1 accuracy for
        its logs on every step: 12-14% of the default model's throughput (benchmarks/sft_overhead.py;
        docs/experiments.md, Speed)."""

        trained_tokens = 0  # real (non-pad) tokens of every training batch, all processes

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            inputs["use_cache"] = False  # as TRL does: no KV cache while training
            if model.training:
                self.trained_tokens += int(self.accelerator.gather_for_metrics(inputs["attention_mask"].sum()).sum())
            return Trainer.compute_loss(self, model, inputs, return_outputs=return_outputs,
                                        num_items_in_batch=num_items_in_batch)

    callbacks = [*callbacks, ema(ema_decay)] if ema_decay > 0 else list(callbacks)
    return PlainLossSFTTrainer(model=model, args=config, train_dataset=data, processing_class=tok,
                               callbacks=callbacks), tok


def train(model_dir: str, data, p: TrainParams, out: Path, log_path: Path, *, training: TrainingParams,
          seed: int | None = None, learning_rate: float | None = None, token_budget: float | None = None,
          ema_decay: float = 0.0) -> dict:
    """Train the model in `model_dir` on `data` (see `trainer`) and save it to `out`;
    `token_budget` replaces `p.epochs` by as many passes (a fraction, usually) as train on that many
    tokens (the baseline stage sets it, with its own seed and learning rate); `ema_decay` > 0 saves
    the moving average of the weights instead of the last ones (`ema`)."""
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        tr, tok = trainer(model_dir, data, p, tmp, training=training, seed=seed, learning_rate=learning_rate,
                          callbacks=[trainlog.callback(rows, LOG)], ema_decay=ema_decay)
        tokens = sum(len(x) for x in tr.train_dataset["input_ids"])
        if token_budget is not None:  # read by Trainer.train() when it plans its steps
            tr.args.num_train_epochs = token_budget / tokens
        epochs = tr.args.num_train_epochs
        result, wall = trainlog.fit(tr, tok, out, log_path, rows, LOG)
    return {"steps": result.global_step, "train_loss": round(result.training_loss, 5),
            "final_logged_loss": rows[-1]["loss"] if rows else None,
            "tokens_per_epoch": tokens, "epochs": round(epochs, 4), "tokens": tr.trained_tokens,
            "train_seconds": round(wall, 1), "tokens_per_second": round(tr.trained_tokens / wall, 1)}
