/**
 * Writes the demo's bundled default model to `public/model/` (model.json + weights.bin, the standard
 * TensorFlow.js layout that `model.save()` and the training example produce): an untrained
 * Learnable Groups network in the training example's `small` configuration, so the page works before
 * anyone has trained. Deterministic (fixed seeds) and skipped when the files are already there
 * (`--force` rewrites them).
 *
 *   pnpm --filter @phalanx/example-browser-demo model [-- --force]
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { fileSystem } from '@phalanx/layers';
import { createLearnableGroups } from '@phalanx/learnable-groups';

/** The training example's `small` model (examples/train-learnable-groups/src/pipeline.ts). */
export const DEMO_MODEL_CONFIG = {
  numGroups: 3,
  fusion: true,
  inputSize: 64,
  planes: [16, 16] as [number, number],
  hourglassFeatures: 64,
  stemChannels: [32, 64] as [number, number],
  neckChannels: 64,
  seed: 7,
};

const outDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'public', 'model');

async function main(): Promise<void> {
  const force = process.argv.includes('--force');
  if (!force && existsSync(join(outDir, 'model.json')) && existsSync(join(outDir, 'weights.bin'))) {
    console.log(`demo model: ${outDir} exists (use --force to rewrite)`);
    return;
  }
  await tf.setBackend('cpu');
  // Deterministic initial weights: tfjs initialisers draw from Math.random when they have no seed.
  let state = 0x9e3779b9;
  Math.random = () => {
    state = (Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return state / 2 ** 32;
  };
  const model = createLearnableGroups(DEMO_MODEL_CONFIG);
  // Give the selector a distinct grouping to show (untrained logits are nearly uniform): fingers split
  // across the three groups the way a trained selector tends to (thumb+index, middle+ring, pinky+wrist).
  const selector = model.layers.find((l) => l.getClassName() === 'ConcreteJointSelector');
  if (selector !== undefined) {
    const group = (j: number): number => (j === 0 ? 2 : j <= 8 ? 0 : j <= 16 ? 1 : 2);
    const logits = tf.tidy(() =>
      tf.oneHot(
        tf.tensor1d(
          Array.from({ length: 21 }, (_, j) => group(j)),
          'int32',
        ),
        3,
      ),
    );
    const weights = selector.getWeights();
    const index = selector.weights.findIndex((w) => w.shape.length === 2 && w.shape[0] === 21);
    if (index >= 0) {
      weights[index] = tf.mul(logits, 2);
      selector.setWeights(weights);
    }
  }
  mkdirSync(outDir, { recursive: true });
  await model.save(fileSystem(outDir));
  writeFileSync(
    join(outDir, 'README.txt'),
    'Untrained Learnable Groups model (training example "small" config), written by scripts/make-demo-model.ts.\n' +
      'Replace model.json + weights.bin with a trained checkpoint (e.g. runs/learnable-groups/<run>/) to see real predictions.\n',
  );
  console.log(`demo model: wrote ${outDir} (${model.countParams()} parameters)`);
}

await main();
