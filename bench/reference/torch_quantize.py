"""PyTorch reference figures for QuantizeBenchmarks: prints `name value unit` lines (GB = 1e9 bytes, read + written)."""
import sys, time
from reftiming import median_seconds as median

try:
    import torch
except ImportError:
    print("# torch not installed")
    sys.exit(0)

torch.set_num_threads(2)



runs = 3 if "--quick" in sys.argv else 9
_names = [a for a in sys.argv[1:] if not a.startswith("--")]
which = _names[0] if _names else "all"
if which in ("per_tensor", "all"):
    n = 16 << 20
    x = torch.rand(n) * 8 - 4
    t = median(lambda: torch.fake_quantize_per_tensor_affine(x, 0.05, 3, -128, 127), runs=runs)
    print(f"fakequant_per_tensor_16M {8 * n / t / 1e9:.3f} GB/s")
    s = torch.empty(n)
    d = torch.empty(n)
    t = median(lambda: d.copy_(s), runs=runs)
    print(f"copy_16M {8 * n / t / 1e9:.3f} GB/s")
if which in ("per_channel", "all"):
    x = torch.randn(512, 512, 3, 3) * 0.1
    n = x.numel()
    scale = torch.rand(512) * 0.01 + 0.001
    zp = torch.zeros(512, dtype=torch.int32)
    t = median(lambda: torch.fake_quantize_per_channel_affine(x, scale, zp, 0, -127, 127), runs=runs)
    print(f"fakequant_per_channel_512x512x3x3 {8 * n / t / 1e9:.3f} GB/s")
