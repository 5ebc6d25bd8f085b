"""psrlm.compare on a hand-made `dvc exp show --json` document: grouping over seeds and the numbers."""

import json

import pytest
import yaml

from conftest import filled
from psrlm import compare
from psrlm.errors import PsrlmError
from psrlm.metrics import BASELINE, DPO, EVAL, EVAL_SCORE, SEARCH


def tts(self_gap, oracle_gap):
    """An evaluate report's test-time section: the test's gaps, and the hard tier's twice as large."""
    return {"gap": {"self": self_gap, "oracle": oracle_gap},
            "tiers": {"hard": {"gap": {"self": 2 * self_gap, "oracle": 2 * oracle_gap}}}}


def exp(name, judge, seed, m1, m3, pairs=100, precision=0.9, beta=0.1, error=None, baseline_tokens=200,
        srlm_m2=None):
    params = {"pipeline": {"seed": seed, "iterations": {"1": {"model": "m1", "next": "m2"},
                                                        "2": {"model": "m2", "next": "m3"}},
                           "models_to_evaluate": ["m1", "m2", "m3", "baseline"]},
              "search": {"judge": judge, "width": 6}, "dpo": {"beta": beta, "loss_type": ["sigmoid"]},
              "srlm": {"models_to_evaluate": ["m1", "m2"]}}
    # a hard tier beside the base one (prepare.tiers) where each model solves half as many
    metrics = {f"reports/eval/{m}.json": {"data": filled(
        EVAL, **{"synthetic.accuracy": a, "judge.accuracy": 0.8, "tts": tts(0.01 * seed, 0.1),
                 "synthetic_by_tier": {"base": {"accuracy": a}, "hard": {"accuracy": a / 2,
                                                                         "steps_right_accuracy": a / 4}}})}
               for m, a in (("m1", m1), ("m2", (m1 + m3) / 2), ("m3", m3), ("baseline", m1 + 0.01))}
    # the SRLM chain on the same pools, where the run evaluated it (its stages share the seed's M1)
    if srlm_m2 is not None:
        metrics |= {f"reports/eval_srlm/{m}.json": {"data": filled(
            EVAL_SCORE, **{"synthetic.accuracy": a, "tts": tts(-0.02, 0.1),
                           "synthetic_by_tier": {"base": {"accuracy": a}, "hard": {"accuracy": a / 2}}})}
                    for m, a in (("m1", m1), ("m2", srlm_m2))}
    metrics |= {f"reports/search/{i}.json": {"data": filled(SEARCH, pairs=pairs, pair_precision=precision,
                                                            judge_accuracy_self=None)} for i in (1, 2)}
    # the baseline names the DPO tokens it was matched to: 200 = the two DPO runs' 100 + 100
    metrics |= {f"reports/dpo/{i}.json": {"data": filled(DPO, train_tokens=100)} for i in (1, 2)}
    metrics["reports/baseline/metrics.json"] = {"data": filled(BASELINE, dpo_train_tokens=baseline_tokens)}
    rev = {"rev": f"{abs(hash(name)):040x}"[:40], "name": name, "error": error,
           "data": {"params": {"params.yaml": {"data": params}}, "metrics": metrics}}
    return {"revs": [rev], "name": name}


SHOW = [{"rev": "workspace", "data": {}, "experiments": None},
        {"rev": "abc", "experiments": [
            exp("judges-1", "oracle", 0, 0.60, 0.70, srlm_m2=0.58), exp("judges-2", "oracle", 1, 0.60, 0.74),
            exp("judges-3", "oracle", 2, 0.60, 0.72, baseline_tokens=999),  # a stale baseline: left out
            exp("judges-4", "self", 0, 0.60, 0.61, precision=0.5),
            exp("judges-5", "self", 1, 0.60, 0.63, precision=0.7), exp("judges-6", "random", 0, 0.60, 0.50),
            exp("judges-7", "self", 2, 0.60, 0.0, error={"msg": "failed"}),  # failed runs are left out
            exp("beta-1", "oracle", 0, 0.60, 0.65, beta=1.0),  # another sweep, left out by prefix
        ]}]


def test_runs_differing_only_in_seed_form_one_group_labelled_by_what_differs():
    groups = compare.group_runs(compare.runs_from_exp_show(SHOW, "judges"))
    assert {g["label"]: [r["name"] for r in g["runs"]] for g in groups} == {
        "search.judge=oracle": ["judges-1", "judges-2", "judges-3"],
        "search.judge=self": ["judges-4", "judges-5"], "search.judge=random": ["judges-6"]}
    alone = compare.group_runs([r for r in compare.runs_from_exp_show(SHOW, "judges") if "oracle" in str(r["params"])])
    assert [g["label"] for g in alone] == ["search.judge=oracle"]  # one group still names its judge
    every = compare.group_runs(compare.runs_from_exp_show(SHOW, None))
    assert len(every) == 4 and any("dpo.beta=1.0" in g["label"] for g in every)


def test_means_spreads_gains_and_the_share_of_the_oracle_gain():
    summaries = [compare.summarize(g) for g in compare.group_runs(compare.runs_from_exp_show(SHOW, "judges"))]
    by = {s["label"].split("=")[1]: s for s in summaries}
    assert by["oracle"]["accuracy"]["m3"] == {"mean": 0.72, "min": 0.70, "max": 0.74, "n": 3}
    assert by["oracle"]["gain"]["mean"] == pytest.approx(0.12) and by["self"]["gain"]["mean"] == pytest.approx(0.02)
    assert by["self"]["iterations"]["1"]["pair_precision"] == {"mean": 0.6, "min": 0.5, "max": 0.7, "n": 2}
    assert by["self"]["iterations"]["2"]["judge_accuracy_self"] is None  # not in these metrics: shown as –
    md = compare.markdown(summaries)
    assert by["oracle"]["accuracy"]["baseline"]["mean"] == pytest.approx(0.61)  # beside the chain, not its end
    assert by["oracle"]["accuracy"]["baseline"]["n"] == 2  # judges-3's baseline was another chain's
    assert "| search.judge=oracle | 3 | 60.0 | 66.0 (65.0–67.0) | 72.0 (70.0–74.0) | 61.0 | 60.0 | 58.0 | 12.0 (10.0–14.0) | – |" in md
    assert "| search.judge=self | 2 |" in md and "| 17% |" in md  # 2 of the oracle's 12 points
    assert "| search.judge=random | 1 |" in md and "| -83% |" in md


def test_accuracy_and_gain_per_tier():
    summaries = [compare.summarize(g) for g in compare.group_runs(compare.runs_from_exp_show(SHOW, "judges"))]
    oracle = next(s for s in summaries if s["label"] == "search.judge=oracle")
    assert list(oracle["accuracy_by_tier"]) == ["base", "hard"]
    assert oracle["accuracy_by_tier"]["hard"]["m3"] == {"mean": 0.36, "min": 0.35, "max": 0.37, "n": 3}
    assert oracle["accuracy_by_tier"]["base"]["m3"] == oracle["accuracy"]["m3"]
    assert oracle["gain_by_tier"]["hard"]["mean"] == pytest.approx(0.06)
    assert oracle["steps_right_by_tier"]["hard"]["m3"] == {"mean": 0.18, "min": 0.175, "max": 0.185, "n": 3}
    md = compare.markdown(summaries)
    assert "Held-out accuracy, hard tier (prepare.tiers):" in md
    assert "| search.judge=oracle | 30.0 | 33.0 (32.5–33.5) | 36.0 (35.0–37.0) | 30.5 | 30.0 | 29.0 | 6.0 (5.0–7.0) | – |" in md
    # the share of the oracle's gain on the tier too: self's 1 point of the oracle's 6
    assert "| search.judge=self | 30.0 | 30.5 (30.2–30.8) | 31.0 (30.5–31.5) | 30.5 | – | – | 1.0 (0.5–1.5) | 17% |" in md
    assert "Every step right, hard tier:" in md and "| search.judge=oracle | 15.0 | 16.5 (16.2–16.8) | 18.0 (17.5–18.5) |" in md


def test_an_experiment_whose_metrics_file_lost_a_key_is_refused_in_one_line():
    show = [{"rev": "abc", "experiments": [exp("judges-1", "oracle", 0, 0.60, 0.70)]}]
    del show[0]["experiments"][0]["revs"][0]["data"]["metrics"]["reports/eval/m3.json"]["data"]["judge"]
    with pytest.raises(PsrlmError, match=r"^experiment judges-1: reports/eval/m3.json: missing key 'judge.n'"):
        compare.runs_from_exp_show(show, "judges")


def test_the_srlm_chain_and_the_generation_verification_gap_per_tier():
    summaries = [compare.summarize(g) for g in compare.group_runs(compare.runs_from_exp_show(SHOW, "judges"))]
    by = {s["label"].split("=")[1]: s for s in summaries}
    # only the oracle group's judges-1 evaluated the SRLM chain
    assert list(by["oracle"]["accuracy"]) == ["m1", "m2", "m3", "baseline", "srlm_m1", "srlm_m2"]
    assert by["oracle"]["accuracy"]["srlm_m2"] == {"mean": 0.58, "min": 0.58, "max": 0.58, "n": 1}
    assert by["oracle"]["accuracy_by_tier"]["hard"]["srlm_m2"]["mean"] == pytest.approx(0.29)
    assert by["self"]["accuracy"]["srlm_m1"] is None
    # the gap per tier and model, over seeds (self's gap is 0.01 * seed here)
    assert by["self"]["gap_by_tier"]["base"]["m3"]["self"] == {"mean": 0.005, "min": 0.0, "max": 0.01, "n": 2}
    assert by["self"]["gap_by_tier"]["hard"]["m3"]["oracle"]["mean"] == pytest.approx(0.2)
    assert by["oracle"]["gap_by_tier"]["hard"]["srlm_m1"]["self"]["mean"] == pytest.approx(-0.04)
    md = compare.markdown([by["self"], by["oracle"]])
    assert "| SRLM M1 | SRLM M2 |" in md and "| search.judge=self | 2 | 60.0 | 61.0 (60.5–61.5) | 62.0 (61.0–63.0) | 61.0 | – | – |" in md
    assert "SRLM" not in compare.markdown([by["self"]])  # no run evaluated it: no column
    assert "Generation-verification gap, hard tier" in md
    assert "| search.judge=self | 1.0 (0.0–2.0) / 20.0 |" in md


def lock(srlm_prepare_md5="p1", srlm_seed=0):
    """A dvc.lock of prepare -> sft -> evaluate@m1 and prepare -> srlm_sft -> evaluate_srlm@m1/m2;
    the SRLM branch recorded for a prepare output of `srlm_prepare_md5` and a seed of `srlm_seed`."""
    def stage(deps, outs, params=None):
        return {"deps": [{"path": p, "md5": m} for p, m in deps], "outs": [{"path": p, "md5": m} for p, m in outs],
                "params": {"params.yaml": params or {}}}
    return {"schema": "2.0", "stages": {
        "prepare": stage([("psrlm/arith.py", "a")], [("data/prepare/eft.parquet", "p1")], {"search.width": 6}),
        "sft": stage([("data/prepare/eft.parquet", "p1")], [("data/models/m1", "m1")]),
        "evaluate@m1": stage([("data/models/m1", "m1")], [("reports/eval/m1.json", "e1")]),
        "srlm_sft": stage([("data/prepare/eft.parquet", srlm_prepare_md5)], [("data/models/srlm_m1", "s1")],
                          {"pipeline": {"seed": srlm_seed}}),
        "evaluate_srlm@m1": stage([("data/models/srlm_m1", "s1")], [("reports/eval_srlm/m1.json", "r1")]),
        "evaluate_srlm@m2": stage([("data/models/srlm_m2", "s2")], [("reports/eval_srlm/m2.json", "r2")])}}


def test_metrics_files_of_stages_the_run_did_not_rerun_are_left_out():
    """A run of chosen targets keeps its base commit's reports of the stages it skipped: compare
    reads the run's dvc.lock and leaves out a report whose stage (or one above it) was recorded for
    other inputs or params than the run's."""
    params = compare.flatten(SHOW[1]["experiments"][0]["revs"][0]["data"]["params"]["params.yaml"]["data"])
    assert compare.stale_outputs(lock(), params) == set()
    # srlm_sft trained on a prepare output the run replaced: it and the evaluation below it are stale
    assert compare.stale_outputs(lock(srlm_prepare_md5="p0"), params) == {"data/models/srlm_m1", "reports/eval_srlm/m1.json"}
    # ... or for another seed than the run's (params recorded in the lock, numbers by value)
    assert compare.stale_outputs(lock(srlm_seed=1), params) == {"data/models/srlm_m1", "reports/eval_srlm/m1.json"}
    assert compare.stale_outputs(lock(srlm_seed=0.0), params) == set()
    assert compare.stale_outputs(lock(srlm_seed="0e0"), params) == set()  # PyYAML reads `0e0` as text
    assert compare.stale_outputs(lock(srlm_seed="1e0"), params) == {"data/models/srlm_m1", "reports/eval_srlm/m1.json"}
    # a renamed stage's entry that DVC left in dvc.lock, claiming an output another stage now writes
    renamed = lock()
    renamed["stages"]["search@1"] = {"deps": [], "outs": [{"path": "data/prepare/eft.parquet", "md5": "p0"}]}
    assert "reports/eval/m1.json" in compare.stale_outputs(renamed, params)
    assert compare.stale_outputs(renamed, params, pipeline=set(lock()["stages"])) == set()
    stale = {"judges-1": lock(srlm_prepare_md5="p0")}
    runs = compare.runs_from_exp_show(SHOW, "judges", lambda rev: next(
        (stale[e["name"]] for e in SHOW[1]["experiments"] if e["revs"][0]["rev"] == rev and e["name"] in stale), None))
    one = next(r for r in runs if r["name"] == "judges-1")
    assert "reports/eval_srlm/m1.json" not in one["metrics"] and "reports/eval_srlm/m2.json" in one["metrics"]
    assert "reports/eval/m1.json" in one["metrics"]
    assert [r["metrics"] for r in runs if r["name"] != "judges-1"] == \
        [r["metrics"] for r in compare.runs_from_exp_show(SHOW, "judges") if r["name"] != "judges-1"]


def test_run_folders_give_the_same_summaries_as_the_experiments(tmp_path):
    runs = compare.runs_from_exp_show(SHOW, "judges")
    for e in SHOW[1]["experiments"]:
        rev = e["revs"][0]
        if rev["error"] or not rev["name"].startswith("judges"):
            continue
        folder = tmp_path / rev["name"]
        (folder / "reports").mkdir(parents=True)
        (folder / "params.yaml").write_text(yaml.safe_dump(rev["data"]["params"]["params.yaml"]["data"]))
        for path, m in rev["data"]["metrics"].items():
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).write_text(json.dumps(m["data"]))
    folders = sorted(tmp_path.iterdir())
    assert [compare.summarize(g) for g in compare.group_runs(compare.runs_from_folders(folders))] == \
        [compare.summarize(g) for g in compare.group_runs(runs)]
    # a folder's dvc.lock leaves out the reports of the stages its run did not rerun, as for experiments
    (folders[0] / "dvc.lock").write_text(yaml.safe_dump(lock(srlm_prepare_md5="p0")))
    assert set(compare.runs_from_folders(folders[:1])[0]["metrics"]) == \
        set(SHOW[1]["experiments"][0]["revs"][0]["data"]["metrics"]) - {"reports/eval_srlm/m1.json"}
    # a folder whose report lost a key, or that is no run at all, is refused naming the file
    m3 = folders[0] / "reports/eval/m3.json"
    m3.write_text(json.dumps({k: v for k, v in json.loads(m3.read_text()).items() if k != "judge"}))
    with pytest.raises(PsrlmError, match=r"reports/eval/m3.json: missing key 'judge.n'"):
        compare.runs_from_folders(folders)
    with pytest.raises(PsrlmError, match=r"params.yaml: file not found"):
        compare.runs_from_folders([tmp_path / "nothing"])
    m3.write_text('{"synthetic": ')
    with pytest.raises(PsrlmError, match=r"reports/eval/m3.json: not JSON \(Expecting value"):
        compare.runs_from_folders(folders)


def test_the_plot_has_one_panel_per_tier(tmp_path):
    import matplotlib.image
    summaries = [compare.summarize(g) for g in compare.group_runs(compare.runs_from_exp_show(SHOW, "judges"))]
    compare.plot(summaries, tmp_path / "p.png")
    height, width, _ = matplotlib.image.imread(tmp_path / "p.png").shape
    assert width == 900  # two tiers (base, hard) side by side, 4.5 inches each at 100 dpi
