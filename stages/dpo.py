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

Training that keeps what it learned (issue 28; ReST-EM, arXiv 2312.06585, trains each round from
the base model; Lee et al. 2025, arXiv 2502.01612, on the union of all rounds): `dpo.union` adds the
self-chosen pairs M(i) itself was trained on (its folder's train_pairs.parquet; none for M1), so
M(i+1) learns from every round so far; `dpo.replay_pairs` adds that many labelled step pairs of
prepare's EFT train table (gold step chosen, corrupted step rejected; a fresh draw per iteration,
seeded), a replay of what SFT taught; `dpo.judge_replay` adds that many of the judge's own labelled
examples (the EFT train judgments SFT trained on, or the SRLM baseline's score judgments with
--score-eft), as rows whose chosen and rejected are the same judgment: every preference term is
zero on them and only the `sft` term (the judgment's NLL) trains them, so the judge M(i+1) brings
to the next search is kept in training beside its steps; `dpo.init: first` starts M(i+1) (and
its reference) from M1 (--first) instead of M(i). Every model folder this stage writes holds
train_pairs.parquet (PAIRS): the self-chosen pairs it was trained on, this iteration's alone or the
union.

Reads:  params.yaml [dpo, pipeline.seed, prompts] (the seed of shuffling, dropout and the
        replay draws); --pairs (PAIRS); --model (M(i) folder); --first (M1 folder); --replay (EFT);
        --judge-eft (EFT, the pairwise judge) or --score-eft (SCORE_EFT, the SRLM baseline's).
Writes: --out (M(i+1) folder, with train_pairs.parquet); --log, loss, reward margin and accuracy
        every `dpo.logging_steps` steps (TSV, DVC plots); --report, pairs (this iteration's, the
        union's, the replay's, the judge replay's), steps, tokens trained on (policy, every epoch)
        and scored by the frozen reference (once), wall time and TRL's final reward margins and
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

from psrlm import prompts, trainlog
from psrlm.errors import PsrlmError, run
from psrlm.metrics import DPO
from psrlm.outputs import Outputs, is_main_process
from psrlm.params import (Count, NonNegative, ParamsError, Positive, PromptsParams, Rate, Share,
                          TrainingParams, load_key, load_section)
from psrlm.pairs import check_outcome
from psrlm.sft import judge_examples, score_examples
from psrlm.tables import EFT, OUTCOME_SAMPLES, PAIRS, SCORE_EFT, read_table, write_table


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
    union: bool
    replay_pairs: Count
    judge_replay: Count
    init: Literal["current", "first"]

    def check(self) -> None:
        from transformers.training_args import OptimizerNames

        if self.optim not in {o.value for o in OptimizerNames}:
            raise ParamsError(f"dpo.optim: {self.optim!r} is not one of transformers' optimizer names "
                              f"(e.g. adamw_torch_fused, sgd)")
        # A known name can still need a package this machine lacks (adamw_bnb_8bit: bitsandbytes):
        # transformers resolves the optimizer only after both models have loaded; here, first.
        from transformers import Trainer, TrainingArguments

        with tempfile.TemporaryDirectory() as tmp:
            try:
                Trainer.get_optimizer_cls_and_kwargs(TrainingArguments(output_dir=tmp, optim=self.optim, use_cpu=True,
                                                                       report_to=[]))
            except (ImportError, ValueError) as e:
                raise ParamsError(f"dpo.optim: {self.optim}: {str(e).splitlines()[0]}") from None
        if not self.loss_type or len(self.loss_weights) != len(self.loss_type):
            raise ParamsError("dpo: loss_weights needs one weight per loss_type entry")
        if self.judge_replay and "sft" not in self.loss_type:
            # Its rows' chosen and rejected are one judgment: only the NLL term learns from them.
            raise ParamsError("dpo.judge_replay: needs the sft loss in dpo.loss_type (its rows train by "
                              "the judgment's NLL alone)")


# dpo log column ← TRL log key
LOG = {"loss": "loss", "margin": "rewards/margins", "accuracy": "rewards/accuracies",
       "chosen_reward": "rewards/chosen", "rejected_reward": "rewards/rejected"}


TRAINED = "train_pairs.parquet"  # in every model folder this stage writes: the self-chosen pairs it learned
# The columns tokenize_pairs reads: a self-chosen pair (PAIRS) or a labelled replay pair.
TRAIN_COLUMNS = ("problem_id", "step_idx", "prompt", "chosen", "rejected", "is_final_step", "rejected_is_final")


def replay(eft: pl.DataFrame, n: int, seed: int, chat, solve_t: str) -> pl.DataFrame:
    """`n` labelled step pairs drawn from the EFT table with `seed` (all of them when it has no
    more), as training rows: the better candidate chosen, the other rejected, after the same
    context the search gives the solver (psrlm.prompts.step_context). Pairs whose candidates are
    both wrong (prepare.both_wrong_share) teach the judge, not the solver: never replayed."""
    eft = eft.filter(pl.col("a_correct") | pl.col("b_correct"))
    rows = eft.sample(min(n, eft.height), seed=seed, shuffle=True)
    out = []
    for r in rows.iter_rows(named=True):
        good, bad = ((r["candidate_a"], r["candidate_b"]) if r["better"] == "A"
                     else (r["candidate_b"], r["candidate_a"]))
        out.append({"problem_id": f"replay:{r['pair_id']}", "step_idx": r["step_idx"],
                    "prompt": prompts.step_context(chat, solve_t, r["problem"], r["prefix_steps"]),
                    "chosen": good, "rejected": bad, "is_final_step": prompts.is_final(good),
                    "rejected_is_final": prompts.is_final(bad)})
    return pl.DataFrame(out, schema={c: PAIRS.polars_schema()[c] for c in TRAIN_COLUMNS})


def judge_replay(eft: pl.DataFrame, key: str, n: int, seed: int, chat, render, template: str) -> pl.DataFrame:
    """`n` labelled judge examples drawn from the judge's EFT train table with `seed` (all of them
    when it has no more), rendered by `render` (psrlm.sft.judge_examples or score_examples, as SFT
    rendered them) in the chat turn the search's judge is prompted with, as training rows whose
    chosen and rejected are the same judgment, ending with EOS as SFT's turn does: a preference
    term's gradient is zero on a pair of equal completions, so only the `sft` term trains them.
    Both-wrong pairs (prepare.both_wrong_share) are judge examples like any other."""
    rows = eft.sample(min(n, eft.height), seed=seed, shuffle=True)
    judged = render(rows, template)
    return pl.DataFrame({
        "problem_id": [f"judge:{i}" for i in rows[key]],
        "step_idx": rows["step_idx"] if "step_idx" in rows.columns else [0] * rows.height,
        "prompt": [chat(t) for t in judged["prompt"]],
        "chosen": judged["completion"], "rejected": judged["completion"],
        "is_final_step": [True] * rows.height, "rejected_is_final": [True] * rows.height,
    }, schema={c: PAIRS.polars_schema()[c] for c in TRAIN_COLUMNS})


def step_completion(step: str, final: bool, eos: str) -> str:
    """A step as the model writes it: a final step (psrlm.prompts.is_final: a \\boxed{} answer, or
    the end of the sequence) ends with EOS, any other with the newline after which the next step
    begins."""
    return step + (eos if final else "\n")


def tokenize_pairs(pairs: pl.DataFrame, tok, max_length: int) -> tuple[dict[str, list[list[int]]], int]:
    """TRL's pre-tokenized DPO columns, and how many pairs were dropped because prompt + step is
    longer than `max_length` (TRL would cut the step off and train on what is left of it). Each
    completion is tokenized together with its prompt and cut after the prompt's tokens, which must
    be a prefix: otherwise the model would be trained on a context it never sees at search time,
    so that is an error, not a warning. Whether a step ends with EOS is the pairs table's
    `is_final_step` / `rejected_is_final`, which the search decided (psrlm.prompts.is_final)."""
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
    ap.add_argument("--first", help="M1's folder (dpo.init: first starts from it)")
    ap.add_argument("--replay", help="prepare's EFT train table (dpo.replay_pairs draws from it)")
    judges = ap.add_mutually_exclusive_group()
    judges.add_argument("--judge-eft", help="the pairwise judge's EFT train table (dpo.judge_replay draws from it)")
    judges.add_argument("--score-eft", help="the SRLM baseline's score EFT train table (its judge_replay)")
    ap.add_argument("--iteration", type=int, default=1, help="i: seeds the replay draws with pipeline.seed")
    ap.add_argument("--samples", help="the SRLM samples the --pairs were picked from (stage srlm): checked first")
    ap.add_argument("--out", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--report", required=True)
    args = ap.parse_args()
    seed = load_key(args.params, "pipeline.seed", Count)
    p = load_section(args.params, "dpo", DpoParams)
    training = load_section(args.params, "training", TrainingParams)
    pairs = read_table(args.pairs, PAIRS).collect()
    if args.samples:  # the outcome baseline's pairs, recomputed from its samples before anything trains
        check_outcome(read_table(args.samples, OUTCOME_SAMPLES).collect(), pairs, seed, str(Path(args.samples).parent))
    start = args.first if p.init == "first" else args.model
    if start is None:
        raise PsrlmError("dpo.init: first needs --first (M1's folder)")
    if p.replay_pairs and args.replay is None:
        raise PsrlmError("dpo.replay_pairs: needs --replay (prepare's EFT train table)")
    if p.judge_replay and not (args.judge_eft or args.score_eft):
        raise PsrlmError("dpo.judge_replay: needs --judge-eft (prepare's EFT train table) or --score-eft")
    earlier = Path(args.model) / TRAINED  # what M(i) was trained on (absent for M1)
    union = pl.concat([read_table(earlier, PAIRS).collect(), pairs]) if p.union and earlier.is_file() else pairs
    from transformers import AutoTokenizer

    from psrlm.engine import chat_of

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    tok = AutoTokenizer.from_pretrained(start)
    templates = load_section(args.params, "prompts", PromptsParams)
    extra = replay(read_table(args.replay, EFT).collect(), p.replay_pairs, seed * 1000 + args.iteration,
                   chat_of(tok), prompts.template(templates.solve)) \
        if p.replay_pairs else None  # a fresh draw per iteration
    judged = None
    if p.judge_replay:  # a seed of its own, so that turning it on leaves the step replay's draw as it was
        table, schema, render, template = (
            (args.score_eft, SCORE_EFT, score_examples, templates.score) if args.score_eft
            else (args.judge_eft, EFT, judge_examples, templates.judge))
        judged = judge_replay(read_table(table, schema).collect(), schema.key[0], p.judge_replay,
                              seed * 1000 + args.iteration + 500, chat_of(tok), render, prompts.template(template))
    rows = pl.concat([union.select(TRAIN_COLUMNS), *(t for t in (extra, judged) if t is not None)])
    too_long = 0
    if rows.height:
        data, too_long = tokenize_pairs(rows, tok, p.max_length)
        if too_long:
            print(f"dpo: WARNING dropped {too_long} of {rows.height} pairs longer than dpo.max_length "
                  f"({p.max_length} tokens)")
    with Outputs(commit=is_main_process()) as o:
        out = o.path(args.out)
        if rows.height == too_long:
            # Nothing to learn from: M(i+1) is M(i), said loudly and recorded, so the chain still runs.
            print(f"dpo: WARNING {args.pairs} holds no trainable pairs; {args.out} is a copy of {args.model}")
            trainlog.untrained(args.model, out, o.path(args.log), LOG)
            stats = {"trained": False, "steps": 0, "train_tokens": 0, "reference_tokens": 0}
        else:
            stats = train(start, data, p, seed, out, o.path(args.log), training)
            # The training compute a baseline of plain SFT must match: tokens through the policy
            # (prompt + step, chosen and rejected) every epoch, and one forward pass of the reference.
            stats["tokens_per_epoch"] = sum(2 * len(pr) + len(c) + len(r) for pr, c, r in
                                            zip(data["prompt_ids"], data["chosen_ids"], data["rejected_ids"]))
            stats["train_tokens"] = round(stats["tokens_per_epoch"] * p.epochs)
            stats["reference_tokens"] = stats["tokens_per_epoch"]
        if is_main_process():  # the lineage of M(i+1): the self-chosen pairs it learned from
            write_table(union, out / TRAINED, PAIRS)
        stats.update(pairs=pairs.height, union_pairs=union.height, replay_pairs=0 if extra is None else extra.height,
                     judge_replay=0 if judged is None else judged.height,
                     init=p.init, pairs_too_long=too_long, final_step_pairs=int(pairs["is_final_step"].sum()))
        o.json(args.report, DPO.check(stats, args.report))
    print(f"dpo: {stats}")


if __name__ == "__main__":
    run(main, "dpo")
