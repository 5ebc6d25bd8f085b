"""dvc.yaml, params.yaml and stages/ agree: each dvc.yaml entry is the stage's whole, true contract."""

import re
import shlex
from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from psrlm.params import SECTIONS


def resolved_stages():
    from dvc.repo import Repo  # resolves ${...} templating and foreach, as `dvc repro` does

    with Repo(str(ROOT)) as repo:
        return [(s.name, s.cmd, [d.def_path for d in s.deps if not d.def_path.endswith(".yaml")],
                 sorted({k for p in s.params for k in p.params}), [o.def_path for o in s.outs])
                for s in repo.index.stages]


STAGES = resolved_stages()
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


def test_every_stage_file_has_a_dvc_stage_and_a_main():
    used = {re.match(r"python stages/(\w+)\.py", cmd).group(1) for _, cmd, *_ in STAGES}
    files = {p.stem for p in (ROOT / "stages").glob("*.py")}
    assert files == used
    for f in files:
        src = (ROOT / "stages" / f"{f}.py").read_text()
        assert "def main(" in src and 'if __name__ == "__main__":' in src, f
        assert "Run:" in src.split('"""')[1], f"{f}: the docstring shows no run command"
        assert not re.search(r"^\s*(from|import) stages", src, re.M), f"{f} imports another stage"


@pytest.mark.parametrize("name, cmd, deps, params, outs", STAGES, ids=[s[0] for s in STAGES])
def test_stage_entry_is_its_true_contract(name, cmd, deps, params, outs):
    script = re.match(r"python (stages/\w+\.py)", cmd).group(1)
    assert script in deps and "psrlm" in deps, f"{name}: its code is not among its deps"
    src = (ROOT / script).read_text()
    read = set(re.findall(r"load_params\([^)]*\)\.(\w+)", src))
    read |= set(re.findall(r"\bparams\.(\w+)", src)) & set(SECTIONS)
    assert read == set(params), f"{name}: reads params sections {read}, dvc.yaml lists {params}"
    assert all(section in PARAMS for section in params)
    produced = {o for _, _, _, _, os_ in STAGES for o in os_}
    for dep in deps:
        external = not (ROOT / dep).resolve().is_relative_to(ROOT)
        assert external or (ROOT / dep).exists() or any(dep == o or dep.startswith(o + "/") for o in produced), \
            f"{name}: dep {dep} is neither a source, an output of a stage nor an external input"
    args = [a for a in shlex.split(cmd)[2:] if "/" in a]
    for out in outs:
        assert out.startswith(("data/", "reports/")), f"{name}: output {out} outside data/ and reports/"
        assert any(out == a or out.startswith(a.rstrip("/") + "/") for a in args), \
            f"{name}: output {out} is not written under a path its command names"
    for a in args:
        assert a in deps or any(o == a or o.startswith(a.rstrip("/") + "/") for o in outs), \
            f"{name}: command path {a} is neither a dep nor an output"


def test_every_params_section_is_used_by_a_stage():
    used = {p for *_, params, _ in STAGES for p in params}
    assert set(PARAMS) == used
