/**
 * What limits a trained EHPE's 3D accuracy (see `limits.ts`), on the held-out hands of the training job:
 *
 *   pnpm --filter @phalanx/example-train-ehpe limits -- --model ../../packages/pretrained/models/ehpe \
 *     --config ../../packages/pretrained/models/ehpe/metrics.json
 *
 * `--model` is a saved model folder (a run's `model/`, or a shipped model), `--config` a JSON file whose
 * `config` is the run's job configuration (a run's `config.json`, or a shipped `metrics.json`).
 * `--precise-bn N` first re-estimates the batch-norm statistics on the first N training batches
 * (`recalibrateBatchNorm` of `@phalanx/train`) of `--precise-bn-batch B` rows (default: the run's batch size;
 * a replica of a data-parallel stage normalised over its own rows only).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import '@phalanx/ehpe';
import { disposeBatch } from '@phalanx/data';
import { fileSystem } from '@phalanx/layers';
import { PhalanxFileError } from '@phalanx/errors';
import { recalibrateBatchNorm } from '@phalanx/train';
import { setThreadedWasmBackend } from '@phalanx/wasm-training';
import { FlagError, intFlag } from './int-flag';
import { depthLimits, LIMIT_VARIANTS } from './limits';
import { handBatches, heldOutSet, meanLayout, type JobConfig } from './pipeline';
import { TEST_SEED } from './run';
import { threadsFlag } from './threads';

const USAGE =
  'usage: limits --model DIR --config FILE [--test-size N] [--threads N] [--precise-bn N [--precise-bn-batch B]]';

/** A mistake on the command line: one line on stderr, exit code 2. */
function usage(message: string): never {
  console.error(`error: ${message.replace(/\s*\n\s*/g, ' ')}`);
  process.exit(2);
}

/** Runs a flag reader; its parse errors and bad values end the process as {@link usage} errors. */
function readFlags<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (error instanceof FlagError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))) {
      usage((error as Error).message);
    }
    throw error;
  }
}

const { values: flags } = readFlags(() =>
  parseArgs({
    args: process.argv.slice(2).filter((a, i) => !(i === 0 && a === '--')),
    options: {
      model: { type: 'string' },
      config: { type: 'string' },
      'test-size': { type: 'string', default: '128' },
      threads: { type: 'string' },
      'precise-bn': { type: 'string', default: '0' },
      'precise-bn-batch': { type: 'string' },
    },
  }),
);
if (!flags.model || !flags.config) usage(`--model and --config are required. ${USAGE}`);
const cwd = process.env.INIT_CWD ?? process.cwd();

/** The job configuration in `file` (its `config`); a file that is not one is a `PhalanxFileError` naming it. */
function readConfig(file: string): JobConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new PhalanxFileError(file, '--config file', `cannot be read as JSON: ${(error as Error).message}`);
  }
  const config = (parsed as { config?: { batchSize?: unknown; model?: unknown } } | null)?.config;
  if (typeof config !== 'object' || config === null || typeof config.batchSize !== 'number') {
    throw new PhalanxFileError(file, '--config file', "holds no job configuration ('config' with a batchSize)");
  }
  return config as JobConfig;
}

const testSize = readFlags(() => intFlag('test-size', flags['test-size'], 128));
const preciseBatches = readFlags(() => intFlag('precise-bn', flags['precise-bn'], 0, 0));
const threads = readFlags(() => threadsFlag(flags.threads));
let config: JobConfig;
try {
  config = readConfig(resolve(cwd, flags.config));
} catch (error) {
  if (!(error instanceof PhalanxFileError)) throw error;
  console.error(`${error.name}: ${error.message}`);
  process.exit(1);
}
const preciseRows = readFlags(() => intFlag('precise-bn-batch', flags['precise-bn-batch'], config.batchSize));
await setThreadedWasmBackend(threads);
// Caught here: the wasm module's own handler would print its whole minified source for an unhandled rejection.
const model = await tfl.loadLayersModel(fileSystem(resolve(cwd, flags.model))).catch((error: unknown) => {
  console.error(`PhalanxFileError: ${flags.model}: --model cannot be loaded: ${(error as Error).message}`);
  process.exit(1);
});
const size = config.model.imageSize ?? 256;
if (preciseBatches > 0) {
  const { dataSeed: seed, handCrop } = config;
  const count = preciseBatches * preciseRows;
  async function* trainingImages() {
    for await (const b of handBatches({ seed, size, batchSize: preciseRows, count, handCrop })) {
      yield b.images;
      disposeBatch(b);
    }
  }
  await recalibrateBatchNorm(model, trainingImages());
  console.log(`batch-norm statistics re-estimated on ${preciseBatches} training batches of ${preciseRows}`);
}
const set = await heldOutSet(size, testSize, Math.min(16, testSize), TEST_SEED, config.handCrop ?? false);
const layout = await meanLayout(config);
const limits = await depthLimits(model, set, config.depthRange, layout);
console.log(
  `held-out ${limits.samples} hands (seed ${TEST_SEED}, ${size} px): 2D error ${limits.epe2dPx.toFixed(2)} px, ` +
    `relative-depth error ${limits.depthErrorMm.toFixed(1)} mm (the mean hand's ${limits.meanHandDepthErrorMm!.toFixed(1)} mm)`,
);
console.log('| joints lifted to 3D | PA-MPJPE (mm) | MPJPE (mm) |\n| --- | ---: | ---: |');
const labels = {
  model: "the model's",
  trueDepth: "the model's x, y; true depths",
  true2d: "true x, y; the model's depths",
  binnedTruth: 'the truth through the depth bins',
};
for (const v of LIMIT_VARIANTS) {
  const m = limits.variants[v];
  console.log(`| ${labels[v]} | ${m.paMpjpe.toFixed(1)} | ${m.mpjpe.toFixed(1)} |`);
}
const base = limits.meanHand!;
console.log(`| the mean hand (baseline) | ${base.paMpjpe.toFixed(1)} | ${base.mpjpe.toFixed(1)} |`);
console.log(`PA-MPJPE: the model's ${(limits.variants.model.paMpjpe / base.paMpjpe).toFixed(3)} × the mean hand's`);
