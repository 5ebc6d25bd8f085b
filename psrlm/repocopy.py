"""A throwaway copy of the repository for real `dvc` runs (the tests' smoke DAG, benchmarks/gpu_check.py)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml


def deep_merge(base: dict, override: dict) -> dict:
    """Sections merge key by key; a key's value (even a mapping) is replaced whole, as with -S."""
    return {**base, **{s: {**base.get(s, {}), **keys} for s, keys in override.items()}}


def smoke_params(root: Path) -> dict:
    """`root`'s params.yaml with psrlm/smoke_params.yaml's overrides, the benchmarks folder made
    absolute (the tests' smoke DAG and benchmarks/gpu_check.py run this)."""
    params = yaml.safe_load((root / "params.yaml").read_text())
    params = deep_merge(params, yaml.safe_load((root / "psrlm/smoke_params.yaml").read_text()))
    params["prepare"]["benchmarks_dir"] = str((root / params["prepare"]["benchmarks_dir"]).resolve())
    return params


def copy_repo(root: Path, dst: Path, params: dict) -> Path:
    """`root`'s tracked and untracked-but-not-ignored files (no outputs: data/ and reports/ stay
    behind, except data/files, the files task's inputs and a prepare dependency) as a fresh git repo
    at `dst` with `params` and one commit: `dvc` runs there without touching the work tree."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                           cwd=root, capture_output=True, text=True, check=True).stdout.split()
    for rel in files:
        src = root / rel
        if src.is_file() and (not rel.startswith(("data/", "reports/")) or rel.startswith("data/files/")):
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)
    (dst / "dvc.lock").unlink(missing_ok=True)
    (dst / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=dst, check=True)
    subprocess.run(["git", "add", "-A"], cwd=dst, check=True)
    subprocess.run([*git, "commit", "-qm", "copy"], cwd=dst, check=True)
    return dst
