"""Stage `comparison`: the paper's two comparisons for psrlm's own runs, beside the paper's numbers.

1. Process-based (PSRLM, the method) against outcome-based self-rewarding (SRLM, Yuan et al. 2024;
   paper Table 1), per iteration: greedy accuracy, judge accuracy (held-out step pairs for PSRLM,
   held-out whole-solution scores for SRLM), judge accuracy on the model's own samples, pairs and
   pair precision. Both chains start from the same M0, IFT data, pools, DPO settings and number of
   iterations; they differ in the judge (pairwise steps vs 0-5 whole solutions) and in the pairs.
2. Greedy decoding against test-time scaling (paper Table 5) for every evaluated model: the step
   search with its own judge, with the exact checker (oracle), and majority voting, with what each
   costs in judge calls and generated tokens per problem.

Reads:  params.yaml [pipeline, srlm.models_to_evaluate]; --eval/<model>.json and
        --srlm-eval/<model>.json (stage evaluate), --search/<i>.json (stage pairs), --srlm/<i>.json
        (stage srlm); psrlm/paper.yaml.
Writes: --out/comparison.md, --out/methods.tsv (per iteration, DVC plots), --out/tts.tsv (per
        model and method), --out/comparison.png.

Run: dvc repro comparison
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import yaml

from psrlm.errors import run
from psrlm.metrics import EVAL, EVAL_SCORE, SEARCH, SRLM
from psrlm.outputs import Outputs
from psrlm.params import TEST_NAMES, PipelineParams, TaskName, chain_of, load_key, load_section
from psrlm.tables import TTS_METHODS

PAPER = Path(__file__).resolve().parents[1] / "psrlm" / "paper.yaml"


def pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def method_rows(chain: list[tuple[str, str]], psrlm: dict, srlm: dict, search: dict, outcome: dict) -> list[dict]:
    """One row per model of the chain: both methods' M(i) side by side, with the search/srlm audit
    of the iteration that model ran (the last model ran none)."""
    models = [chain[0][0], *(nxt for _, nxt in chain)]
    rows = []
    for i, m in enumerate(models, start=1):
        p, s = psrlm.get(m), srlm.get(m)
        a, b = search.get(str(i), {}), outcome.get(str(i), {})
        rows.append({
            "iteration": i, "model": m,
            "psrlm_accuracy": p["synthetic"]["accuracy"] if p else None,
            "srlm_accuracy": s["synthetic"]["accuracy"] if s else None,
            "psrlm_judge_accuracy": p["judge"]["accuracy"] if p else None,
            "srlm_judge_accuracy": s["judge"]["accuracy"] if s else None,
            "srlm_judge_right_wrong": s["judge"]["right_wrong_accuracy"] if s else None,
            "psrlm_judge_own": a.get("judge_accuracy_self"), "srlm_judge_own": b.get("judge_accuracy_self"),
            "psrlm_pairs": a.get("pairs"), "srlm_pairs": b.get("pairs"),
            "psrlm_pair_precision": a.get("pair_precision"), "srlm_pair_precision": b.get("pair_precision"),
        })
    return rows


def tts_rows(evals: dict[str, dict]) -> list[dict]:
    """One row per model, test (the synthetic test, then each difficulty tier's) and test-time
    method, with its cost per problem."""
    rows = []
    for label, e in evals.items():
        tests = [(label, e.get("tts") or {})]
        tests += [(f"{label}, {tier} tier", t) for tier, t in ((e.get("tts") or {}).get("tiers") or {}).items()]
        for name, t in tests:
            for method in TTS_METHODS:
                if t.get(method) is None and method not in t:
                    continue
                cost = (t.get("cost") or {}).get(method, {})
                rows.append({"model": name, "method": method, "n": t.get("n"), "accuracy": t.get(method),
                             "judge_calls": cost.get("judge_calls"), "generated_tokens": cost.get("generated_tokens")})
    return rows


def markdown(methods: list[dict], tts: list[dict], paper: dict, task_name: str = "synthetic") -> str:
    lines = ["# PSRLM against the SRLM baseline, and greedy against test-time scaling", "",
             f"Task: `{task_name}` (prepare.task). Measured by this run on the held-out "
             f"{TEST_NAMES[task_name]} unless a table says it is the paper's.", "",
             "## Process-based (PSRLM) vs outcome-based (SRLM) self-rewarding (paper Table 1)", "",
             "Same M0, IFT data, pools, DPO settings and iterations; PSRLM judges pairs of next steps, SRLM "
             "scores whole solutions 0-5. Judge: held-out step pairs (PSRLM) or held-out whole-solution "
             "scores, exact (SRLM). Own samples: right-vs-wrong comparisons of the model's own samples in "
             "that iteration's search. Pair precision: chosen right and rejected wrong (ground truth).", "",
             "| model | accuracy PSRLM | accuracy SRLM | judge PSRLM | judge SRLM (exact / right-vs-wrong) "
             "| judge on own samples PSRLM | SRLM | pairs PSRLM | SRLM | pair precision PSRLM | SRLM |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in methods:
        lines.append(f"| M{r['iteration']} | {pct(r['psrlm_accuracy'])} | {pct(r['srlm_accuracy'])} | "
                     f"{pct(r['psrlm_judge_accuracy'])} | {pct(r['srlm_judge_accuracy'])} / "
                     f"{pct(r['srlm_judge_right_wrong'])} | {pct(r['psrlm_judge_own'])} | {pct(r['srlm_judge_own'])} | "
                     f"{r['psrlm_pairs'] if r['psrlm_pairs'] is not None else '–'} | "
                     f"{r['srlm_pairs'] if r['srlm_pairs'] is not None else '–'} | "
                     f"{pct(r['psrlm_pair_precision'])} | {pct(r['srlm_pair_precision'])} |")
    lines += ["", "The paper's (average accuracy of its six benchmarks, %; not psrlm results):", "",
              "| run | M0 | M1 | M2 | M3 | M4 |", "|---|---|---|---|---|---|"]
    for name, vals in paper["accuracy_average"].items():
        lines.append(f"| {name} (paper) | " + " | ".join(str(vals[k]) for k in ("M0", "M1", "M2", "M3", "M4")) + " |")
    lines += ["", "## Greedy vs test-time scaling (paper Table 5)", "",
              "self: the step search with the model's own judge (w samples per step, no pairs kept; for an "
              "SRLM model, the best of w whole solutions by its own score); oracle: the same search judged by "
              "the exact checker, the ceiling of judge-guided search; majority: the most frequent answer of w "
              "sampled solutions. Cost per problem: judge calls and generated tokens (every sample counted).", "",
              "self − greedy beside oracle − greedy is the generation–verification gap: what the model's own "
              "judge adds to its greedy solutions, against what a perfect judge adds.", "",
              "| model | n | greedy | self | oracle | majority | self − greedy | oracle − greedy "
              "| judge calls (self) | tokens greedy | self | oracle | majority |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    by_model: dict[str, dict[str, dict]] = {}
    for r in tts:
        by_model.setdefault(r["model"], {})[r["method"]] = r
    for model, ms in by_model.items():
        def acc(m: str) -> str:
            return pct(ms[m]["accuracy"]) if m in ms else "–"

        def tok(m: str) -> str:
            return f"{ms[m]['generated_tokens']:.0f}" if m in ms and ms[m]["generated_tokens"] is not None else "–"

        def gap(m: str) -> str:
            a, g = (ms.get(k, {}).get("accuracy") for k in (m, "greedy"))
            return "–" if a is None or g is None else f"{100 * (a - g):+.1f}"

        n = next(iter(ms.values()))["n"]
        calls = ms.get("self", {}).get("judge_calls")
        lines.append(f"| {model} | {n} | {acc('greedy')} | {acc('self')} | {acc('oracle')} | {acc('majority')} | "
                     f"{gap('self')} | {gap('oracle')} | {'–' if calls is None else calls} | {tok('greedy')} | {tok('self')} | {tok('oracle')} | {tok('majority')} |")
    lines += ["", "The paper's (72B, average of six benchmarks, %; not psrlm results): " + "; ".join(
        f"{m} greedy {v['greedy']} → test-time scaling {v['tts']}"
        for m, v in paper["test_time_scaling_72b"].items()) + ".", ""]
    return "\n".join(lines)


def plot(test: str, methods: list[dict], tts: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    x = [r["iteration"] for r in methods]
    for key, label in (("psrlm_accuracy", "PSRLM accuracy"), ("srlm_accuracy", "SRLM accuracy"),
                       ("psrlm_pair_precision", "PSRLM pair precision"), ("srlm_pair_precision", "SRLM pair precision")):
        pts = [(xi, 100 * r[key]) for xi, r in zip(x, methods) if r[key] is not None]
        if pts:  # one colour per method; precision dotted
            ax1.plot(*zip(*pts), marker="o", color="C0" if key.startswith("psrlm") else "C1",
                     linestyle="-" if "accuracy" in key else ":", label=label)
    ax1.set(title=f"PSRLM vs SRLM ({test})", xlabel="model", ylabel="%", xticks=x,
            xticklabels=[f"M{i}" for i in x], ylim=(0, 100))
    ax1.legend(fontsize=8)
    models = list(dict.fromkeys(r["model"] for r in tts))
    width = 0.8 / len(TTS_METHODS)
    for k, method in enumerate(TTS_METHODS):
        vals = {r["model"]: r["accuracy"] for r in tts if r["method"] == method}
        ax2.bar([i + k * width for i in range(len(models))], [100 * (vals.get(m) or 0) for m in models], width,
                label=method)
    ax2.set(title=f"Greedy vs test-time scaling ({test})", ylabel="accuracy (%)", ylim=(0, 115),
            xticks=[i + 1.5 * width for i in range(len(models))], xticklabels=models)
    ax2.tick_params(axis="x", labelsize=8)
    ax2.legend(fontsize=8, ncol=len(TTS_METHODS), loc="upper center")  # above the bars, not on them
    fig.tight_layout()
    fig.savefig(path, dpi=100, format="png")  # the path is Outputs' temporary name: say the format
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--eval", default="reports/eval")
    ap.add_argument("--srlm-eval", default="reports/eval_srlm")
    ap.add_argument("--search", default="reports/search")
    ap.add_argument("--srlm", default="reports/srlm")
    ap.add_argument("--out", default="reports/comparison")
    args = ap.parse_args()
    p = load_section(args.params, "pipeline", PipelineParams)
    srlm_models = load_key(args.params, "srlm.models_to_evaluate", tuple[str, ...])
    chain = chain_of(p.iterations)
    psrlm = {m: EVAL.load(Path(args.eval) / f"{m}.json") for m in p.models_to_evaluate}
    srlm = {m: EVAL_SCORE.load(Path(args.srlm_eval) / f"{m}.json") for m in srlm_models}
    search = {str(i): SEARCH.load(Path(args.search) / f"{i}.json") for i in range(1, len(chain) + 1)}
    outcome = {str(i): SRLM.load(Path(args.srlm) / f"{i}.json") for i in range(1, len(chain) + 1)}
    methods = method_rows(chain, psrlm, srlm, search, outcome)
    tts = tts_rows({**psrlm, **{f"srlm_{m}": e for m, e in srlm.items()}})
    task_name = load_key(args.params, "prepare.task", TaskName)
    text = markdown(methods, tts, yaml.safe_load(PAPER.read_text()), task_name)
    out = Path(args.out)
    with Outputs() as o:  # every output, or none
        for name, rows in (("methods.tsv", methods), ("tts.tsv", tts)):
            with o.path(out / name).open("w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["model"], delimiter="\t")
                w.writeheader()
                w.writerows(rows)
        o.text(out / "comparison.md", text)
        plot(TEST_NAMES[task_name], methods, tts, o.path(out / "comparison.png"))
    print(f"comparison: {out / 'comparison.md'}")


if __name__ == "__main__":
    run(main, "comparison")
