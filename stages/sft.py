"""Stage `sft`: M0 → M1, supervised fine-tuning on IFT and EFT mixed (method.md §4).

Every IFT row becomes a (solve prompt → step solution) example; EFT rows, subsampled with the seed
to make `sft.eft_fraction` of the mix, become (judge prompt → judgment) examples (psrlm/sft.py: TRL's
SFTTrainer, completion-only loss).

Reads:  params.yaml [sft, prompts]; --ift (PROBLEMS), --eft (EFT), --model (M0 folder).
Writes: --out (M1 folder); --log, the loss every `sft.logging_steps` steps (TSV, DVC plots);
        --report, examples, steps, tokens, wall time and final loss (DVC metrics).

Run: dvc repro sft
"""

from __future__ import annotations

import argparse
import os

from psrlm import prompts
from psrlm.errors import run
from psrlm.outputs import Outputs
from psrlm.params import PromptsParams, load_section
from psrlm.sft import SftParams, as_chat, sft_examples, train
from psrlm.tables import EFT, PROBLEMS, read_table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--ift", default="data/prepare/ift_train.parquet")
    ap.add_argument("--eft", default="data/prepare/eft_train.parquet")
    ap.add_argument("--model", default="data/models/m0")
    ap.add_argument("--out", default="data/models/sft")
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
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    with Outputs() as o:
        stats = train(args.model, as_chat(examples), p, o.path(args.out), o.path(args.log))
        stats.update(examples=len(examples), eft_examples=int((examples["kind"] == "eft").sum()))
        o.json(args.report, stats)
    print(f"sft: {stats}")


if __name__ == "__main__":
    run(main, "sft")
