"""Real DVC on a throwaway copy of the repository (smoke params)."""

import hashlib
import re
import subprocess
from pathlib import Path

import yaml


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


TRAINING_STAGES = {"sft", "srlm_sft", "judge_sft", "dpo@1", "dpo@2", "srlm_dpo@1", "srlm_dpo@2", "baseline"}


def planned_commands(repo: Path) -> dict[str, str]:
    """Stage → command, as `dvc repro --dry` plans them (nothing runs)."""
    out = dvc(repo, "repro", "--dry", "--force")
    return dict(re.findall(r"Running stage '([^']+)':\n> ([^\n]+)", out))


def test_the_training_launcher_param_is_the_training_stages_command(repo_copy):
    default = planned_commands(repo_copy)
    assert TRAINING_STAGES < set(default)
    assert all(cmd.startswith("python stages/") for cmd in default.values())
    launcher = "accelerate launch --config_file configs/fsdp.yaml --num_processes 8"
    params = yaml.safe_load((repo_copy / "params.yaml").read_text())
    params["training"]["launcher"] = launcher
    (repo_copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    planned = planned_commands(repo_copy)
    assert set(planned) == set(default)
    for stage, cmd in planned.items():
        if stage in TRAINING_STAGES:  # the launcher, then the same script and arguments
            assert cmd == default[stage].replace("python", launcher, 1), stage
        else:  # generation and data stages keep their own engines (vLLM's parallelism, engine.*)
            assert cmd == default[stage], stage


def test_the_accelerate_configs_load(tmp_path):
    from accelerate.commands.config.config_args import load_config_from_file

    root = Path(__file__).resolve().parents[1]
    kinds = {p.name: load_config_from_file(str(p)).distributed_type for p in sorted((root / "configs").glob("*.yaml"))}
    assert {k: v.value for k, v in kinds.items()} == {
        "cpu2.yaml": "MULTI_CPU", "fsdp.yaml": "FSDP", "zero3.yaml": "DEEPSPEED"}


def test_search_shards_expand_into_one_stage_per_iteration_and_shard(repo_copy):
    params = yaml.safe_load((repo_copy / "params.yaml").read_text())
    params["search"]["shards"] = [0, 1, 2]
    (repo_copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    planned = planned_commands(repo_copy)
    searches = {s: c for s, c in planned.items() if s.startswith("search@")}
    assert set(searches) == {f"search@{i}-{k}" for i in (1, 2) for k in (0, 1, 2)}
    assert "--shard 2 --model data/models/m2" in searches["search@2-2"]
    assert searches["search@2-2"].endswith("--out data/search/iter_2/shard_2")
    # pairs@i runs after every shard of its iteration (its dependency is their parent folder).
    order = list(planned)
    assert all(order.index(f"search@1-{k}") < order.index("pairs@1") for k in (0, 1, 2))
