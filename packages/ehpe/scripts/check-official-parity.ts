/**
 * Parity of the TW-stage, the FEM and the initial layout with the official PyTorch release.
 *
 *   npx tsx --tsconfig packages/ehpe/tsconfig.json packages/ehpe/scripts/check-official-parity.ts <fixtureDir> \
 *     [--backend wasm|cpu] [--tol 1e-3]
 *
 * `<fixtureDir>` holds `tw_stage.json` (`config` — the createTwStage configuration —, `featuresNHWC`,
 * `heatmaps2dNHWC`, `volumeNHWC`, `coords25d`) with `tw_stage.safetensors` (the `TWStage` state_dict),
 * `fem.json` (`config`, `jointTokens`, `imageTokens`, `output`) with `fem.safetensors`, and `init21.json`
 * (`wrist`, `tips`, `init21`), all `{shape, data}` tensors. Each model is built from its config, the
 * state_dict imported strictly, and the max |Δ| of every output against PyTorch printed. Exits 1 when
 * one exceeds the tolerance. Works for `../shared/golden/ehpe_official/` and for the reduced test
 * fixture `packages/ehpe/test/fixtures/ehpe-reduced/`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import { readSafetensors } from '@phalanx/layers';
import {
  createFem,
  createTwStage,
  importTorchStateDict,
  init21FromTipsAndWrist,
  type FemConfig,
  type TwStageConfig,
} from '../src/index';

interface JsonTensor {
  shape: number[];
  data: number[];
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const read = <T>(dir: string, file: string): T => JSON.parse(readFileSync(join(dir, file), 'utf8')) as T;
const tensor = (t: JsonTensor) => tf.tensor(t.data, t.shape, 'float32');

async function maxAbs(a: tf.Tensor, b: JsonTensor): Promise<number> {
  if (!tf.util.arraysEqual(a.shape, b.shape)) throw new Error(`shape [${a.shape}] ≠ expected [${b.shape}]`);
  const x = await a.data();
  let m = 0;
  for (let i = 0; i < b.data.length; i++) m = Math.max(m, Math.abs(x[i] - b.data[i]));
  return m;
}

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (!dir || dir.startsWith('--')) {
    console.error('usage: check-official-parity.ts <fixtureDir> [--backend wasm|cpu] [--tol 1e-3]');
    process.exit(2);
  }
  const backend = arg('backend', 'wasm');
  const tol = Number(arg('tol', '1e-3'));
  if (!(await tf.setBackend(backend))) throw new Error(`cannot set backend ${backend}`);
  await tf.ready();
  const rows: [string, number][] = [];

  // TW-stage
  const twCase = read<{
    config: TwStageConfig;
    featuresNHWC: JsonTensor;
    heatmaps2dNHWC: JsonTensor;
    volumeNHWC: JsonTensor;
    coords25d: JsonTensor;
  }>(dir, 'tw_stage.json');
  const tw = createTwStage({ ...twCase.config, featureSize: twCase.featuresNHWC.shape[1] });
  let tensors = readSafetensors(readFileSync(join(dir, 'tw_stage.safetensors')));
  const twReport = importTorchStateDict(tw, tensors);
  tf.dispose(Object.values(tensors));
  const feats = tensor(twCase.featuresNHWC);
  let t0 = Date.now();
  const [heat, volume, coords] = tw.predict(feats) as tf.Tensor[];
  rows.push(['TW heatmaps2d', await maxAbs(heat, twCase.heatmaps2dNHWC)]);
  rows.push(['TW volume', await maxAbs(volume, twCase.volumeNHWC)]);
  rows.push(['TW coords25d', await maxAbs(coords, twCase.coords25d)]);
  const twMs = Date.now() - t0;
  tf.dispose([feats, heat, volume, coords]);

  // FEM
  const femCase = read<{ config: FemConfig; jointTokens: JsonTensor; imageTokens: JsonTensor; output: JsonTensor }>(
    dir,
    'fem.json',
  );
  const femModel = createFem({
    ...femCase.config,
    numJoints: femCase.jointTokens.shape[1],
    numImageTokens: femCase.imageTokens.shape[1],
  });
  tensors = readSafetensors(readFileSync(join(dir, 'fem.safetensors')));
  const femReport = importTorchStateDict(femModel, tensors);
  tf.dispose(Object.values(tensors));
  const joints = tensor(femCase.jointTokens);
  const image = tensor(femCase.imageTokens);
  t0 = Date.now();
  const femOut = femModel.predict([joints, image]) as tf.Tensor;
  rows.push(['FEM output', await maxAbs(femOut, femCase.output)]);
  const femMs = Date.now() - t0;
  tf.dispose([joints, image, femOut]);

  // init_21_from_tw
  const initCase = read<{ wrist: JsonTensor; tips: JsonTensor; init21: JsonTensor }>(dir, 'init21.json');
  const wrist = tensor(initCase.wrist);
  const tips = tensor(initCase.tips);
  const init = init21FromTipsAndWrist(wrist, tips);
  rows.push(['init21', await maxAbs(init, initCase.init21)]);
  tf.dispose([wrist, tips, init]);

  console.log(`fixture:  ${dir}`);
  console.log(`backend:  ${backend}`);
  console.log(`TWStage:  ${JSON.stringify(twCase.config)} — ${twReport.loaded.length} tensors, predict ${twMs} ms`);
  console.log(`FEM:      ${JSON.stringify(femCase.config)} — ${femReport.loaded.length} tensors, predict ${femMs} ms`);
  console.log('');
  console.log('| output | max abs diff | within ' + tol + ' |');
  console.log('| --- | --- | --- |');
  for (const [name, d] of rows) console.log(`| ${name} | ${d.toExponential(3)} | ${d <= tol ? 'yes' : 'NO'} |`);
  if (!rows.every(([, d]) => d <= tol)) process.exit(1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
