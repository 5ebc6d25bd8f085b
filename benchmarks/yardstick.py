"""The machine's speed now, measured beside every benchmark so that figures from different days
compare: the same work ran 39% faster on one day than another on these 2 cores."""

from __future__ import annotations

import os
import platform
import time


def matmul_gflops(seconds: float = 2.0, n: int = 512) -> float:
    """fp32 GFLOP/s of square matmuls on this machine now: the day's yardstick."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
    return round(2 * n ** 3 * count / (time.perf_counter() - start) / 1e9, 1)


def cpu() -> str:
    """The CPU's model name and its widest vector extension: the same work ran ~4x slower on an
    AVX2-only machine than on an AVX-512 one, so every time says which it came from."""
    try:
        info = open("/proc/cpuinfo").read()
    except OSError:
        return platform.processor() or "unknown"
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "?")
    flags = next((set(line.split(":", 1)[1].split()) for line in info.splitlines() if line.startswith("flags")), set())
    vector = next((v for v in ("avx512f", "avx2", "avx") if v in flags), "no AVX")
    return f"{name}, {vector.upper()}"


def machine() -> str:
    import torch

    return f"{platform.machine()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}"
