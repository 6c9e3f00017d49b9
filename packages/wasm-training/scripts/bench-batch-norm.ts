// CPU time of the batch-norm work of one Learnable Groups demo step (batch 16, 64 px: the 152 batch-norm
// layers' input shapes, training-mode forward + backward through @phalanx/layers' batchNormTraining) on
// wasm, alternating, `--repeats` times each: `fused` (this package's fused kernels), `composed` (tfjs ops,
// the fused kernels unregistered, this package's per-channel Mean) and `stock-mean` (composed on the
// backend's own Mean kernel, which transposes first: the code before the fused kernels). Process CPU
// time (`process.cpuUsage`): a loaded machine stretches the wall time but not this figure. With threads
// the CPU time includes the pool's workers (also while they wait for work): compare the wall times there.
// Run: npx tsx --tsconfig bench/tsconfig.json packages/wasm-training/scripts/bench-batch-norm.ts [--repeats 5] [--threads N]
import * as tf from '@tensorflow/tfjs-core';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';

// The backend's own Mean, before this package replaces it (hence the dynamic imports below).
const stockMean = tf.getKernel(tf.Mean, 'wasm')!;
const { batchNormTraining, fusedBatchNormKernelsAvailable } = await import('@phalanx/layers');
const {
  BATCH_NORM_TRAINING_GRAD_KERNEL,
  BATCH_NORM_TRAINING_KERNEL,
  registerWasmTrainingKernels,
  setThreadedWasmBackend,
} = await import('@phalanx/wasm-training');

/** [N, H, W, C] → number of batch-norm layers of that input in the demo step (from its kernel profile). */
const DEMO_LAYERS: Array<[number[], number]> = [
  [[16, 16, 16, 16], 27],
  [[16, 16, 16, 32], 15],
  [[16, 8, 8, 16], 15],
  [[16, 8, 8, 32], 12],
  [[16, 4, 4, 32], 12],
  [[16, 2, 2, 32], 12],
  [[16, 1, 1, 32], 12],
  [[16, 16, 16, 64], 10],
  [[16, 4, 4, 16], 9],
  [[16, 8, 8, 64], 6],
  [[16, 4, 4, 64], 6],
  [[16, 2, 2, 64], 6],
  [[16, 1, 1, 64], 6],
  [[16, 32, 32, 32], 4],
];

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};

await setThreadedWasmBackend(option('--threads', 1));
const inputs = DEMO_LAYERS.map(([shape, count]) => {
  const c = shape[3];
  return {
    count,
    x: tf.randomNormal(shape, 0.5, 2, 'float32', 1),
    dy: tf.randomNormal(shape, 0, 1, 'float32', 2),
    gamma: tf.randomUniform([c], 0.5, 1.5, 'float32', 3),
    beta: tf.randomUniform([c], -1, 1, 'float32', 4),
  };
});

/** Forward + backward of every batch-norm layer of the step; process CPU ms and wall ms. */
function step(): [number, number] {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (const { count, x, dy, gamma, beta } of inputs) {
    for (let i = 0; i < count; i++) {
      tf.tidy(() => {
        const grads = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
          const [y, mean, variance] = batchNormTraining(a, g, b, 1e-5);
          tf.dispose([mean, variance]);
          return y;
        })([x, gamma, beta], dy);
        grads[0].dataSync(); // wait for the work (wasm runs synchronously; this only reads 4 bytes more)
      });
    }
  }
  const c = process.cpuUsage(c0);
  return [(c.user + c.system) / 1000, performance.now() - t0];
}

const fusedConfigs = [BATCH_NORM_TRAINING_KERNEL, BATCH_NORM_TRAINING_GRAD_KERNEL].map((name) =>
  tf.getKernel(name, 'wasm')!,
);
const ourMean = tf.getKernel(tf.Mean, 'wasm')!;
const setMean = (config: tf.KernelConfig) => {
  tf.unregisterKernel(tf.Mean, 'wasm');
  tf.registerKernel(config);
  config.setupFunc?.(tf.backend());
};
const modes: Record<string, () => void> = {
  fused: () => registerWasmTrainingKernels(),
  composed: () => fusedConfigs.forEach((k) => tf.unregisterKernel(k.kernelName, 'wasm')),
  'stock-mean': () => setMean(stockMean),
};
const times: Record<string, number[]> = { fused: [], composed: [], 'stock-mean': [] };
const walls: Record<string, number[]> = { fused: [], composed: [], 'stock-mean': [] };
for (let r = 0; r < option('--repeats', 5) + 1; r++) {
  for (const mode of Object.keys(modes)) {
    modes[mode]();
    const meanIs = tf.getKernel(tf.Mean, 'wasm');
    if (fusedBatchNormKernelsAvailable() !== (mode === 'fused') || (meanIs === stockMean) !== (mode === 'stock-mean')) {
      throw new Error(`mode ${mode} not set`);
    }
    const [ms, wall] = step();
    if (r > 0) {
      // the first round warms up
      times[mode].push(ms);
      walls[mode].push(wall);
    }
  }
  setMean(ourMean);
}
registerWasmTrainingKernels();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`threads ${getThreadsCount()}; ${DEMO_LAYERS.reduce((n, [, c]) => n + c, 0)} batch-norm layers, fwd + bwd`);
for (const mode of Object.keys(times)) {
  const runs = times[mode].map((t) => t.toFixed(0)).join(', ');
  console.log(
    `${mode}: median ${median(times[mode]).toFixed(0)} ms CPU (runs ${runs}), wall ${median(walls[mode]).toFixed(0)} ms`,
  );
}
