"""PyTorch reference for TrainingBenchmarks: the quickstart network trained and evaluated on Fashion-MNIST exactly as
`quantsharp quickstart` does (batch 128 shuffled, Adam lr 1e-4, cross-entropy on the softmax output; evaluation in
batches of 500 over the 10,000 test images). Prints `name value unit` lines:
train_epoch_quickstart s, train_step_quickstart ms, eval_10k_quickstart s. With --quick, fewer steps/images, scaled."""
import gzip
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn

torch.set_num_threads(2)
torch.manual_seed(0)
quick = "--quick" in sys.argv
root = "/usr/share/datasets/fashion-mnist"


def idx(name):
    for path, opener in ((f"{root}/{name}.gz", gzip.open), (f"{root}/{name}", open)):
        try:
            with opener(path, "rb") as f:
                data = f.read()
            break
        except FileNotFoundError:
            continue
    else:
        sys.exit(f"{root}/{name}.gz not found (apt-get install dataset-fashion-mnist)")
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def report(name, value, unit):
    print(f"{name} {value:.4f} {unit}", flush=True)


train_x = (idx("train-images-idx3-ubyte").astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
train_y = idx("train-labels-idx1-ubyte").astype(np.int64)
test_x = (idx("t10k-images-idx3-ubyte").astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)

model = nn.Sequential(
    nn.Conv2d(1, 128, 3, stride=2, padding=1), nn.BatchNorm2d(128), nn.ReLU(),
    nn.Conv2d(128, 256, 3, stride=2, padding=1), nn.BatchNorm2d(256), nn.ReLU(),
    nn.Flatten(), nn.Linear(12544, 10), nn.Softmax(dim=1))
opt = torch.optim.Adam(model.parameters(), lr=1e-4)
batch = 128
steps_per_epoch = (len(train_x) + batch - 1) // batch


def train(steps, order):
    model.train()
    for s in range(steps):
        ids = order[s * batch:(s + 1) * batch]
        x = torch.from_numpy(train_x[ids])
        y = torch.from_numpy(train_y[ids])
        p = model(x)
        loss = nn.functional.nll_loss(torch.log(p.clamp_min(1e-12)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()


rng = np.random.default_rng(0)
train(5, rng.permutation(len(train_x)))  # warm-up
steps = 60 if quick else steps_per_epoch
t0 = time.perf_counter()
train(steps, rng.permutation(len(train_x)))
t = time.perf_counter() - t0
report("train_step_quickstart", t / steps * 1e3, "ms")
report("train_epoch_quickstart", t / steps * steps_per_epoch, "s")

images = 2000 if quick else len(test_x)
model.eval()
with torch.no_grad():
    model(torch.from_numpy(test_x[:500]))  # warm-up
    t0 = time.perf_counter()
    for s in range(0, images, 500):
        model(torch.from_numpy(test_x[s:s + 500])).argmax(1)
    t = time.perf_counter() - t0
report("eval_10k_quickstart", t * len(test_x) / images, "s")
