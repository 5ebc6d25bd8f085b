"""Stage `report`: every iteration side by side — the paper's tables for psrlm's own runs, the
paper's published numbers beside them (labelled as the paper's), and the ground-truth audit the
paper could not make (judge accuracy on self-written candidates, pair precision).

Reads:  params.yaml [pipeline, search.judge, prepare.pool_tiers] (the models, iterations, seed and judge); reports/eval/<model>.json,
        reports/search/<i>.json, reports/dpo/<i>.json, reports/baseline/metrics.json; psrlm/paper.yaml.
Writes: --out/report.md; --out/iterations.tsv (one row per model: the series of the DVC plots);
        --out/plots/*.png (accuracy, judge accuracy, pair precision, steps and step length per
        iteration).

Run: dvc repro report
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import yaml

from psrlm.errors import PsrlmError, run
from psrlm.metrics import BASELINE as BASELINE_REPORT
from psrlm.metrics import DPO, EVAL, SEARCH
from psrlm.outputs import Outputs
from psrlm.params import TEST_NAMES, TRUTHS, PipelineParams, TaskName, chain_of, load_key, load_section

PAPER = Path(__file__).resolve().parents[1] / "psrlm" / "paper.yaml"
BENCH_NAMES = {"gsm8k": "GSM8K", "math500": "MATH500", "gaokao2023en": "Gaokao", "olympiadbench": "Olympiad",
               "aime24": "AIME24", "amc23": "AMC23"}


def pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


BASELINE = "baseline"  # M1 + the chain's training compute as plain SFT (stage baseline)
SFT = "sft"  # the first SFT phase alone, before the judge phase that makes M1 (stage judge_sft)


def rows_per_model(models: list[str], evals: dict[str, dict], search: dict[str, dict],
                   iteration_of: dict[str, int]) -> list[dict]:
    """One row per model of the chain (in chain order): its evaluation, the search that model ran
    (iteration i uses M(i), `iteration_of` from pipeline.iterations), and the plain-SFT baseline's
    accuracy (the same on every row: a reference line)."""
    base = evals.get(BASELINE)
    rows = []
    for m in sorted((m for m in models if m in iteration_of), key=iteration_of.get):
        e, i = evals[m], iteration_of[m]
        bench = e["benchmarks"]
        s = search.get(str(i), {})
        rows.append({
            "model": m, "iteration": i,
            "synthetic_accuracy": e["synthetic"]["accuracy"],
            "accuracy_by_tier": {t: v["accuracy"] for t, v in e["synthetic_by_tier"].items()},
            "benchmark_average": (round(sum(b["accuracy"] for b in bench.values()) / len(bench), 4)
                                  if bench else None),
            "judge_accuracy": e["judge"]["accuracy"],
            "judge_accuracy_a": e["judge"]["accuracy_a"], "judge_accuracy_b": e["judge"]["accuracy_b"],
            "judge_own_accuracy": e["judge"]["own_accuracy"],
            "judge_own_consistency": e["judge"]["own_position_consistency"],
            "steps_per_answer": e["synthetic"]["steps_per_answer"],
            "step_chars": e["synthetic"]["step_chars"],
            "steps_right_accuracy": e["synthetic"]["steps_right_accuracy"],
            "step_arithmetic": e["synthetic"]["step_arithmetic"],
            "pairs": s.get("pairs"), "pair_precision": s.get("pair_precision"),
            "judge_accuracy_self": s.get("judge_accuracy_self"),
            "position_consistency": s.get("position_consistency"),
            "position_consistency_right_wrong": s.get("position_consistency_right_wrong"),
            "sft_baseline_accuracy": base["synthetic"]["accuracy"] if base else None,
        })
    return rows


def tier_table(rows: list[dict], evals: dict, pool_tiers: dict[str, str] | None) -> list[str]:
    """Answer and every-step-right accuracy per tier for the chain and the plain-SFT baseline (the
    hard tier's answers can be right through errors that cancel; its steps cannot), or nothing when
    the base tier is the only one."""
    tiers = sorted({t for r in rows for t in r["accuracy_by_tier"]}, key=lambda t: (t != "base", t))
    if tiers == ["base"]:
        return []
    named = [(r["model"].upper(), evals[r["model"]]) for r in rows]
    if BASELINE in evals:
        named.append(("M1 + plain SFT, same compute", evals[BASELINE]))
    lines = ["", "Held-out accuracy per difficulty tier (prepare.tiers; base: the labelled tier's test; "
             "pools: " + ", ".join(f"iteration {i} {t}" for i, t in (pool_tiers or {}).items()) + "), "
             "answer right / every step right:", "",
             "| model | " + " | ".join(tiers) + " |", "|" + "---|" * (len(tiers) + 1)]
    for name, e in named:
        by = e["synthetic_by_tier"]
        lines.append(f"| {name} | " + " | ".join(
            f"{pct(by.get(t, {}).get('accuracy'))} / {pct(by.get(t, {}).get('steps_right_accuracy'))}"
            for t in tiers) + " |")
    return lines


def markdown(models: list[str], evals: dict, search: dict, dpo: dict, rows: list[dict], paper: dict,
             judge: str, seed: int, baseline: dict | None, task_name: str = "synthetic",
             pool_tiers: dict[str, str] | None = None) -> str:
    names = sorted({b for e in evals.values() for b in e["benchmarks"]},
                   key=list(BENCH_NAMES).index)
    test = TEST_NAMES[task_name]
    lines = ["# psrlm report", "",
             "Generated by `dvc repro report` from the metrics files in `reports/`. Numbers are psrlm's own",
             "runs unless a table says it is the paper's.", "",
             f"Task: `{task_name}` (prepare.task); the held-out test is the {test}.", "",
             "## Accuracy per model (greedy; paper Table 1)", ""]
    head = ["model", test.split()[0], *(BENCH_NAMES[b] for b in names), "benchmark avg"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        b = evals[r["model"]]["benchmarks"]
        lines.append("| " + " | ".join([r["model"].upper(), pct(r["synthetic_accuracy"]),
                                        *(pct(b[n]["accuracy"]) for n in names),
                                        pct(r["benchmark_average"])]) + " |")
    if baseline is not None:
        b, e = evals[BASELINE]["benchmarks"], evals[BASELINE]
        lines.append("| " + " | ".join(["M1 + plain SFT, same compute", pct(e["synthetic"]["accuracy"]),
                                        *(pct(b[n]["accuracy"]) for n in names),
                                        pct(round(sum(v["accuracy"] for v in b.values()) / len(b), 4) if b else None)])
                     + " |")
        lines += ["", f"M1 + plain SFT, same compute: M1 trained on more of its own SFT mix for "
                  f"{baseline['token_budget']:,} tokens (the training compute of the DPO stages: "
                  f"policy tokens, plus a third of the tokens their reference scored), at DPO's learning "
                  f"rate ({baseline['learning_rate']:g}): what the self-rewarding iterations must beat."]
    lines += tier_table(rows, evals, pool_tiers)
    if names:
        first = evals[models[0]]["benchmarks"]
        lines += ["", "Benchmark rows evaluated (a subset where a limit is set): " + ", ".join(
            f"{BENCH_NAMES[n]} {first[n]['n']}" + (" (subset)" if first[n].get("limit") is not None else "")
            for n in names) + "."]
    if SFT in evals:
        lines += ["", f"The first SFT phase alone (before the judge phase that makes M1) solves "
                  f"{pct(evals[SFT]['synthetic']['accuracy'])} of the {test}."]
    lines += ["", "## Judge accuracy (paper Table 3)", "",
              "Held-out EFT: gold step against a corrupted copy of it (the paper's Table 3). Held-out own",
              "pairs: the SFT model's own right and wrong steps on problems no stage trains on, each pair",
              "in both orders; consistency is the share of pairs whose two verdicts name the same step (an",
              "invalid verdict in either order counts as inconsistent, as in the search table below).", "",
              "| model | held-out EFT | better step as A | better step as B | invalid | own pairs "
              "| own, right as A | own, right as B | own consistency | own invalid |", "|" + "---|" * 10]
    shown = ([SFT] if SFT in evals else []) + [r["model"] for r in rows]
    for m in shown:
        j = evals[m]["judge"]
        name = "SFT phase" if m == SFT else m.upper()
        lines.append(f"| {name} | {pct(j['accuracy'])} | {pct(j['accuracy_a'])} | {pct(j['accuracy_b'])} | "
                     f"{j['invalid']} | {pct(j['own_accuracy'])} | {pct(j['own_accuracy_a'])} | "
                     f"{pct(j['own_accuracy_b'])} | {pct(j['own_position_consistency'])} | "
                     f"{j['own_invalid']} |")
    lines += ["", f"## Steps per answer and step length (paper Tables 7-8; {test})", "",
              "A right answer is not always a right solution: solved with every step right, and the share",
              "of written steps whose result fits their own operands (psrlm.arith; on real data, of the",
              "calculator annotations whose result is right, psrlm.textsteps).", "",
              "| model | steps per answer | characters per step | solved | solved, every step right "
              "| step arithmetic |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['model'].upper()} | {r['steps_per_answer']} | {r['step_chars']} | "
              f"{pct(r['synthetic_accuracy'])} | {pct(r['steps_right_accuracy'])} | {pct(r['step_arithmetic'])} |"
              for r in rows]
    lines += ["", f"## Search and the ground-truth audit (iteration i searches with M(i); judge: {judge}, "
              f"seed {seed})", "",
              "| iteration | prompts | judge calls per step | invalid verdicts | rollbacks | unfinished | pairs "
              "| candidate accuracy | step accuracy | judge accuracy on own candidates | pair precision "
              "| position consistency: all pairs / right vs wrong | DPO reward accuracy |",
              "|" + "---|" * 13]
    for i in sorted(search, key=int):
        s, d = search[i], dpo[i]
        # Before the `pairs` filters, in brackets.
        before = (f" ({s['pairs_unfiltered']})", f" ({pct(s['pair_precision_unfiltered'])})")
        lines.append(f"| {i} | {s['prompts']} | {s['judge_calls_per_step']} | {s['invalid_verdicts']} | "
                     f"{s['rollbacks']} | {s['unfinished']} | {s['pairs']}{before[0]} | "
                     f"{pct(s['candidate_accuracy'])} | "
                     f"{pct(s['step_accuracy'])} | {pct(s['judge_accuracy_self'])} | "
                     f"{pct(s['pair_precision'])}{before[1]} | {pct(s['position_consistency'])} / "
                     f"{pct(s['position_consistency_right_wrong'])} | "
                     f"{pct(d.get('final_accuracy')) if d['trained'] else 'not trained (no pairs)'} |")
    lines += ["", f"Right and wrong are {TRUTHS[task_name]}.",
              "Candidate accuracy: sampled candidates",
              "that are right. Step accuracy: steps the search kept that are right. Judge accuracy on own",
              "candidates: verdicts on pairs of the model's own candidates where one is right and the other",
              "wrong (an invalid verdict counts as wrong). Pairs and pair precision in brackets: before the",
              "`pairs` filters (judge unanimous, chosen step sampled often enough). Pair precision: share of preference pairs whose",
              "chosen step is right and rejected step wrong. Position consistency (one definition here and in",
              "the judge table, psrlm/metrics.py): share of candidate pairs judged in both orders whose two",
              "verdicts name the same winner; an invalid verdict in either order is inconsistent; after the slash, on",
              "the pairs of one right and one wrong candidate alone (between two equally wrong steps, as two wrong",
              "results, the judge was taught no verdict). Chains with other judges",
              "and seeds side by side: `python -m psrlm.compare` (README).", "",
              "## The paper's published numbers (for reference; not psrlm results)", "",
              "Average accuracy of the six benchmarks, % (paper Table 1):", "",
              "| | M0 | M1 | M2 | M3 | M4 |", "|---|---|---|---|---|---|"]
    for name, vals in paper["accuracy_average"].items():
        lines.append(f"| {name} | " + " | ".join(str(vals.get(k, "–")) for k in ("M0", "M1", "M2", "M3", "M4")) + " |")
    m4 = paper["per_benchmark_72b_m4"]
    lines += ["", "72B PSRLM M4 per benchmark, %: " + ", ".join(f"{BENCH_NAMES[k]} {v}" for k, v in m4.items()) + ".",
              "", "Judge accuracy on held-out EFT, % (paper Table 3): " + "; ".join(
                  f"{size}: " + ", ".join(f"{k} {v}" for k, v in vals.items())
                  for size, vals in paper["judge_accuracy"].items()) + ".", ""]
    return "\n".join(lines)


def plots(rows: list[dict], out: Path, test: str = "synthetic test") -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    x = [r["iteration"] for r in rows]
    labels = [r["model"].upper() for r in rows]
    specs = [
        ("accuracy.png", "Accuracy per model (greedy)", "accuracy (%)",
         [(test, "synthetic_accuracy"), ("benchmark average", "benchmark_average"),
          (f"M1 + plain SFT, same compute ({test.split()[0]})", "sft_baseline_accuracy"),
          *((f"{k.removeprefix('accuracy_')} tier", k) for k in rows[0] if k.startswith("accuracy_"))]),
        ("judge_accuracy.png", "Judge accuracy", "accuracy (%)",
         [("held-out EFT pairs", "judge_accuracy"), ("held-out own pairs", "judge_own_accuracy"),
          ("own candidates (search)", "judge_accuracy_self")]),
        ("pair_precision.png", "Preference pairs: ground-truth audit", "%",
         [("pair precision", "pair_precision"), ("position consistency", "position_consistency"),
          ("position consistency, right vs wrong", "position_consistency_right_wrong")]),
    ]
    written = []
    for name, title, ylabel, series in specs:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for label, key in series:
            pts = [(xi, 100 * r[key]) for xi, r in zip(x, rows) if r.get(key) is not None]
            if pts:
                ax.plot(*zip(*pts), marker="o", label=label)
        ax.set(title=title, xlabel="model (iteration)", ylabel=ylabel, xticks=x, xticklabels=labels, ylim=(0, 100))
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / name, dpi=100)
        plt.close(fig)
        written.append(out / name)
    fig, ax1 = plt.subplots(figsize=(5, 3.5))
    steps, chars = [r["steps_per_answer"] or 0 for r in rows], [r["step_chars"] or 0 for r in rows]
    ax1.plot(x, steps, marker="o", color="C0")
    # Both axes from 0: a drift of a few hundredths must not look like a cliff.
    ax1.set(title=f"Steps per answer and step length ({test.split()[0]})", xlabel="model (iteration)",
            xticks=x, xticklabels=labels, ylim=(0, 1.25 * max(steps + [1])))
    ax1.set_ylabel("steps per answer", color="C0")
    ax2 = ax1.twinx()
    ax2.plot(x, chars, marker="s", color="C1")
    ax2.set_ylim(0, 1.25 * max(chars + [1]))
    ax2.set_ylabel("characters per step", color="C1")
    fig.tight_layout()
    fig.savefig(out / "steps.png", dpi=100)
    plt.close(fig)
    return [*written, out / "steps.png"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--eval", default="reports/eval")
    ap.add_argument("--search", default="reports/search")
    ap.add_argument("--dpo", default="reports/dpo")
    ap.add_argument("--baseline", default="reports/baseline/metrics.json")
    ap.add_argument("--out", default="reports/summary")
    args = ap.parse_args()
    p = load_section(args.params, "pipeline", PipelineParams)
    chain = chain_of(p.iterations)
    # The model that searches iteration i is M(i): the chain's first model, then each `next`.
    iteration_of = {model: i for i, (model, _) in enumerate(chain, start=1)}
    iteration_of[chain[-1][1]] = len(chain) + 1
    models = list(p.models_to_evaluate)
    evals = {m: EVAL.load(Path(args.eval) / f"{m}.json") for m in models}
    search = {str(i): SEARCH.load(Path(args.search) / f"{i}.json") for i in range(1, len(chain) + 1)}
    dpo = {str(i): DPO.load(Path(args.dpo) / f"{i}.json") for i in range(1, len(chain) + 1)}
    rows = rows_per_model(models, evals, search, iteration_of)
    if not rows:
        raise PsrlmError("pipeline.models_to_evaluate: names no model of the chain, so the report has no rows")
    judge = load_key(args.params, "search.judge", str)
    baseline = BASELINE_REPORT.load(args.baseline) if BASELINE in models else None
    task_name = load_key(args.params, "prepare.task", TaskName)
    tiers_of = load_key(args.params, "prepare.pool_tiers", dict[int, str] | None) or {}
    pool_tiers = {str(i): tiers_of.get(i, "base") for i in range(1, len(chain) + 1)}
    text = markdown(models, evals, search, dpo, rows, yaml.safe_load(PAPER.read_text()), judge, p.seed, baseline,
                    task_name, pool_tiers)
    out = Path(args.out)
    with Outputs() as o:  # all three outputs, or none of them
        # One column per non-base tier (accuracy_<tier>) beside synthetic_accuracy, for DVC plots.
        flat = [{k: v for k, v in r.items() if k != "accuracy_by_tier"}
                | {f"accuracy_{t}": v for t, v in r["accuracy_by_tier"].items() if t != "base"} for r in rows]
        with o.path(out / "iterations.tsv").open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(flat[0]), delimiter="\t")
            w.writeheader()
            w.writerows(flat)
        o.text(out / "report.md", text)
        written = plots(flat, o.path(out / "plots"), TEST_NAMES[task_name])
    print(f"report: {out / 'report.md'}, {out / 'iterations.tsv'}, {len(written)} plots")


if __name__ == "__main__":
    run(main, "report")
