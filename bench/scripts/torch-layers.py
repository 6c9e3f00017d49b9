"""PyTorch anchor for bench/src/layers.ts: forward+backward of each Phalanx layer at the bench's sizes.

Each layer is written here from the formula in its TSDoc (packages/layers/src/**), in plain torch ops,
with the same inputs and weights as the bench case; "forward+backward" is what the layer bench times:
the gradients of sum(outputs) with respect to every input and every weight.

Usage (Debian: apt-get install python3-torch libopenblas0-pthread; /usr/bin/python3 has torch):
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 bench/scripts/torch-layers.py [--threads 1,2] [--only NAME]
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE must be unset for this command only: with them Debian's OpenBLAS
falls back to slow generic kernels. Prints one JSON object: {"torch": version, "rows": [{layer, size,
threads, forward_ms, forward_backward_ms, forward_backward_cpu_ms}]}, each figure the median of the runs
after 2 warm-ups (CPU: process time of all threads; at 1 thread, the time the work took even on a loaded
machine).
"""
import argparse
import json
import math
import time

import torch
import torch.nn.functional as F


def median_ms(fn, min_runs=5, max_runs=30, min_time_s=1.0, warmup=2):
    """Median wall ms and median process CPU ms (all threads) of one run."""
    for _ in range(warmup):
        fn()
    samples, cpu = [], []
    start = time.perf_counter()
    while len(samples) < max_runs and (len(samples) < min_runs or time.perf_counter() - start < min_time_s):
        c0 = time.process_time()
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    samples.sort()
    cpu.sort()
    return samples[len(samples) // 2], cpu[len(cpu) // 2]


def leaf(*shape, scale=1.0):
    return (torch.randn(*shape) * scale).requires_grad_(True)


def hand_neighbourhood(hops=1):
    """N(i): i, its skeleton neighbours (wrist → 5 fingers of 4 joints), and for hops=2 theirs."""
    a = torch.eye(21)
    for finger in range(5):
        base = 1 + 4 * finger
        for p, c in [(0, base), (base, base + 1), (base + 1, base + 2), (base + 2, base + 3)]:
            a[p, c] = a[c, p] = 1
    return (torch.matrix_power(a, hops) > 0).float()


# ---------------------------------------------------------------------------------------------------
# Layers (inputs, weights) -> outputs, from the TSDoc formulas.


def group_fusion():
    """Learnable Groups Eq. 9: Y = concat(x_1..x_G) · kernel + bias, y_i = Y[..., i·U:(i+1)·U]."""
    xs = [leaf(8, 64, 64, 32) for _ in range(3)]
    kernel, bias = leaf(96, 96, scale=0.1), leaf(96)

    def run():
        y = torch.cat(xs, dim=-1) @ kernel + bias
        return list(torch.split(y, 32, dim=-1))

    return run, xs + [kernel, bias]


def dynamic_edge_gat(attention):
    """EHPE Eq. 8–9, dense with a neighbourhood mask: K=8 heads of U=64 units on x [32, 21, 512]."""
    b, j, f, k, u = 32, 21, 512, 8, 64
    x = leaf(b, j, f)
    kernel, bias = leaf(f, k * u, scale=0.05), leaf(k * u)
    mask = hand_neighbourhood(1)
    if attention == 'additive':
        a_self, a_nb = leaf(k, u, scale=0.1), leaf(k, u, scale=0.1)
        weights = [kernel, a_self, a_nb, bias]
    else:
        wq, wk = leaf(f, k * u, scale=0.05), leaf(f, k * u, scale=0.05)
        weights = [kernel, wq, wk, bias]

    def heads(w):  # [B, J, F] · [F, K·U] -> [B, K, J, U]
        return (x @ w).view(b, j, k, u).transpose(1, 2)

    def run():
        wh = heads(kernel)
        if attention == 'additive':
            s_self = (wh * a_self.view(1, k, 1, u)).sum(-1)  # [B, K, J]
            s_nb = (wh * a_nb.view(1, k, 1, u)).sum(-1)
            scores = F.leaky_relu(s_self.unsqueeze(3) + s_nb.unsqueeze(2), 0.2)
        else:
            scores = heads(wq) @ heads(wk).transpose(2, 3) / math.sqrt(u)
        alpha = torch.softmax(scores + (mask - 1) * 1e9, dim=-1) * mask
        out = (alpha @ wh).transpose(1, 2).reshape(b, j, k * u) + bias
        return [out]

    return run, [x] + weights


def dual_branch_fusion():
    """EHPE Eq. 11: out[b] = W_s · structural[b] + W_v ⊙ visual[b], W_s [J, J], W_v [J, 1]."""
    s, v = leaf(32, 21, 512), leaf(32, 21, 512)
    ws, wv = leaf(21, 21), leaf(21, 1)

    def run():
        return [torch.matmul(ws, s) + wv * v]

    return run, [s, v, ws, wv]


def multi_head_attention():
    """softmax(Q_h K_hᵀ/√d) V_h per head, heads concatenated, · W_o + b_o; key = value (cross-attention)."""
    b, tq, tk, d, h = 32, 21, 256, 256, 8
    query, kv = leaf(b, tq, d), leaf(b, tk, d)
    w = [leaf(d, d, scale=0.05) for _ in range(4)]
    bs = [leaf(d) for _ in range(4)]

    def project(x, i):
        return (x @ w[i] + bs[i]).view(x.shape[0], x.shape[1], h, d // h).transpose(1, 2)

    def run():
        q, k, v = project(query, 0), project(kv, 1), project(kv, 2)
        att = torch.softmax(q @ k.transpose(2, 3) / math.sqrt(d // h), dim=-1)
        merged = (att @ v).transpose(1, 2).reshape(b, tq, d)
        return [merged @ w[3] + bs[3]]

    return run, [query, kv] + w + bs


def joint_feature_sampler():
    """Bilinear read-out with align-corners pixel centres and zero padding (grid_sample) at 21 joints."""
    b, hw, c, j = 32, 64, 256, 21
    features = leaf(b, c, hw, hw)  # NCHW, torch's native layout for grid_sample
    points = (torch.rand(b, j, 2) * (hw - 1)).requires_grad_(True)

    def run():
        grid = (2 * points / (hw - 1) - 1).view(b, j, 1, 2)
        return [F.grid_sample(features, grid, mode='bilinear', padding_mode='zeros', align_corners=True)]

    return run, [features, points]


def conv_step():
    """The wasm-training bench's step: 3×3 conv 64→64, 'same', B=8, 64×64; gradients of x and W."""
    x = leaf(8, 64, 64, 64)
    w = leaf(64, 64, 3, 3, scale=0.05)

    def run():
        return [F.conv2d(x, w, padding=1)]

    return run, [x, w]


CASES = [
    ('GroupFusion', 'B=8 64×64 G=3 C=32', group_fusion),
    ('DynamicEdgeGAT (additive)', 'B=32 J=21 F=512 K=8 U=64', lambda: dynamic_edge_gat('additive')),
    ('DynamicEdgeGAT (dotProduct)', 'B=32 J=21 F=512 K=8 U=64', lambda: dynamic_edge_gat('dotProduct')),
    ('DualBranchFusion (vector)', 'B=32 J=21 C=512', dual_branch_fusion),
    ('MultiHeadAttention (cross)', 'B=32 Tq=21 Tk=256 D=256 H=8', multi_head_attention),
    ('JointFeatureSampler', 'B=32 64×64×256 J=21', joint_feature_sampler),
    ('Conv2D training step', 'B=8 64×64 64→64 3×3', conv_step),
]


def measure(make):
    run, params = make()

    def forward():
        with torch.no_grad():
            run()

    def forward_backward():
        for p in params:
            p.grad = None
        outs = run()
        sum(o.sum() for o in outs).backward()

    return median_ms(forward)[0], median_ms(forward_backward)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--threads', default='1,2', help='comma-separated torch.set_num_threads values')
    parser.add_argument('--only', default=None, help='run only the case whose name starts with this')
    args = parser.parse_args()
    torch.manual_seed(0)
    rows = []
    for threads in [int(t) for t in args.threads.split(',')]:
        torch.set_num_threads(threads)
        for name, size, make in CASES:
            if args.only and not name.startswith(args.only):
                continue
            fwd, (fwd_bwd, fwd_bwd_cpu) = measure(make)
            rows.append(
                {
                    'layer': name,
                    'size': size,
                    'threads': threads,
                    'forward_ms': round(fwd, 3),
                    'forward_backward_ms': round(fwd_bwd, 3),
                    'forward_backward_cpu_ms': round(fwd_bwd_cpu, 3),
                }
            )
    print(json.dumps({'torch': torch.__version__, 'rows': rows}))


if __name__ == '__main__':
    main()
