"""params.yaml → frozen dataclasses, one per section.

Each stage declares the dataclass of its own section (shared sections are declared here) and loads
it with `load_section`. Every key must be declared and present: an unknown, missing or mistyped key
is an error that names the section and the key, so a typo in a sweep (`dvc exp run -S
prepare.sede=3`) fails loudly instead of being ignored.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path

import yaml

from psrlm.errors import PsrlmError


class ParamsError(PsrlmError):
    """params.yaml does not match the declared sections."""


@dataclass(frozen=True)
class PromptsParams:
    solve: str
    judge: str


@dataclass(frozen=True)
class PipelineParams:
    """The self-rewarding iterations and the seed they share (search and dpo read only the key
    `pipeline.seed`, with load_key, so that evaluating another model does not rerun them)."""
    seed: int
    iterations: dict[str, dict[str, str]]
    models_to_evaluate: tuple[str, ...]


_DECIMAL = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")  # a plain decimal, no nan/inf


def _coerce(value, hint, where: str):
    """Check `value` against a type hint; lists become tuples so the dataclass stays frozen."""
    origin = typing.get_origin(hint)
    if hint is float:
        # PyYAML reads YAML 1.1, where an exponent without a dot is a string: `dvc exp run -S
        # dpo.learning_rate=5e-5` writes 5e-05, which must still be the number it spells.
        if isinstance(value, str) and _DECIMAL.fullmatch(value.strip()):
            return float(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamsError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamsError(f"{where}: expected an integer, got {value!r}")
        return value
    if hint in (str, bool):
        if not isinstance(value, hint):
            raise ParamsError(f"{where}: expected {hint.__name__}, got {value!r}")
        return value
    if hint is type(None):
        if value is not None:
            raise ParamsError(f"{where}: expected null, got {value!r}")
        return None
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(hint):
            try:
                return _coerce(value, option, where)
            except ParamsError:
                pass
        raise ParamsError(f"{where}: {value!r} does not match {hint}")
    if origin is tuple:
        if not isinstance(value, list):
            raise ParamsError(f"{where}: expected a list, got {value!r}")
        (item,) = [a for a in typing.get_args(hint) if a is not Ellipsis]
        return tuple(_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ParamsError(f"{where}: expected a mapping, got {value!r}")
        key_hint, val_hint = typing.get_args(hint)
        return {_coerce(k, key_hint, where): _coerce(v, val_hint, f"{where}.{k}")
                for k, v in value.items()}
    raise TypeError(f"unsupported type hint {hint} at {where}")


def parse_section(name: str, raw: object, cls: type):
    """Build the frozen dataclass of one section, naming any unknown, missing or mistyped key."""
    if not isinstance(raw, dict):
        raise ParamsError(f"params section '{name}' must be a mapping")
    hints = typing.get_type_hints(cls)
    fields = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(raw) - set(fields))
    missing = [f for f in fields if f not in raw]
    if unknown:
        raise ParamsError(f"params section '{name}': unknown key '{unknown[0]}'")
    if missing:
        raise ParamsError(f"params section '{name}': missing key '{missing[0]}'")
    obj = cls(**{f: _coerce(raw[f], hints[f], f"{name}.{f}") for f in fields})
    if hasattr(obj, "check"):
        obj.check()
    return obj


def load_section(path: str | Path, name: str, cls: type):
    """One section of the params file as the frozen dataclass `cls` (declared by the stage that
    owns the section; shared sections such as `prompts` are declared here)."""
    raw = yaml.safe_load(Path(path).read_text())
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: expected a mapping of sections")
    if name not in raw:
        raise ParamsError(f"{path}: missing section '{name}'")
    return parse_section(name, raw[name], cls)


def load_key(path: str | Path, dotted: str, hint: type):
    """One key of a section (`"pipeline.seed"`), checked against `hint`: for a stage that lists only
    that key in dvc.yaml, so that the rest of the section does not rerun it."""
    section, _, key = dotted.partition(".")
    raw = yaml.safe_load(Path(path).read_text())
    if not isinstance(raw, dict) or not isinstance(raw.get(section), dict):
        raise ParamsError(f"{path}: missing section '{section}'")
    if key not in raw[section]:
        raise ParamsError(f"params section '{section}': missing key '{key}'")
    return _coerce(raw[section][key], hint, dotted)
