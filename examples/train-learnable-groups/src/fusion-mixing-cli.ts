/**
 * How much the NDDR fusion of saved Learnable Groups models mixes the groups (see `fusion-mixing.ts`):
 *
 *   pnpm --filter @phalanx/example-train-learnable-groups fusion-mixing -- \
 *     ../../packages/pretrained/models/learnable-groups runs/learnable-groups/latest/model
 *
 * Each argument is a folder with a `model.json`: a shipped model, a run's `model/` or one of its
 * checkpoints. Prints one line per fusion layer: the share of each output group's squared kernel weight
 * that reads the other groups, next to the share at the NDDR initialisation.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import { fileSystem } from '@phalanx/layers';
import '@phalanx/learnable-groups';
import { setThreadedWasmBackend } from '@phalanx/wasm-training';
import { fusionMixing } from './fusion-mixing';

const dirs = process.argv.slice(2).filter((a) => a !== '--');
if (dirs.length === 0) {
  console.error('usage: fusion-mixing DIR… (folders holding a model.json)');
  process.exit(2);
}
const cwd = process.env.INIT_CWD ?? process.cwd();
const missing = dirs.filter((d) => !existsSync(join(resolve(cwd, d), 'model.json')));
if (missing.length > 0) {
  console.error(`fusion-mixing: no model.json in ${missing.join(', ')}`);
  process.exit(2);
}
await setThreadedWasmBackend(1);
const percent = (x: number) => `${(100 * x).toFixed(1)} %`;
for (const dir of dirs) {
  const model = await tfl.loadLayersModel(fileSystem(resolve(cwd, dir)));
  const layers = fusionMixing(model);
  if (layers.length === 0) console.log(`${dir}: no GroupFusion layer`);
  for (const f of layers) {
    const initial = f.initialShare === null ? 'no NDDR initialisation' : `${percent(f.initialShare)} at initialisation`;
    console.log(
      `${dir}: ${f.layer} (G = ${f.numGroups}, kernel [${f.kernelShape.join(', ')}]): cross-group share ` +
        `${f.shares.map(percent).join(' / ')} (${initial})`,
    );
  }
  model.dispose();
}
