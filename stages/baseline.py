"""Stage `baseline`: M1 plus the self-rewarding iterations' training compute, spent on plain SFT.

A gain of the chain M1 → M2 → M3 means little unless it beats this: the same compute given to more
of M1's own SFT. The baseline continues M1 on the SFT mix it was trained on (IFT + EFT, the `sft`
section's judge share, batch and lengths; reshuffled with seed `sft.seed + 1`, so it does not replay
M1's first batches; only a prefix of it long enough for the budget is used) for the training
compute of all DPO stages of the chain: the tokens they
trained the policy on (forward + backward, every epoch) plus a third of the tokens their frozen
reference scored once (a forward pass costs about a third of a forward + backward); with DPO's
learning rate and the cosine schedule, so that only the data differs from the chain:
gold steps and judgments here, the model's own judged steps there. The search that made the
chain's pairs is not counted (it generates, it does not train).

Reads:  params.yaml [sft, prompts, dpo.learning_rate, pipeline.iterations]; --ift (PROBLEMS), --eft
        (EFT); --model (M1 folder); --dpo, the folder of the DPO reports: <i>.json of every
        declared iteration (their `train_tokens` and `reference_tokens`).
Writes: --out (the baseline model); --log, the loss (TSV); --report, the token budget, steps,
        tokens and wall time (DVC metrics).

Run: dvc repro baseline
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from psrlm import prompts, trainlog
from psrlm.errors import PsrlmError, run
from psrlm.metrics import BASELINE, DPO
from psrlm.outputs import Outputs, is_main_process
from psrlm.params import PromptsParams, Rate, TrainingParams, chain_of, load_key, load_section
from psrlm.sft import LOG, SftParams, as_chat, sft_examples, train
from psrlm.tables import EFT, PROBLEMS, read_table

# A forward pass (all the frozen reference does) costs about a third of a forward + backward.
FORWARD_SHARE = 1 / 3


def token_budget(reports: list[dict], sources: list[str]) -> float:
    """SFT tokens with the training compute of the DPO runs that wrote `reports`."""
    for r, src in zip(reports, sources):
        for key in ("train_tokens", "reference_tokens"):
            if not isinstance(r.get(key), int):
                raise PsrlmError(f"{src}: no integer '{key}' (rerun the dpo stage that writes it)")
    return sum(r["train_tokens"] + FORWARD_SHARE * r["reference_tokens"] for r in reports)


def enough_examples(examples, budget: float, model_dir: str, margin: float = 1.25) -> int:
    """How many of the (shuffled) examples cover `budget` tokens with a margin, estimated from the
    first 1,000: the baseline trains on a small share of the mix, and tokenizing all of it took
    longer than the training. The trainer then sets the passes over this prefix exactly."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    sample = examples.head(1000)
    per_example = sum(len(tok(a + b, add_special_tokens=False)["input_ids"])
                      for a, b in zip(sample["prompt"], sample["completion"])) / max(sample.height, 1)
    return min(examples.height, max(1, round(margin * budget / per_example)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--ift", default="data/prepare/ift_train.parquet")
    ap.add_argument("--eft", default="data/prepare/eft_train.parquet")
    ap.add_argument("--model", default="data/models/m1")
    ap.add_argument("--dpo", default="reports/dpo", help="folder of the DPO stages' <i>.json reports")
    ap.add_argument("--out", default="data/models/baseline")
    ap.add_argument("--log", default="reports/baseline/loss.tsv")
    ap.add_argument("--report", default="reports/baseline/metrics.json")
    args = ap.parse_args()
    p = load_section(args.params, "sft", SftParams)
    templates = load_section(args.params, "prompts", PromptsParams)
    training = load_section(args.params, "training", TrainingParams)
    learning_rate = load_key(args.params, "dpo.learning_rate", Rate)
    chain = chain_of(load_key(args.params, "pipeline.iterations", dict[str, dict[str, str]]))
    paths = [str(Path(args.dpo) / f"{i}.json") for i in range(1, len(chain) + 1)]
    reports = [DPO.load(path) for path in paths]
    budget = token_budget(reports, paths)
    if budget <= 0:
        # The chain trained on nothing (no pairs in any iteration): the same compute is none, and
        # the baseline is M1 itself, said loudly and recorded, as the dpo stage does.
        print(f"baseline: WARNING {', '.join(paths)} trained on no tokens; {args.out} is a copy of {args.model}")
        with Outputs() as o:
            trainlog.untrained(args.model, o.path(args.out), o.path(args.log), LOG)
            o.json(args.report, BASELINE.check({"trained": False, "steps": 0, "token_budget": 0, "dpo_train_tokens": 0,
                                                "learning_rate": learning_rate}, args.report))
        return

    ift = read_table(args.ift, PROBLEMS).collect()
    eft = read_table(args.eft, EFT).collect()
    seed = p.seed + 1
    examples = sft_examples(ift, eft, p.eft_fraction, seed, prompts.template(templates.solve),
                            prompts.template(templates.judge))
    examples = examples.head(enough_examples(examples, budget, args.model))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    with Outputs(commit=is_main_process()) as o:
        stats = train(args.model, as_chat(examples), p, o.path(args.out), o.path(args.log), training=training, seed=seed,
                      learning_rate=learning_rate, token_budget=budget, ema_decay=p.ema_decay)
        stats.update(trained=True, token_budget=round(budget),
                     dpo_train_tokens=sum(r["train_tokens"] for r in reports), learning_rate=learning_rate)
        o.json(args.report, BASELINE.check(stats, args.report))
    print(f"baseline: {stats}")


if __name__ == "__main__":
    run(main, "baseline")
