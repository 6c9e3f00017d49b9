/**
 * EHPE inference on wasm at 256 px: ms per image for the full model (the release's sizes, ResNet-50),
 * a reduced model (ResNet-18, narrower stages), and the PG-stage alone (from node features and image
 * tokens), at batch 1 and 8. Run from the repo root:
 *
 *   npx tsx --tsconfig packages/ehpe/tsconfig.json bench/src/ehpe.ts
 *
 * Prints a Markdown table and writes bench/results/ehpe.{json,md}.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { createEhpe, createPgStage, type EhpeConfig } from '../../packages/ehpe/src/index';
import { machineInfo, markdownTable, time, useBackend, writeResults } from './harness';

/** The reduced model of the training example: ResNet-18, 128-channel hourglass, width 256. */
const REDUCED: EhpeConfig = {
  backbone: { depth: 18 },
  hourglassChannels: 128,
  hourglassStacks: 1,
  refineChannels: 128,
  refineBlocks: 4,
  nodeDim: 256,
};

async function perImage(model: tfl.LayersModel, inputs: () => tf.Tensor[], batch: number) {
  const xs = inputs();
  const t = await time(
    async () => {
      const out = model.predict(xs.length === 1 ? xs[0] : xs) as tf.Tensor[];
      await Promise.all(out.map((o) => o.data()));
      tf.dispose(out);
    },
    { warmup: 1, minRuns: 3, maxRuns: 10, minTimeMs: 3000 },
  );
  tf.dispose(xs);
  return { batch, msPerImage: t.medianMs / batch, runs: t.runs, params: model.countParams() };
}

async function main(): Promise<void> {
  await useBackend('wasm');
  const rows: (string | number)[][] = [];
  const results: Record<string, unknown>[] = [];
  const cases: [string, () => tfl.LayersModel, (b: number) => tf.Tensor[]][] = [
    ['full (ResNet-50, release sizes)', () => createEhpe(), (b) => [tf.randomUniform([b, 256, 256, 3])]],
    ['reduced (ResNet-18, width 256)', () => createEhpe(REDUCED), (b) => [tf.randomUniform([b, 256, 256, 3])]],
    [
      'PG-stage alone (width 512, 64 tokens)',
      () => createPgStage({}, 64),
      (b) => [tf.randomNormal([b, 21, 515]), tf.randomNormal([b, 64, 512])],
    ],
  ];
  for (const [name, build, inputs] of cases) {
    const model = build();
    for (const batch of [1, 8]) {
      const r = await perImage(model, () => inputs(batch), batch);
      rows.push([name, batch, r.msPerImage.toFixed(1), (r.params / 1e6).toFixed(1)]);
      results.push({ name, ...r });
      console.log(name, batch, `${r.msPerImage.toFixed(1)} ms/image`);
    }
    model.dispose();
  }
  const md = markdownTable(['model', 'batch', 'ms / image (wasm, 256 px)', 'params (M)'], rows);
  console.log(`\n${md}`);
  writeResults('ehpe', { machine: machineInfo(), results }, md);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
