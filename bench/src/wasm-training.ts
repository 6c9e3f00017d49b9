/**
 * Conv training-step throughput on cpu and wasm, with and without @phalanx/wasm-training.
 *
 * Step: y = conv2d(x, W), 3×3, 'same', stride 1, x: [B, 64, 64, 64], W: [3, 3, 64, 64]; backward
 * = ∂x (Conv2DBackpropInput) + ∂W (Conv2DBackpropFilter) for a given dy. FLOPs: forward 2·B·H·W·Ci·Co·9,
 * backward twice that. Run: `pnpm --filter @phalanx/bench exec tsx src/wasm-training.ts`
 * (or `npx tsx bench/src/wasm-training.ts` from the repo root).
 *
 * A second section times matMul on wasm with the backend's own BatchMatMul/_FusedMatMul and with
 * the package's replacements (transposed products, a batch against a matrix, a dense-layer training
 * step). `--matmul-only` runs just that section and updates the `matMul` entry of the results file;
 * `--conv-only` prints the conv step per gradient strategy (wall and CPU time) and writes nothing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers'; // registers the gradients
import { matMulRoute } from '../../packages/wasm-training/src/batch-matmul';
import {
  registerWasmTrainingKernels,
  setConv2DBackpropFilterStrategy,
  setConv2DBackpropInputStrategy,
  unregisterWasmTrainingKernels,
} from '../../packages/wasm-training/src/index';

const B = 8;
const H = 64;
const C = 64;
const K = 3;
const PYTORCH_ONE_CORE_MS = 112; // issue 4: PyTorch, one core of this machine, same step (≈ 64 GFLOP/s)

/**
 * Runs bench/scripts/torch-conv-step.py with a Python that has torch (Debian's python3-torch lives in
 * /usr/bin/python3), on one core; null when no such Python is here. The bench itself never needs it.
 */
function measurePytorchOneCore(): { forward_ms: number; step_ms: number; torch: string } | null {
  const script = new URL('../scripts/torch-conv-step.py', import.meta.url).pathname;
  for (const python of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(python, [script], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
    if (r.status === 0) return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}');
  }
  return null;
}

const fwdFlops = (b: number, h: number) => 2 * b * h * h * C * C * K * K;

/** Best of the runs: the machine is shared, the minimum is the least disturbed figure. */
function best(xs: number[]): number {
  return Math.min(...xs);
}

function time(fn: () => void, reps: number, warmup = 1): number {
  for (let i = 0; i < warmup; i++) fn();
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    ms.push(performance.now() - t0);
  }
  return best(ms);
}

/** Best wall and best CPU time (user + system) of the runs, ms. */
function timeBoth(fn: () => void, reps: number, warmup = 1): { wall: number; cpu: number } {
  for (let i = 0; i < warmup; i++) fn();
  let wall = Infinity;
  let cpu = Infinity;
  for (let i = 0; i < reps; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    fn();
    wall = Math.min(wall, performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu = Math.min(cpu, (c.user + c.system) / 1000);
  }
  return { wall, cpu };
}

interface Parts {
  forward: number;
  backwardInput: number;
  backwardFilter: number;
  /** forward + backward (tf.grads re-runs the forward). */
  step: number;
  /** The same four as CPU time (best of the runs): steadier than wall time on a shared machine. */
  cpu: { forward: number; backwardInput: number; backwardFilter: number; step: number };
}

/** Times forward, the two backward kernels and the whole step (forward + tf.grads) at [b, h, h, C]. */
function measure(b: number, h: number, reps: number, warmup: number): Parts {
  const x = tf.randomNormal([b, h, h, C]) as tf.Tensor4D;
  const w = tf.mul(tf.randomNormal([K, K, C, C]), 0.05) as tf.Tensor4D;
  const dy = tf.randomNormal([b, h, h, C]) as tf.Tensor4D;
  const sync = (t: tf.Tensor | tf.Tensor[]) => (Array.isArray(t) ? t : [t]).forEach((u) => (u.dataSync(), u.dispose()));
  const forwardT = timeBoth(() => sync(tf.conv2d(x, w, 1, 'same')), reps, warmup);
  const backwardInputT = timeBoth(
    () =>
      sync(
        tf
          .engine()
          .runKernel(
            tf.Conv2DBackpropInput,
            { dy, filter: w },
            { strides: 1, pad: 'same', dataFormat: 'NHWC', inputShape: x.shape },
          ) as tf.Tensor,
      ),
    reps,
    warmup,
  );
  const backwardFilterT = timeBoth(
    () =>
      sync(
        tf
          .engine()
          .runKernel(
            tf.Conv2DBackpropFilter,
            { x, dy },
            { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: w.shape },
          ) as tf.Tensor,
      ),
    reps,
    warmup,
  );
  const grads = tf.grads((a: tf.Tensor, f: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, f as tf.Tensor4D, 1, 'same'));
  const stepT = timeBoth(() => sync(grads([x, w], dy)), reps, warmup);
  tf.dispose([x, w, dy]);
  return {
    forward: forwardT.wall,
    backwardInput: backwardInputT.wall,
    backwardFilter: backwardFilterT.wall,
    step: stepT.wall,
    cpu: {
      forward: forwardT.cpu,
      backwardInput: backwardInputT.cpu,
      backwardFilter: backwardFilterT.cpu,
      step: stepT.cpu,
    },
  };
}

interface MatMulRow {
  case: string;
  route: string;
  'stock ms': number;
  'replaced ms': number;
  speedup: number;
}

/** matMul cases with the stock wasm kernels and with the package's (best of `reps` after a warm-up). */
function matMulSection(reps: number): MatMulRow[] {
  const sync = (t: tf.Tensor | tf.Tensor[]) => (Array.isArray(t) ? t : [t]).forEach((u) => (u.dataSync(), u.dispose()));
  const products: Array<[string, number[], number[], boolean, boolean]> = [
    ['[672,512]ᵀ·[672,512] (∂W of a dense layer)', [672, 512], [672, 512], true, false],
    ['[672,512]·[512,512]ᵀ (∂x of a dense layer)', [672, 512], [512, 512], false, true],
    ['[672,512]ᵀ·[512,672]ᵀ', [672, 512], [512, 672], true, true],
    ['[32,21,512]·[512,512] (batch against a matrix)', [32, 21, 512], [512, 512], false, false],
    ['[32,21,512]·[512,512]ᵀ', [32, 21, 512], [512, 512], false, true],
    ['[512,64]ᵀ·[8,512,64] (matrix against a batch)', [512, 64], [8, 512, 64], true, false],
    ['[64,64]ᵀ·[64,64] (small)', [64, 64], [64, 64], true, false],
    ['[1,512]·[512,512]ᵀ (matrix–vector, kept stock)', [1, 512], [512, 512], false, true],
    ['[256,21,64]·[256,21,64]ᵀ (both batched, kept stock)', [256, 21, 64], [256, 21, 64], false, true],
  ];
  const rows: MatMulRow[] = [];
  const both = (f: () => number): [number, number] => {
    unregisterWasmTrainingKernels();
    const stock = f();
    registerWasmTrainingKernels();
    return [stock, f()];
  };
  const add = (name: string, route: string, [stock, replaced]: [number, number]) =>
    rows.push({
      case: name,
      route,
      'stock ms': +stock.toFixed(3),
      'replaced ms': +replaced.toFixed(3),
      speedup: +(stock / replaced).toFixed(1),
    });
  for (const [name, sa, sb, ta, tb] of products) {
    const a = tf.randomNormal(sa);
    const b = tf.randomNormal(sb);
    add(
      name,
      matMulRoute(sa, sb, ta, tb),
      both(() => time(() => sync(tf.matMul(a, b, ta, tb)), reps, 1)),
    );
    tf.dispose([a, b]);
  }
  // Dense layer 512→512 on B=32×21 rows with bias and relu: forward + ∂x, ∂W, ∂b via tf.grads (as tfjs-layers does).
  const x = tf.randomNormal([672, 512]);
  const w = tf.mul(tf.randomNormal([512, 512]), 0.05);
  const bias = tf.zeros([512]);
  const dy = tf.randomNormal([672, 512]);
  const dense = (xs: tf.Tensor, ws: tf.Tensor, bs: tf.Tensor) =>
    tf.fused.matMul({ a: xs, b: ws, bias: bs, activation: 'relu' });
  const grads = tf.grads(dense);
  add(
    'dense 512→512 forward, B=32×21',
    'fused, XNNPACK',
    both(() => time(() => sync(dense(x, w, bias)), reps, 1)),
  );
  add(
    'dense 512→512 training step (fwd + bwd), B=32×21',
    'fold (∂x, ∂W)',
    both(() => time(() => sync(grads([x, w, bias], dy)), reps, 1)),
  );
  tf.dispose([x, w, bias, dy]);
  return rows;
}

function printMatMul(rows: MatMulRow[]): void {
  const cols = Object.keys(rows[0]) as Array<keyof MatMulRow>;
  console.log(`
matMul on wasm: stock BatchMatMul/_FusedMatMul vs @phalanx/wasm-training (best of runs, ms)\n`);
  console.log(`| ${cols.join(' | ')} |`);
  console.log(`|${cols.map(() => '---').join('|')}|`);
  for (const r of rows) console.log(`| ${cols.map((c) => String(r[c])).join(' | ')} |`);
}

const RESULTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'results', 'wasm-training.json');

async function matMulOnly(): Promise<void> {
  await tf.setBackend('wasm');
  await tf.ready();
  const matMul = matMulSection(5);
  printMatMul(matMul);
  const previous = existsSync(RESULTS) ? (JSON.parse(readFileSync(RESULTS, 'utf8')) as Record<string, unknown>) : {};
  const load = (await import('node:os')).loadavg();
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(
    RESULTS,
    JSON.stringify({ ...previous, matMul: { loadAverage1min: load[0], rows: matMul } }, null, 2) + '\n',
  );
}

async function main(): Promise<void> {
  const rows: Array<Record<string, string | number>> = [];
  const fullFwd = fwdFlops(B, H);
  const gflops = (flops: number, ms: number) => flops / ms / 1e6;

  await tf.setBackend('wasm');
  await tf.ready();
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');

  // 1. wasm as shipped (our kernels removed): forward kernel, and the backend's scalar Conv2DBackpropInput.
  unregisterWasmTrainingKernels();
  const stock = tf.getKernelsForBackend('wasm').some((k) => k.kernelName === tf.Conv2DBackpropInput);
  if (!stock) throw new Error('expected the stock wasm Conv2DBackpropInput');
  const x0 = tf.randomNormal([B, H, H, C]);
  const w0 = tf.randomNormal([K, K, C, C]);
  const fwdOnly = time(() => tf.conv2d(x0 as tf.Tensor4D, w0 as tf.Tensor4D, 1, 'same').dataSync(), 7, 2);
  const stockInput = time(
    () =>
      (
        tf
          .engine()
          .runKernel(
            tf.Conv2DBackpropInput,
            { dy: x0, filter: w0 },
            { strides: 1, pad: 'same', dataFormat: 'NHWC', inputShape: x0.shape },
          ) as tf.Tensor
      ).dispose(),
    1,
    0,
  );
  tf.dispose([x0, w0]);
  registerWasmTrainingKernels();

  // 2. wasm with @phalanx/wasm-training, both filter-gradient strategies.
  const strategies: Record<string, Parts> = {};
  // 'winograd' also takes the Winograd input gradient; the others the XNNPACK convolution for ∂x.
  for (const s of ['winograd', 'shifted-gemm', 'swapped-conv', 'im2col'] as const) {
    setConv2DBackpropFilterStrategy(s);
    setConv2DBackpropInputStrategy(s === 'winograd' ? 'winograd' : 'convolution');
    strategies[s] = measure(B, H, 7, 2);
  }
  setConv2DBackpropFilterStrategy('winograd');
  setConv2DBackpropInputStrategy('winograd');
  const wasm = strategies['winograd'];

  // 3. cpu at a reduced size (its gradient kernels are naive loops), scaled by FLOPs.
  await tf.setBackend('cpu');
  const cpuB = 1;
  const cpuH = 32;
  const cpu = measure(cpuB, cpuH, 1, 0);
  const cpuScale = fullFwd / fwdFlops(cpuB, cpuH);

  const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toPrecision(3));
  const add = (name: string, fwdMs: number, stepMs: number, note: string) =>
    rows.push({
      backend: name,
      'forward ms': fmt(fwdMs),
      'forward GFLOP/s': fmt(gflops(fullFwd, fwdMs)),
      'fwd+bwd ms': fmt(stepMs),
      'fwd+bwd GFLOP/s': fmt(gflops(3 * fullFwd, stepMs)),
      note,
    });
  add('cpu', cpu.forward * cpuScale, cpu.step * cpuScale, `measured at B=${cpuB} ${cpuH}×${cpuH}, time × ${cpuScale}`);
  rows.push({
    backend: 'wasm forward kernel alone',
    'forward ms': fmt(fwdOnly),
    'forward GFLOP/s': fmt(gflops(fullFwd, fwdOnly)),
    'fwd+bwd ms': '–',
    'fwd+bwd GFLOP/s': '–',
    note: 'stock tfjs-backend-wasm Conv2D (XNNPACK)',
  });
  add(
    'wasm stock (no filter grad)',
    fwdOnly,
    fwdOnly + stockInput,
    `cannot train; stock Conv2DBackpropInput alone ${fmt(stockInput)} ms`,
  );
  for (const [s, p] of Object.entries(strategies)) {
    add(
      `wasm + wasm-training (${s})`,
      p.forward,
      p.step,
      `∂x ${fmt(p.backwardInput)} ms, ∂W ${fmt(p.backwardFilter)} ms; CPU ms: forward ${fmt(p.cpu.forward)}, ∂x ${fmt(p.cpu.backwardInput)}, ∂W ${fmt(p.cpu.backwardFilter)}, step ${fmt(p.cpu.step)} (step ÷ forward ${(p.cpu.step / p.cpu.forward).toFixed(2)})`,
    );
  }
  add(
    'PyTorch, 1 core (issue 4)',
    PYTORCH_ONE_CORE_MS / 3,
    PYTORCH_ONE_CORE_MS,
    'the figure the issue cites; forward ≈ step/3',
  );
  const torch = measurePytorchOneCore();
  if (torch)
    add(
      `PyTorch ${torch.torch}, 1 core (measured)`,
      torch.forward_ms,
      torch.step_ms,
      'bench/scripts/torch-conv-step.py',
    );

  const matMul = matMulSection(5);

  const wasmStep = wasm.step;
  const cpuStep = cpu.step * cpuScale;
  const bwdPerFlop = (wasm.step - wasm.forward) / (2 * wasm.forward);
  const load = (await import('node:os')).loadavg();
  const summary = {
    loadAverage1min: load[0],
    timing: 'best of 7 runs after 2 warm-ups (wasm); cpu one run',
    config: { B, H, W: H, Cin: C, Cout: C, kernel: K, padding: 'same', stride: 1, forwardGflop: fullFwd / 1e9 },
    node: process.version,
    wasmSimd: simd,
    wasmMultithread: threads,
    cpuMeasuredAt: { B: cpuB, H: cpuH, W: cpuH, scale: cpuScale },
    rows,
    targets: {
      wasmStepSpeedupOverCpu: cpuStep / wasmStep,
      backwardCostPerFlopOverForward: bwdPerFlop,
      stepOverForward: wasm.step / wasm.forward,
      stepOverForwardCpu: wasm.cpu.step / wasm.cpu.forward,
      stepOverPytorchOneCore: wasmStep / PYTORCH_ONE_CORE_MS,
      stepOverPytorchOneCoreMeasured: torch ? wasmStep / torch.step_ms : null,
    },
    matMul: { loadAverage1min: load[0], rows: matMul },
  };
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(RESULTS, JSON.stringify(summary, null, 2) + '\n');

  const cols = Object.keys(rows[0]);
  console.log(
    `\nConv training step B=${B} ${H}×${H} ${C}→${C} 3×3 'same' (forward ${(fullFwd / 1e9).toFixed(2)} GFLOP; fwd+bwd = 3×) — Node ${process.version}, wasm SIMD ${simd}, wasm threads ${threads}, load average ${load[0].toFixed(1)} on ${(await import('node:os')).cpus().length} cores; best of 7 runs\n`,
  );
  console.log(`| ${cols.join(' | ')} |`);
  console.log(`|${cols.map(() => '---').join('|')}|`);
  for (const r of rows) console.log(`| ${cols.map((c) => String(r[c])).join(' | ')} |`);
  console.log(
    `\nwasm step vs cpu: ${fmt(cpuStep / wasmStep)}× faster (target ≥ 100×); backward cost per FLOP / forward: ${bwdPerFlop.toFixed(2)} (target ≤ 2); ` +
      `step ÷ forward: ${(wasm.step / wasm.forward).toFixed(2)} wall, ${(wasm.cpu.step / wasm.cpu.forward).toFixed(2)} CPU (target ≤ 2.5); ` +
      `step / PyTorch one core: ${(wasmStep / PYTORCH_ONE_CORE_MS).toFixed(2)} (target ≤ 3)` +
      (torch ? `; against PyTorch measured here: ${(wasmStep / torch.step_ms).toFixed(2)}` : '') +
      '\n',
  );
  printMatMul(matMul);
}

/**
 * `--conv-only`: the conv step per gradient strategy on wasm (wall and CPU time, best of 7), without the
 * cpu backend, the stock input gradient and the matMul section — minutes less on a loaded machine.
 */
async function convOnly(): Promise<void> {
  await tf.setBackend('wasm');
  await tf.ready();
  const fmt = (n: number) => n.toFixed(1);
  console.log(`\nConv step B=${B} ${H}×${H} ${C}→${C} 3×3 'same' on wasm — best of 7 (ms)\n`);
  console.log(
    '| ∂W / ∂x strategy | forward | ∂x | ∂W | step | step ÷ forward | CPU forward | CPU ∂x | CPU ∂W | CPU step | CPU step ÷ forward |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const s of ['winograd', 'shifted-gemm', 'swapped-conv'] as const) {
    setConv2DBackpropFilterStrategy(s);
    setConv2DBackpropInputStrategy(s === 'winograd' ? 'winograd' : 'convolution');
    const p = measure(B, H, 7, 2);
    const input = s === 'winograd' ? 'winograd' : 'convolution';
    console.log(
      `| ${s} / ${input} | ${fmt(p.forward)} | ${fmt(p.backwardInput)} | ${fmt(p.backwardFilter)} | ${fmt(p.step)} | ${(p.step / p.forward).toFixed(2)} | ` +
        `${fmt(p.cpu.forward)} | ${fmt(p.cpu.backwardInput)} | ${fmt(p.cpu.backwardFilter)} | ${fmt(p.cpu.step)} | ${(p.cpu.step / p.cpu.forward).toFixed(2)} |`,
    );
  }
  setConv2DBackpropFilterStrategy('winograd');
  setConv2DBackpropInputStrategy('winograd');
}

void (process.argv.includes('--matmul-only')
  ? matMulOnly()
  : process.argv.includes('--conv-only')
    ? convOnly()
    : main());
