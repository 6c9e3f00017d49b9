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
import { PhalanxFileError } from '@phalanx/errors';
import { fileSystem } from '@phalanx/layers';
import '@phalanx/learnable-groups';
import { setThreadedWasmBackend } from '@phalanx/wasm-training';
import { fusionMixing } from './fusion-mixing';
import { exitOnError } from './usage';

const USAGE = 'usage: fusion-mixing DIR… (folders holding a model.json)';
const dirs = process.argv.slice(2).filter((a, i) => !(i === 0 && a === '--'));
if (dirs.length === 1 && (dirs[0] === '--help' || dirs[0] === '-h')) {
  console.log(USAGE);
  process.exit(0);
}
const flag = dirs.find((d) => d.startsWith('-'));
if (dirs.length === 0 || flag !== undefined) {
  console.error(flag === undefined ? USAGE : `error: fusion-mixing takes no flags, but received '${flag}'. ${USAGE}`);
  process.exit(2);
}
const cwd = process.env.INIT_CWD ?? process.cwd();
const missing = dirs.filter((d) => !existsSync(join(resolve(cwd, d), 'model.json')));
if (missing.length > 0) {
  console.error(`fusion-mixing: no model.json in ${missing.join(', ')}`);
  process.exit(2);
}

/** The model saved in `dir`; one that cannot be loaded (damaged model.json or weights) is a `PhalanxFileError`. */
async function loadModel(dir: string): Promise<tfl.LayersModel> {
  try {
    return await tfl.loadLayersModel(fileSystem(resolve(cwd, dir)));
  } catch (error) {
    throw new PhalanxFileError(join(dir, 'model.json'), 'the model', `cannot be loaded: ${(error as Error).message}`);
  }
}

async function main(): Promise<void> {
  await setThreadedWasmBackend(1);
  const percent = (x: number) => `${(100 * x).toFixed(1)} %`;
  for (const dir of dirs) {
    const model = await loadModel(dir);
    const layers = fusionMixing(model);
    if (layers.length === 0) console.log(`${dir}: no GroupFusion layer`);
    for (const f of layers) {
      const initial =
        f.initialShare === null ? 'no NDDR initialisation' : `${percent(f.initialShare)} at initialisation`;
      console.log(
        `${dir}: ${f.layer} (G = ${f.numGroups}, kernel [${f.kernelShape.join(', ')}]): cross-group share ` +
          `${f.shares.map(percent).join(' / ')} (${initial})`,
      );
    }
    model.dispose();
  }
}

// Caught here: the wasm module's own handler would print its whole minified source for an unhandled rejection.
await main().catch(exitOnError);
