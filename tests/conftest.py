"""Shared fixtures: the repository root, the smoke params and a throwaway copy of the repository."""

from __future__ import annotations

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
