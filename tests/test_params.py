import re
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, write_params
from psrlm.params import ParamsError, PromptsParams, load_section
from stages_loader import load_stage

from psrlm.task import PrepareParams


def test_repository_params_load_into_frozen_dataclasses():
    p = load_section(ROOT / "params.yaml", "prepare", PrepareParams)
    assert isinstance(p.pool_sizes, tuple) and isinstance(p.op_weights["+"], float)
    with pytest.raises(AttributeError):
        p.seed = 1  # frozen
    assert load_section(ROOT / "params.yaml", "prompts", PromptsParams).judge.startswith("judge_v")


def test_every_key_has_a_comment_above_it():
    lines = (ROOT / "params.yaml").read_text().splitlines()
    for i, line in enumerate(lines):
        if re.match(r"  \w", line):  # a key of a section (nested mappings are its value)
            assert lines[i - 1].strip().startswith("#"), f"params.yaml:{i + 1} has no comment: {line}"


def _edited(tmp_path: Path, edit) -> Path:
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    edit(raw)
    return write_params(tmp_path / "params.yaml", raw)


@pytest.mark.parametrize("edit, message", [
    (lambda r: r["prepare"].update(sede=3), "section 'prepare': unknown key 'sede'"),
    (lambda r: r["prepare"].pop("seed"), "section 'prepare': missing key 'seed'"),
    (lambda r: r["prepare"].update(seed="x"), "prepare.seed: expected an integer"),
    (lambda r: r["prepare"].update(seed=True), "prepare.seed: expected an integer"),
    (lambda r: r["prepare"].update(pool_sizes=[10, "a"]), "prepare.pool_sizes[1]"),
    (lambda r: r["prepare"].update(benchmark_limits={"gsm8k": "all"}), "prepare.benchmark_limits.gsm8k"),
    (lambda r: r.pop("prepare"), "missing section 'prepare'"),
    (lambda r: r["prepare"].update(num_ops_min=5), "prepare.num_ops_min: must be <= num_ops_max"),
])
def test_bad_params_name_section_and_key(tmp_path, edit, message):
    with pytest.raises(ParamsError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_section(_edited(tmp_path, edit), "prepare", PrepareParams)


def test_an_exponent_without_a_dot_is_still_a_number(tmp_path):
    # `dvc exp run -S dpo.learning_rate=5e-5` writes 5e-05, which YAML 1.1 (PyYAML) reads as a string
    from psrlm.sft import SftParams

    path = tmp_path / "params.yaml"
    text = (ROOT / "params.yaml").read_text().replace("  learning_rate: 0.001\n", "  learning_rate: 5e-05\n", 1)
    assert "5e-05" in text
    path.write_text(text)
    assert yaml.safe_load(text)["sft"]["learning_rate"] == "5e-05"
    assert load_section(path, "sft", SftParams).learning_rate == 5e-05
    for bad in ("fast", "nan", "1e", "--1"):
        path.write_text(text.replace("5e-05", bad))
        with pytest.raises(ParamsError, match="sft.learning_rate: expected a number"):
            load_section(path, "sft", SftParams)


def test_a_key_given_twice_is_refused_as_dvc_refuses_it(tmp_path):
    text = (ROOT / "params.yaml").read_text().replace("\nprepare:\n", "\nprepare:\n  seed: 7\n", 1)
    (tmp_path / "params.yaml").write_text(text)
    with pytest.raises(ParamsError, match=r"params.yaml: not valid YAML \(line \d+, column 3: duplicate key 'seed'\)"):
        load_section(tmp_path / "params.yaml", "prepare", PrepareParams)


def test_yaml_alias_bombs_are_refused_before_they_expand_and_a_few_aliases_are_fine(tmp_path):
    """A 1 KB alias bomb (9 levels of 10 aliases each: 10^9 values once expanded) is refused in one
    line naming where; the aliases yaml.safe_dump writes for a value used twice still load."""
    bomb = "bomb:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"  {n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcdefgh", "bcdefghi"))
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text() + "\n" + bomb)
    with pytest.raises(ParamsError, match=r"not valid YAML \(line \d+, column \d+: more than 100,000 values once its aliases are expanded"):
        load_section(tmp_path / "params.yaml", "prepare", PrepareParams)
    shared = {}
    path = _edited(tmp_path, lambda r: r["prepare"].update(tiers=shared, pool_tiers=shared))
    assert "*id001" in path.read_text()
    assert load_section(path, "prepare", PrepareParams).tiers == {}


def test_an_error_quotes_a_long_value_cut_short(tmp_path):
    path = _edited(tmp_path, lambda r: r["prepare"].update(seed=list(range(20_000))))
    with pytest.raises(ParamsError) as e:
        load_section(path, "prepare", PrepareParams)
    assert str(e.value).startswith("prepare.seed: expected an integer, got [0, 1, 2")
    assert len(str(e.value)) < 200 and "characters)" in str(e.value)


@pytest.mark.parametrize("section, key", [("evaluate", "test_limit"), ("evaluate", "own_eft_limit")])
def test_an_optional_count_out_of_range_says_the_range(tmp_path, section, key):
    stage = {"evaluate": "evaluate", "srlm": "srlm"}[section]
    cls = {"evaluate": "EvaluateParams", "srlm": "SrlmParams"}[section]
    path = _edited(tmp_path, lambda r: r[section].update({key: -1}))
    with pytest.raises(ParamsError, match=f"^{section}.{key}: must be >= 0, got -1$"):
        load_section(path, section, getattr(load_stage(stage), cls))


@pytest.mark.parametrize("key, name, drop", [("solve", "solve_v2", "{problem}"), ("judge", "judge_v3", "{step_b}"),
                                             ("score", "score_v2", "{solution}")])
def test_a_template_that_lost_a_field_is_refused_before_a_model_loads(tmp_path, monkeypatch, key, name, drop):
    """A template edited to lose a field used to run the whole search on prompts without it."""
    import shutil

    from psrlm import prompts

    shutil.copytree(prompts.PROMPTS_DIR, tmp_path / "prompts")
    edited = tmp_path / "prompts" / f"{name}.txt"
    edited.write_text(edited.read_text().replace(drop, "it"))
    monkeypatch.setattr(prompts, "PROMPTS_DIR", tmp_path / "prompts")
    path = _edited(tmp_path, lambda r: r["prompts"].update({key: name}))
    with pytest.raises(ParamsError, match=f"^prompts.{key}: prompts/{name}.txt lacks {re.escape(drop)}"):
        load_section(path, "prompts", PromptsParams)
    monkeypatch.undo()
    assert load_section(path, "prompts", PromptsParams)  # the repository's own templates pass
