"""Compare chains of self-rewarding iterations run as DVC experiments: mean and spread over seeds.

    dvc exp run --queue -n judges -S 'search.judge=self,oracle,random' -S 'pipeline.seed=0,1,2'
    dvc exp run --run-all
    python -m psrlm.compare --prefix judges        # -> reports/compare/judges.{md,json,png}
    python -m psrlm.compare --name gain --runs RUN...  # chains run by the stage commands, one folder each

Experiments (as `dvc exp show --json` lists them) whose params differ only in `pipeline.seed` form
one group (e.g. the three seeds of `search.judge=oracle`); each group is labelled by the params
that tell the groups apart. For every group it reports each model's held-out synthetic accuracy
and judge accuracy (mean, min-max over seeds), the same accuracy per difficulty tier where
prepare.tiers declares tiers (`accuracy_by_tier`, `gain_by_tier`, and `steps_right_by_tier`: every
step right, which errors that cancel cannot fake), the gain M(last) - M1, the
generation-verification gap per tier and model (`gap_by_tier`: test-time self-judged search minus
greedy beside oracle search minus greedy), the SRLM chain's models (`srlm_<m>`) where the runs
evaluated them, and per iteration the pairs,
pair precision, judge accuracy on the model's own candidates and position consistency; and how
much of the oracle group's gain each other group reaches. Nothing here trains or generates: it
reads the metrics DVC stored with each experiment, less those its dvc.lock shows the run did not
rewrite (a run of chosen targets keeps its base commit's reports of the stages it skipped).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

from psrlm import metrics
from psrlm.errors import PsrlmError, run

SEED = "pipeline.seed"
SRLM = "srlm_"  # the outcome-based SRLM chain's models (stage evaluate_srlm), beside the method's
JUDGE = "search.judge"
PER_ITERATION = ("pairs", "pair_precision", "judge_accuracy_self", "position_consistency",
                 "position_consistency_right_wrong", "candidate_accuracy", "step_accuracy")


def flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else v
    return out


# The metrics files read here, by their dvc.yaml path, and the declared keys (psrlm.metrics) checked in
# each: only keys that are never null or empty, since `dvc exp show` leaves those out of its copy
# (an `own_accuracy` of null, an `invalid_by_reason` of {}); a file renamed or restructured fails.
REPORTS = {"reports/eval/": metrics.EVAL.only("synthetic.n", "judge.n"),
           "reports/eval_srlm/": metrics.EVAL_SCORE.only("synthetic.n", "judge.n"), "reports/search/": metrics.SEARCH.only(
    "prompts", "pairs"), "reports/dpo/": metrics.DPO.only("train_tokens"),
           "reports/baseline/": metrics.BASELINE.only("dpo_train_tokens")}


def report_of(path: str) -> metrics.Report | None:
    return next((r for prefix, r in REPORTS.items() if path.startswith(prefix)), None)


def stale_outputs(lock: dict, params: dict, pipeline: set[str] | None = None) -> set[str]:
    """The outputs (metrics files among them) of the stages `lock` (a dvc.lock) records for other
    params than `params` (flat, as `flatten` writes them) or for inputs another stage of the lock
    no longer writes, and of every stage downstream of one. A run of chosen targets (`dvc exp run
    evaluate@m3`) commits the metrics files of the stages it skipped as its base commit had them:
    DVC lists them as the run's metrics, though they measure another run (an SRLM chain trained on
    other pools). Entries of stages not in `pipeline` (the stage names of dvc.yaml; None: all
    count) are ignored: DVC leaves a renamed stage's entry in dvc.lock (`search@1` before the
    shards), with outputs another stage now writes."""
    stages = {name: s for name, s in ((lock or {}).get("stages") or {}).items()
              if pipeline is None or name in pipeline}
    outs = {o["path"]: (name, o.get("md5")) for name, s in stages.items() for o in s.get("outs") or []}

    def own(s: dict) -> bool:
        recorded = {k: v for file in (s.get("params") or {}).values() for k, v in flatten(file).items()}
        return (any(not _same(params.get(k), v) for k, v in recorded.items())
                or any(d["path"] in outs and d.get("md5") != outs[d["path"]][1] for d in s.get("deps") or []))

    stale = {name for name, s in stages.items() if own(s)}
    grew = True
    while grew:
        below = {name for name, s in stages.items()
                 if any(outs.get(d["path"], (None,))[0] in stale for d in s.get("deps") or [])}
        grew = not below <= stale
        stale |= below
    return {o["path"] for name in stale for o in stages[name].get("outs") or []}


def _same(a, b) -> bool:
    """Equal params values, numbers by value: YAML 1.1 (PyYAML) reads `1e-4` as text, DVC as 0.0001."""
    if a == b:
        return True
    try:
        return not isinstance(a, bool) and not isinstance(b, bool) and float(a) == float(b)
    except (TypeError, ValueError):
        return False


def _written(name: str, files: dict, lock: dict | None, params: dict, pipeline: set[str] | None) -> dict:
    """`files` without the metrics files its run did not write (`stale_outputs`), saying which."""
    stale = stale_outputs(lock, params, pipeline) & set(files) if lock else set()
    if stale:
        print(f"{name}: left out {len(stale)} metrics files its run did not write (their stages ran "
              f"for other params or inputs, dvc.lock): {', '.join(sorted(stale))}", file=sys.stderr)
    return {p: d for p, d in files.items() if p not in stale}


def runs_from_exp_show(data: list[dict], prefix: str | None,
                       lock_of: Callable[[str], dict | None] = lambda rev: None,
                       pipeline: set[str] | None = None) -> list[dict]:
    """One dict per finished experiment: name, flat params, and metrics by file (those its
    dvc.lock, `lock_of(rev)`, shows the run wrote; `pipeline` as for `stale_outputs`)."""
    out = []
    for baseline in data:
        for exp in baseline.get("experiments") or []:
            for rev in exp.get("revs") or []:
                name = rev.get("name") or exp.get("name") or rev["rev"][:7]
                body = rev.get("data") or {}
                if rev.get("error") or not body.get("metrics") or (prefix and not name.startswith(prefix)):
                    continue
                params = flatten((body.get("params") or {}).get("params.yaml", {}).get("data", {}))
                files = {path: m.get("data", {}) for path, m in body["metrics"].items()}
                for path, data in files.items():
                    if report_of(path) is not None:
                        report_of(path).check(data, f"experiment {name}: {path}")
                files = _written(name, files, lock_of(rev["rev"]), params, pipeline)
                out.append({"name": name, "params": params, "metrics": files})
    return sorted(out, key=lambda r: r["name"])


def runs_from_folders(folders: list[Path], pipeline: set[str] | None = None) -> list[dict]:
    """One dict per folder laid out as the workspace after a run (its params.yaml and the dvc.yaml
    reports under reports/), for chains run by the stages' own commands outside DVC's queue; the
    same checks as for an experiment."""
    out = []
    for folder in folders:
        if not (folder / "params.yaml").is_file():
            raise PsrlmError(f"{folder}/params.yaml: file not found (a run folder holds its params.yaml "
                             "and its reports/ as dvc.yaml writes them)")
        try:
            params = flatten(yaml.safe_load((folder / "params.yaml").read_text()) or {})
        except yaml.YAMLError as e:
            raise PsrlmError(f"{folder}/params.yaml: not YAML ({str(e).splitlines()[0]})") from None
        files = {}
        for path in sorted((folder / "reports").rglob("*.json")):
            rel = path.relative_to(folder).as_posix()
            if report_of(rel) is not None:
                try:
                    data = json.loads(path.read_text())
                except ValueError as e:
                    raise PsrlmError(f"{path}: not JSON ({e})") from None
                files[rel] = report_of(rel).check(data, str(path))
        if not files:
            raise PsrlmError(f"{folder}/reports: no evaluate, search, dpo or baseline report")
        lock = folder / "dvc.lock"
        files = _written(folder.name, files, yaml.safe_load(lock.read_text()) if lock.is_file() else None, params,
                         pipeline)
        out.append({"name": folder.name, "params": params, "metrics": files})
    return sorted(out, key=lambda r: r["name"])


def group_runs(runs: list[dict]) -> list[dict]:
    """Runs that differ only in the seed, grouped; `label` names the params that set groups apart."""
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        key = tuple(sorted((k, v) for k, v in r["params"].items() if k != SEED))
        groups.setdefault(key, []).append(r)
    keys = list(groups)
    varying = {k for key in keys for k, _ in key if len({dict(kk).get(k) for kk in keys}) > 1}
    # the judge names a chain even when all the runs share it
    varying = sorted(varying | ({JUDGE} if any(JUDGE in dict(key) for key in keys) else set()))
    return [{"label": ", ".join(f"{k}={dict(key).get(k)}" for k in varying) or "all runs",
             "params": dict(key), "runs": groups[key]} for key in keys]


def eval_path(model: str) -> str:
    """The evaluate report of a model of the chain, the baseline or the SRLM chain (srlm_<m>)."""
    return f"reports/eval_srlm/{model.removeprefix(SRLM)}.json" if model.startswith(SRLM) else f"reports/eval/{model}.json"


def _metric(run_: dict, path: str, *keys: str):
    value = run_["metrics"].get(path)
    for k in keys:
        value = value.get(k) if isinstance(value, dict) else None
    return value


def spread(values: list) -> dict | None:
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return {"mean": round(statistics.fmean(vals), 4), "min": min(vals), "max": max(vals), "n": len(vals)}


def _current(run_: dict, model: str, iterations: list[str]) -> bool:
    """Whether the run's metrics of `model` belong to its own chain, by their content (for run
    folders without a dvc.lock; `stale_outputs` reads the lock): an experiment that skipped the
    baseline (targets up to evaluate@m3) keeps the workspace's, trained for another chain's
    compute; its report names the DPO tokens it was matched to."""
    if model != "baseline":
        return True
    matched = _metric(run_, "reports/baseline/metrics.json", "dpo_train_tokens")
    chain = [_metric(run_, f"reports/dpo/{i}.json", "train_tokens") for i in iterations]
    return matched is not None and None not in chain and matched == sum(chain)


def summarize(group: dict) -> dict:
    p = group["params"]
    models = json.loads(p["pipeline.models_to_evaluate"])
    # the SRLM chain on the same pools (its columns are left out of the tables where no run evaluated it)
    models += [SRLM + m for m in json.loads(p.get("srlm.models_to_evaluate", "[]"))]
    iterations = sorted({k.split(".")[2] for k in p if k.startswith("pipeline.iterations.")}, key=int)
    # the gain is the chain's: its first model to the last DPO's (not the last model evaluated,
    # which may be a baseline beside the chain)
    first, last = (p[f"pipeline.iterations.{iterations[0]}.model"], p[f"pipeline.iterations.{iterations[-1]}.next"])
    runs = group["runs"]
    acc = {m: [_metric(r, eval_path(m), "synthetic", "accuracy") if _current(r, m, iterations) else None
               for r in runs] for m in models}
    gains = [None if acc[last][k] is None or acc[first][k] is None
             else round(acc[last][k] - acc[first][k], 4) for k in range(len(runs))]
    # Held-out accuracy per difficulty tier (prepare.tiers; base is the test above).
    tiers = sorted({t for r in runs for m in models
                    for t in _metric(r, eval_path(m), "synthetic_by_tier") or {}},
                   key=lambda t: (t != "base", t))
    def per_tier(key: str) -> dict:
        return {t: {m: [_metric(r, eval_path(m), "synthetic_by_tier", t, key)
                        if _current(r, m, iterations) else None for r in runs] for m in models} for t in tiers}

    # the answer's accuracy, and the process's: every step right (a tier's answers can be right by
    # errors that cancel, e.g. the tens of +17 and -16 both dropped)
    by_tier, steps_right = per_tier("accuracy"), per_tier("steps_right_accuracy")
    # The generation-verification gap per tier: test-time search with the model's own judge minus
    # greedy, beside the exact checker's search minus greedy (the base tier's is the test's).
    gaps = {t: {m: {k: spread([_metric(r, eval_path(m), "tts", *(() if t == "base" else ("tiers", t)), "gap", k)
                               for r in runs if _current(r, m, iterations)]) for k in ("self", "oracle")}
                for m in models} for t in tiers}
    tier_gains = {t: [None if a[last][k] is None or a[first][k] is None else round(a[last][k] - a[first][k], 4)
                      for k in range(len(runs))] for t, a in by_tier.items()}
    return {
        "label": group["label"], "seeds": [r["params"].get(SEED) for r in runs], "runs": [r["name"] for r in runs],
        "accuracy": {m: spread(v) for m, v in acc.items()},
        "accuracy_by_tier": {t: {m: spread(v) for m, v in a.items()} for t, a in by_tier.items()},
        "gain_by_tier": {t: spread(g) for t, g in tier_gains.items()},
        "steps_right_by_tier": {t: {m: spread(v) for m, v in a.items()} for t, a in steps_right.items()},
        "gap_by_tier": gaps,
        "judge_accuracy": {m: spread([_metric(r, eval_path(m), "judge", "accuracy")
                                      for r in runs if _current(r, m, iterations)]) for m in models},
        "judge_own_accuracy": {m: spread([_metric(r, eval_path(m), "judge", "own_accuracy")
                                          for r in runs if _current(r, m, iterations)]) for m in models},
        "gain": spread(gains), "gain_from": first, "gain_to": last,
        "iterations": {i: {k: spread([_metric(r, f"reports/search/{i}.json", k) for r in runs])
                           for k in PER_ITERATION} for i in iterations},
    }


def fmt(s: dict | None, pct: bool = True) -> str:
    if s is None:
        return "–"
    f = (lambda x: f"{100 * x:.1f}") if pct else (lambda x: f"{x:g}")
    return f(s["mean"]) if s["min"] == s["max"] else f"{f(s['mean'])} ({f(s['min'])}–{f(s['max'])})"


def title(model: str) -> str:
    if model.startswith(SRLM):
        return "SRLM " + model.removeprefix(SRLM).upper()
    return "M1 + plain SFT, same compute" if model == "baseline" else model.upper()


def markdown(summaries: list[dict]) -> str:
    models = [m for m in dict.fromkeys(m for s in summaries for m in s["accuracy"])
              if not m.startswith(SRLM) or any(s["accuracy"].get(m) for s in summaries)]
    lines = ["# Chains compared over seeds", "",
             "Written by `python -m psrlm.compare` from the metrics of DVC experiments (or of run folders,",
             "`--runs`). Each cell: mean over",
             "seeds, then (min–max) when the seeds differ. Accuracy: greedy, held-out synthetic test.", "",
             "| group | seeds | " + " | ".join(title(m) for m in models) + " | gain | share of oracle gain |",
             "|" + "---|" * (len(models) + 4)]
    oracle = next((s for s in summaries if "judge=oracle" in s["label"]), None)

    def share(s: dict, gain: dict | None, oracle_gain: dict | None) -> str:
        """A group's mean gain as a share of the oracle group's, where the oracle gained."""
        if not oracle or s is oracle or not gain or not oracle_gain or oracle_gain["mean"] <= 0:
            return "–"
        return f"{100 * gain['mean'] / oracle_gain['mean']:.0f}%"
    for s in summaries:
        lines.append(f"| {s['label']} | {len(s['seeds'])} | "
                     + " | ".join(fmt(s["accuracy"].get(m)) for m in models)
                     + f" | {fmt(s['gain'])} | {share(s, s['gain'], oracle and oracle['gain'])} |")
    tiers = [t for t in summaries[0].get("accuracy_by_tier", {}) if t != "base"]
    for t in tiers:
        lines += ["", f"Held-out accuracy, {t} tier (prepare.tiers):", "",
                  "| group | " + " | ".join(title(m) for m in models) + " | gain | share of oracle gain |",
                  "|" + "---|" * (len(models) + 3)]
        lines += [f"| {s['label']} | " + " | ".join(fmt(s["accuracy_by_tier"].get(t, {}).get(m)) for m in models)
                  + f" | {fmt(s['gain_by_tier'].get(t))} | "
                  + share(s, s["gain_by_tier"].get(t), oracle and oracle["gain_by_tier"].get(t)) + " |"
                  for s in summaries]
        lines += ["", f"Every step right, {t} tier:", "",
                  "| group | " + " | ".join(title(m) for m in models) + " |", "|" + "---|" * (len(models) + 1)]
        lines += [f"| {s['label']} | " + " | ".join(fmt(s["steps_right_by_tier"][t].get(m))
                                                 for m in models) + " |" for s in summaries]
    for t in summaries[0].get("gap_by_tier", {}):
        if not any(v for s in summaries for g in s["gap_by_tier"].get(t, {}).values() for v in g.values()):
            continue
        lines += ["", f"Generation-verification gap, {t} tier: self-judged search - greedy / oracle search - greedy "
                  "(points, tts.test_limit problems):", "",
                  "| group | " + " | ".join(title(m) for m in models) + " |", "|" + "---|" * (len(models) + 1)]
        lines += [f"| {s['label']} | " + " | ".join(
            " / ".join(fmt(s["gap_by_tier"][t].get(m, {}).get(k)) for k in ("self", "oracle")) for m in models) + " |"
                  for s in summaries]
    lines += ["", "Judge accuracy on held-out EFT pairs:", "",
              "| group | " + " | ".join(title(m) for m in models) + " |", "|" + "---|" * (len(models) + 1)]
    lines += [f"| {s['label']} | " + " | ".join(fmt(s["judge_accuracy"].get(m)) for m in models) + " |"
              for s in summaries]
    if any(v for s in summaries for v in s.get("judge_own_accuracy", {}).values()):
        lines += ["", "Judge accuracy on held-out own pairs (the SFT model's own right and wrong steps):", "",
                  "| group | " + " | ".join(title(m) for m in models) + " |", "|" + "---|" * (len(models) + 1)]
        lines += [f"| {s['label']} | " + " | ".join(fmt(s["judge_own_accuracy"].get(m)) for m in models) + " |"
                  for s in summaries]
    lines += ["", "Search and the ground-truth audit per iteration (iteration i searches with M(i)):", "",
              "| group | iteration | pairs | pair precision | judge accuracy on own candidates "
              "| position consistency: all pairs / right vs wrong | candidate accuracy |",
              "|---|---|---|---|---|---|---|"]
    for s in summaries:
        for i, it in s["iterations"].items():
            lines.append(f"| {s['label']} | {i} | {fmt(it['pairs'], pct=False)} | {fmt(it['pair_precision'])} | "
                         f"{fmt(it['judge_accuracy_self'])} | {fmt(it['position_consistency'])} / "
                         f"{fmt(it['position_consistency_right_wrong'])} | "
                         f"{fmt(it['candidate_accuracy'])} |")
    lines += ["", "Runs: " + "; ".join(f"{s['label']}: {', '.join(s['runs'])}" for s in summaries), ""]
    return "\n".join(lines)


def plot(summaries: list[dict], path: Path) -> None:
    """One panel per tier (the test's, then prepare.tiers'), the models any group has numbers for,
    the groups' labels wrapped in a legend below the panels (labels name every varying param)."""
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tiers = list(dict.fromkeys(t for s in summaries for t in s.get("accuracy_by_tier") or {})) or ["base"]
    def acc(s: dict, tier: str) -> dict:
        return s["accuracy"] if tier == "base" else s["accuracy_by_tier"].get(tier, {})
    models = [m for m in dict.fromkeys(m for s in summaries for m in s["accuracy"])
              if any(acc(s, t).get(m) for s in summaries for t in tiers)]
    fig, axes = plt.subplots(1, len(tiers), figsize=(4.5 * len(tiers), 4.2), squeeze=False)
    for ax, tier in zip(axes[0], tiers):
        for s in summaries:
            pts = [(k, acc(s, tier)[m]) for k, m in enumerate(models) if acc(s, tier).get(m)]
            mean = [100 * a["mean"] for _, a in pts]
            err = [[100 * (a["mean"] - a["min"]) for _, a in pts], [100 * (a["max"] - a["mean"]) for _, a in pts]]
            ax.errorbar([k for k, _ in pts], mean, yerr=err, marker="o", capsize=3,
                        label="\n".join(textwrap.wrap(f"{s['label']} ({len(s['seeds'])} seeds)", 90)))
        ax.set_xticks(range(len(models)), [title(m).replace(", ", ",\n") for m in models], fontsize=8)
        ax.set(title=f"{'test (base)' if tier == 'base' else tier} tier", ylabel="held-out accuracy (%)")
    fig.suptitle("Greedy accuracy per tier (mean, min–max over seeds)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", fontsize=7, ncol=1, frameon=False)
    fig.tight_layout(rect=(0, min(0.6, 0.075 * len(summaries) + 0.04), 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m psrlm.compare", description=__doc__.splitlines()[0])
    ap.add_argument("--prefix", help="only experiments whose name starts with this (e.g. the -n of the sweep)")
    ap.add_argument("--out", default="reports/compare", help="folder of <name>.md, .json and .png")
    ap.add_argument("--name", help="file name (default: the prefix, else 'chains')")
    ap.add_argument("--repo", default=".")
    ap.add_argument("--rev", action="append", default=[],
                    help="the experiments of this commit (repeat for several; default HEAD): runs of "
                         "one grid made before and after a commit")
    ap.add_argument("--runs", nargs="+", type=Path,
                    help="compare these run folders (params.yaml and reports/ as dvc.yaml writes them) "
                         "instead of DVC's experiments")
    args = ap.parse_args()
    from dvc.exceptions import NotDvcRepoError
    from dvc.repo import Repo

    try:  # the stage names that count in a run's dvc.lock (stale_outputs); run folders need no repo
        with Repo(args.repo) as repo:
            pipeline = {s.addressing for s in repo.index.stages}
    except NotDvcRepoError:
        pipeline = None
    if args.runs:
        runs = runs_from_folders(args.runs, pipeline)
    else:
        revs = [x for r in args.rev for x in ("--rev", r)]
        done = subprocess.run(["dvc", "exp", "show", "--json", *revs], cwd=args.repo, capture_output=True, text=True)
        if done.returncode != 0:
            raise PsrlmError(f"dvc exp show failed: {done.stderr.strip()[-500:]}")
        def lock_of(rev: str) -> dict | None:
            shown = subprocess.run(["git", "show", f"{rev}:dvc.lock"], cwd=args.repo, capture_output=True, text=True)
            return yaml.safe_load(shown.stdout) if shown.returncode == 0 else None

        runs = runs_from_exp_show(json.loads(done.stdout), args.prefix, lock_of, pipeline)
    if not runs:
        raise PsrlmError(f"no finished experiment{' named ' + args.prefix + '*' if args.prefix else ''} "
                         "with metrics (dvc exp show lists the experiments of HEAD)")
    summaries = [summarize(g) for g in group_runs(runs)]
    out, name = Path(args.repo) / args.out, args.name or args.prefix or "chains"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(summaries, indent=2, sort_keys=True) + "\n")
    (out / f"{name}.md").write_text(markdown(summaries))
    plot(summaries, out / f"{name}.png")
    print((out / f"{name}.md").read_text())


if __name__ == "__main__":
    run(main, "compare")
