"""benchmarks/m1_seeds.py's resume: what an earlier report keeps (the training itself is the real
stages', tested in tests/test_sft.py and the smoke DAG)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import m1_seeds  # noqa: E402

PARAMS = {"model": {"seed": 0, "hidden_size": 128}, "sft": {"seed": 0, "epochs": 1.5}, "prompts": {"judge": "judge_v8"}}


def report(**params) -> dict:
    return {"params": {**PARAMS, **params}, "matmul_gflops": [120.0, 130.0],
            "seeds": [row(0, 0.98), row(1, 0.97)]}


def row(seed: int, solve: float) -> dict:
    return {"seed": seed, **dict.fromkeys(m1_seeds.METRICS, 0.5), "solve": solve}


def test_resume_keeps_every_seed_of_the_same_recipe():
    rows, gflops = m1_seeds.resumed(report(), PARAMS)
    assert [r["seed"] for r in rows] == [0, 1] and gflops == [120.0, 130.0]
    assert m1_seeds.summary([*rows, row(2, 0.96)])["solve"]["spread"] == pytest.approx(0.02)


@pytest.mark.parametrize("section", ["model", "sft", "prompts"])
def test_resume_refuses_seeds_of_another_recipe(section):
    other = {**PARAMS[section], "changed": 1}
    with pytest.raises(ValueError, match=f"other `{section}` params"):
        m1_seeds.resumed(report(**{section: other}), PARAMS)
