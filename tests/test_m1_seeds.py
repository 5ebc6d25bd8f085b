"""benchmarks/m1_seeds.py's resume: what an earlier report keeps (the training itself is the real
stages', tested in tests/test_sft.py and the smoke DAG)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import m1_seeds  # noqa: E402

PREPARED = {"ift_train.parquet": "1a", "eft_train.parquet": "2b"}
PARAMS = {"model": {"seed": 0, "hidden_size": 128}, "sft": {"seed": 0, "epochs": 1.5}, "prompts": {"judge": "judge_v8"}}


def report(**params) -> dict:
    return {"params": {**PARAMS, **params}, "matmul_gflops": [120.0, 130.0],
            "seeds": [row(0, 0.98), row(1, 0.97)]}


def row(seed: int, solve: float) -> dict:
    return {"seed": seed, **dict.fromkeys(m1_seeds.METRICS, 0.5), "solve": solve}


def test_resume_keeps_every_seed_of_the_same_recipe():
    rows, gflops = m1_seeds.resumed(report(), PARAMS, PREPARED)
    assert [r["seed"] for r in rows] == [0, 1] and gflops == [120.0, 130.0]
    assert m1_seeds.summary([*rows, row(2, 0.96)])["solve"]["spread"] == pytest.approx(0.02)


@pytest.mark.parametrize("section", ["model", "sft", "prompts"])
def test_resume_refuses_seeds_of_another_recipe(section):
    other = {**PARAMS[section], "changed": 1}
    with pytest.raises(ValueError, match=f"other `{section}` params"):
        m1_seeds.resumed(report(**{section: other}), PARAMS, PREPARED)


def test_resume_refuses_seeds_trained_on_other_prepared_tables_and_takes_an_older_report_on_its_params():
    with pytest.raises(ValueError, match="other prepared tables"):
        m1_seeds.resumed({**report(), "prepared": {**PREPARED, "eft_train.parquet": "3c"}}, PARAMS, PREPARED)
    rows, _ = m1_seeds.resumed({**report(), "prepared": PREPARED}, PARAMS, PREPARED)
    assert len(rows) == 2
    assert len(m1_seeds.resumed(report(), PARAMS, PREPARED)[0]) == 2  # written before the record


def test_prepared_digest_reads_the_tables_sft_trains_on(tmp_path):
    for name in m1_seeds.TRAINED_ON:
        (tmp_path / name).write_bytes(name.encode())
    digest = m1_seeds.prepared_digest(tmp_path)
    (tmp_path / "eft_train.parquet").write_bytes(b"other")
    assert set(digest) == set(m1_seeds.TRAINED_ON) and m1_seeds.prepared_digest(tmp_path) != digest
