"""Benchmark answers graded by mathematical equivalence: math-verify (sympy) in worker processes.

Model output is data: an answer is only ever parsed as LaTeX by math-verify (ANTLR grammar → sympy
objects; never Python's eval or sympify of raw text), in a separate process, under a time limit.
math-verify's own signal-based timeouts cannot stop a computation stuck in C (a power tower such as
`10^{10^{10}}`), so the parent also kills a worker that overruns and starts a new one.

Statuses: correct | wrong | no_answer (no \\boxed{} in the output) | no_gold (the source publishes
none) | timeout | parse_error (gold or answer is not readable mathematics).
"""

from __future__ import annotations

import multiprocessing as mp
import re
import time
from collections.abc import Sequence
from multiprocessing.connection import wait

from psrlm.tables import BENCHMARK_STATUSES

STATUSES = BENCHMARK_STATUSES  # what grade() returns: declared once, beside the schema that checks it


def _boxed(text: str) -> str:
    return f"\\boxed{{{text}}}"


def _parse(text: str, seconds: int):
    from math_verify import LatexExtractionConfig, parse

    # A percentage is graded by its number, as MATH's own grader does ("10\%" = 10); math-verify
    # reads no "\%".
    text = re.sub(r"\\?%", "", text)
    # LaTeX only: math-verify's plain-expression extractor hands text to sympy's parse_expr, which
    # evaluates Python. The boxed wrapper makes the whole answer the one thing extracted.
    return parse(_boxed(text), extraction_config=[LatexExtractionConfig(boxed_match_priority=0)],
                 fallback_mode="no_fallback", parsing_timeout=seconds, raise_on_error=True)


def verdict(gold: str, answer: str, seconds: int) -> str:
    """correct | wrong | parse_error | timeout for one (gold, answer); run in a worker process."""
    from math_verify import verify
    from math_verify.errors import TimeoutException

    try:
        g = _parse(gold, seconds)
        a = _parse(answer, seconds) if g else []
        if not g or not a:
            return "parse_error"
        return "correct" if verify(g, a, timeout_seconds=seconds, raise_on_error=True) else "wrong"
    except TimeoutException:  # math-verify's own limit (a hard kill covers what it cannot stop)
        return "timeout"
    except Exception:  # noqa: BLE001 - any failure inside the parser or sympy: unreadable
        return "parse_error"


def _worker(conn, seconds: int) -> None:
    import logging

    logging.disable(logging.WARNING)  # math-verify logs every unparseable answer
    while True:
        job = conn.recv()
        if job is None:
            return
        conn.send(verdict(job[0], job[1], seconds))


class _Worker:
    def __init__(self, ctx, seconds: int):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child, seconds), daemon=True)
        self.proc.start()
        child.close()
        self.job: int | None = None
        self.started = 0.0
        self.warm = False  # its first job also pays for importing sympy and math-verify

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.proc.kill()
        else:
            try:
                self.conn.send(None)
            except OSError:
                pass
        self.proc.join(timeout=5)
        self.conn.close()


def grade(golds: Sequence[str | None], answers: Sequence[str | None], seconds: float = 5.0,
          workers: int = 2) -> list[str]:
    """The status of every (gold, answer) pair, in order. `seconds` bounds each pair's wall time."""
    # The params check these for the stages; a caller from Python gets the same refusal (0 workers
    # would wait forever, a limit <= 0 would time out every right answer).
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"grade: workers must be an integer >= 1, got {workers!r}")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < float("inf"):
        raise ValueError(f"grade: seconds must be a finite number > 0, got {seconds!r}")
    out: list[str | None] = [None] * len(golds)
    todo = []
    for i, (g, a) in enumerate(zip(golds, answers, strict=True)):
        if g is None or not g.strip():
            out[i] = "no_gold"
        elif a is None or not a.strip():
            out[i] = "no_answer"
        else:
            todo.append(i)
    if not todo:
        return out
    ctx = mp.get_context("spawn")  # not fork: the caller may hold torch's threads
    inner = max(1, int(seconds))  # math-verify's own limit, inside the hard one
    startup = 30.0  # allowance for a new worker's imports
    pool = [_Worker(ctx, inner) for _ in range(min(workers, len(todo)))]
    queue = list(reversed(todo))
    try:
        while queue or any(w.job is not None for w in pool):
            for w in pool:
                if w.job is None and queue:
                    w.job, w.started = queue.pop(), time.monotonic()
                    w.conn.send((golds[w.job], answers[w.job]))
            busy = [w for w in pool if w.job is not None]
            ready = wait([w.conn for w in busy], timeout=0.05)
            for w in busy:
                if w.conn in ready:
                    try:
                        out[w.job] = w.conn.recv()
                    except EOFError:  # the worker died (e.g. out of memory): unreadable answer
                        out[w.job] = "parse_error"
                        pool[pool.index(w)] = _replace(w, ctx, inner)
                        continue
                    w.job, w.warm = None, True
                elif time.monotonic() - w.started > seconds + (0 if w.warm else startup):
                    out[w.job] = "timeout"
                    pool[pool.index(w)] = _replace(w, ctx, inner)
    finally:
        for w in pool:
            w.stop()
    return out


def _replace(w: _Worker, ctx, inner: int) -> _Worker:
    w.stop(kill=True)
    return _Worker(ctx, inner)
