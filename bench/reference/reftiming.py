"""Shared timing for the PyTorch reference scripts: 2 threads, warm-up, median of repeated runs.

Every script prints `name value unit` lines that bench/QuantSharp.Bench/PythonReference.cs parses.
"""
import sys
import time

import torch

torch.set_num_threads(2)
QUICK = "--quick" in sys.argv
RUNS = 3 if QUICK else 9


def median_seconds(fn, warmup=2, runs=None):
    """Median wall time of fn() over `runs` timed calls after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs or RUNS):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def names():
    """The figure names asked for on the command line (flags removed)."""
    return [a for a in sys.argv[1:] if not a.startswith("--")]
