"""The test suite's own machinery: what pyproject.toml's addopts and tests/conftest.py rely on."""

import os
import subprocess
import sys

GROUPED = '''
import os
import pytest


@pytest.mark.xdist_group("g")
@pytest.mark.parametrize("i", range(4))
def test_grouped(i):
    with open(os.environ["OUT"], "a") as f:
        f.write(os.environ.get("PYTEST_XDIST_WORKER", "none") + "\\n")


@pytest.mark.parametrize("i", range(4))
def test_free(i):
    pass
'''


def test_xdist_runs_a_group_on_one_worker(tmp_path):
    """The tests that run `dvc` in the shared smoke DAG, and the two that share a vllm engine, rely
    on --dist loadgroup keeping an xdist_group on one worker; some pytest releases break that
    silently (pytest-dev/pytest-xdist#1386)."""
    (tmp_path / "test_g.py").write_text(GROUPED)
    out = tmp_path / "workers.txt"
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2",
                          "--dist", "loadgroup", "-o", "addopts=", str(tmp_path / "test_g.py")],
                         cwd=tmp_path, capture_output=True, text=True, env={**os.environ, "OUT": str(out)})
    assert res.returncode == 0, res.stdout[-2000:]
    workers = out.read_text().split()
    assert len(workers) == 4 and len(set(workers)) == 1 and workers[0].startswith("gw"), workers
