#!/usr/bin/env python3
"""PyTorch reference figures for ConvFastBenchmarks (same shapes, 2 threads, warm-up + median of 9).

Usage: torch_convfast.py [--quick] NAME...   (NAME among the keys of CASES, optionally with the suffix
_channels_last for the same case on channels_last tensors; none = all)
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



CHANNELS_LAST = False  # set per case: NCHW (QuantSharp's layout) or channels_last (oneDNN's fastest, no reorders)


def case(n, c, m, h, w, k):
    torch.manual_seed(0)
    x, wt = torch.randn(n, c, h, w), torch.randn(m, c, k, k)
    if CHANNELS_LAST:
        x, wt = x.contiguous(memory_format=torch.channels_last), wt.contiguous(memory_format=torch.channels_last)
    return x, wt


def fwd(n, c, m, h, w, k, stride, pad):
    x, wt = case(n, c, m, h, w, k)
    with torch.no_grad():
        sec = median_seconds(lambda: F.conv2d(x, wt, None, stride, pad))
    oh, ow = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    return 2.0 * n * m * c * k * k * oh * ow / sec / 1e9, "GFLOPS"


def bwd(n, c, m, h, w, k, stride, pad, mask):
    x, wt = case(n, c, m, h, w, k)
    with torch.no_grad():
        y = F.conv2d(x, wt, None, stride, pad)
    gy = torch.randn_like(y)
    if CHANNELS_LAST:
        gy = gy.contiguous(memory_format=torch.channels_last)

    def run():
        torch.ops.aten.convolution_backward(gy, x, wt, None, [stride, stride], [pad, pad], [1, 1], False, [0, 0], 1, mask)

    return median_seconds(run) * 1e3, "ms"


CASES = {
    "conv2d_fwd_32x64x56x56_k3": lambda: fwd(32, 64, 64, 56, 56, 3, 1, 1),
    "conv2d_bwd_32x64x56x56_k3": lambda: bwd(32, 64, 64, 56, 56, 3, 1, 1, [True, True, False]),
    "conv2d_bwd_data_32x64x56x56_k3": lambda: bwd(32, 64, 64, 56, 56, 3, 1, 1, [True, False, False]),
    "conv2d_bwd_weight_32x64x56x56_k3": lambda: bwd(32, 64, 64, 56, 56, 3, 1, 1, [False, True, False]),
    "conv2d_batch1_fwd_1x64x56x56_k3": lambda: fwd(1, 64, 64, 56, 56, 3, 1, 1),
    "conv2d_stride2_fwd_32x64x56x56_k3s2": lambda: fwd(32, 64, 128, 56, 56, 3, 2, 1),
    "conv2d_stride2_bwd_32x64x56x56_k3s2": lambda: bwd(32, 64, 128, 56, 56, 3, 2, 1, [True, True, False]),
    "conv2d_stride2_bwd_data_32x64x56x56_k3s2": lambda: bwd(32, 64, 128, 56, 56, 3, 2, 1, [True, False, False]),
    "conv2d_stride2_bwd_weight_32x64x56x56_k3s2": lambda: bwd(32, 64, 128, 56, 56, 3, 2, 1, [False, True, False]),
}

if __name__ == "__main__":
    names = [a for a in sys.argv[1:] if not a.startswith("--")] or list(CASES) + [n + "_channels_last" for n in CASES]
    for name in names:
        CHANNELS_LAST = name.endswith("_channels_last")
        value, unit = CASES[name.removesuffix("_channels_last")]()
        print(f"{name} {value:.3f} {unit}", flush=True)
