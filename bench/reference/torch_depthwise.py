#!/usr/bin/env python3
"""PyTorch reference figures for DepthwiseBenchmarks (same shapes, 2 threads, warm-up + median).

Usage: torch_depthwise.py [--quick] NAME...   (NAME among the keys of CASES; none = all)
Prints one `name value unit` line per figure. Run with OPENBLAS_CORETYPE unset.
"""
import sys
import time

import torch
import torch.nn.functional as F
from reftiming import median_seconds

torch.set_num_threads(2)
QUICK = "--quick" in sys.argv
RUNS = 7 if QUICK else 9



def conv_case(n, c, m, h, w, k, pad, groups):
    torch.manual_seed(0)
    x = torch.randn(n, c, h, w)
    wt = torch.randn(m, c // groups, k, k)
    return x, wt


def fwd(n, c, m, h, w, k, pad, groups):
    x, wt = conv_case(n, c, m, h, w, k, pad, groups)
    with torch.no_grad():
        sec = median_seconds(lambda: F.conv2d(x, wt, None, 1, pad, 1, groups))
    oh, ow = h + 2 * pad - k + 1, w + 2 * pad - k + 1
    flops = 2.0 * n * m * (c // groups) * k * k * oh * ow
    return flops / sec / 1e9, "GFLOPS"


def bwd(n, c, m, h, w, k, pad, groups):
    x, wt = conv_case(n, c, m, h, w, k, pad, groups)
    with torch.no_grad():
        y = F.conv2d(x, wt, None, 1, pad, 1, groups)
    gy = torch.randn_like(y)

    def run():
        torch.ops.aten.convolution_backward(gy, x, wt, None, [1, 1], [pad, pad], [1, 1], False, [0, 0], groups,
                                            [True, True, False])

    return median_seconds(run) * 1e3, "ms"


CASES = {
    "depthwise_fwd_32x144x56x56_k3": lambda: fwd(32, 144, 144, 56, 56, 3, 1, 144),
    "depthwise_bwd_32x144x56x56_k3": lambda: bwd(32, 144, 144, 56, 56, 3, 1, 144),
}

if __name__ == "__main__":
    names = [a for a in sys.argv[1:] if not a.startswith("--")] or list(CASES)
    for name in names:
        value, unit = CASES[name]()
        print(f"{name} {value:.3f} {unit}", flush=True)
