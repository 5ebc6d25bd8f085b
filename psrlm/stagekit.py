"""What every generating stage (search, srlm, own_eft, evaluate) loads first, in one place: the
prompt templates, the task and the engine's params, all checked before a model loads, so a bad key
fails in one line instead of after minutes of loading.

    templates, the_task, engine_p = load_generation(params_path)
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from psrlm import task
from psrlm.engine import EngineParams
from psrlm.params import PromptsParams, TaskName, load_key, load_section


class Generation(NamedTuple):
    templates: PromptsParams
    task: task.Task
    engine: EngineParams


def load_generation(params_path: str | Path) -> Generation:
    """The params sections a generating stage reads besides its own (dvc.yaml lists them: the
    contract test follows this function's reads into every stage that calls it)."""
    templates = load_section(params_path, "prompts", PromptsParams)
    the_task = task.for_name(load_key(params_path, "prepare.task", TaskName), templates.judge)
    return Generation(templates, the_task, load_section(params_path, "engine", EngineParams))
