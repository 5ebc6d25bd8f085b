"""dvc.yaml, params.yaml and stages/ agree: each dvc.yaml entry is the stage's whole, true contract."""

import ast
import re
import shlex
from pathlib import Path

import pytest
import yaml

from conftest import ROOT


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


def psrlm_imports(path: Path, seen: set[str] | None = None) -> set[str]:
    """psrlm modules a file imports, directly or through other psrlm modules."""
    seen = set() if seen is None else seen
    src = path.read_text()
    found = set(re.findall(r"^\s*from psrlm\.(\w+) import", src, re.M))
    for names in re.findall(r"^\s*from psrlm import ([\w, ]+)", src, re.M):
        found |= {n.strip().split(" as ")[0] for n in names.split(",")}
    for mod in found - seen:
        seen.add(mod)
        psrlm_imports(ROOT / "psrlm" / f"{mod}.py", seen)
    return seen


# A params read: load_section(path, "engine", ...) or load_key(path, "pipeline.seed", ...).
PARAMS_READ = re.compile(r"load_(?:section|key)\([^,]+,\s*\"([\w.]+)\"")


def params_read(script: Path) -> set[str]:
    """Params sections and keys a stage reads: its own load_section/load_key calls, and those of
    every psrlm function it calls that reads params itself (psrlm.stagekit.load_generation)."""
    src = script.read_text()
    read = set(PARAMS_READ.findall(src))
    for mod in psrlm_imports(script):
        lib = (ROOT / "psrlm" / f"{mod}.py").read_text()
        for fn in ast.walk(ast.parse(lib)):
            if isinstance(fn, ast.FunctionDef) and re.search(rf"\b{fn.name}\(", src):
                read |= set(PARAMS_READ.findall(ast.get_source_segment(lib, fn)))
    return read


def test_params_read_follows_a_helper():
    """The helper's reads count for the stage that calls it, and only for one that calls it."""
    assert {"prompts", "prepare.task", "engine", "search"} <= params_read(ROOT / "stages/search.py")
    assert "engine" not in params_read(ROOT / "stages/pairs.py")


@pytest.mark.parametrize("name, cmd, deps, params, outs", STAGES, ids=[s[0] for s in STAGES])
def test_stage_entry_is_its_true_contract(name, cmd, deps, params, outs):
    script = re.match(r"python (stages/\w+\.py)", cmd).group(1)
    assert script in deps, f"{name}: its script is not among its deps"
    listed = {d for d in deps if d.startswith("psrlm/")}
    imported = {f"psrlm/{m}.py" for m in psrlm_imports(ROOT / script)}
    assert listed == imported, f"{name}: imports {sorted(imported)}, dvc.yaml lists {sorted(listed)}"
    read = params_read(ROOT / script)
    assert read == set(params), f"{name}: reads params {sorted(read)}, dvc.yaml lists {params}"
    # A stage depends on the templates params select, not on the folder: a new format's file
    # (judge_v9.txt) leaves the lineage of the formats in use current.
    assert "prompts" not in deps, f"{name}: depends on the whole prompts folder"
    if "prompts" in params:
        chosen = {f"prompts/{PARAMS['prompts'][k]}.txt" for k in ("solve", "judge", "score")}
        assert chosen <= set(deps), f"{name}: reads the prompts params, lacks {sorted(chosen - set(deps))}"
    for key in params:
        section, _, sub = key.partition(".")
        assert section in PARAMS and (not sub or sub in PARAMS[section]), f"{name}: {key} not in params.yaml"
    produced = {o for _, _, _, _, os_ in STAGES for o in os_}
    for dep in deps:
        external = not (ROOT / dep).resolve().is_relative_to(ROOT)
        assert external or (ROOT / dep).exists() or any(dep == o or dep.startswith(o + "/") or o.startswith(dep + "/")
                                                         for o in produced), \
            f"{name}: dep {dep} is neither a source, an output of a stage nor an external input"
    args = [a for a in shlex.split(cmd)[2:] if "/" in a]
    for out in outs:
        assert out.startswith(("data/", "reports/")), f"{name}: output {out} outside data/ and reports/"
        assert any(out == a or out.startswith(a.rstrip("/") + "/") for a in args), \
            f"{name}: output {out} is not written under a path its command names"
    for a in args:
        assert any(a == d or a.startswith(d + "/") for d in deps) \
            or any(o == a or o.startswith(a.rstrip("/") + "/") for o in outs), \
            f"{name}: command path {a} is neither (inside) a dep nor an output"


def test_every_params_section_is_used_by_a_stage():
    used = {p.split(".")[0] for *_, params, _ in STAGES for p in params}
    assert set(PARAMS) == used


def test_pipeline_section_declares_the_iterations():
    """Every declared iteration has its search, pairs and dpo stage, a prompt pool, and a chain:
    iteration i trains the model iteration i+1 starts from."""
    its = PARAMS["pipeline"]["iterations"]
    names = {name for name, *_ in STAGES}
    for key, it in its.items():
        # one search per shard (search.shards), merged by pairs
        assert {f"search@{key}-{k}" for k in PARAMS["search"]["shards"]} | {f"pairs@{key}", f"dpo@{key}"} <= names
        assert 1 <= int(key) <= len(PARAMS["prepare"]["pool_sizes"]), f"iteration {key} has no prompt pool"
        nxt = its.get(str(int(key) + 1))
        assert nxt is None or nxt["model"] == it["next"], f"iteration {int(key) + 1} does not start from {it['next']}"
    assert {f"evaluate@{m}" for m in PARAMS["pipeline"]["models_to_evaluate"]} <= names
