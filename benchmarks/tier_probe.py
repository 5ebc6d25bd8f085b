"""Benchmark: a trained model's greedy solve rate on harder synthetic tiers than it was taught.

    python benchmarks/tier_probe.py [--model data/models/sft] [--n 300] \
        [--tier ops56:num_ops_min=5,num_ops_max=6 --tier v199:value_max=199 ...]

Issue 28 wants unlabelled pools from a tier where M1 is "weak but not hopeless" (~10-40% greedy);
this measures candidates before any is declared. A tier is params.yaml's `prepare` difficulty with
some keys replaced (num_ops_min, num_ops_max, start_min, start_max, addsub_min, addsub_max, muldiv_max,
value_max); `base` (no change) is always measured first, as the control. Per tier: `--n` problems
drawn with their own seed (a few of base's may also be training problems), greedy solutions with
the solve template of params.yaml, and from the exact checker: the solve rate, and per operation
and per step position the share of the model's steps that are right given its own previous step
(psrlm.arith.step_truth), so that "fails at step 5" can be told from "fails at x"; and the solve
rate of the problems within the base tier's number sizes apart from those beyond them. Appends one
JSON line per run to `--out`. Cost: ~1 minute per tier of 300 problems on an AVX2 2-core machine.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import random
import time

from yardstick import cpu, machine

from psrlm import arith, prompts
from psrlm.params import PromptsParams, load_key, load_section

KEYS = arith.DIFFICULTY_KEYS


def base_difficulty(params: str) -> arith.Difficulty:
    return arith.Difficulty(*(load_key(params, f"prepare.{k}", int) for k in KEYS),
                            load_key(params, "prepare.op_weights", dict[str, float]))


def tier(spec: str, base: arith.Difficulty) -> tuple[str, arith.Difficulty]:
    """`name:key=value,...` → (name, base with those keys replaced)."""
    name, _, changes = spec.partition(":")
    kw = {}
    for item in filter(None, changes.split(",")):
        key, _, value = item.partition("=")
        if key not in KEYS:
            raise SystemExit(f"--tier {spec}: {key!r} is not one of {', '.join(KEYS)}")
        kw[key] = int(value)
    return name, dataclasses.replace(base, **kw)


def measure(outputs: list[str], probs: list[arith.Problem], base: arith.Difficulty) -> dict:
    """Solve rate (every step right; evaluate's `accuracy` counts right answers, which errors that
    cancel can reach), also split by whether a problem's numbers stay within the base tier's sizes
    (start <= start_max, every value <= value_max, every operand within the base's operand ranges: a
    tier's average can be two populations, e.g. 97% within and 0.3% beyond), and the share of right steps (given the model's own previous step)
    by operation and by position, over the steps the model wrote up to the problem's last operation."""
    by_op, by_pos = collections.defaultdict(lambda: [0, 0]), collections.defaultdict(lambda: [0, 0])
    by_range = collections.defaultdict(lambda: [0, 0])
    solved = 0
    for out, q in zip(outputs, probs):
        right = arith.solution_right(out, q.start, list(q.ops), list(q.operands))
        solved += right
        within = q.start <= base.start_max and max(q.values()) <= base.value_max and all(
            base.addsub_min <= b <= base.addsub_max if op in "+-" else b <= base.muldiv_max
            for op, b in zip(q.ops, q.operands))
        counts = by_range["within_base" if within else "beyond_base"]
        counts[0] += right
        counts[1] += 1
        lines = out.strip().split("\n")[: len(q.ops)]
        for k, line in enumerate(lines):
            right = arith.step_truth(line, lines[:k], q.start, list(q.ops), list(q.operands)) == "correct"
            for table, key in ((by_op, q.ops[k]), (by_pos, k + 1)):
                table[key][0] += right
                table[key][1] += 1
    share = lambda t: {str(k): {"right": round(r / n, 4), "n": n} for k, (r, n) in sorted(t.items())}  # noqa: E731
    return {"n": len(probs), "solve": round(solved / len(probs), 4),
            "solve_by_range": {k: {"solve": round(r / n, 4), "n": n} for k, (r, n) in sorted(by_range.items())},
            "step_right_by_op": share(by_op), "step_right_by_position": share(by_pos)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--model", default="data/models/sft")
    ap.add_argument("--n", type=int, default=300, help="problems per tier")
    ap.add_argument("--seed", type=int, default=28, help="problem draws (not prepare's seed)")
    ap.add_argument("--tier", action="append", default=[], help="name:key=value,... (repeatable)")
    ap.add_argument("--max-tokens", type=int, default=256, help="longest greedy solution")
    ap.add_argument("--out", default="reports/benchmarks/tier_probe.jsonl")
    args = ap.parse_args()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from psrlm.engine import HFEngine, greedy

    base = base_difficulty(args.params)
    tiers = [("base", base)] + [tier(s, base) for s in args.tier]
    solve_t = prompts.template(load_section(args.params, "prompts", PromptsParams).solve)
    tok = AutoTokenizer.from_pretrained(args.model)
    eng = HFEngine(AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32), tok, 64)
    rows = {}
    for k, (name, d) in enumerate(tiers):
        start = time.time()
        probs = arith.distinct_problems(random.Random(args.seed + k), d, args.n)
        outs = greedy(eng, [eng.chat(prompts.solve_prompt(solve_t, q.text)) for q in probs], args.max_tokens, 0, name)
        rows[name] = {"difficulty": {k2: getattr(d, k2) for k2 in KEYS}, **measure(outs, probs, base),
                      "seconds": round(time.time() - start, 1)}
        print(name, rows[name]["solve"], json.dumps(rows[name]["solve_by_range"]),
              json.dumps(rows[name]["step_right_by_position"]), flush=True)
    line = {"model": args.model, "machine": machine(), "cpu": cpu(), "seed": args.seed, "tiers": rows}
    with open(args.out, "a") as f:
        f.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
