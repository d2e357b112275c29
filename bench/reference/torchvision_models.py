#!/usr/bin/env python3
"""Exports torchvision classification networks (random weights) to ONNX and measures PyTorch's speed.

Usage:
  torchvision_models.py export OUT_DIR [--batch N]   writes OUT_DIR/<name>.onnx, <name>_input.npy and
                                                     <name>_output.npy (PyTorch's eval-mode output) per model
  torchvision_models.py bench [--batch N] [--runs R] [--only NAME] prints '<name>_fwd_b<N> images/s' lines (PyTorch, 2 threads)

Models: resnet18, mobilenet_v2 (3x224x224). Exports use opset 13. Nothing here is committed output.
"""
import os
import sys
import time

import numpy as np
import torch
import torchvision

torch.set_num_threads(2)
MODELS = {"resnet18": "resnet18", "mobilenetv2": "mobilenet_v2"}


def build(name, seed=0):
    torch.manual_seed(seed)
    m = getattr(torchvision.models, MODELS[name])()
    m.eval()
    # Random weights: make BatchNorm statistics non-trivial so the check exercises them.
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.1, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
    return m


def arg(flag, default):
    return int(sys.argv[sys.argv.index(flag) + 1]) if flag in sys.argv else default


def export(out_dir, batch):
    os.makedirs(out_dir, exist_ok=True)
    for name in MODELS:
        m = build(name)
        torch.manual_seed(1)
        x = torch.randn(batch, 3, 224, 224)
        path = os.path.join(out_dir, f"{name}.onnx")
        torch.onnx.export(m, x, path, opset_version=13, input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
        with torch.no_grad():
            y = m(x)
        np.save(os.path.join(out_dir, f"{name}_input.npy"), x.numpy())
        np.save(os.path.join(out_dir, f"{name}_output.npy"), y.numpy())
        print(f"# exported {path}")


def bench(batch, runs, only=None):
    for name in MODELS:
        if only and name != only:
            continue
        m = build(name)
        x = torch.randn(batch, 3, 224, 224)
        with torch.no_grad():
            for _ in range(2):
                m(x)
            times = []
            for _ in range(runs):
                t = time.perf_counter()
                m(x)
                times.append(time.perf_counter() - t)
        med = sorted(times)[len(times) // 2]
        print(f"{name}_fwd_b{batch} {batch / med:.2f} images/s")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "export":
        export(sys.argv[2], arg("--batch", 1))
    elif len(sys.argv) >= 2 and sys.argv[1] == "bench":
        bench(arg("--batch", 32), arg("--runs", 7), sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None)
    else:
        print(__doc__)
        sys.exit(2)
