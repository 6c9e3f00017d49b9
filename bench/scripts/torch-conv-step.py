"""PyTorch reference for bench/src/wasm-training.ts: one conv training step on ONE core.

Same step as the wasm bench: B=8, 64x64, 64->64 channels, 3x3, padding 1 (= 'same'), float32.
Prints JSON {"forward_ms": .., "step_ms": .., "torch": ..}: best of 7 runs after 2 warm-ups.
Run with a Python that has torch (Debian: apt-get install python3-torch; /usr/bin/python3).
"""
import json
import time

import torch

torch.set_num_threads(1)
torch.manual_seed(0)
x = torch.randn(8, 64, 64, 64, requires_grad=True)
conv = torch.nn.Conv2d(64, 64, 3, padding=1, bias=False)


def best(fn, runs=7, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return min(times)


def forward():
    with torch.no_grad():
        conv(x)


def step():
    conv.zero_grad(set_to_none=True)
    x.grad = None
    conv(x).sum().backward()


print(json.dumps({"forward_ms": best(forward), "step_ms": best(step), "torch": torch.__version__}))
