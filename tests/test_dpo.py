"""Stage dpo: step-wise tokenization (EOS only after a final step) and the trained chain M1 → M2 → M3."""

import json
import subprocess

import polars as pl
import pytest
import yaml

from psrlm import model as models
from psrlm.errors import PsrlmError
from psrlm.prompts import is_final, step_context, template
from psrlm.tables import PAIRS, read_table
from stages_loader import load_stage

dpo = load_stage("dpo")
# dvc.yaml's dpo@1 inputs beyond --pairs/--model (the smoke params replay labelled pairs and
# judgments, so a hand-run dpo@1 needs the same --replay, --judge-eft and --iteration to write the
# same bytes).
DPO_1_INPUTS = ("--first", "data/models/m1", "--replay", "data/prepare/eft_train.parquet",
                "--judge-eft", "data/prepare/eft_train.parquet", "--iteration", "1")


CORPUS = [f"Ann has {i} pens. Ann gets {i % 7} more.\nStep 1: {i} + {i % 7} = {i + i % 7}. "
          f"The answer is \\boxed{{{i + i % 7}}}.\n" for i in range(300)]


@pytest.fixture(scope="module")
def tok():
    return models.build_tokenizer(CORPUS, 300)


def pair(tok, steps_so_far: str, chosen: str, rejected: str) -> pl.DataFrame:
    prompt = tok.apply_chat_template([{"role": "user", "content": "Ann has 12 pens. Ann gets 5 more."}],
                                     add_generation_prompt=True, tokenize=False) + steps_so_far
    return pl.DataFrame({"problem_id": ["p"], "step_idx": [1], "prompt": [prompt], "chosen": [chosen],
                         "rejected": [rejected], "is_final_step": [is_final(chosen)],
                         "rejected_is_final": [is_final(rejected)]})


def tokenize(df, tok, max_length=384):
    ids, too_long = dpo.tokenize_pairs(df, tok, max_length)
    assert too_long == 0
    return ids


def test_mid_solution_step_ends_with_newline_not_eos(tok):
    df = pair(tok, "", "Step 1: 12 + 5 = 17.", "Step 1: 12 + 5 = 16.")
    ids = tokenize(df, tok)
    prompt_ids = tok(df["prompt"][0], add_special_tokens=False)["input_ids"]
    whole = tok(df["prompt"][0] + "Step 1: 12 + 5 = 17.\n", add_special_tokens=False)["input_ids"]
    assert ids["prompt_ids"][0] == prompt_ids and whole[:len(prompt_ids)] == prompt_ids
    assert prompt_ids + ids["chosen_ids"][0] == whole
    for col in ("chosen_ids", "rejected_ids"):
        assert tok.eos_token_id not in ids[col][0]
        assert tok.decode(ids[col][0]).endswith(".\n")


def test_final_step_ends_with_eos_and_only_it(tok):
    df = pair(tok, "Step 1: 12 + 5 = 17.\n", "Step 2: 17 + 1 = 18. The answer is \\boxed{18}.",
              "Step 2: 17 + 1 = 19.")
    ids = tokenize(df, tok)
    assert ids["chosen_ids"][0][-1] == tok.eos_token_id
    assert ids["chosen_ids"][0].count(tok.eos_token_id) == 1
    assert tok.eos_token_id not in ids["rejected_ids"][0]  # a non-final rejected step stays open


def test_a_prompt_that_is_not_a_token_prefix_is_an_error(tok):
    df = pair(tok, "Ste", "p 1: 12 + 5 = 17.", "p 1: 12 + 5 = 16.")  # "Ste" + "p" merge into "Step"
    with pytest.raises(PsrlmError, match="not a\\s+prefix"):
        dpo.tokenize_pairs(df, tok, 384)


def test_eos_follows_the_search_is_final_column_not_a_second_test(tok):
    # An unclosed \boxed{ is no answer: the search went on after it, so it must end in a newline.
    df = pair(tok, "", "Step 1: 12 + 5 = 17. The answer is \\boxed{17.", "Step 1: 12 + 5 = 16.")
    assert not df["is_final_step"][0]
    assert tok.eos_token_id not in tokenize(df, tok)["chosen_ids"][0]
    flipped = tokenize(df.with_columns(is_final_step=True), tok)
    assert flipped["chosen_ids"][0][-1] == tok.eos_token_id


def test_pairs_longer_than_max_length_are_dropped_and_counted_not_cut(tok):
    short = pair(tok, "", "Step 1: 12 + 5 = 17.", "Step 1: 12 + 5 = 16.")
    long = pair(tok, "Step 1: 12 + 5 = 17.\n" * 30, "Step 2: 17 + 1 = 18.", "Step 2: 17 + 1 = 19.")
    both = pl.concat([short, long.with_columns(step_idx=pl.lit(2, dtype=pl.Int64))])
    full = tokenize(short, tok, 10_000)
    n_short = len(full["prompt_ids"][0]) + max(len(full["chosen_ids"][0]), len(full["rejected_ids"][0]))
    assert dpo.tokenize_pairs(short, tok, n_short - 1)[1] == 1  # one token over: dropped
    ids, too_long = dpo.tokenize_pairs(both, tok, n_short)
    assert too_long == 1 and len(ids["prompt_ids"]) == len(ids["chosen_ids"]) == 1
    assert ids["prompt_ids"][0] == tok(short["prompt"][0], add_special_tokens=False)["input_ids"]


def test_replay_draws_labelled_pairs_in_the_search_context(tok):
    from psrlm.engine import chat_of

    # e5: both candidates wrong (prepare.both_wrong_share), a judge example, never a replayed pair
    eft = pl.DataFrame({
        "pair_id": [f"e{i}" for i in range(6)], "problem": ["Ann has 12 pens. Ann gets 5 more."] * 6,
        "step_idx": [1] * 6, "prefix_steps": [[]] * 4 + [["Step 1: 12 + 5 = 17."]] * 2,
        "candidate_a": ["Step 1: 12 + 5 = 17. The answer is \\boxed{17}.", "Step 1: 12 + 5 = 18."] * 2 + ["x", "u"],
        "candidate_b": ["Step 1: 12 + 5 = 16.", "Step 1: 12 + 5 = 17."] * 2 + ["y", "v"],
        "a_correct": [True, False, True, False, False, False],
        "b_correct": [False, True, False, True, True, False],
        "better": ["A", "B", "A", "B", "B", "A"]})
    solve_t = template("solve_v2")
    rows = dpo.replay(eft, 5, 7, chat_of(tok), solve_t)
    assert rows.height == 5 and rows.columns == list(dpo.TRAIN_COLUMNS)
    by = {r["problem_id"]: r for r in rows.iter_rows(named=True)}
    assert by["replay:e0"]["chosen"].endswith("\\boxed{17}.") and by["replay:e0"]["is_final_step"]
    assert by["replay:e1"]["chosen"] == "Step 1: 12 + 5 = 17." and not by["replay:e1"]["is_final_step"]
    assert by["replay:e4"]["chosen"] == "y" and by["replay:e4"]["rejected"] == "x"
    assert by["replay:e4"]["prompt"] == step_context(chat_of(tok), solve_t, eft["problem"][0], ["Step 1: 12 + 5 = 17."])
    # seeded: the same draw for the same seed, another for another; never more than the table holds
    assert dpo.replay(eft, 2, 7, chat_of(tok), solve_t).equals(dpo.replay(eft, 2, 7, chat_of(tok), solve_t))
    assert len({tuple(dpo.replay(eft, 2, s, chat_of(tok), solve_t)["problem_id"]) for s in range(8)}) > 1
    assert dpo.replay(eft, 50, 7, chat_of(tok), solve_t).height == 5  # of 6: e5 is never drawn


def test_judge_replay_trains_the_judgment_sft_taught_by_its_nll_alone(tok):
    """dpo.judge_replay: judge examples rendered as SFT rendered them, in the chat turn the search
    prompts the judge with; the trained tokens are SFT's (the judgment, then EOS), chosen equals
    rejected (no preference term moves them); seeded; the SRLM branch replays score judgments."""
    from psrlm.engine import chat_of
    from psrlm.prompts import judge_prompt, score_prompt
    from psrlm.sft import judge_examples, score_examples

    eft = pl.DataFrame({
        "pair_id": [f"e{i}" for i in range(4)], "problem": ["Ann has 12 pens. Ann gets 5 more."] * 4,
        "step_idx": [1, 1, 2, 2], "prefix_steps": [[], [], ["Step 1: 12 + 5 = 17."], ["Step 1: 12 + 5 = 17."]],
        "candidate_a": ["Step 1: 12 + 5 = 17.", "Step 1: 12 + 5 = 18.", "x", "u"],
        "candidate_b": ["Step 1: 12 + 5 = 16.", "Step 1: 12 + 5 = 17.", "y", "v"],
        "judgment": ["A is right. [[A]]", "B is right. [[B]]", "B is less wrong. [[B]]", "A. [[A]]"]})
    judge_t, chat = template("judge_v3"), chat_of(tok)
    rows = dpo.judge_replay(eft, "pair_id", 3, 7, chat, judge_examples, judge_t)
    assert rows.height == 3 and rows.columns == list(dpo.TRAIN_COLUMNS)
    assert rows["chosen"].to_list() == rows["rejected"].to_list()
    assert rows["is_final_step"].all() and rows["rejected_is_final"].all()
    by = {r["problem_id"]: r for r in rows.iter_rows(named=True)}
    for pid, r in by.items():
        e = eft.filter(pl.col("pair_id") == pid.removeprefix("judge:")).row(0, named=True)
        assert r["prompt"] == chat(judge_prompt(judge_t, e["problem"], e["prefix_steps"], e["candidate_a"],
                                                e["candidate_b"]))
        assert r["chosen"] == e["judgment"] and r["step_idx"] == e["step_idx"]
        # what DPO trains is the token sequence SFT trained: the judgment's chat turn, EOS included
        ids = tokenize(rows.filter(pl.col("problem_id") == pid), tok)
        sft_turn = tok.apply_chat_template([{"role": "user", "content": judge_prompt(
            judge_t, e["problem"], e["prefix_steps"], e["candidate_a"], e["candidate_b"])},
            {"role": "assistant", "content": e["judgment"]}], tokenize=False)
        assert ids["prompt_ids"][0] + ids["chosen_ids"][0] == tok(sft_turn, add_special_tokens=False)["input_ids"]
        assert ids["chosen_ids"][0] == ids["rejected_ids"][0]
    draw = lambda seed, n=2: dpo.judge_replay(eft, "pair_id", n, seed, chat, judge_examples, judge_t)  # noqa: E731
    assert draw(7).equals(draw(7)) and len({tuple(draw(s)["problem_id"]) for s in range(8)}) > 1
    assert draw(7, 50).height == 4  # never more than the table holds
    score = pl.DataFrame({"example_id": ["s0", "s1"], "problem": ["Ann has 12 pens. Ann gets 5 more."] * 2,
                          "solution": ["Step 1: 12 + 5 = 17.", "Step 1: 12 + 5 = 18."],
                          "judgment": ["Step 1 right. Score: [[5]]", "Step 1 wrong. Score: [[0]]"]})
    score_t = template("score_v2")
    rows = dpo.judge_replay(score, "example_id", 2, 0, chat, score_examples, score_t)
    assert sorted(rows["problem_id"]) == ["judge:s0", "judge:s1"] and (rows["step_idx"] == 0).all()
    first = rows.filter(pl.col("problem_id") == "judge:s0").row(0, named=True)
    assert first["prompt"] == chat(score_prompt(score_t, score["problem"][0], score["solution"][0]))
    assert first["chosen"] == "Step 1 right. Score: [[5]]"


def test_judge_replay_without_the_sft_loss_is_a_params_error():
    from psrlm.params import ParamsError

    base = yaml.safe_load(open(dpo.__file__.replace("stages/dpo.py", "params.yaml")))["dpo"]
    p = dpo.DpoParams(**{**base, "loss_type": ("sigmoid",), "loss_weights": (1.0,), "judge_replay": 10})
    with pytest.raises(ParamsError, match="judge_replay: needs the sft loss"):
        p.check()
    dpo.DpoParams(**{**base, "loss_type": ("sigmoid", "sft"), "loss_weights": (0.1, 1.0), "judge_replay": 10}).check()


def test_union_replay_and_init_first_train_on_what_they_say(pipeline, tmp_path):
    """dpo@2 rerun by hand with dpo.union, replay_pairs and init: first: it trains on iteration 1's
    and 2's pairs (M2's folder says which pairs M2 learned) plus the replay, from M1, and its
    folder records the union."""
    import torch
    from transformers import AutoModelForCausalLM

    from conftest import run_stage

    params = yaml.safe_load((pipeline / "params.yaml").read_text())
    # a learning rate too small to move a weight visibly: M3 must then be M1 again, not M2
    params["dpo"] |= {"union": True, "replay_pairs": 6, "init": "first", "learning_rate": 1e-12}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    res = run_stage("dpo", "--params", str(tmp_path / "params.yaml"), "--pairs", "data/pairs/iter_2.parquet",
                    "--model", "data/models/m2", "--first", "data/models/m1", "--replay",
                    "data/prepare/eft_train.parquet", "--judge-eft", "data/prepare/eft_train.parquet",
                    "--iteration", "2", "--out", str(tmp_path / "m3"),
                    "--log", str(tmp_path / "log.tsv"), "--report", str(tmp_path / "report.json"), cwd=pipeline)
    assert res.returncode == 0, res.stderr[-2000:]
    first, second = (read_table(pipeline / f"data/pairs/iter_{i}.parquet", PAIRS).collect() for i in (1, 2))
    learned_by_m2 = read_table(pipeline / "data/models/m2" / dpo.TRAINED, PAIRS).collect()
    assert learned_by_m2.equals(first)  # the default chain (no union): iteration 1's pairs alone
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["trained"] and report["init"] == "first" and report["replay_pairs"] == 6
    assert report["pairs"] == second.height and report["union_pairs"] == first.height + second.height
    union = read_table(tmp_path / "m3" / dpo.TRAINED, PAIRS).collect()
    assert union.equals(pl.concat([first, second]).sort(list(PAIRS.key)))
    m1, m2, m3 = (AutoModelForCausalLM.from_pretrained(d) for d in
                  (pipeline / "data/models/m1", pipeline / "data/models/m2", tmp_path / "m3"))
    assert all(torch.allclose(a, c, atol=1e-6) for a, c in zip(m1.parameters(), m3.parameters()))
    assert not all(torch.allclose(b, c, atol=1e-6) for b, c in zip(m2.parameters(), m3.parameters()))


def test_the_chain_trains_m2_and_m3(pipeline):
    import torch
    from transformers import AutoModelForCausalLM

    for i, (a, b) in enumerate((("m1", "m2"), ("m2", "m3")), start=1):
        pairs = read_table(pipeline / f"data/pairs/iter_{i}.parquet", PAIRS).collect()
        report = json.loads((pipeline / f"reports/dpo/{i}.json").read_text())
        assert report["pairs"] == pairs.height > 0, f"iteration {i} yielded no pairs"
        assert report["trained"] and report["steps"] >= 1
        assert {"final_margin", "final_accuracy", "train_loss"} <= set(report)
        # the smoke params replay a few judge examples beside the steps (pairwise judgments here,
        # the SRLM branch's score judgments there)
        srlm = json.loads((pipeline / f"reports/srlm_dpo/{i}.json").read_text())
        assert report["judge_replay"] == srlm["judge_replay"] == 4
        log = (pipeline / f"reports/dpo/{i}.tsv").read_text().splitlines()
        assert log[0].split("\t")[:4] == ["step", "epoch", "loss", "margin"] and len(log) >= 2
        ma = AutoModelForCausalLM.from_pretrained(pipeline / f"data/models/{a}")
        mb = AutoModelForCausalLM.from_pretrained(pipeline / f"data/models/{b}")
        assert any(not torch.equal(x, y) for x, y in zip(ma.parameters(), mb.parameters())), f"{b} == {a}"
    for m in ("m1", "m2", "m3"):
        assert "synthetic" in json.loads((pipeline / f"reports/eval/{m}.json").read_text())


def test_a_dpo_param_change_changes_only_the_dpo_stages(pipeline_copy):
    pipeline = pipeline_copy  # its params change: not the shared DAG, which other tests read meanwhile
    params_file = pipeline / "params.yaml"
    original = params_file.read_text()
    params = yaml.safe_load(original)
    params["dpo"]["beta"] = params["dpo"]["beta"] * 2
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        status = json.loads(subprocess.run(["dvc", "status", "--json"], cwd=pipeline, capture_output=True,
                                           text=True, check=True).stdout)
    finally:
        params_file.write_text(original)
    # Only the dpo stages changed (the SRLM baseline's too: both chains train with the same dpo
    # params, by design); what follows them reruns once their models change (the experiment test in
    # test_pipeline.py checks which stages a real run reruns).
    assert set(status) == {"dpo@1", "dpo@2", "srlm_dpo@1", "srlm_dpo@2"}
    assert "up to date" in subprocess.run(["dvc", "status"], cwd=pipeline, capture_output=True,
                                          text=True).stdout


def test_same_params_give_byte_identical_tables_and_weights(pipeline, tmp_path):
    """search@1 and dpo@1 rerun by hand on the smoke pipeline's inputs write the same bytes as the
    `dvc repro` run did: Parquet tables and safetensors weights."""
    import hashlib

    from conftest import run_stage

    def digest(path):
        return hashlib.sha256(path.read_bytes()).hexdigest()

    res = run_stage("search", "--iteration", "1", "--shard", "0", "--model", "data/models/m1", "--pool",
                    "data/prepare/pools/iter_1.parquet", "--out", str(tmp_path / "search"), cwd=pipeline)
    assert res.returncode == 0, res.stderr[-2000:]
    for name in ("steps", "judgments", "solutions"):
        assert digest(tmp_path / "search" / f"{name}.parquet") == digest(
            pipeline / "data/search/iter_1/shard_0" / f"{name}.parquet"), name
    dpo_cmd = yaml.safe_load((pipeline / "dvc.yaml").read_text())["stages"]["dpo"]["do"]["cmd"]
    assert " ".join(DPO_1_INPUTS) in dpo_cmd.replace("${key}", "1"), dpo_cmd  # the same command as dvc's
    res = run_stage("dpo", "--pairs", "data/pairs/iter_1.parquet", "--model", "data/models/m1", *DPO_1_INPUTS,
                    "--out", str(tmp_path / "m2"), "--log", str(tmp_path / "log.tsv"),
                    "--report", str(tmp_path / "report.json"), cwd=pipeline)
    assert res.returncode == 0, res.stderr[-2000:]
    weights = sorted(p.name for p in (pipeline / "data/models/m2").glob("*.safetensors"))
    assert weights
    for name in weights:
        assert digest(tmp_path / "m2" / name) == digest(pipeline / "data/models/m2" / name), name


def test_dpo_under_a_two_process_launcher_trains_and_only_rank_0_writes(pipeline, tmp_path):
    """The launcher switch's multi-process path for real, on CPUs: `accelerate launch` with two
    processes (configs/cpu2.yaml, gloo) runs dpo@1's command; the state is gathered, rank 0 writes
    one model, one log and one report, and no rank leaves a temporary behind."""
    import shlex

    import torch
    from transformers import AutoModelForCausalLM

    out = tmp_path / "out"
    cmd = ["accelerate", "launch", "--config_file", "configs/cpu2.yaml", "stages/dpo.py",
           "--pairs", "data/pairs/iter_1.parquet", "--model", "data/models/m1", *DPO_1_INPUTS,
           "--out", str(out / "m2"), "--log", str(out / "log.tsv"), "--report", str(out / "report.json")]
    res = subprocess.run(cmd, cwd=pipeline, capture_output=True, text=True)
    assert res.returncode == 0, shlex.join(cmd) + "\n" + res.stdout[-2000:] + res.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["trained"] and report["steps"] > 0
    assert sorted(p.name for p in out.iterdir()) == ["log.tsv", "m2", "report.json"]  # no .tmp left
    m1 = AutoModelForCausalLM.from_pretrained(pipeline / "data/models/m1")
    m2 = AutoModelForCausalLM.from_pretrained(out / "m2")
    assert any(not torch.equal(a, b) for a, b in zip(m1.parameters(), m2.parameters()))
