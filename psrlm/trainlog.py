"""What every training stage does around its TRL trainer: the per-step log (a TSV that `dvc plots`
reads) and the run itself, saved in Hugging Face format. The stages pass paths staged by
psrlm.outputs, so a failed run leaves the last good model and log in place."""

from __future__ import annotations

import csv
import shutil
import time
from pathlib import Path


def callback(rows: list[dict], columns: dict[str, str]):
    """A transformers `TrainerCallback` appending one row per logging step to `rows`: step, epoch,
    then `columns` (TSV column ← Trainer log key), when the log holds the first key."""
    from transformers import TrainerCallback

    first = next(iter(columns.values()))

    class Log(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and first in logs:
                rows.append({"step": state.global_step, "epoch": round(state.epoch or 0, 4),
                             **{c: round(float(logs.get(k, float("nan"))), 6) for c, k in columns.items()}})

    return Log()


def write(path: Path, rows: list[dict], columns: dict[str, str]) -> None:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["step", "epoch", *columns], delimiter="\t")
        w.writeheader()
        w.writerows(rows)


def fit(trainer, tokenizer, out: Path, log_path: Path, rows: list[dict], columns: dict[str, str]):
    """Train, save model and tokenizer to `out` and the log to `log_path`: (TrainOutput, seconds).
    Under a multi-process launcher every process gathers the model's state (ZeRO-3 and FSDP shard
    it) and only the main one writes; one process saves the model as it is."""
    start = time.time()
    result = trainer.train()
    wall = time.time() - start
    acc = trainer.accelerator
    if acc.num_processes == 1:
        trainer.model.save_pretrained(out)
    else:
        state = acc.get_state_dict(trainer.model)  # a collective: every process takes part
        if acc.is_main_process:
            acc.unwrap_model(trainer.model).save_pretrained(out, state_dict=state)
    if acc.is_main_process:
        tokenizer.save_pretrained(out)
        write(log_path, rows, columns)
    return result, wall


def untrained(model_dir: str, out: Path, log_path: Path, columns: dict[str, str]) -> None:
    """A training stage with nothing to train on: its output model is a byte copy of its input
    and its log is empty, so the chain still runs and says so."""
    shutil.copytree(model_dir, out)
    write(log_path, [], columns)
