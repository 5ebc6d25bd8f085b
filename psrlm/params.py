"""params.yaml → frozen dataclasses, one per section.

Each stage declares the dataclass of its own section (shared sections are declared here) and loads
it with `load_section`. Every key must be declared and present: an unknown, missing or mistyped key
is an error that names the section and the key, so a typo in a sweep (`dvc exp run -S
prepare.sede=3`) fails loudly instead of being ignored. A field's range is declared in its type
(`Annotated[int, Range(ge=1)]`, or the aliases below) and its choices as a `Literal`, so the check
is written once, beside the key, and runs before any model loads; relations between keys are the
section's `check()`.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import yaml

from psrlm.errors import PsrlmError


class ParamsError(PsrlmError):
    """params.yaml does not match the declared sections."""


def shown(value, limit: int = 80) -> str:
    """A value as an error message quotes it: its repr, cut to `limit` characters (a params value
    can be megabytes: a long list, or a mapping built from YAML aliases)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


@dataclass(frozen=True)
class Range:
    """Bounds of a numeric params field, declared in its type: `Annotated[int, Range(ge=1)]`."""
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None

    def check(self, value, where: str) -> None:
        if not ((self.ge is None or value >= self.ge) and (self.gt is None or value > self.gt)
                and (self.le is None or value <= self.le) and (self.lt is None or value < self.lt)):
            raise ParamsError(f"{where}: must be {self.describe()}, got {shown(value)}")

    def describe(self) -> str:
        lo = f">= {self.ge:g}" if self.ge is not None else f"> {self.gt:g}" if self.gt is not None else ""
        hi = f"<= {self.le:g}" if self.le is not None else f"< {self.lt:g}" if self.lt is not None else ""
        return " and ".join(x for x in (lo, hi) if x)


# The ranges params.yaml's keys use, by meaning.
Count = Annotated[int, Range(ge=0)]  # sizes, limits, seeds (numpy and polars seeds are unsigned)
Positive = Annotated[int, Range(ge=1)]  # batch sizes, widths, token budgets, workers, steps
Rate = Annotated[float, Range(gt=0)]  # learning rates, epochs, seconds, beta
NonNegative = Annotated[float, Range(ge=0)]  # weights, weight decay, temperature (0 = greedy)
Share = Annotated[float, Range(ge=0, lt=1)]  # warmup ratio, a mix's share of one kind
Probability = Annotated[float, Range(gt=0, le=1)]  # top_p, a memory share


# The task a run is on (prepare.task; psrlm/task.py gives each its ground truth).
TaskName = Literal["synthetic", "gsm8k", "files"]
# What the reports call each task's held-out test (the evaluate metrics keep the key `synthetic`
# for it on every task, so `dvc metrics diff` compares runs of different tasks key by key).
TEST_NAMES = {"synthetic": "synthetic test", "gsm8k": "GSM8K test split", "files": "test file"}
# What "right" means in each task's ground-truth audit.
TRUTHS = {
    "synthetic": "the synthetic task's exact ground truth, relative to the steps the candidate was "
                 "written after (psrlm.arith.step_truth)",
    "gsm8k": "the calculator-annotation checker's: each annotation recomputed exactly, the boxed answer "
             "against the gold one, a step without an annotation checked for its form only (psrlm.textsteps)",
}
TRUTHS["files"] = TRUTHS["gsm8k"]


@dataclass(frozen=True)
class TrainingParams:
    """Section `training`, shared by every training stage: how it is launched and its precision.
    `launcher` is read by dvc.yaml (`${training.launcher} stages/...`), not by the stages."""
    launcher: str
    gradient_checkpointing: bool
    bf16: bool

    def check(self) -> None:
        if not self.launcher.strip():
            raise ParamsError("training.launcher: empty (python, or accelerate launch --config_file ...)")


@dataclass(frozen=True)
class PromptsParams:
    solve: str
    judge: str
    score: str

    def check(self) -> None:
        # A missing template would otherwise fail only after the model has loaded; a name is a
        # file in prompts/, never a path.
        from psrlm.prompts import FIELDS, PROMPTS_DIR

        for key, fields in FIELDS.items():
            name = getattr(self, key)
            if not re.fullmatch(r"\w+", name) or not (PROMPTS_DIR / f"{name}.txt").is_file():
                known = ", ".join(sorted(p.stem for p in PROMPTS_DIR.glob("*.txt")))
                raise ParamsError(f"prompts.{key}: no template {name!r} in prompts/ (known: {known})")
            text = (PROMPTS_DIR / f"{name}.txt").read_text(encoding="utf-8")
            lost = [f"{{{f}}}" for f in fields if f"{{{f}}}" not in text]
            if lost:
                raise ParamsError(f"prompts.{key}: prompts/{name}.txt lacks {', '.join(lost)} (a {key} template "
                                  f"needs {', '.join(f'{{{f}}}' for f in fields)})")


@dataclass(frozen=True)
class PipelineParams:
    """The self-rewarding iterations and the seed they share (search and dpo read only the key
    `pipeline.seed`, with load_key, so that evaluating another model does not rerun them)."""
    seed: Count
    iterations: dict[str, dict[str, str]]
    models_to_evaluate: tuple[str, ...]

    def check(self) -> None:
        chain = chain_of(self.iterations)
        known = {chain[0][0], *(nxt for _, nxt in chain), "baseline", "sft"}
        for name in self.models_to_evaluate:
            if name not in known:
                raise ParamsError(f"pipeline.models_to_evaluate: unknown model {name!r} (the chain's "
                                  f"models, baseline or sft)")
        if len(set(self.models_to_evaluate)) != len(self.models_to_evaluate):
            raise ParamsError("pipeline.models_to_evaluate: a model is listed twice")


def chain_of(iterations: dict[str, dict[str, str]]) -> list[tuple[str, str]]:
    """`pipeline.iterations` as [(model, next)] in order, checked to be one chain: keys 1..n, each
    entry's `model` the previous entry's `next`, every name distinct (dvc.yaml's foreach expands it;
    report reads it to order the models)."""
    if not iterations:
        raise ParamsError("pipeline.iterations: needs at least one iteration")
    if sorted(iterations, key=lambda k: (len(k), k)) != [str(i) for i in range(1, len(iterations) + 1)]:
        raise ParamsError(f"pipeline.iterations: keys must be '1'..'{len(iterations)}', got "
                          f"{', '.join(iterations)}")
    chain = []
    for i in range(1, len(iterations) + 1):
        entry = iterations[str(i)]
        if set(entry) != {"model", "next"}:
            raise ParamsError(f"pipeline.iterations.{i}: needs exactly the keys model and next")
        if chain and entry["model"] != chain[-1][1]:
            raise ParamsError(f"pipeline.iterations.{i}.model: must be iteration {i - 1}'s next "
                              f"({chain[-1][1]!r}), got {entry['model']!r}")
        chain.append((entry["model"], entry["next"]))
    names = [chain[0][0], *(nxt for _, nxt in chain)]
    if len(set(names)) != len(names):
        raise ParamsError(f"pipeline.iterations: a model name repeats in the chain {' -> '.join(names)}")
    for i, (model, nxt) in enumerate(chain, start=1):
        # dvc.yaml's search matrix (iterations x shards) cannot read an entry's fields, only its
        # key: it names iteration i's model m<i>.
        if (model, nxt) != (f"m{i}", f"m{i + 1}"):
            raise ParamsError(f"pipeline.iterations.{i}: iteration {i} searches with m{i} and trains m{i + 1} "
                              f"(dvc.yaml's search matrix names them from the key), got {model} -> {nxt}")
    return chain


_DECIMAL = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")  # a plain decimal, no nan/inf


def _coerce(value, hint, where: str):
    """Check `value` against a type hint; lists become tuples so the dataclass stays frozen."""
    origin = typing.get_origin(hint)
    if origin is Annotated:
        base, *extras = typing.get_args(hint)
        value = _coerce(value, base, where)
        for extra in extras:
            if isinstance(extra, Range):
                extra.check(value, where)
        return value
    if origin is typing.Literal:
        choices = typing.get_args(hint)
        if isinstance(value, bool) or value not in choices:
            raise ParamsError(f"{where}: must be one of {', '.join(map(str, choices))}, got {shown(value)}")
        return value
    if hint is float:
        # PyYAML reads YAML 1.1, where an exponent without a dot is a string: `dvc exp run -S
        # dpo.learning_rate=5e-5` writes 5e-05, which must still be the number it spells.
        if isinstance(value, str) and _DECIMAL.fullmatch(value.strip()):
            value = float(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamsError(f"{where}: expected a number, got {shown(value)}")
        if not math.isfinite(value):  # YAML's .nan and .inf
            raise ParamsError(f"{where}: expected a finite number, got {shown(value)}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamsError(f"{where}: expected an integer, got {shown(value)}")
        return value
    if hint in (str, bool):
        if not isinstance(value, hint):
            raise ParamsError(f"{where}: expected {hint.__name__}, got {shown(value)}")
        return value
    if hint is type(None):
        if value is not None:
            raise ParamsError(f"{where}: expected null, got {shown(value)}")
        return None
    if origin in (typing.Union, types.UnionType):
        given = [o for o in typing.get_args(hint) if o is not type(None)]
        if value is not None and len(given) == 1:  # X | None given an X: X's own, precise error
            return _coerce(value, given[0], where)
        for option in typing.get_args(hint):
            try:
                return _coerce(value, option, where)
            except ParamsError:
                pass
        raise ParamsError(f"{where}: {shown(value)} does not match {hint}")
    if origin is tuple:
        if not isinstance(value, list):
            raise ParamsError(f"{where}: expected a list, got {shown(value)}")
        (item,) = [a for a in typing.get_args(hint) if a is not Ellipsis]
        return tuple(_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ParamsError(f"{where}: expected a mapping, got {shown(value)}")
        key_hint, val_hint = typing.get_args(hint)
        return {_coerce(k, key_hint, where): _coerce(v, val_hint, f"{where}.{k}")
                for k, v in value.items()}
    raise TypeError(f"unsupported type hint {hint} at {where}")


def parse_section(name: str, raw: object, cls: type):
    """Build the frozen dataclass of one section, naming any unknown, missing or mistyped key."""
    if not isinstance(raw, dict):
        raise ParamsError(f"params section '{name}' must be a mapping")
    hints = typing.get_type_hints(cls, include_extras=True)
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
    raw = read_params(path)
    if name not in raw:
        raise ParamsError(f"{path}: missing section '{name}'")
    return parse_section(name, raw[name], cls)


def load_key(path: str | Path, dotted: str, hint: type):
    """One key of a section (`"pipeline.seed"`), checked against `hint`: for a stage that lists only
    that key in dvc.yaml, so that the rest of the section does not rerun it."""
    section, _, key = dotted.partition(".")
    raw = read_params(path)
    if not isinstance(raw.get(section), dict):
        raise ParamsError(f"{path}: missing section '{section}'")
    if key not in raw[section]:
        raise ParamsError(f"params section '{section}': missing key '{key}'")
    return _coerce(raw[section][key], hint, dotted)


MAX_PARAMS_VALUES = 100_000  # values a params file may hold once its YAML aliases are expanded


class _StrictLoader(yaml.SafeLoader):
    """YAML as DVC reads params files, and stricter where PyYAML is lax: a key given twice is an
    error (PyYAML keeps the last; DVC refuses the file), and a file whose aliases (`*name`) would
    expand to more than MAX_PARAMS_VALUES values is refused before it is built (a 1 KB file of
    nested aliases expands to gigabytes; a few aliases, as yaml.safe_dump writes for a value used
    twice, are fine)."""

    def construct_document(self, node):
        sizes: dict[int, int] = {}

        def size(n) -> int:  # the node's values once expanded; an alias is its anchor's node again
            if id(n) not in sizes:
                children = n.value if isinstance(n, yaml.SequenceNode) else [
                    c for pair in n.value for c in pair] if isinstance(n, yaml.MappingNode) else []
                total = 1 + sum(size(c) for c in children)
                if total > MAX_PARAMS_VALUES:  # the innermost node past the bound: where to look
                    raise yaml.constructor.ConstructorError(
                        None, None, f"more than {MAX_PARAMS_VALUES:,} values once its aliases are expanded", n.start_mark)
                sizes[id(n)] = total
            return sizes[id(n)]

        size(node)
        return super().construct_document(node)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {shown(key)}",
                                                        key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def read_params(path: str | Path) -> dict:
    """The params file as a mapping of sections; any reading or YAML error is one line naming the
    file (and the line, for YAML)."""
    try:
        raw = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_StrictLoader)
    except FileNotFoundError:
        raise ParamsError(f"{path}: file not found") from None
    except UnicodeDecodeError as e:
        raise ParamsError(f"{path}: not UTF-8 text (byte {e.start})") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark else ""
        problem = getattr(e, "problem", None) or e.__class__.__name__
        raise ParamsError(f"{path}: not valid YAML ({where} {problem})".replace("( ", "(")) from None
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: expected a mapping of sections")
    return raw
