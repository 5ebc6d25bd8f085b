"""Stage `pairs`: the step-level preference pairs of one iteration, from the search's tables only.

Eq. 2 scores and choices are recomputed from the judgments (psrlm/pairs.py) and checked against
the search's: a mismatch is an error, not a warning.

Reads:  params.yaml [search.multiplicity_weight, search.shards, pairs]; --search, the iteration's
        folder: shard_<k>/ for every k of search.shards, each with steps.parquet (SEARCH_STEPS),
        judgments.parquet (SEARCH_JUDGMENTS) and solutions.parquet (SEARCH_SOLUTIONS), merged (a
        shard's problems are its own, so the merge is a concatenation).
Writes: --out (PAIRS): TRL's `prompt`, `chosen`, `rejected` plus keys, scores, `is_final_step`;
        --report, the iteration's search metrics (DVC metrics), with the ground-truth audit:
        `pairs_unfiltered` and `pair_precision_unfiltered` (before the `pairs` filters),
        `judge_accuracy_self` (verdicts on the model's own right-vs-wrong candidates, an invalid
        verdict counting as wrong), `position_consistency` (candidate pairs judged validly in both
        orders that get the same winner both times), `pair_precision` (pairs whose chosen step is
        right and rejected step wrong), `step_accuracy` (kept steps that are right) and
        `candidate_accuracy` (sampled candidates that are right, overall and by step). "Right" is
        the search table's `correct`: the task's checker, relative to the prefix (psrlm.task).

Run: dvc repro pairs@1
"""

from __future__ import annotations

import argparse
from pathlib import Path

import polars as pl

from psrlm.errors import PsrlmError, run
from psrlm.metrics import SEARCH, pair_precision
from psrlm.pairs import PairsParams, build_pairs, kept_mismatch, metrics, recompute, said_lines
from psrlm.outputs import Outputs
from psrlm.params import Count, load_key, load_section
from psrlm.tables import (PAIRS, SEARCH_JUDGMENTS, SEARCH_SOLUTIONS, SEARCH_STEPS, read_table,
                          write_table)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--search", required=True, help="the iteration's search folder (its shard_<k> folders)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--report", required=True)
    args = ap.parse_args()
    weight = load_key(args.params, "search.multiplicity_weight", Count)
    shards = load_key(args.params, "search.shards", tuple[Count, ...])
    p = load_section(args.params, "pairs", PairsParams)
    folders = [Path(args.search) / f"shard_{k}" for k in shards]

    def merged(name: str, schema) -> pl.LazyFrame:
        # Every shard is read against the schema; a missing one names its path.
        # Sorted by the key again, as one shard's table is: the merge is the unsharded table.
        return pl.concat([read_table(f / f"{name}.parquet", schema) for f in folders],
                         how="vertical").sort(list(schema.key))

    where = f"{args.search}/shard_*"
    # Every shard's steps opened first (a missing shard is named before any bad row); the judgments
    # read and validated once, for the said-right check, the recomputed scores and the audit.
    shard_steps = merged("steps", SEARCH_STEPS)
    judgments = merged("judgments", SEARCH_JUDGMENTS).collect()
    if p.chosen_said_right and judgments.height and not said_lines(judgments):
        raise PsrlmError(f"{where}/judgments.parquet: column 'judgment' has no 'A: ... Right.' or 'Wrong.' "
                         f"line in any of its {judgments.height} judgments (the oracle and random judges "
                         "write none), so pairs.chosen_said_right: true would keep no pair; set it false")
    steps = recompute(shard_steps, judgments.lazy(), weight)
    checked = steps.select(
        score=(pl.col("score").eq_missing(pl.col("score_re"))).all(),
        chosen=(pl.col("chosen") == pl.col("chosen_re")).all(),
        rejected=(pl.col("rejected") == pl.col("rejected_re")).all(),
    ).collect().row(0, named=True)
    for what, ok in checked.items():
        if not ok:
            raise PsrlmError(f"{where}/steps.parquet: column '{what}' disagrees with the {what} recomputed "
                             f"from {where}/judgments.parquet")
    # Read and validated once, for the kept check and the audit both.
    raw_steps, solutions = merged("steps", SEARCH_STEPS).collect(), merged("solutions", SEARCH_SOLUTIONS).collect()
    first = kept_mismatch(raw_steps, solutions)
    if first is not None:
        raise PsrlmError(f"{where}/steps.parquet: column 'kept' disagrees with {where}/solutions.parquet "
                         f"(problem {first}: its kept steps are not its solution's steps)")
    pairs = build_pairs(steps, p).collect()
    unfiltered = build_pairs(steps).collect()
    report = metrics(raw_steps, judgments, solutions, pairs)
    # What the filters removed, audited the same way: the pairs Eq. 2 alone would have kept.
    report["pairs_unfiltered"] = unfiltered.height
    report["pair_precision_unfiltered"] = pair_precision(unfiltered)
    with Outputs() as o:
        write_table(pairs, o.path(args.out), PAIRS, args.out)
        o.json(args.report, SEARCH.check(report, args.report))
    print(f"pairs: {len(pairs)} pairs from {len(folders)} shard(s), precision {report['pair_precision']}")


if __name__ == "__main__":
    run(main, "pairs")
