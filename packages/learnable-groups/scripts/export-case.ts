/**
 * Writes a case for `check-export.py`: a Learnable-Groups model of this package with random weights,
 * exported with `exportTorchStateDict`, and its outputs on a random input.
 *
 *   npx tsx --tsconfig packages/learnable-groups/tsconfig.json \
 *     packages/learnable-groups/scripts/export-case.ts <outDir> [--config <case.json with a config>]
 *
 * `<outDir>` receives `weights.safetensors` (the export: PyTorch names and layouts) and `case.json`
 * (`config`, `inputNHWC`, `uv`, `depth`, `groups`: the layout of the test fixture). The configuration
 * is the reduced one of `test/fixtures/lg-reduced/case.json` unless `--config` names another case file.
 * Every weight is random — batch-norm statistics, selector logits and soft-argmax β included — so the
 * official network reproduces the outputs only if every name and layout of the export is right.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type * as tfl from '@tensorflow/tfjs-layers';
import { ConcreteJointSelector, isBatchNormalization, SoftArgmax25D, writeSafetensors } from '@phalanx/layers';
import { createLearnableGroups, exportTorchStateDict, type LearnableGroupsConfig } from '../src/index';

const tensorJson = async (t: tf.Tensor) => ({ shape: t.shape, data: Array.from(await t.data()) });

/** Random values where the initialisers leave constants (batch norms, selector logits, β). */
function randomise(model: tfl.LayersModel): void {
  let seed = 100;
  for (const layer of model.layers) {
    const shapes = layer.weights.map((w) => w.shape as number[]);
    let values: tf.Tensor[] | null = null;
    if (isBatchNormalization(layer)) {
      const [s] = shapes;
      values = [
        tf.randomUniform(s, 0.5, 1.5, 'float32', seed++),
        tf.randomNormal(s, 0, 0.2, 'float32', seed++),
        tf.randomNormal(s, 0, 0.2, 'float32', seed++),
        tf.randomUniform(s, 0.5, 1.5, 'float32', seed++),
      ];
    } else if (layer instanceof ConcreteJointSelector) {
      values = [tf.randomNormal(shapes[0], 0, 1, 'float32', seed++), tf.scalar(1)];
    } else if (layer instanceof SoftArgmax25D && shapes.length > 0) {
      values = [tf.randomUniform(shapes[0], 1, 3, 'float32', seed++)];
    }
    if (values) {
      layer.setWeights(values);
      tf.dispose(values);
    }
  }
}

async function main(): Promise<void> {
  const out = process.argv[2];
  if (!out || out.startsWith('--')) {
    console.error('usage: export-case.ts <outDir> [--config <case.json>]');
    process.exit(2);
  }
  const i = process.argv.indexOf('--config');
  const casePath = i > 0 ? process.argv[i + 1] : new URL('../test/fixtures/lg-reduced/case.json', import.meta.url);
  const config = (JSON.parse(readFileSync(casePath, 'utf8')) as { config: LearnableGroupsConfig }).config;
  await tf.setBackend('cpu');
  tf.randomNormal([1], 0, 1, 'float32', 1).dispose();
  const model = createLearnableGroups({ ...config, inferenceMode: 'hard' });
  randomise(model);
  const sd = exportTorchStateDict(model);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'weights.safetensors'), writeSafetensors(sd));
  const x = tf.randomUniform([2, config.inputSize ?? 256, config.inputSize ?? 256, 3], 0, 1, 'float32', 7);
  const [uv, depth] = model.predict(x) as tf.Tensor[];
  const selector = model.getLayer('meta_S') as ConcreteJointSelector;
  const groups = Array.from(await tf.argMax(selector.selection({ training: false }), 1).data());
  const json = {
    config,
    inputNHWC: await tensorJson(x),
    uv: await tensorJson(uv),
    depth: await tensorJson(depth),
    groups,
  };
  writeFileSync(join(out, 'case.json'), JSON.stringify(json));
  console.log(`wrote ${Object.keys(sd).length} tensors and the outputs to ${out}`);
  tf.dispose([x, uv, depth, ...Object.values(sd)]);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
