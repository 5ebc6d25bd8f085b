"""Stage `sft`: M0 → M1, supervised fine-tuning on IFT and EFT mixed (method.md §4).

Every IFT row becomes a (solve prompt → step solution) example; EFT rows, subsampled with the seed
to make `sft.eft_fraction` of the mix, become (judge prompt → judgment) examples (psrlm/sft.py: TRL's
SFTTrainer, completion-only loss).

Reads:  params.yaml [sft, prompts]; --ift (PROBLEMS), --eft (EFT), --model (M0 folder).
        --tokens-of, another SFT's report (srlm_sft: reports/sft/metrics.json).
Writes: --out (M1 folder); --log, the loss every `sft.logging_steps` steps (TSV, DVC plots);
        --report, examples, steps, tokens, wall time and final loss (DVC metrics).

With --score-eft instead of --eft, the judge examples are the outcome-based SRLM baseline's
(Yuan et al. 2024: a whole solution scored 0-5 by the additive rubric, prompts.score): the same
stage, params and mix make that baseline's own M1 (stage srlm_sft). With --tokens-of, the run
trains on as many tokens as the SFT whose report it names (srlm_sft names sft's): a whole-solution
example is about 1.6 times as long as a step pair, so equal example counts would not be equal compute;
the SRLM M1 then sees that share of its shuffled mix.

Run: dvc repro sft   (SRLM: dvc repro srlm_sft)
"""

from __future__ import annotations

import argparse
import os

from psrlm import prompts
from psrlm.errors import PsrlmError, run
from psrlm.metrics import SFT
from psrlm.outputs import Outputs, is_main_process
from psrlm.params import PromptsParams, TrainingParams, load_section
from psrlm.sft import SftParams, as_chat, score_examples, sft_examples, train
from psrlm.tables import EFT, PROBLEMS, SCORE_EFT, read_table


def matched_tokens(report: str) -> int:
    """The tokens another SFT run trained on, read from its report (its `tokens` key)."""
    tokens = SFT.load(report)["tokens"]
    if not isinstance(tokens, int) or isinstance(tokens, bool) or tokens < 1:
        raise PsrlmError(f"{report}: `tokens` must be a positive integer, got {tokens!r}")
    return tokens


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--ift", default="data/prepare/ift_train.parquet")
    judges = ap.add_mutually_exclusive_group()
    judges.add_argument("--eft", default="data/prepare/eft_train.parquet", help="pairwise step EFT (EFT)")
    judges.add_argument("--score-eft", help="whole-solution score EFT (SCORE_EFT): the SRLM baseline")
    ap.add_argument("--model", default="data/models/m0")
    ap.add_argument("--out", default="data/models/sft")
    ap.add_argument("--log", default="reports/sft/loss.tsv")
    ap.add_argument("--report", default="reports/sft/metrics.json")
    ap.add_argument("--tokens-of", help="an SFT report: train on as many tokens as it did (its `tokens`)")
    args = ap.parse_args()
    p = load_section(args.params, "sft", SftParams)
    templates = load_section(args.params, "prompts", PromptsParams)
    training = load_section(args.params, "training", TrainingParams)

    budget = matched_tokens(args.tokens_of) if args.tokens_of else None
    ift = read_table(args.ift, PROBLEMS).collect()
    if args.score_eft:
        eft, judge_t, judge = read_table(args.score_eft, SCORE_EFT).collect(), templates.score, score_examples
    else:
        eft, judge_t, judge = read_table(args.eft, EFT).collect(), templates.judge, None
    examples = sft_examples(ift, eft, p.eft_fraction, p.seed, prompts.template(templates.solve),
                            prompts.template(judge_t), judge)
    print(f"sft: {len(examples)} examples ({(examples['kind'] == 'eft').sum()} judge)")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    with Outputs(commit=is_main_process()) as o:
        stats = train(args.model, as_chat(examples), p, o.path(args.out), o.path(args.log), training=training,
                      token_budget=budget, ema_decay=p.ema_decay)
        stats.update(examples=len(examples), eft_examples=int((examples["kind"] == "eft").sum()),
                     token_budget=budget)
        o.json(args.report, SFT.check(stats, args.report))
    print(f"sft: {stats}")


if __name__ == "__main__":
    run(main, "sft")
