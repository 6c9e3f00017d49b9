"""PyTorch columns of bench/src/threads.ts: the same conv and matmul work, on 1 and on N threads.

Cases (float32, as in the wasm bench):
  conv forward     3x3 conv, 64 -> 64 channels, B=8, 64x64, padding 1, no bias
  conv step        that conv's forward + backward (gradients of sum(y) w.r.t. input and weight)
  matMul 1024^2    a [1024, 1024] x [1024, 1024] product

Usage (Debian: apt-get install python3-torch libopenblas0-pthread; /usr/bin/python3 has torch):
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 bench/scripts/torch-threads.py --threads 1,2
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE must be unset for this command only: with them Debian's OpenBLAS runs
its generic kernels, many times slower. Prints one JSON object {"torch": version, "rows": [{"case",
"threads", "ms", "cpu_ms"}]}: median wall and median process-CPU milliseconds after 2 warm-ups.
"""
import argparse
import json
import time

import torch


def median_ms(fn, runs, warmup=2):
    """Median wall ms and median process CPU ms (every thread) of one run of fn."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(runs):
        c0 = time.process_time()
        t0 = time.perf_counter()
        fn()
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    wall.sort()
    cpu.sort()
    return wall[len(wall) // 2], cpu[len(cpu) // 2]


def cases():
    torch.manual_seed(0)
    x = torch.randn(8, 64, 64, 64, requires_grad=True)
    conv = torch.nn.Conv2d(64, 64, 3, padding=1, bias=False)
    a = torch.randn(1024, 1024)
    b = torch.randn(1024, 1024)

    def conv_forward():
        with torch.no_grad():
            conv(x)

    def conv_step():
        conv.zero_grad(set_to_none=True)
        x.grad = None
        conv(x).sum().backward()

    def matmul():
        with torch.no_grad():
            a @ b

    return [("conv forward", conv_forward), ("conv step", conv_step), ("matMul 1024²", matmul)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--tag", default="", help="a free label (the bench passes its process title), echoed")
    args = parser.parse_args()
    rows = []
    work = cases()
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        for name, fn in work:
            ms, cpu_ms = median_ms(fn, args.runs)
            rows.append({"case": name, "threads": threads, "ms": ms, "cpu_ms": cpu_ms})
    print(json.dumps({"torch": torch.__version__, "tag": args.tag, "rows": rows}))


if __name__ == "__main__":
    main()
