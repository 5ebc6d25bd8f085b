"""Shared fixtures: the repository root, the smoke params, a throwaway copy of the repository and
the smoke DAG, built once per test run; the `slow` marker; the order tests run in.

`python -m pytest` runs everything, in two pytest-xdist workers (pyproject.toml's `-n 2`); `python -m
pytest -m "not slow"` is the inner loop: every test that needs neither the smoke DAG nor a real DVC
repository (README).

The smoke DAG is the suite's longest single job and most slow tests wait for it, so it is built in
the background from the moment collection shows a test needs it, while the workers run everything
that does not (the tests that need it run last), and every worker's tests share that one build.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from filelock import FileLock

from psrlm import repocopy
from psrlm.repocopy import copy_repo, deep_merge

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = (ROOT / "../shared/benchmarks").resolve()

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two workers (and the smoke DAG's build) share two cores: one torch thread per process. On the
    # smoke model two 1-thread runs at once finish in about the time of one 2-thread run (SFT 98 s
    # for both vs 69 s for one; an evaluation 24 s vs 21 s), and a 2-thread run beside a 1-thread
    # one is slower than either (155 s): AMD EPYC AVX2, docs/fast-and-steady.md, session 13. Torch
    # reads this when first imported; the stages' subprocesses inherit it. Weights are the same bytes.
    os.environ.setdefault("OMP_NUM_THREADS", "1")


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


def shared_temp(config) -> Path:
    """This run's temporary folder, the same for every xdist worker (each worker's own is inside
    it: pytest-xdist's documented way to share a session's work between workers)."""
    base = config._tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


_BUILD: subprocess.Popen | None = None  # the smoke DAG's build, in the process that started it


def start_smoke_dag(temp: Path) -> None:
    """Start `dvc repro` on smoke params in a throwaway copy under `temp`, in the background, once
    per run whichever worker asks first; `rc` appears when it ends (written last, atomically)."""
    folder = temp / "smoke-dag"
    with FileLock(str(temp / "smoke-dag.lock")):
        if folder.exists():
            return
        make_repo_copy(folder)
        # Its own session: it outlives the worker that started it (the other may still need it).
        # One torch thread even with `-n 0`: it always runs beside the tests (see the top of the file).
        global _BUILD
        _BUILD = subprocess.Popen(
            ["sh", "-c", "dvc repro > ../repro.log 2>&1; echo $? > ../rc.tmp && mv ../rc.tmp ../rc"],
            cwd=folder / "repo", start_new_session=True, stdin=subprocess.DEVNULL,
            env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.fixture(scope="session")
def pipeline(request):
    """The whole pipeline run once per test run by real `dvc repro` on smoke params in a throwaway
    copy; its tables and models serve the tests of several modules (read-only: a test that changes
    params or runs experiments takes `pipeline_copy`)."""
    temp = shared_temp(request.config)
    start_smoke_dag(temp)  # already started at collection unless this test was not collected
    folder = temp / "smoke-dag"
    while not (folder / "rc").exists():
        # the wrapper writes rc whatever dvc does; only a killed wrapper leaves none
        assert _BUILD is None or _BUILD.poll() is None or (folder / "rc").exists(), "the smoke DAG's build was killed"
        time.sleep(2)
    log = (folder / "repro.log").read_text()
    assert (folder / "rc").read_text().strip() == "0", "dvc repro of the smoke DAG failed:\n" + log[-6000:]
    return folder / "repo"


@pytest.fixture
def pipeline_copy(pipeline, tmp_path: Path) -> Path:
    """A copy of the built smoke DAG (work tree, git history, DVC cache and lock) for a test that runs
    experiments or changes params: it reruns only what its change touches, and the shared one stays
    as built whatever the test does."""
    # .dvc/tmp (DVC's locks and caches, rebuilt on demand) stays behind: a `dvc` command in the
    # shared DAG may be writing it meanwhile.
    def dvc_tmp(folder, names):
        return {"tmp"} if Path(folder) == pipeline / ".dvc" else set()

    return Path(shutil.copytree(pipeline, tmp_path / "pipe", symlinks=True, ignore=dvc_tmp))


# Tests that need one of these run real stages under real DVC: minutes, not seconds.
SLOW_FIXTURES = {"pipeline", "pipeline_copy", "repo_copy"}


# The tests that read the smoke DAG as it was built (and run `dvc` in it) wait for it: they run last.
DAG_FIXTURES = {"pipeline", "pipeline_copy"}


def pytest_collection_modifyitems(items):
    """Mark `slow` every test that needs the smoke DAG or a DVC copy of the repository (besides the
    ones marked by hand: other real stage runs of more than a few seconds); order the run: the
    tests that need no smoke DAG first (the long ones of those first), then the ones that do (the
    experiments on a copy of it, the longest, first), so that the workers keep busy while it is
    built and the longest jobs do not end the run alone."""
    for item in items:
        if SLOW_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.slow)

    def rank(item):
        uses = set(item.fixturenames)
        return (bool(DAG_FIXTURES & uses), "pipeline_copy" not in uses, item.get_closest_marker("slow") is None)

    items.sort(key=rank)  # stable: file order within each rank


def pytest_collection_finish(session):
    """Start the smoke DAG's build as soon as the selected tests are known to need it (not for
    `--collect-only`, which runs none)."""
    if not session.config.option.collectonly and any(DAG_FIXTURES & set(item.fixturenames) for item in session.items):
        start_smoke_dag(shared_temp(session.config))


def pytest_sessionfinish(session, exitstatus):
    """An interrupted run stops the smoke DAG's build too (a finished worker leaves it running: the
    other worker may be waiting for it)."""
    if _BUILD is not None and _BUILD.poll() is None and exitstatus == pytest.ExitCode.INTERRUPTED:
        os.killpg(_BUILD.pid, signal.SIGTERM)
