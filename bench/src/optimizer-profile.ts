/**
 * CPU time of the part of a training step after the backward pass, at the Learnable Groups demo's size
 * (its 636 trainable variables in the demo's three parameter groups): the optimizers' update with
 * tfjs' `tf.train.adam` against `FlatAdamOptimizer`, and the global gradient norm per variable (the
 * former `globalNorm`) against one concatenation (today's). Gradients are fixed random tensors, so only
 * the update is measured. Process CPU time, robust on a shared machine; kernels counted with `tf.profile`.
 *
 * Run: `npx tsx --tsconfig bench/tsconfig.json bench/src/optimizer-profile.ts [--reps 20] [--threads 1]`.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import { setThreadedWasmBackend } from '@phalanx/wasm-training';
import { createLearnableGroups } from '@phalanx/learnable-groups';
import { applyGroupGradients, buildParameterGroups, FlatAdamOptimizer, globalNorm } from '@phalanx/train';

const args = process.argv.slice(2);
const arg = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};

/** Median process CPU time (ms) of `reps` runs of `f`, after two warm-up runs. */
function cpuMs(f: () => void, reps: number): number {
  f();
  f();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const c0 = process.cpuUsage();
    f();
    const c = process.cpuUsage(c0);
    times.push((c.user + c.system) / 1000);
  }
  return times.sort((a, b) => a - b)[Math.floor(reps / 2)];
}

async function kernels(f: () => void): Promise<number> {
  return (await tf.profile(f)).kernels.length;
}

async function main(): Promise<void> {
  const reps = arg('--reps', 20);
  console.log('threads', await setThreadedWasmBackend(arg('--threads', 1)));
  const model = createLearnableGroups({
    numGroups: 3,
    fusion: true,
    inputSize: 64,
    numJoints: 21,
    planes: [16, 16],
    hourglassFeatures: 64,
    stemChannels: [32, 64],
    neckChannels: 64,
    seed: 1,
  });
  const groupsWith = (optimizerFactory: (lr: number) => tf.Optimizer) =>
    buildParameterGroups('bench', model.trainableWeights, [
      { name: 'selector', match: /^meta_S\//, lr: 1e-1, optimizerFactory },
      { name: 'fusion', match: /^nddr_layer0\//, lr: 1e-2, optimizerFactory },
      { name: 'rest', lr: 1e-4, optimizerFactory },
    ]);
  const grads: Record<string, tf.Tensor> = {};
  for (const w of model.trainableWeights) {
    const v = w.read() as tf.Variable;
    grads[v.name] = tf.mul(tf.randomNormal(v.shape, 0, 1, 'float32', 1), 1e-3);
  }
  const parameters = model.trainableWeights.reduce((n, w) => n + tf.util.sizeFromShape(w.shape as number[]), 0);
  console.log(`${model.trainableWeights.length} variables, ${parameters} parameters; median of ${reps} runs`);
  for (const [label, factory] of [
    ['tf.train.adam', (lr: number) => tf.train.adam(lr)],
    ['FlatAdamOptimizer', (lr: number) => new FlatAdamOptimizer(lr)],
  ] as const) {
    const groups = groupsWith(factory);
    const step = () => tf.tidy(() => applyGroupGradients(groups, grads));
    const ms = cpuMs(step, reps);
    console.log(`update, ${label}: ${ms.toFixed(1)} ms CPU, ${await kernels(step)} kernels`);
    groups.forEach((g) => g.optimizer.dispose());
  }
  const all = Object.values(grads);
  const perVariableNorm = () => tf.tidy(() => tf.sqrt(tf.addN(all.map((g) => tf.sum(tf.square(g))))));
  const flatNorm = () => tf.tidy(() => globalNorm(all));
  for (const [label, f] of [
    ['per variable (before)', perVariableNorm],
    ['one concatenation (globalNorm)', flatNorm],
  ] as const) {
    const run = () => void f().dispose();
    console.log(`global norm, ${label}: ${cpuMs(run, reps).toFixed(1)} ms CPU, ${await kernels(run)} kernels`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
