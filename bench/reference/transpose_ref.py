"""Reference timings for the transpose benchmarks (PyTorch permute(...).contiguous(), 2 threads).

Prints `name value unit` lines; GB/s counts bytes read + bytes written, like the C# side.
"""
import statistics
import sys
import time
from reftiming import median_seconds

try:
    import torch
except ImportError:
    print("# torch not installed; no reference figures")
    sys.exit(0)

torch.set_num_threads(2)
quick = "--quick" in sys.argv
runs = 3 if quick else 9



cases = [
    ("transpose.swap2d.4096x4096", (4096, 4096), (1, 0)),
    ("transpose.batch-swap.64x256x256", (64, 256, 256), (0, 2, 1)),
    ("transpose.nchw-to-nhwc.32x64x56x56", (32, 64, 56, 56), (0, 2, 3, 1)),
    ("transpose.nhwc-to-nchw.32x56x56x64", (32, 56, 56, 64), (0, 3, 1, 2)),
    ("transpose.generic.32x64x56x56-perm3120", (32, 64, 56, 56), (3, 1, 2, 0)),
]
for name, shape, perm in cases:
    x = torch.rand(shape, dtype=torch.float32)
    s = median_seconds(lambda: x.permute(perm).contiguous())
    print(f"torch.{name} {2 * x.numel() * 4 / s / 1e9:.3f} GB/s")
x = torch.rand((32, 64, 56, 56), dtype=torch.float32)
y = torch.empty_like(x)
s = median_seconds(lambda: y.copy_(x))
print(f"torch.copy.32x64x56x56 {2 * x.numel() * 4 / s / 1e9:.3f} GB/s")
