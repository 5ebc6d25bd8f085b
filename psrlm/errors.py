"""The one error type stages report to the user, and the wrapper that reports it in one line."""

from __future__ import annotations

import sys
from collections.abc import Callable


class PsrlmError(ValueError):
    """Bad input (params, a table, a data file): the message names the file, the column or key and
    the problem. Stages let it propagate; `run` prints it as one line and exits non-zero."""


def run(main: Callable[[], object], stage: str) -> None:
    """Entry point of a stage script: a PsrlmError becomes a one-line message, not a traceback."""
    try:
        main()
    except PsrlmError as e:
        sys.exit(f"{stage}: error: {e}")
