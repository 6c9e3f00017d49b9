"""PyTorch anchor for the Learnable Groups inference figure of bench/src/models.ts: the official network
at the paper's size (256 px input, planes [32, 32], 3 groups with NDDR fusion, 21 joints), eval mode, the
hard selector, batch 1, float32, timed on 1 and 2 threads.

The official code is NOT part of this repository; export it to a temporary directory first (as
packages/learnable-groups/scripts/make-fixture.py does):

  git -C /work/.mirror/moranli-aca+LearnableGroups-Hand/repo archive HEAD nets | tar -x -C /tmp/lg-official
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 bench/scripts/torch-lg-inference.py /tmp/lg-official [1,2]

(the optional second argument lists the thread counts, default 1,2).

Prints one JSON object {"torch": version, "rows": [{"threads", "inference_ms", "inference_cpu_ms"}]}: medians
after 2 warm-ups (CPU: process time of all threads).
"""
import json
import sys
import time

import torch
from torch import nn


class HardSelection:
    """Stands in for RelaxedOneHotCategorical: `rsample()` is the one-hot of each row's argmax."""

    def __init__(self, temperature, logits):
        self.logits = logits

    def rsample(self):
        return nn.functional.one_hot(self.logits.argmax(-1), self.logits.shape[-1]).to(self.logits.dtype)


def median_ms(fn, runs=9, warmup=2):
    """Median wall ms and median process CPU ms (all threads) of one run."""
    for _ in range(warmup):
        fn()
    samples, cpu = [], []
    for _ in range(runs):
        c0 = time.process_time()
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    samples.sort()
    cpu.sort()
    return samples[len(samples) // 2], cpu[len(cpu) // 2]


def main():
    sys.path.insert(0, sys.argv[1])
    from nets.Net import Learnable_Groups

    torch.manual_seed(0)
    net = Learnable_Groups([3, True], 256, 21, [32, 32]).eval()
    x = torch.rand(1, 3, 256, 256)
    relaxed = torch.distributions.relaxed_categorical
    relaxed.RelaxedOneHotCategorical = HardSelection

    def infer():
        with torch.no_grad():
            net(x, 1.0)

    rows = []
    threads_list = [int(t) for t in (sys.argv[2] if len(sys.argv) > 2 else '1,2').split(',')]
    for threads in threads_list:
        torch.set_num_threads(threads)
        wall, cpu = median_ms(infer)
        rows.append({'threads': threads, 'inference_ms': round(wall, 1), 'inference_cpu_ms': round(cpu, 1)})
    print(json.dumps({'torch': torch.__version__, 'rows': rows}))


if __name__ == '__main__':
    main()
