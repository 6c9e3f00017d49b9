/**
 * The PyTorch anchor of the layer bench: runs bench/scripts/torch-layers.py (the same layers, sizes and
 * forward+backward, written in torch from the layers' documented formulas) with torch on 1 and 2
 * threads, and keeps the faster of the two per layer. Needs Debian's `python3-torch` (with
 * `libopenblas0-pthread`); returns an empty map when no Python with torch is found, so the bench runs
 * without it.
 */
import { spawnSync } from 'node:child_process';

/** One layer's PyTorch figures: the faster of torch's 1- and 2-thread runs. */
export interface TorchFigure {
  forwardMs: number;
  forwardBackwardMs: number;
  /** The thread count of the faster forward+backward run. */
  threads: number;
  /** CPU time of forward+backward on 1 thread (median), ms: the load-independent anchor. */
  forwardBackwardCpuMs1: number | null;
}

interface TorchRow {
  layer: string;
  size: string;
  threads: number;
  forward_ms: number;
  forward_backward_ms: number;
  forward_backward_cpu_ms: number;
}

/** Key of a bench row: layer name and size. */
export const anchorKey = (layer: string, size: string): string => `${layer}\u0000${size}`;

/**
 * Runs the PyTorch script once (`threads` e.g. `'1,2'`) and returns the faster figure per layer and
 * size. `OPENBLAS_CORETYPE` and `OPENBLAS_L2_SIZE` are removed from this command's environment only:
 * with them Debian's OpenBLAS runs its generic kernels, many times slower.
 */
export function measurePytorchLayers(threads = process.env.BENCH_TORCH_THREADS ?? '1,2'): Map<string, TorchFigure> {
  const script = new URL('../scripts/torch-layers.py', import.meta.url).pathname;
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const best = new Map<string, TorchFigure>();
  for (const python of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(python, [script, '--threads', threads], { encoding: 'utf8', env, maxBuffer: 1 << 24 });
    if (r.status !== 0) continue;
    const { rows } = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { rows: TorchRow[] };
    for (const row of rows) {
      const key = anchorKey(row.layer, row.size);
      const seen = best.get(key);
      const cpu1 = row.threads === 1 ? row.forward_backward_cpu_ms : (seen?.forwardBackwardCpuMs1 ?? null);
      if (seen == null || row.forward_backward_ms < seen.forwardBackwardMs) {
        best.set(key, {
          forwardMs: row.forward_ms,
          forwardBackwardMs: row.forward_backward_ms,
          threads: row.threads,
          forwardBackwardCpuMs1: cpu1,
        });
      } else if (row.threads === 1) seen.forwardBackwardCpuMs1 = cpu1;
    }
    return best;
  }
  return best;
}
