"""params.yaml → frozen dataclasses, one per stage section.

Every key must be declared here and present in the file: an unknown or missing key is an error that
names the section and the key, so a typo in a sweep (`dvc exp run -S prepare.sede=3`) fails loudly
instead of being ignored.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from pathlib import Path

import yaml

from psrlm.errors import PsrlmError


class ParamsError(PsrlmError):
    """params.yaml does not match the declared sections."""


@dataclass(frozen=True)
class PrepareParams:
    seed: int
    num_ops_min: int
    num_ops_max: int
    start_min: int
    start_max: int
    addsub_max: int
    muldiv_max: int
    value_max: int
    op_weights: dict[str, float]
    corruption_weights: dict[str, float]
    ift_train_size: int
    eft_train_size: int
    eft_test_size: int
    test_size: int
    pool_sizes: tuple[int, ...]
    benchmarks_dir: str
    benchmark_limits: dict[str, int | None]

    def check(self) -> None:
        if not 1 <= self.num_ops_min <= self.num_ops_max:
            raise ParamsError("prepare: need 1 <= num_ops_min <= num_ops_max")
        if not 0 <= self.start_min <= self.start_max:
            raise ParamsError("prepare: need 0 <= start_min <= start_max")
        if self.addsub_max < 1 or self.muldiv_max < 2:
            raise ParamsError("prepare: need addsub_max >= 1 and muldiv_max >= 2")
        if self.value_max < self.start_max:
            raise ParamsError("prepare: need value_max >= start_max")
        if set(self.op_weights) - {"+", "-", "*", "/"}:
            raise ParamsError("prepare: op_weights keys must be among '+', '-', '*', '/'")
        if set(self.corruption_weights) - {"wrong_result", "wrong_operand", "wrong_operator"}:
            raise ParamsError("prepare: corruption_weights keys must be among "
                              "wrong_result, wrong_operand, wrong_operator")
        for key, table in (("op_weights", self.op_weights),
                           ("corruption_weights", self.corruption_weights)):
            if not table or any(w < 0 for w in table.values()) or sum(table.values()) <= 0:
                raise ParamsError(f"prepare: {key} needs non-negative weights with a positive sum")


@dataclass(frozen=True)
class PromptsParams:
    solve: str
    judge: str


@dataclass(frozen=True)
class ModelParams:
    base: str
    seed: int
    vocab_size: int
    tokenizer_corpus_rows: int
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    intermediate_size: int
    max_position_embeddings: int

    def check(self) -> None:
        if self.hidden_size % self.num_heads or self.num_heads % self.num_kv_heads:
            raise ParamsError("model: hidden_size must divide by num_heads, num_heads by num_kv_heads")


@dataclass(frozen=True)
class SftParams:
    seed: int
    eft_fraction: float
    learning_rate: float
    epochs: float
    batch_size: int
    warmup_ratio: float
    weight_decay: float
    max_length: int
    logging_steps: int

    def check(self) -> None:
        if not 0 <= self.eft_fraction < 1:
            raise ParamsError("sft: eft_fraction must be in [0, 1)")


@dataclass(frozen=True)
class EvaluateParams:
    test_limit: int | None
    eft_limit: int | None
    batch_size: int
    max_new_tokens_solve: int
    max_new_tokens_judge: int


# Section name in params.yaml → its dataclass.
SECTIONS: dict[str, type] = {
    "prepare": PrepareParams,
    "prompts": PromptsParams,
    "model": ModelParams,
    "sft": SftParams,
    "evaluate": EvaluateParams,
}


@dataclass(frozen=True)
class Params:
    prepare: PrepareParams
    prompts: PromptsParams
    model: ModelParams
    sft: SftParams
    evaluate: EvaluateParams


def _coerce(value, hint, where: str):
    """Check `value` against a type hint; lists become tuples so the dataclass stays frozen."""
    origin = typing.get_origin(hint)
    if hint is float:
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


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate the whole params file (all sections), so any stage catches any typo."""
    raw = yaml.safe_load(Path(path).read_text())
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: expected a mapping of sections")
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ParamsError(f"{path}: unknown section '{unknown[0]}'")
    missing = [s for s in SECTIONS if s not in raw]
    if missing:
        raise ParamsError(f"{path}: missing section '{missing[0]}'")
    return Params(**{name: parse_section(name, raw[name], cls) for name, cls in SECTIONS.items()})
