"""PyTorch reference figures for PoolNormBenchmarks: prints `name value unit` lines (GB/s of bytes read + written)."""
import sys
import time

import torch
import torch.nn.functional as F
from reftiming import median_seconds

torch.set_num_threads(2)
quick = "--quick" in sys.argv
runs = 3 if quick else 9



def report(name, value, unit):
    print(f"{name} {value:.3f} {unit}", flush=True)


with torch.no_grad():
    x = torch.randn(32, 64, 112, 112)
    y = F.max_pool2d(x, 3, 2, 1)
    t = median_seconds(lambda: F.max_pool2d(x, 3, 2, 1))
    report("torch_maxpool_3x3s2_32x64x112x112", (x.numel() + y.numel()) * 4 / t / 1e9, "GB/s")

    x2 = torch.randn(32, 1280, 7, 7)
    t = median_seconds(lambda: F.adaptive_avg_pool2d(x2, 1))
    report("torch_global_avgpool_32x1280x7x7", (x2.numel() + 32 * 1280) * 4 / t / 1e9, "GB/s")

    x3 = torch.randn(32, 64, 56, 56)
    mean, var = torch.randn(64) * 0.1, torch.rand(64) + 0.5
    w, b = torch.rand(64) + 0.5, torch.randn(64)
    t = median_seconds(lambda: F.batch_norm(x3, mean, var, w, b, training=False, eps=1e-5))
    report("torch_batchnorm_inference_32x64x56x56", 2 * x3.numel() * 4 / t / 1e9, "GB/s")

    x4 = torch.randn(64, 197, 768)
    w4, b4 = torch.rand(768) + 0.5, torch.randn(768)
    t = median_seconds(lambda: F.layer_norm(x4, (768,), w4, b4))
    report("torch_layernorm_64x197x768", 2 * x4.numel() * 4 / t / 1e9, "GB/s")

    yi, _ = F.max_pool2d(x, 3, 2, 1, return_indices=True)
    t = median_seconds(lambda: F.max_pool2d(x, 3, 2, 1, return_indices=True))
    report("torch_maxpool_indices_3x3s2_32x64x112x112", (x.numel() * 4 + yi.numel() * 12) / t / 1e9, "GB/s")

with torch.enable_grad():
    xb = torch.randn(32, 64, 56, 56, requires_grad=True)
    wb = (torch.rand(64) + 0.5).requires_grad_()
    bb = torch.randn(64).requires_grad_()
    rm, rv = torch.zeros(64), torch.ones(64)
    t = median_seconds(lambda: F.batch_norm(xb, rm, rv, wb, bb, training=True))
    report("torch_batchnorm_training_fwd_32x64x56x56", t * 1e3, "ms")
    yb = F.batch_norm(xb, rm, rv, wb, bb, training=True)
    gy = torch.randn_like(yb)
    t = median_seconds(lambda: torch.autograd.grad(yb, (xb, wb, bb), gy, retain_graph=True))
    report("torch_batchnorm_training_bwd_32x64x56x56", t * 1e3, "ms")
