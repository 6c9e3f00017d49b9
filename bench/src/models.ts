/**
 * Model-level benchmark: the Learnable Groups network at the paper's size (256 px input, planes
 * [32, 32], 3 groups with NDDR fusion, 256 hourglass features) on the wasm backend with
 * @phalanx/wasm-training:
 *
 * - inference ms/image at B = 1 (`model.predict`, hard selector);
 * - one training step at B = 8 (the example's `Trainer` step: forward, `tf.variableGrads`, three Adam
 *   groups) with GFLOP/s — FLOPs counted from the model's convolution layers (2·k²·Cin·Cout per output
 *   pixel; transposed convolutions per input pixel; GroupFusion's 1×1 matmul), a training step taken as
 *   3× the forward (forward + input and filter gradients);
 * - peak memory of the step: `tf.profile` peak bytes, `tf.memory().numBytes` and process RSS;
 * - the largest batch that trains within wasm's 4 GB heap: batches doubled from 1, each probed in its
 *   own process (a failed wasm allocation can leave the module unusable), until one fails — with
 *   `enableLeanBackprop()` (@phalanx/wasm-training) and with tfjs's own backward pass;
 * - the wasm heap's size after the steps (its linear memory only grows: the high-water mark), the
 *   figure that must stay below 4 GB (`tf.profile`'s peak counts a buffer once per tensor sharing it).
 *
 * Run: `pnpm bench -- models` or `npx tsx bench/src/models.ts` (add `--max-batch N` to cap the probe,
 * `--backprop lean|stock|both` (default both) to choose the backward passes probed).
 * It runs the packages' built `dist` (build wasm-training, blocks and learnable-groups first).
 * Writes bench/results/models.json and models.md.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers'; // registers the gradients
import type * as tfl from '@tensorflow/tfjs-layers';
import { enableLeanBackprop } from '@phalanx/wasm-training';
import { stepTemperature } from '@phalanx/layers';
import { createLearnableGroups } from '@phalanx/learnable-groups';
import { Trainer } from '@phalanx/train';
import { machineInfo, markdownTable, useBackend, writeResults } from './harness';

const PAPER = {
  numGroups: 3,
  fusion: true,
  inputSize: 256,
  numJoints: 21,
  planes: [32, 32] as [number, number],
  hourglassFeatures: 256,
};
const S = PAPER.inputSize;

/** Forward multiply-add FLOPs per sample of the convolution-like layers (convs, transposed convs, GroupFusion, dense). */
export function countForwardFlops(model: tfl.LayersModel): { total: number; byClass: Record<string, number> } {
  const byClass: Record<string, number> = {};
  let total = 0;
  const add = (cls: string, f: number) => {
    byClass[cls] = (byClass[cls] ?? 0) + f;
    total += f;
  };
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const outShape = layer.outputShape as (number | null)[] | (number | null)[][];
    const input = layer.input as tfl.SymbolicTensor | tfl.SymbolicTensor[];
    const inShape = Array.isArray(input) ? input.map((t) => t.shape) : input.shape;
    if (cls === 'Conv2D') {
      const [kh, kw, ci, co] = layer.getWeights()[0].shape;
      const [, ho, wo] = outShape as number[];
      add(cls, 2 * ho * wo * co * kh * kw * ci);
    } else if (cls === 'Conv2DTranspose') {
      const [kh, kw, co, ci] = layer.getWeights()[0].shape;
      const [, hi, wi] = inShape as number[];
      add(cls, 2 * hi * wi * ci * kh * kw * co);
    } else if (cls === 'GroupFusion') {
      const [rows, cols] = layer.getWeights()[0].shape; // [G·C, G·U]
      const first = (Array.isArray(inShape[0]) ? inShape[0] : inShape) as number[];
      add(cls, 2 * first[1] * first[2] * rows * cols);
    } else if (cls === 'Dense') {
      const [i, o] = layer.getWeights()[0].shape;
      const spatial = (outShape as number[]).slice(1, -1).reduce((a, b) => a * b, 1);
      add(cls, 2 * spatial * i * o);
    }
  }
  return { total, byClass };
}

function paperModel(): tfl.LayersModel {
  return createLearnableGroups({ ...PAPER, seed: 1 });
}

interface Batch {
  images: tf.Tensor4D;
  target: tf.Tensor3D;
}

function paperTrainer(model: tfl.LayersModel): Trainer<Batch> {
  return new Trainer<Batch>({
    model,
    progress: false,
    inputs: (b) => b.images,
    disposeBatch: () => {},
    loss: ([uv, depth], b) =>
      tf.mean(tf.sum(tf.abs(tf.sub(tf.concat([uv, tf.expandDims(depth, 2)], 2), b.target)), -1)) as tf.Scalar,
    parameterGroups: [
      { name: 'selector', match: /^meta_S\//, lr: 1e-1 },
      { name: 'fusion', match: /^nddr_layer0\//, lr: 1e-2 },
      { name: 'rest', lr: 1e-4 },
    ],
    temperature: stepTemperature(),
  });
}

function randomBatch(b: number, size: number): Batch {
  return {
    images: tf.randomUniform([b, size, size, 3], 0, 1, 'float32', 1) as tf.Tensor4D,
    target: tf.randomUniform([b, 21, 3], 0, size, 'float32', 2) as tf.Tensor3D,
  };
}

interface ProbeResult {
  batch: number;
  size: number;
  ok: boolean;
  /** The first step (allocations, kernel setup). */
  firstStepMs?: number;
  /** The second step. */
  stepMs?: number;
  /** Training GFLOP/s of the second step (3× the counted forward FLOPs). */
  gflops?: number;
  /** `tf.profile` peak bytes of the second step. */
  peakBytes?: number;
  /** Live tensor bytes after the steps (weights, Adam slots). */
  liveBytes?: number;
  /** Process RSS after the steps. */
  rss?: number;
  /** Size of the wasm heap after the steps (its high-water mark). */
  wasmHeap?: number;
  /** Backward pass: `lean` (enableLeanBackprop) or `stock`. */
  backprop?: string;
  loss?: number;
  error?: string;
}

/** Child-process mode: two training steps at batch `b`, input `size`; prints a `PROBE {json}` line. */
async function probe(b: number, size: number, lean: boolean): Promise<void> {
  if (lean) enableLeanBackprop();
  await useBackend('wasm');
  const model = createLearnableGroups({ ...PAPER, inputSize: size, seed: 1 });
  const flops = countForwardFlops(model).total;
  const trainer = paperTrainer(model);
  const batch = randomBatch(b, size);
  let t0 = performance.now();
  await trainer.trainStep(batch);
  const firstStepMs = performance.now() - t0;
  t0 = performance.now();
  let loss = Number.NaN;
  const info = await tf.profile(async () => {
    loss = (await trainer.trainStep(batch)).loss;
  });
  const stepMs = performance.now() - t0;
  const result: ProbeResult = {
    batch: b,
    size,
    ok: Number.isFinite(loss),
    firstStepMs,
    stepMs,
    gflops: (3 * flops * b) / stepMs / 1e6,
    peakBytes: info.peakBytes,
    liveBytes: tf.memory().numBytes,
    rss: process.memoryUsage().rss,
    wasmHeap: wasmHeapBytes(),
    backprop: lean ? 'lean' : 'stock',
    loss,
  };
  console.log(`PROBE ${JSON.stringify(result)}`);
}

/** Messages of a failed wasm allocation: XNNPACK returns status 6 (out of memory) and goes on. */
const OOM = /XNN status|Aborted|out of memory|Cannot allocate|RangeError|memory access out of bounds/i;

/** Size of the wasm module's linear memory: it only grows, so it is the heap's high-water mark. */
function wasmHeapBytes(): number {
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return backend.wasm?.HEAPU8?.buffer.byteLength ?? Number.NaN;
}

function runProbe(b: number, size: number, lean: boolean): ProbeResult {
  const self = fileURLToPath(import.meta.url);
  const flags = ['--probe', String(b), '--size', String(size), ...(lean ? ['--lean'] : [])];
  const r = spawnSync(process.execPath, ['--import', 'tsx', self, ...flags], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: 15 * 60 * 1000,
  });
  const text = `${r.stderr ?? ''}\n${r.stdout ?? ''}`;
  const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('PROBE '));
  const oom = text.split('\n').find((l) => OOM.test(l));
  if (r.status === 0 && line && !oom) {
    const result = JSON.parse(line.slice(6)) as ProbeResult;
    if (result.ok) return result;
    return { ...result, ok: false, error: `non-finite loss ${result.loss}` };
  }
  const reason = oom ?? text.trim().split('\n').slice(-1)[0] ?? '';
  return {
    batch: b,
    size,
    ok: false,
    backprop: lean ? 'lean' : 'stock',
    error: `${reason.trim().slice(0, 160)} (exit ${r.status ?? r.signal})`,
  };
}

const mib = (x: number) => `${(x / 2 ** 20).toFixed(0)} MiB`;

function describeProbe(p: ProbeResult): string {
  return p.ok
    ? `${(p.stepMs! / 1000).toFixed(1)} s/step = ${(p.stepMs! / p.batch).toFixed(0)} ms/image (${p.gflops!.toFixed(1)} GFLOP/s); ` +
        `first step ${(p.firstStepMs! / 1000).toFixed(1)} s; wasm heap ${mib(p.wasmHeap!)}, peak tensors ${mib(p.peakBytes!)}, live ${mib(p.liveBytes!)}, RSS ${mib(p.rss!)}`
    : `fails: ${p.error}`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const arg = (name: string, fallback: number) => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : fallback;
  };
  if (args.includes('--probe')) {
    await probe(arg('--probe', 1), arg('--size', S), args.includes('--lean'));
    return;
  }
  const maxBatch = arg('--max-batch', 64);

  await useBackend('wasm');
  const model = paperModel();
  const flops = countForwardFlops(model);
  const params = model.countParams();
  console.log(
    `Learnable Groups at 256 px: ${(params / 1e6).toFixed(2)} M parameters, forward ${(flops.total / 1e9).toFixed(2)} GFLOP/image (convs)`,
  );

  // Inference, B = 1.
  const x1 = tf.randomUniform([1, S, S, 3], 0, 1, 'float32', 3);
  const infer = async () => {
    const outs = model.predict(x1) as tf.Tensor[];
    await Promise.all(outs.map((o) => o.data()));
    tf.dispose(outs);
  };
  await infer();
  const inferMs: number[] = [];
  let inferPeak = 0;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    if (i === 0) inferPeak = (await tf.profile(infer)).peakBytes;
    else await infer();
    inferMs.push(performance.now() - t0);
  }
  inferMs.sort((a, b) => a - b);
  const inference = {
    medianMs: inferMs[2],
    minMs: inferMs[0],
    gflops: flops.total / inferMs[2] / 1e6,
    peakTensorBytes: inferPeak,
    rss: process.memoryUsage().rss,
  };
  console.log(`inference B=1: ${inference.medianMs.toFixed(0)} ms/image (${inference.gflops.toFixed(1)} GFLOP/s)`);
  x1.dispose();
  model.dispose();

  // Training: batches doubled from 1 at 256 px, each in its own process, until one fails; per backward pass.
  const modeArg = args.includes('--backprop') ? args[args.indexOf('--backprop') + 1] : 'both';
  const modes = modeArg === 'both' ? ['lean', 'stock'] : [modeArg];
  const series: Record<string, { probes: ProbeResult[]; largest: number; b8: ProbeResult | null }> = {};
  for (const mode of modes) {
    const probes: ProbeResult[] = [];
    let largest = 0;
    for (let b = 1; b <= maxBatch; b *= 2) {
      const r = runProbe(b, S, mode === 'lean');
      probes.push(r);
      console.log(`  [${mode} backprop] train B=${b} at ${S} px: ${describeProbe(r)}`);
      if (!r.ok) break;
      largest = b;
    }
    series[mode] = { probes, largest, b8: probes.find((p) => p.batch === 8) ?? null };
  }
  const primary = series[modes[0]];
  const largest = primary.largest;
  const b8 = primary.b8;
  // For scale when 256 px does not fit at B = 8: the largest of B = 8, 4, 2 that trains at 128 px.
  const reduced: ProbeResult[] = [];
  if (largest < 8) {
    for (const b of [8, 4, 2]) {
      const r = runProbe(b, 128, modes[0] === 'lean');
      reduced.push(r);
      console.log(`  train B=${b} at 128 px: ${describeProbe(r)}`);
      if (r.ok) break;
    }
  }

  const json = {
    machine: machineInfo(),
    backend: 'wasm (+ @phalanx/wasm-training), one thread + SIMD',
    model: { ...PAPER, parameters: params, forwardGflopPerImage: flops.total / 1e9, flopsByLayerClass: flops.byClass },
    inference,
    training: { backprop: modes[0], batch8At256: b8, largestBatchAt256: largest, series, at128: reduced },
    heapLimitBytes: 4294901760,
  };
  const md = [
    `# Learnable Groups at the paper's size on wasm`,
    '',
    `256×256 input, planes [32, 32], 3 groups + NDDR, 256 hourglass features: ${(params / 1e6).toFixed(2)} M parameters, ` +
      `${(flops.total / 1e9).toFixed(2)} GFLOP per image forward (convolutions, transposed convolutions, GroupFusion); ` +
      `a training step (the \`Trainer\` step: forward, gradients, three Adam groups) counted as 3× forward. ` +
      `Node ${process.version}, tfjs ${tf.version_core}, wasm on one thread with SIMD, 4 GB wasm heap. ` +
      `Each training probe runs in its own process; a probe fails when XNNPACK or the heap reports an allocation failure. ` +
      `"lean backprop": \`enableLeanBackprop()\` of @phalanx/wasm-training; "stock": tfjs's own backward pass. ` +
      `"wasm heap" is the module's memory after the steps (its high-water mark, limit 4096 MiB); "peak tensors" ` +
      `(\`tf.profile\`) counts a buffer once per tensor that shares it.`,
    '',
    markdownTable(
      ['measure', 'value'],
      [
        [
          'inference B=1 (median of 5)',
          `${inference.medianMs.toFixed(0)} ms/image (${inference.gflops.toFixed(1)} GFLOP/s), peak tensors ${mib(inferPeak)}`,
        ],
        [
          `training step B=8 at 256 px (${modes[0]} backprop)`,
          b8 ? describeProbe(b8) : `not run (a smaller batch already fails)`,
        ],
        ...modes.map((m) => [`largest batch that trains at 256 px (${m} backprop)`, String(series[m].largest)]),
        ...modes.flatMap((m) =>
          series[m].probes.map((p) => [`train B=${p.batch} at 256 px (${m} backprop)`, describeProbe(p)]),
        ),
        ...reduced.map((p) => [`train B=${p.batch} at 128 px (for scale)`, describeProbe(p)]),
      ],
    ),
  ].join('\n');
  writeResults('models', json, md);
  console.log(`\n${md}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
