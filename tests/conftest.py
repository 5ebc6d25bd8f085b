"""Shared fixtures: the repository root, the smoke params, a throwaway copy of the repository and
the smoke DAG, built once per test run; the `slow` marker.

`python -m pytest` runs everything; `python -m pytest -m "not slow"` is the inner loop: every test
that needs neither the smoke DAG nor a real DVC repository (README).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from psrlm import repocopy
from psrlm.repocopy import copy_repo, deep_merge

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = (ROOT / "../shared/benchmarks").resolve()


def smoke_params(**sections) -> dict:
    """params.yaml with the smoke overrides, the benchmarks folder made absolute, then `sections`."""
    return deep_merge(repocopy.smoke_params(ROOT), sections)


def write_params(path: Path, params: dict) -> Path:
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def run_stage(name: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run a stage script for real, as dvc.yaml does, capturing its output."""
    return subprocess.run([sys.executable, str(ROOT / "stages" / f"{name}.py"), *args], cwd=cwd,
                          capture_output=True, text=True)


def filled(report, **values) -> dict:
    """A metrics file holding every key `report` (a psrlm.metrics.Report) declares: 0.5, or
    `values[dotted key]` (the sections synthetic_by_tier, benchmarks and tts default to {})."""
    out: dict = {}
    for dotted in report.keys:
        node, parts = out, dotted.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = values.get(dotted, {} if parts[-1] in ("synthetic_by_tier", "benchmarks", "tts") else 0.5)
    return out


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    return make_repo_copy(tmp_path)


def make_repo_copy(tmp_path: Path) -> Path:
    """The repository as a fresh git repo with one commit and smoke params (psrlm.repocopy): real
    `dvc` commands run there without touching the work tree."""
    return copy_repo(ROOT, tmp_path / "repo", smoke_params())


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory):
    """The whole pipeline run once per session by real `dvc repro` on smoke params in a throwaway
    copy; its tables and models serve the tests of several modules."""
    repo = make_repo_copy(tmp_path_factory.mktemp("pipe"))
    res = subprocess.run(["dvc", "repro"], cwd=repo, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return repo


@pytest.fixture
def pipeline_copy(pipeline, tmp_path: Path) -> Path:
    """A copy of the built smoke DAG (work tree, git history, DVC cache and lock) for a test that runs
    experiments or changes params: it reruns only what its change touches, and the shared one stays
    as built whatever the test does."""
    return Path(shutil.copytree(pipeline, tmp_path / "pipe", symlinks=True))


# Tests that need one of these run real stages under real DVC: minutes, not seconds.
SLOW_FIXTURES = {"pipeline", "pipeline_copy", "repo_copy"}


def pytest_collection_modifyitems(items):
    """Mark `slow` every test that needs the smoke DAG or a DVC copy of the repository (besides the
    ones marked by hand: other real stage runs of more than a few seconds)."""
    for item in items:
        if SLOW_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.slow)
