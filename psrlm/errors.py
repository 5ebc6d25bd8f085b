"""The one error type stages report to the user, and the wrapper that reports it in one line."""

from __future__ import annotations

import ctypes
import signal
import sys
from collections.abc import Callable


class PsrlmError(ValueError):
    """Bad input (params, a table, a data file): the message names the file, the column or key and
    the problem. Stages let it propagate; `run` prints it as one line and exits non-zero."""


def _terminated(signum, frame):
    # SIGTERM (a killed `dvc`, a scheduler) unwinds like Ctrl-C, so that psrlm.outputs removes the
    # stage's temporary outputs instead of leaving them half-written.
    sys.exit(128 + signum)


def _die_with_parent() -> None:
    """Ask Linux to send this process SIGTERM when its parent dies: `dvc repro` runs a stage as its
    child, and a stage left running after its `dvc` was killed would later rewrite an output DVC
    has already restored from its cache. Elsewhere a no-op."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return


def run(main: Callable[[], object], stage: str) -> None:
    """Entry point of a stage script: a PsrlmError becomes a one-line message, not a traceback."""
    signal.signal(signal.SIGTERM, _terminated)
    _die_with_parent()
    try:
        main()
    except PsrlmError as e:
        sys.exit(f"{stage}: error: {e}")
    except OSError as e:  # a full disk, a missing or unreadable file: nothing was moved into place
        lines = str(e).strip().splitlines()
        sys.exit(f"{stage}: error: {lines[0] if lines else e.__class__.__name__}")
