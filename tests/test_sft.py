import polars as pl
import pytest

from psrlm import sft
from psrlm.errors import PsrlmError

IFT = pl.DataFrame({"problem": [f"p{i}" for i in range(30)], "solution": [f"s{i}" for i in range(30)]})
EFT = pl.DataFrame({"problem": [f"q{i}" for i in range(40)], "prefix_steps": [[]] * 40,
                    "candidate_a": ["a"] * 40, "candidate_b": ["b"] * 40,
                    "judgment": [f"j{i}\n[[A]]" for i in range(40)]})


def test_mix_uses_all_ift_and_the_eft_share_asked():
    mix = sft.sft_examples(IFT, EFT, 0.5, 0, "S {problem}", "J {problem} {steps} {step_a} {step_b}")
    assert (mix["kind"] == "ift").sum() == 30 and (mix["kind"] == "eft").sum() == 30
    assert set(mix.filter(pl.col("kind") == "ift")["prompt"]) == {f"S p{i}" for i in range(30)}
    assert mix.equals(sft.sft_examples(IFT, EFT, 0.5, 0, "S {problem}", "J {problem} {steps} {step_a} {step_b}"))


def test_mix_refuses_more_eft_than_there_is():
    with pytest.raises(PsrlmError, match="needs 90 EFT rows"):
        sft.sft_examples(IFT, EFT, 0.75, 0, "S {problem}", "J")
