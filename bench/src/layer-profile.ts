/**
 * Kernel profile and timing of one layer bench case's forward+backward on wasm (the threads bench's
 * `fwd+bwd` run): time and count per kernel of one profiled run, then the median of `--runs` timed runs.
 *
 * Run: `npx tsx --tsconfig bench/tsconfig.json bench/src/layer-profile.ts --case 'DynamicEdgeGAT (dotProduct)'
 * [--threads 1] [--runs 15] [--top 30] [--lean] [--no-profile]`.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { enableLeanBackprop, setThreadedWasmBackend } from '@phalanx/wasm-training';
import { cases as dynamicEdgeGat } from './cases/dynamic-edge-gat';
import { cases as groupFusion } from './cases/group-fusion';
import { cases as jointFeatureSampler } from './cases/joint-feature-sampler';
import { cases as multiHeadAttention } from './cases/multi-head-attention';
import { cases as dualBranchFusion } from './cases/dual-branch-fusion';
import type { LayerBenchCase } from './types';

const ALL: LayerBenchCase[] = [
  ...dynamicEdgeGat,
  ...groupFusion,
  ...jointFeatureSampler,
  ...multiHeadAttention,
  ...dualBranchFusion,
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const sarg = (name: string, fallback: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : fallback;
  };
  if (args.includes('--lean')) enableLeanBackprop();
  await setThreadedWasmBackend(Number(sarg('--threads', '1')));
  const names = sarg('--case', 'DynamicEdgeGAT (dotProduct)').split(',');
  for (const name of names) {
    const c = ALL.find((x) => x.name === name);
    if (c === undefined) throw new Error(`no case ${name}; cases: ${ALL.map((x) => x.name).join(', ')}`);
    const { layer, inputs, kwargs = {} } = c.create();
    const inputVars = inputs.map((x) => tf.variable(x));
    const feed = inputVars.length === 1 ? inputVars[0] : inputVars;
    layer.apply(feed, kwargs);
    const vars = [...inputVars, ...layer.trainableWeights.map((w) => w.read() as tf.Variable)];
    const run = async () => {
      const { value, grads } = tf.variableGrads(() => {
        const out = layer.apply(feed, kwargs) as tf.Tensor | tf.Tensor[];
        return tf.addN((Array.isArray(out) ? out : [out]).map((o) => tf.sum(o))) as tf.Scalar;
      }, vars);
      const ts = [value, ...Object.values(grads)];
      await Promise.all(ts.map((t) => t.data()));
      tf.dispose(ts);
    };
    await run();
    await run();
    if (!args.includes('--no-profile')) {
      const info = await tf.profile(run);
      const byName = new Map<string, { n: number; ms: number; shapes: Set<string> }>();
      for (const k of info.kernels) {
        const e = byName.get(k.name) ?? { n: 0, ms: 0, shapes: new Set<string>() };
        e.n++;
        e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
        e.shapes.add(k.inputShapes.map((s) => `[${s}]`).join('·'));
        byName.set(k.name, e);
      }
      if (args.includes('--calls')) {
        for (const k of info.kernels) {
          const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
          if (ms >= Number(sarg('--calls-min', '0.2'))) {
            console.log(
              `    ${k.name.padEnd(20)} ${ms.toFixed(2).padStart(7)} ms  ${k.inputShapes.map((s) => `[${s}]`).join('·')} → ${k.outputShapes.map((s) => `[${s}]`).join('·')}`,
            );
          }
        }
      }
      const rows = [...byName.entries()].sort((a, b) => b[1].ms - a[1].ms);
      const total = rows.reduce((s, [, e]) => s + e.ms, 0);
      console.log(`${name}: ${info.kernels.length} kernels, ${total.toFixed(1)} ms kernel time`);
      for (const [k, e] of rows.slice(0, Number(sarg('--top', '30')))) {
        console.log(
          `  ${k.padEnd(28)} ${String(e.n).padStart(4)} ${e.ms.toFixed(2).padStart(8)} ms  ${[...e.shapes].slice(0, 4).join(' | ')}`,
        );
      }
    }
    const times: number[] = [];
    const cpu: number[] = [];
    for (let i = 0; i < Number(sarg('--runs', '15')); i++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await run();
      times.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1000);
    }
    console.log(
      `${name}: median ${median(times).toFixed(1)} ms (min ${Math.min(...times).toFixed(1)}), ` +
        `CPU ${median(cpu).toFixed(1)} ms, over ${times.length} runs`,
    );
    tf.dispose([...inputs, ...inputVars]);
    layer.dispose();
  }
}

void main();
