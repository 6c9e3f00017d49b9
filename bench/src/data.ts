/**
 * Synthetic-data throughput on one core: samples/s of `renderSyntheticHand` at 256×256 (uint8 and float32) and
 * 128×128, of `augment` (crop + rotation + colour jitter to 256×256), and of `toBatch` (32 samples → tensors,
 * cpu backend). Each figure is the best of 5 runs of N samples (the machine is shared).
 * Run: `npx tsx bench/src/data.ts` from the repo root (or `pnpm bench -- data`).
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { augment, disposeBatch, renderSyntheticHand, syntheticHands, toBatch } from '../../packages/data/src/index';
import { machineInfo, markdownTable, writeResults } from './harness';

function rate(n: number, fn: (i: number) => void, runs = 5): number {
  for (let i = 0; i < Math.min(n, 20); i++) fn(i); // warm-up (JIT)
  let best = Infinity;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn(r * n + i);
    best = Math.min(best, performance.now() - t0);
  }
  return (n / best) * 1000;
}

await tf.setBackend('cpu');
const rows: { case: string; samplesPerSecond: number }[] = [];
rows.push({
  case: 'renderSyntheticHand 256×256 uint8',
  samplesPerSecond: rate(200, (i) => renderSyntheticHand(i, { size: 256 })),
});
rows.push({
  case: 'renderSyntheticHand 256×256 float32',
  samplesPerSecond: rate(200, (i) => renderSyntheticHand(i, { size: 256, format: 'float32' })),
});
rows.push({
  case: 'renderSyntheticHand 128×128 uint8',
  samplesPerSecond: rate(400, (i) => renderSyntheticHand(i, { size: 128 })),
});
const src = [...syntheticHands({ seed: 0, size: 320, count: 8 })];
rows.push({
  case: 'augment 320×320 → 256×256',
  samplesPerSecond: rate(100, (i) => augment(src[i % 8], { seed: i, outputSize: 256 })),
});
const batch32 = [...syntheticHands({ seed: 1, size: 256, count: 32 })];
rows.push({
  case: 'toBatch 32 × 256×256 (per sample)',
  samplesPerSecond: rate(5, () => disposeBatch(toBatch(batch32))) * 32,
});

const md = markdownTable(
  ['case', 'samples/s (one core)'],
  rows.map((r) => [r.case, r.samplesPerSecond.toFixed(1)]),
);
console.log(md);
writeResults('data', { machine: machineInfo(), results: rows }, md);
