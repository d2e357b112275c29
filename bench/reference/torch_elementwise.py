"""PyTorch reference figures for ElementwiseBenchmarks: prints `name value unit` lines (GB = 1e9 bytes, read + written)."""
import sys, time
from reftiming import median_seconds as median

try:
    import torch
except ImportError:
    print("# torch not installed")
    sys.exit(0)

torch.set_num_threads(2)
N = 16 << 20



_names = [a for a in sys.argv[1:] if not a.startswith("--")]
which = _names[0] if _names else "all"
if which in ("add", "all"):
    a = torch.rand(N) * 2 - 1
    b = torch.rand(N) * 2 - 1
    o = torch.empty(N)
    t = median(lambda: torch.add(a, b, out=o))
    print(f"add_16M {3 * N * 4 / t / 1e9:.3f} GB/s")
    s = torch.empty(N + N // 2)
    d = torch.empty(N + N // 2)
    t = median(lambda: d.copy_(s))
    print(f"copy_16M {3 * N * 4 / t / 1e9:.3f} GB/s")
if which in ("softmax", "all"):
    x = torch.rand(16384, 1024) * 10 - 5
    y = torch.empty(16384, 1024)
    t = median(lambda: torch._softmax(x, -1, False, out=y) if hasattr(torch, "_softmax") else torch.softmax(x, -1))
    print(f"softmax_16M {2 * N * 4 / t / 1e9:.3f} GB/s")
    t = median(lambda: torch._log_softmax(x, -1, False, out=y))
    print(f"logsoftmax_16M {2 * N * 4 / t / 1e9:.3f} GB/s")
if which in ("unary", "all"):
    x = torch.rand(N) * 8 - 4
    y = torch.empty(N)
    print(f"relu_16M {2 * N * 4 / median(lambda: torch.clamp(x, min=0, out=y)) / 1e9:.3f} GB/s")
    print(f"sigmoid_16M {2 * N * 4 / median(lambda: torch.sigmoid(x, out=y)) / 1e9:.3f} GB/s")
    print(f"gelu_16M {2 * N * 4 / median(lambda: torch._C._nn.gelu(x, out=y)) / 1e9:.3f} GB/s")
    print(f"reduce_sum_16M {N * 4 / median(lambda: x.sum()) / 1e9:.3f} GB/s")
