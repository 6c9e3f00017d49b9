/**
 * `pnpm bench` — layer benchmark: forward and forward+backward time of every Phalanx layer at the
 * papers' sizes, on cpu and wasm. Writes bench/results/layers.json and layers.md.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { registerWasmTrainingKernels, unregisterWasmTrainingKernels } from '@phalanx/wasm-training';
import { machineInfo, markdownTable, time, useBackend, writeResults } from './harness';
import { anchorKey, measurePytorchLayers, type TorchFigure } from './pytorch-anchor';
import type { LayerBenchCase } from './types';

/**
 * Columns: `cpu`, stock `wasm`, and `wasm+kernels` — wasm with `@phalanx/wasm-training` registered (its
 * transposed-matmul and gradient kernels), which is how Phalanx recommends training on wasm in Node.
 */
const BACKENDS = (process.env.BENCH_BACKENDS ?? 'cpu,wasm,wasm+kernels').split(',');

/** `BENCH_LAYERS=GroupFusion,Dual…`: run only the cases whose name starts with one of these. */
const ONLY = process.env.BENCH_LAYERS?.split(',').filter((s) => s.length > 0);

/** `BENCH_TORCH=0` skips the PyTorch anchor (bench/scripts/torch-layers.py). */
const WITH_TORCH = process.env.BENCH_TORCH !== '0';

async function loadCases(): Promise<LayerBenchCase[]> {
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'cases');
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .sort();
  const all: LayerBenchCase[] = [];
  for (const file of files) {
    const mod = (await import(pathToFileURL(join(dir, file)).href)) as { cases: LayerBenchCase[] };
    all.push(...mod.cases);
  }
  return ONLY == null ? all : all.filter((c) => ONLY.some((prefix) => c.name.startsWith(prefix)));
}

function asList(x: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
  return Array.isArray(x) ? x : [x];
}

interface Row {
  layer: string;
  size: string;
  backend: string;
  forwardMs: number;
  forwardBackwardMs: number;
  /** Median CPU time of forward+backward (all threads of the process), ms. */
  forwardBackwardCpuMs: number;
}

export async function benchLayers(): Promise<Row[]> {
  const cases = await loadCases();
  const rows: Row[] = [];
  for (const backend of BACKENDS) {
    await useBackend(backend === 'wasm+kernels' ? 'wasm' : backend);
    if (backend === 'wasm+kernels') registerWasmTrainingKernels();
    else unregisterWasmTrainingKernels();
    for (const c of cases) {
      const { layer, inputs, kwargs = {} } = c.create();
      const feed = inputs.length === 1 ? inputs[0] : inputs;
      const forward = await time(async () => {
        const out = tf.tidy(() => asList(layer.apply(feed, kwargs) as tf.Tensor | tf.Tensor[]));
        await Promise.all(out.map((o) => o.data()));
        tf.dispose(out);
      });
      const inputVars = inputs.map((x) => tf.variable(x));
      const vars = [...inputVars, ...layer.trainableWeights.map((w) => w.read() as tf.Variable)];
      const feedVars = inputVars.length === 1 ? inputVars[0] : inputVars;
      const backward = await time(async () => {
        const { value, grads } = tf.variableGrads(() => {
          const outs = asList(layer.apply(feedVars, kwargs) as tf.Tensor | tf.Tensor[]);
          return tf.addN(outs.map((o) => tf.sum(o))) as tf.Scalar;
        }, vars);
        await Promise.all(Object.values(grads).map((g) => g.data()));
        tf.dispose([value, ...Object.values(grads)]);
      });
      tf.dispose([...inputs, ...inputVars]);
      layer.dispose();
      const row = {
        layer: c.name,
        size: c.size,
        backend,
        forwardMs: +forward.medianMs.toFixed(3),
        forwardBackwardMs: +backward.medianMs.toFixed(3),
        forwardBackwardCpuMs: +backward.medianCpuMs.toFixed(3),
      };
      console.log(`${backend}\t${c.name}\t${c.size}\tfwd ${row.forwardMs} ms\tfwd+bwd ${row.forwardBackwardMs} ms`);
      rows.push(row);
    }
  }
  const torch = WITH_TORCH ? measurePytorchLayers() : new Map<string, TorchFigure>();
  const table = markdownTable(
    [
      'layer',
      'size',
      ...BACKENDS.flatMap((b) => [`${b} fwd (ms)`, `${b} fwd+bwd (ms)`]),
      ...(torch.size > 0 ? torchHeader() : []),
    ],
    [...new Set(rows.map((r) => anchorKey(r.layer, r.size)))].map((key) => {
      const [layer, size] = key.split('\u0000');
      const cells = BACKENDS.flatMap((b): (string | number)[] => {
        const r = rows.find((x) => x.layer === layer && x.size === size && x.backend === b);
        return r ? [r.forwardMs, r.forwardBackwardMs] : ['–', '–'];
      });
      return [layer, size, ...cells, ...(torch.size > 0 ? torchCells(rows, layer, size, torch.get(key)) : [])];
    }),
  );
  const pytorch = Object.fromEntries([...torch].map(([key, figure]) => [key.replace('\u0000', ' | '), figure]));
  writeResults('layers', { machine: machineInfo(), rows, pytorch }, `# Layer benchmark\n\n${table}`);
  console.log(`\n${table}`);
  return rows;
}

/** The wasm column compared with PyTorch: wasm with the package's kernels when measured, else wasm. */
const WASM_COLUMN = BACKENDS.includes('wasm+kernels') ? 'wasm+kernels' : 'wasm';

function torchHeader(): string[] {
  return [
    'PyTorch fwd+bwd (ms, faster of 1/2 threads)',
    `${WASM_COLUMN} ÷ PyTorch (fwd+bwd)`,
    `CPU ms ${WASM_COLUMN} / PyTorch 1 thread`,
    'CPU ratio',
  ];
}

function torchCells(rows: Row[], layer: string, size: string, figure: TorchFigure | undefined): (string | number)[] {
  const wasm = rows.find((x) => x.layer === layer && x.size === size && x.backend === WASM_COLUMN);
  if (figure == null) return ['–', '–', '–', '–'];
  const ratio = wasm == null ? '–' : `${(wasm.forwardBackwardMs / figure.forwardBackwardMs).toFixed(2)}×`;
  const cpu1 = figure.forwardBackwardCpuMs1;
  const cpuRatio = wasm == null || cpu1 == null ? '–' : `${(wasm.forwardBackwardCpuMs / cpu1).toFixed(2)}×`;
  return [
    `${figure.forwardBackwardMs} (${figure.threads} t)`,
    ratio,
    `${wasm?.forwardBackwardCpuMs ?? '–'} / ${cpu1 ?? '–'}`,
    cpuRatio,
  ];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await benchLayers();
}
