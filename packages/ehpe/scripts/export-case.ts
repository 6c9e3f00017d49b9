/**
 * Writes cases for `check-export.py`: a TW-stage and a FEM of this package with random weights, each
 * exported with `exportTorchStateDict`, with their outputs on random inputs.
 *
 *   npx tsx --tsconfig packages/ehpe/tsconfig.json packages/ehpe/scripts/export-case.ts <outDir>
 *
 * `<outDir>` receives `tw_stage.safetensors` / `tw_stage.json` (`config`, `featuresNHWC`,
 * `heatmaps2dNHWC`, `volumeNHWC`, `coords25d`) and `fem.safetensors` / `fem.json` (`config`,
 * `jointTokens`, `imageTokens`, `output`) — the layout of the test fixture, at its reduced sizes. Batch
 * and layer norms get random parameters and statistics, so the release's modules reproduce the outputs
 * only if every name and layout of the export is right.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type * as tfl from '@tensorflow/tfjs-layers';
import { isBatchNormalization, isLayerNormalization, writeSafetensors } from '@phalanx/layers';
import { createFem, createTwStage, exportTorchStateDict, type FemConfig, type TwStageConfig } from '../src/index';

const FIXTURE = new URL('../test/fixtures/ehpe-reduced/', import.meta.url);
const tensorJson = async (t: tf.Tensor) => ({ shape: t.shape, data: Array.from(await t.data()) });

function randomiseNorms(model: tfl.LayersModel): void {
  let seed = 200;
  for (const layer of model.layers) {
    const shapes = layer.weights.map((w) => w.shape as number[]);
    const values = isBatchNormalization(layer)
      ? [
          tf.randomUniform(shapes[0], 0.5, 1.5, 'float32', seed++),
          tf.randomNormal(shapes[0], 0, 0.2, 'float32', seed++),
          tf.randomNormal(shapes[0], 0, 0.2, 'float32', seed++),
          tf.randomUniform(shapes[0], 0.5, 1.5, 'float32', seed++),
        ]
      : isLayerNormalization(layer)
        ? [
            tf.randomUniform(shapes[0], 0.5, 1.5, 'float32', seed++),
            tf.randomNormal(shapes[0], 0, 0.2, 'float32', seed++),
          ]
        : null;
    if (values) {
      layer.setWeights(values);
      tf.dispose(values);
    }
  }
}

async function exportCase(out: string, name: string, model: tfl.LayersModel): Promise<void> {
  randomiseNorms(model);
  const sd = exportTorchStateDict(model);
  writeFileSync(join(out, `${name}.safetensors`), writeSafetensors(sd));
  console.log(`${name}: ${Object.keys(sd).length} tensors`);
  tf.dispose(Object.values(sd));
}

async function main(): Promise<void> {
  const out = process.argv[2];
  if (!out || out.startsWith('--')) {
    console.error('usage: export-case.ts <outDir>');
    process.exit(2);
  }
  await tf.setBackend('cpu');
  mkdirSync(out, { recursive: true });
  const read = (file: string) => JSON.parse(readFileSync(new URL(file, FIXTURE), 'utf8')) as { config: object };

  const twConfig = read('tw_stage.json').config as TwStageConfig;
  const tw = createTwStage({ ...twConfig, featureSize: 4 });
  await exportCase(out, 'tw_stage', tw);
  const features = tf.randomNormal([2, 4, 4, twConfig.backboneChannels ?? 2048], 0, 1, 'float32', 3);
  const [heat, volume, coords] = tw.predict(features) as tf.Tensor[];
  const twJson = {
    config: twConfig,
    featuresNHWC: await tensorJson(features),
    heatmaps2dNHWC: await tensorJson(heat),
    volumeNHWC: await tensorJson(volume),
    coords25d: await tensorJson(coords),
  };
  writeFileSync(join(out, 'tw_stage.json'), JSON.stringify(twJson));

  const femConfig = read('fem.json').config as FemConfig;
  const fem = createFem({ ...femConfig, numImageTokens: 16, dropout: 0 });
  await exportCase(out, 'fem', fem);
  const joints = tf.randomNormal([2, 21, femConfig.dim ?? 512], 0, 1, 'float32', 4);
  const image = tf.randomNormal([2, 16, femConfig.dim ?? 512], 0, 1, 'float32', 5);
  const output = fem.predict([joints, image]) as tf.Tensor;
  const femJson = {
    config: femConfig,
    jointTokens: await tensorJson(joints),
    imageTokens: await tensorJson(image),
    output: await tensorJson(output),
  };
  writeFileSync(join(out, 'fem.json'), JSON.stringify(femJson));
  tf.dispose([features, heat, volume, coords, joints, image, output]);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
