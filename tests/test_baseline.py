"""The plain-SFT baseline gets the chain's training compute: policy tokens plus a third of the
reference's (a forward pass is a third of a forward + backward)."""

import pytest

from psrlm.errors import PsrlmError
from stages_loader import load_stage

baseline = load_stage("baseline")


def test_budget_is_policy_tokens_plus_a_third_of_reference_tokens():
    reports = [{"train_tokens": 6000, "reference_tokens": 3000}, {"train_tokens": 900, "reference_tokens": 300}]
    assert baseline.token_budget(reports, ["1.json", "2.json"]) == pytest.approx(6000 + 1000 + 900 + 100)


def test_a_report_without_token_counts_names_the_file_and_key():
    with pytest.raises(PsrlmError, match="2.json: no integer 'reference_tokens'"):
        baseline.token_budget([{"train_tokens": 1, "reference_tokens": 1}, {"train_tokens": 5}], ["1.json", "2.json"])
