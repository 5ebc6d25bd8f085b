"""A stage's outputs, written beside their final paths and moved into place together at the end.

    with Outputs() as o:
        write_table(df, o.path("data/pairs/iter_1.parquet"), PAIRS)
        model.save_pretrained(o.path("data/models/m2"))
        o.json("reports/dpo/1.json", stats)

Each `o.path(final)` is a fresh hidden path in the final path's folder (the same file system, so the
move is a rename). When the block ends without an error every output replaces its final path; an
error, Ctrl-C, SIGTERM or a full disk inside it removes the temporary paths and leaves every
earlier output as it was, so a failed stage neither loses the last good output nor leaves a
partial one.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import uuid
from pathlib import Path



def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _finite(obj: object) -> object:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def is_main_process() -> bool:
    """Whether this process writes the stage's outputs: always, unless a launcher (`accelerate
    launch`, torchrun) started several, which set RANK; then only rank 0 does."""
    return int(os.environ.get("RANK", "0")) == 0


class Outputs:
    """`commit=False` (a training stage's other ranks under a multi-process launcher): the block
    runs alike, and its temporary paths are removed at the end instead of moved into place."""

    def __init__(self, commit: bool = True) -> None:
        self._moves: list[tuple[Path, Path]] = []  # (temporary, final)
        self._commit = commit

    def path(self, final: str | Path) -> Path:
        """A temporary path that becomes `final` when the block succeeds (a file or a folder)."""
        final = Path(final)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.parent / f".{final.name}.{uuid.uuid4().hex[:8]}.tmp"
        self._moves.append((tmp, final))
        return tmp

    def text(self, final: str | Path, text: str) -> None:
        with self.path(final).open("w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())  # a full disk fails here, inside the block, not after the move

    def json(self, final: str | Path, obj: object) -> None:
        """`obj` as JSON; a NaN or infinite number (not measured) becomes null, which DVC reads."""
        self.text(final, json.dumps(_finite(obj), indent=2, sort_keys=True, allow_nan=False) + "\n")

    def __enter__(self) -> Outputs:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None or not self._commit:
            for tmp, _ in self._moves:
                _remove(tmp)
            return
        missing = [final for tmp, final in self._moves if not tmp.exists()]
        if missing:  # a stage bug: nothing moves, and what was written goes
            for tmp, _ in self._moves:
                _remove(tmp)
            raise FileNotFoundError(f"{missing[0]}: the stage never wrote this output")
        for tmp, final in self._moves:
            if final.is_dir() and not final.is_symlink():  # a folder cannot be renamed over
                old = final.parent / f".{final.name}.{uuid.uuid4().hex[:8]}.old"
                os.replace(final, old)
                os.replace(tmp, final)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, final)
