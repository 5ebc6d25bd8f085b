"""Real DVC on a throwaway copy of the repository (smoke params)."""

import hashlib
import subprocess
from pathlib import Path


def dvc(repo: Path, *args: str) -> str:
    res = subprocess.run(["dvc", *args], cwd=repo, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def hashes(repo: Path) -> dict[str, str]:
    return {str(p.relative_to(repo)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((repo / "data").rglob("*.parquet"))}


def test_dvc_repro_prepare_is_reproducible_and_leaves_status_clean(repo_copy):
    dvc(repo_copy, "repro", "prepare")
    first = hashes(repo_copy)
    assert {"data/prepare/ift_train.parquet", "data/prepare/eft_test.parquet",
            "data/prepare/pools/iter_2.parquet", "data/prepare/benchmarks.parquet"} <= set(first)
    assert "up to date" in dvc(repo_copy, "status", "prepare")
    assert "didn't change, skipping" in dvc(repo_copy, "repro", "prepare")
    dvc(repo_copy, "repro", "--force", "prepare")
    assert hashes(repo_copy) == first
    assert '"eft_test": 100' in dvc(repo_copy, "metrics", "show", "--json")
