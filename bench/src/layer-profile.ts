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
import { time } from './harness';
import { LAYER_CASES, layerCase } from './threads-cases';

const shapes = (list: number[][]) => list.map((s) => `[${s}]`).join('·');

/** Prints time and count per kernel of one profiled `run` (`--calls`: also each call of ≥ `callsMin` ms). */
async function printProfile(name: string, run: () => Promise<void>, top: number, callsMin: number | null) {
  const info = await tf.profile(run);
  const byName = new Map<string, { n: number; ms: number; shapes: Set<string> }>();
  for (const k of info.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    const e = byName.get(k.name) ?? { n: 0, ms: 0, shapes: new Set<string>() };
    e.n++;
    e.ms += ms;
    e.shapes.add(shapes(k.inputShapes));
    byName.set(k.name, e);
    if (callsMin !== null && ms >= callsMin) {
      console.log(
        `    ${k.name.padEnd(20)} ${ms.toFixed(2).padStart(7)} ms  ${shapes(k.inputShapes)} → ${shapes(k.outputShapes)}`,
      );
    }
  }
  const rows = [...byName.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const total = rows.reduce((s, [, e]) => s + e.ms, 0);
  console.log(`${name}: ${info.kernels.length} kernels, ${total.toFixed(1)} ms kernel time`);
  for (const [k, e] of rows.slice(0, top)) {
    console.log(
      `  ${k.padEnd(28)} ${String(e.n).padStart(4)} ${e.ms.toFixed(2).padStart(8)} ms  ${[...e.shapes].slice(0, 4).join(' | ')}`,
    );
  }
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
    const c = LAYER_CASES.find((x) => x.name === name);
    if (c === undefined) throw new Error(`no case ${name}; cases: ${LAYER_CASES.map((x) => x.name).join(', ')}`);
    const prepared = await layerCase(c).prepare();
    await prepared.run();
    await prepared.run();
    if (!args.includes('--no-profile')) {
      const callsMin = args.includes('--calls') ? Number(sarg('--calls-min', '0.2')) : null;
      await printProfile(name, () => prepared.run(), Number(sarg('--top', '30')), callsMin);
    }
    const runs = Number(sarg('--runs', '15'));
    const t = await time(() => prepared.run(), { warmup: 0, minRuns: runs, maxRuns: runs, minTimeMs: 0 });
    console.log(
      `${name}: median ${t.medianMs.toFixed(1)} ms (min ${t.minMs.toFixed(1)}), ` +
        `CPU ${t.medianCpuMs.toFixed(1)} ms, over ${t.runs} runs`,
    );
    await prepared.dispose();
  }
}

void main();
