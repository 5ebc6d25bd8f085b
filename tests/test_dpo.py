"""Stage dpo: step-wise tokenization (EOS only after a final step) and the trained chain M1 → M2 → M3."""

import json
import subprocess

import polars as pl
import pytest
import yaml

from psrlm import model as models
from psrlm.errors import PsrlmError
from psrlm.tables import PAIRS, read_table
from stages_loader import load_stage

dpo = load_stage("dpo")
CORPUS = [f"Ann has {i} pens. Ann gets {i % 7} more.\nStep 1: {i} + {i % 7} = {i + i % 7}. "
          f"The answer is \\boxed{{{i + i % 7}}}.\n" for i in range(300)]


@pytest.fixture(scope="module")
def tok():
    return models.build_tokenizer(CORPUS, 300)


def pair(tok, steps_so_far: str, chosen: str, rejected: str) -> pl.DataFrame:
    prompt = tok.apply_chat_template([{"role": "user", "content": "Ann has 12 pens. Ann gets 5 more."}],
                                     add_generation_prompt=True, tokenize=False) + steps_so_far
    return pl.DataFrame({"problem_id": ["p"], "step_idx": [1], "prompt": [prompt], "chosen": [chosen],
                         "rejected": [rejected]})


def test_mid_solution_step_ends_with_newline_not_eos(tok):
    df = pair(tok, "", "Step 1: 12 + 5 = 17.", "Step 1: 12 + 5 = 16.")
    ids = dpo.tokenize_pairs(df, tok)
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
    ids = dpo.tokenize_pairs(df, tok)
    assert ids["chosen_ids"][0][-1] == tok.eos_token_id
    assert ids["chosen_ids"][0].count(tok.eos_token_id) == 1
    assert tok.eos_token_id not in ids["rejected_ids"][0]  # a non-final rejected step stays open


def test_a_prompt_that_is_not_a_token_prefix_is_an_error(tok):
    df = pair(tok, "Ste", "p 1: 12 + 5 = 17.", "p 1: 12 + 5 = 16.")  # "Ste" + "p" merge into "Step"
    with pytest.raises(PsrlmError, match="not a\\s+prefix"):
        dpo.tokenize_pairs(df, tok)


def test_the_chain_trains_m2_and_m3(pipeline):
    import torch
    from transformers import AutoModelForCausalLM

    for i, (a, b) in enumerate((("m1", "m2"), ("m2", "m3")), start=1):
        pairs = read_table(pipeline / f"data/pairs/iter_{i}.parquet", PAIRS).collect()
        report = json.loads((pipeline / f"reports/dpo/{i}.json").read_text())
        assert report["pairs"] == pairs.height > 0, f"iteration {i} yielded no pairs"
        assert report["trained"] and report["steps"] >= 1
        assert {"final_margin", "final_accuracy", "train_loss"} <= set(report)
        log = (pipeline / f"reports/dpo/{i}.tsv").read_text().splitlines()
        assert log[0].split("\t")[:4] == ["step", "epoch", "loss", "margin"] and len(log) >= 2
        ma = AutoModelForCausalLM.from_pretrained(pipeline / f"data/models/{a}")
        mb = AutoModelForCausalLM.from_pretrained(pipeline / f"data/models/{b}")
        assert any(not torch.equal(x, y) for x, y in zip(ma.parameters(), mb.parameters())), f"{b} == {a}"
    for m in ("m1", "m2", "m3"):
        assert "synthetic" in json.loads((pipeline / f"reports/eval/{m}.json").read_text())


def test_a_dpo_param_change_changes_only_the_dpo_stages(pipeline):
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
    # Only the dpo stages changed; what follows them reruns once their models change (the
    # experiment test in test_pipeline.py checks which stages a real run reruns).
    assert set(status) == {"dpo@1", "dpo@2"}
    assert "up to date" in subprocess.run(["dvc", "status"], cwd=pipeline, capture_output=True,
                                          text=True).stdout
