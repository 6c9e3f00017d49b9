/**
 * Whole-model parity with the official PyTorch `Learnable_Groups`.
 *
 *   npx tsx --tsconfig packages/learnable-groups/tsconfig.json \
 *     packages/learnable-groups/scripts/check-official-parity.ts <fixtureDir> [--backend wasm|cpu] [--tol-uv 0.02] [--tol-depth 2e-3]
 *
 * `<fixtureDir>` holds `case.json` (`config` — the createLearnableGroups configuration —, `inputNHWC`,
 * `uv`, `depth`, optional `groups`, as `{shape, data}` tensors) and `weights.safetensors` (the official
 * state_dict). The model is built from `config`, the state_dict imported strictly, and the outputs of
 * `predict` (inference: hard selector) compared with the PyTorch outputs. Exits 1 when a tolerance is
 * exceeded. Works for `../shared/golden/lg_official/` and for the reduced test fixture.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import { ConcreteJointSelector, readSafetensors } from '@phalanx/layers';
import { createLearnableGroups, importTorchStateDict, type LearnableGroupsConfig } from '../src/index';

interface JsonTensor {
  shape: number[];
  data: number[];
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (!dir || dir.startsWith('--')) {
    console.error(
      'usage: check-official-parity.ts <fixtureDir> [--backend wasm|cpu] [--tol-uv 0.02] [--tol-depth 2e-3]',
    );
    process.exit(2);
  }
  const backend = arg('backend', 'wasm');
  const tolUv = Number(arg('tol-uv', '0.02'));
  const tolDepth = Number(arg('tol-depth', '2e-3'));
  if (!(await tf.setBackend(backend))) throw new Error(`cannot set backend ${backend}`);
  await tf.ready();

  const c = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as {
    config: LearnableGroupsConfig;
    inputNHWC: JsonTensor;
    uv: JsonTensor;
    depth: JsonTensor;
    groups?: number[];
  };
  const t0 = Date.now();
  const model = createLearnableGroups(c.config);
  const tensors = readSafetensors(readFileSync(join(dir, 'weights.safetensors')));
  const report = importTorchStateDict(model, tensors);
  tf.dispose(Object.values(tensors));
  const t1 = Date.now();

  const input = tf.tensor(c.inputNHWC.data, c.inputNHWC.shape);
  const [uv, depth] = model.predict(input) as tf.Tensor[];
  const uvData = await uv.data();
  const depthData = await depth.data();
  const t2 = Date.now();

  const maxAbs = (a: ArrayLike<number>, b: number[]) => {
    let m = 0;
    for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
    return m;
  };
  const dUv = maxAbs(uvData, c.uv.data);
  const dDepth = maxAbs(depthData, c.depth.data);
  const selector = model.layers.find((l) => l instanceof ConcreteJointSelector) as ConcreteJointSelector;
  const groups = (await tf.argMax(selector.selection({ training: false }), 1).data()) as Int32Array;
  const groupsOk = c.groups === undefined || c.groups.every((g, j) => g === groups[j]);

  console.log(`fixture:        ${dir}`);
  console.log(`backend:        ${backend}`);
  console.log(`config:         ${JSON.stringify(c.config)}`);
  console.log(`tensors loaded: ${report.loaded.length}`);
  console.log(`build+import:   ${t1 - t0} ms, predict: ${t2 - t1} ms`);
  console.log(`max |Δuv|:      ${dUv.toExponential(3)} px (tolerance ${tolUv})`);
  console.log(`max |Δdepth|:   ${dDepth.toExponential(3)} (tolerance ${tolDepth})`);
  console.log(`groups match:   ${groupsOk}`);
  tf.dispose([input, uv, depth]);
  if (!(dUv <= tolUv && dDepth <= tolDepth && groupsOk)) process.exit(1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
