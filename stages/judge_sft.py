"""Stage `judge_sft`: the SFT model → M1, a second SFT phase on the judge examples made from the
model's own steps (stage own_eft@train), mixed with a replay of the first phase's data.

The first phase (stage sft) teaches solving and judging on gold steps against synthetic
corruptions; its judge copies a wrong candidate's number when the candidates are the model's own
(issue 12). This phase trains it on exactly those: its own right and wrong candidates after its own
prefixes, both orders. `judge_sft.replay_fraction` of the examples come from the first phase's mix
(IFT + synthetic EFT at `sft.eft_fraction`, reshuffled with this section's seed) so that solving
and the held-out EFT judge are not forgotten. With no own pairs (`prepare.judge_train_size: 0`, the
default, or `own_rows: 0`) the phase is skipped and M1 is a byte copy of the SFT model.

Reads:  params.yaml [judge_sft, sft, prompts]; --own (EFT, own_eft@train's pairs); --ift (PROBLEMS),
        --eft (EFT); --model (the SFT model).
Writes: --out (M1); --log, the loss (TSV, DVC plots); --report, examples, steps, tokens, wall time
        (DVC metrics).

Run: dvc repro judge_sft
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

import polars as pl

from psrlm import prompts, trainlog
from psrlm.errors import PsrlmError, run
from psrlm.metrics import JUDGE_SFT
from psrlm.outputs import Outputs, is_main_process
from psrlm.params import Count, PromptsParams, Share, TrainingParams, load_section
from psrlm.sft import LOG, SftParams, TrainParams, as_chat, judge_examples, sft_examples, train
from psrlm.tables import EFT, PROBLEMS, read_table


@dataclass(frozen=True)
class JudgeSftParams(TrainParams):
    own_rows: Count | None
    replay_fraction: Share


def examples(own: pl.DataFrame, replay_pool: pl.DataFrame | None, p: JudgeSftParams, judge_t: str) -> pl.DataFrame:
    """The phase's table: the own pairs and `replay_fraction` of replayed first-phase examples
    (none without own pairs)."""
    if own.height == 0:
        return judge_examples(own, judge_t, kind="own")
    n_replay = round(own.height * p.replay_fraction / (1 - p.replay_fraction))
    if n_replay > replay_pool.height:
        raise PsrlmError(f"judge_sft: replay_fraction {p.replay_fraction} needs {n_replay} replayed "
                         f"examples, the first phase's mix has {replay_pool.height}")
    mix = pl.concat([judge_examples(own, judge_t, kind="own"), replay_pool.head(n_replay)])
    return mix.sample(fraction=1.0, shuffle=True, seed=p.seed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--own", default="data/own_eft/train/eft.parquet",
                    help="own pairs, sorted by pair_id (both orders of a pair adjacent): own_rows takes a prefix")
    ap.add_argument("--ift", default="data/prepare/ift_train.parquet")
    ap.add_argument("--eft", default="data/prepare/eft_train.parquet")
    ap.add_argument("--model", default="data/models/sft")
    ap.add_argument("--out", default="data/models/m1")
    ap.add_argument("--log", default="reports/judge_sft/loss.tsv")
    ap.add_argument("--report", default="reports/judge_sft/metrics.json")
    args = ap.parse_args()
    p = load_section(args.params, "judge_sft", JudgeSftParams)
    first = load_section(args.params, "sft", SftParams)
    templates = load_section(args.params, "prompts", PromptsParams)
    training = load_section(args.params, "training", TrainingParams)
    solve_t, judge_t = prompts.template(templates.solve), prompts.template(templates.judge)

    own = read_table(args.own, EFT).collect()
    ift, eft = read_table(args.ift, PROBLEMS), read_table(args.eft, EFT)  # checked even when unused
    if p.own_rows is not None:
        own = own.head(p.own_rows)
    # The replay pool (the whole first-phase mix, rendered) only when there is something to train.
    replay = sft_examples(ift.collect(), eft.collect(), first.eft_fraction, p.seed + 1, solve_t, judge_t) \
        if own.height else None
    mix = examples(own, replay, p, judge_t)
    kinds = dict(sorted(mix.group_by("kind").len().iter_rows()))
    with Outputs(commit=is_main_process()) as o:
        if mix.height == 0:
            # Nothing to train on: M1 is the SFT model itself, said and recorded.
            print(f"judge_sft: no own examples; {args.out} is a copy of {args.model}")
            trainlog.untrained(args.model, o.path(args.out), o.path(args.log), LOG)
            stats = {"trained": False, "steps": 0, "examples": kinds}
        else:
            print(f"judge_sft: {mix.height} examples {kinds}")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            stats = train(args.model, as_chat(mix), p, o.path(args.out), o.path(args.log), training=training)
            stats.update(trained=True, examples=kinds)
        o.json(args.report, JUDGE_SFT.check(stats, args.report))
    print(f"judge_sft: {stats}")


if __name__ == "__main__":
    run(main, "judge_sft")
