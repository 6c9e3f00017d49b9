/**
 * Memory/time profile of one Learnable Groups training step on wasm (the `models` benchmark's step):
 * peak tensor bytes, where in the step the peak falls, bytes allocated and time per kernel.
 *
 * Run: `npx tsx --tsconfig bench/tsconfig.json bench/src/models-profile.ts [--batch 1] [--size 256] [--top 25]
 * [--steps 2] [--lean] [--planes 32] [--hourglass 256] [--small] [--threads N] [--input-strategy S]
 * [--filter-strategy S] [--winograd] [--dump FILE]` (`--lean`: `enableLeanBackprop()`; `--winograd`:
 * `enableWinogradConvolution()`; `--small`: the demo model's stem
 * 32,64 and neck 64; `--threads N`: the threaded backend with N threads; `--dump`: every kernel of the
 * profiled step as JSON `[name, ms, input shapes]`).
 *
 * The demo step: `--batch 16 --size 64 --planes 16 --hourglass 64 --small --lean --threads 1`.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import {
  enableLeanBackprop,
  enableWinogradConvolution,
  setThreadedWasmBackend,
  setConv2DBackpropInputStrategy,
  setConv2DBackpropFilterStrategy,
} from '@phalanx/wasm-training';
import { stepTemperature } from '@phalanx/layers';
import { createLearnableGroups } from '@phalanx/learnable-groups';
import { Trainer } from '@phalanx/train';
import { useBackend } from './harness';

/** Size of the wasm module's linear memory: it only grows, so it is the heap's high-water mark. */
export function wasmHeapBytes(): number {
  const b = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return b.wasm?.HEAPU8?.buffer.byteLength ?? Number.NaN;
}

interface Batch {
  images: tf.Tensor4D;
  target: tf.Tensor3D;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const arg = (name: string, fallback: number) => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : fallback;
  };
  const b = arg('--batch', 1);
  const size = arg('--size', 256);
  const top = arg('--top', 25);
  const steps = arg('--steps', 2);
  if (args.includes('--lean')) enableLeanBackprop();
  if (args.includes('--winograd')) enableWinogradConvolution();
  const threads = arg('--threads', 0);
  if (threads > 0) console.log('threads', await setThreadedWasmBackend(threads));
  else await useBackend('wasm');
  const sarg = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  if (sarg('--input-strategy')) setConv2DBackpropInputStrategy(sarg('--input-strategy') as 'winograd');
  if (sarg('--filter-strategy')) setConv2DBackpropFilterStrategy(sarg('--filter-strategy') as 'winograd');
  const model = createLearnableGroups({
    numGroups: 3,
    fusion: true,
    inputSize: size,
    numJoints: 21,
    planes: [arg('--planes', 32), arg('--planes', 32)],
    hourglassFeatures: arg('--hourglass', 256),
    ...(args.includes('--small') ? { stemChannels: [32, 64] as [number, number], neckChannels: 64 } : {}),
    seed: 1,
  });
  const trainer = new Trainer<Batch>({
    model,
    progress: false,
    inputs: (x) => x.images,
    disposeBatch: () => {},
    loss: ([uv, depth], x) =>
      tf.mean(tf.sum(tf.abs(tf.sub(tf.concat([uv, tf.expandDims(depth, 2)], 2), x.target)), -1)) as tf.Scalar,
    parameterGroups: [
      { name: 'selector', match: /^meta_S\//, lr: 1e-1 },
      { name: 'fusion', match: /^nddr_layer0\//, lr: 1e-2 },
      { name: 'rest', lr: 1e-4 },
    ],
    temperature: stepTemperature(),
  });
  const batch: Batch = {
    images: tf.randomUniform([b, size, size, 3], 0, 1, 'float32', 1) as tf.Tensor4D,
    target: tf.randomUniform([b, 21, 3], 0, size, 'float32', 2) as tf.Tensor3D,
  };
  const times: number[] = [];
  let loss = 0;
  const cpu: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    loss = (await trainer.trainStep(batch)).loss;
    times.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  const live0 = tf.memory().numBytes;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const info = await tf.profile(async () => {
    loss = (await trainer.trainStep(batch)).loss;
  });
  const profMs = performance.now() - t0;
  const profCpu = process.cpuUsage(c0);
  const mib = (x: number) => (x / 2 ** 20).toFixed(1);
  const peakIndex = info.kernels.reduce(
    (best, k, i, ks) => (k.totalBytesSnapshot > ks[best].totalBytesSnapshot ? i : best),
    0,
  );
  const byName = new Map<string, { n: number; bytes: number; ms: number }>();
  for (const k of info.kernels) {
    const e = byName.get(k.name) ?? { n: 0, bytes: 0, ms: 0 };
    e.n++;
    e.bytes += Math.max(0, k.bytesAdded);
    e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    byName.set(k.name, e);
  }
  console.log(
    `B=${b} S=${size} loss ${loss.toFixed(3)}; steps ${times.map((t) => t.toFixed(0)).join(', ')} ms ` +
      `(process CPU ${cpu.map((t) => t.toFixed(0)).join(', ')} ms); profiled step ${profMs.toFixed(0)} ms`,
  );
  console.log(
    `process CPU time: steps ${cpu.map((t) => t.toFixed(0)).join(', ')} ms; profiled step ${((profCpu.user + profCpu.system) / 1000).toFixed(0)} ms`,
  );
  console.log(
    `peak ${mib(info.peakBytes)} MiB (live before ${mib(live0)} MiB); kernels ${info.kernels.length}, peak at kernel #${peakIndex} (${info.kernels[peakIndex].name})`,
  );
  const bwd = info.kernels.findIndex((k) => /Backprop|Grad/.test(k.name));
  if (bwd >= 0)
    console.log(
      `backward starts at kernel #${bwd} (${info.kernels[bwd].name}) with ${mib(info.kernels[bwd].totalBytesSnapshot)} MiB live`,
    );
  console.log(`RSS ${mib(process.memoryUsage().rss)} MiB; wasm heap ${mib(wasmHeapBytes())} MiB (its high-water mark)`);
  // timeline: totalBytesSnapshot every 5 % of the kernels
  const step = Math.max(1, Math.floor(info.kernels.length / 20));
  console.log(
    'timeline (kernel#: MiB):',
    info.kernels
      .filter((_, i) => i % step === 0)
      .map((k, i) => `${i * step}:${mib(k.totalBytesSnapshot)}`)
      .join(' '),
  );
  if (args.includes('--conv-shapes')) {
    const byShape = new Map<string, { n: number; ms: number }>();
    for (const k of info.kernels) {
      if (!/Conv2D|BackpropFilter|BackpropInput/.test(k.name)) continue;
      const key = `${k.name} in ${JSON.stringify(k.inputShapes)} out ${JSON.stringify(k.outputShapes)}`;
      const e = byShape.get(key) ?? { n: 0, ms: 0 };
      e.n++;
      e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      byShape.set(key, e);
    }
    for (const [key, e] of [...byShape.entries()].sort((x, y) => y[1].ms - x[1].ms).slice(0, top)) {
      console.log(`${e.ms.toFixed(0)} ms ×${e.n}: ${key}`);
    }
  }
  const dumpFile = sarg('--dump');
  if (dumpFile !== undefined) {
    const fs = await import('node:fs');
    const kernels = info.kernels.map((k) => [k.name, k.kernelTimeMs, k.inputShapes]);
    fs.writeFileSync(dumpFile, JSON.stringify(kernels));
  }
  const rows = [...byName.entries()].sort((x, y) => y[1].ms - x[1].ms).slice(0, top);
  console.log('kernel | calls | MiB allocated | ms');
  for (const [name, e] of rows) console.log(`${name} | ${e.n} | ${mib(e.bytes)} | ${e.ms.toFixed(1)}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
