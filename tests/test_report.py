"""Stage report: its rows, worked out by hand from small metrics files, in the chain's order."""

from stages_loader import load_stage

report = load_stage("report")


def _eval(acc: float, judge: float) -> dict:
    return {"synthetic": {"accuracy": acc, "steps_per_answer": 3.0, "step_chars": 20.0,
                          "steps_right_accuracy": acc - 0.1, "step_arithmetic": 0.9},
            "synthetic_by_tier": {"base": {"accuracy": acc}, "hard": {"accuracy": acc / 2}},
            "judge": {"accuracy": judge, "accuracy_a": judge + 0.05, "accuracy_b": judge - 0.05, "invalid": 0,
                      "own_accuracy": 0.6, "own_position_consistency": 0.5},
            "benchmarks": {"gsm8k": {"accuracy": 0.1}, "math500": {"accuracy": 0.3}}}


def test_rows_follow_pipeline_iterations_not_the_model_names():
    # Names that do not spell their iteration: "base" searches iteration 1, "it1" iteration 2.
    chain = {"base": 1, "it1": 2, "it2": 3}
    evals = {"it2": _eval(0.7, 0.8), "base": _eval(0.5, 0.6), "it1": _eval(0.6, 0.7), "baseline": _eval(0.55, 0.65)}
    search = {"1": {"pairs": 10, "pair_precision": 0.9, "judge_accuracy_self": 0.75, "position_consistency": 0.5},
              "2": {"pairs": 12, "pair_precision": 0.8, "judge_accuracy_self": 0.7, "position_consistency": 0.4}}
    rows = report.rows_per_model(["it2", "baseline", "base", "it1"], evals, search, chain)
    assert [(r["model"], r["iteration"]) for r in rows] == [("base", 1), ("it1", 2), ("it2", 3)]
    first, last = rows[0], rows[-1]
    assert first["synthetic_accuracy"] == 0.5 and first["benchmark_average"] == 0.2
    assert first["pairs"] == 10 and first["pair_precision"] == 0.9 and first["judge_accuracy_self"] == 0.75
    assert first["judge_accuracy_a"] == 0.65 and first["judge_own_accuracy"] == 0.6
    assert last["pairs"] is None and last["pair_precision"] is None  # the last model searched nothing
    assert {r["sft_baseline_accuracy"] for r in rows} == {0.55}
    assert first["accuracy_by_tier"] == {"base": 0.5, "hard": 0.25}


def test_an_iteration_that_trained_on_nothing_says_so():
    """An empty pairs table leaves M(i+1) a copy of M(i) (dpo: trained false): the report says
    "not trained" where the DPO reward accuracy would be, instead of a dash that reads as missing."""
    import yaml

    from conftest import filled
    from psrlm.metrics import DPO, EVAL, SEARCH

    models = ["m1", "m2", "m3"]
    evals = {m: filled(EVAL, **{"synthetic_by_tier": {"base": {"accuracy": 0.5}}}) for m in models}
    search = {i: filled(SEARCH) for i in ("1", "2")}
    dpo = {"1": filled(DPO, trained=False), "2": filled(DPO, trained=True)}
    rows = report.rows_per_model(models, evals, search, {"m1": 1, "m2": 2, "m3": 3})
    md = report.markdown(models, evals, search, dpo, rows, yaml.safe_load(report.PAPER.read_text()), "self", 0, None)
    one = next(x for x in md.splitlines() if x.startswith("| 1 | "))
    two = next(x for x in md.splitlines() if x.startswith("| 2 | "))
    assert one.endswith("| not trained (no pairs) |") and not two.endswith("not trained (no pairs) |")


def test_the_tier_table_has_the_baseline_and_every_step_right_beside_the_answers():
    chain = {"m1": 1, "m2": 2}
    evals = {m: _eval(a, 0.6) for m, a in (("m1", 0.5), ("m2", 0.7), ("baseline", 0.55))}
    evals["m2"]["synthetic_by_tier"]["hard"]["steps_right_accuracy"] = 0.2
    rows = report.rows_per_model(list(evals), evals, {}, chain)
    lines = report.tier_table(rows, evals, {"1": "hard"})
    assert "| model | base | hard |" in lines
    assert "| M2 | 70.0 / – | 35.0 / 20.0 |" in lines
    assert "| M1 + plain SFT, same compute | 55.0 / – | 27.5 / – |" in lines
    one_tier = {m: e | {"synthetic_by_tier": {"base": e["synthetic_by_tier"]["base"]}} for m, e in evals.items()}
    assert report.tier_table(report.rows_per_model(list(evals), one_tier, {}, chain), one_tier, {}) == []
