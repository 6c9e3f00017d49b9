/**
 * The experiment harness of the recipe study: trains with the recipe flags of the job (see
 * `flags.ts`) and logs the held-out 2D EPE against samples seen as JSON lines, next to the two
 * baselines computed on the same held-out set (`baselines.ts`).
 *
 *   node --import tsx src/experiment.ts --name cosine-3e-3 --steps 500 --eval-every 50 \
 *     --lr-rest 3e-3 --warmup 25 --decay cosine --log runs/exp/results.jsonl
 *
 * Each line: `{name, kind: 'baselines' | 'eval' | 'end', step, samples, epe (hard selector, inference
 * mode), epeSoft (soft selector), epeTrainMode (batch-norm batch statistics, Concrete sample), loss
 * (mean over the steps since the last line), …}`. `--fixed N` trains on the first N samples of the
 * stream, cycled (the overfit test), and also reports the EPE on them (`epeFixed…`).
 */
import { appendFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import { enableLeanBackprop, enableWinogradConvolution, setThreadedWasmBackend } from '@phalanx/wasm-training';
import { batches, disposeBatch, type HandBatch } from '@phalanx/data';
import { fileSystem, findConcreteJointSelectors, makeFolder } from '@phalanx/layers';
import { recalibrateBatchNorm } from '@phalanx/train';
import { baselineErrors, epeOf, meanTrainingPose } from './baselines';
import { intFlag, jobConfigFromFlags, parseFlags, readCommandLine, RECIPE_HELP, UsageError } from './flags';
import { exitOnError } from './usage';
import { threadsFlag } from './threads';
import {
  BACKBONE_HEATMAP_LAYER,
  buildSeededModel,
  buildTrainer,
  heldOutSet,
  UV_UNIT,
  trainingData,
  type JobConfig,
} from './pipeline';

const flags = readCommandLine(() =>
  parseFlags(process.argv.slice(2), {
    name: { type: 'string' },
    log: { type: 'string' },
    'eval-every': { type: 'string' },
    'test-size': { type: 'string' },
    'test-seed': { type: 'string' },
    fixed: { type: 'string' },
    save: { type: 'string' },
    tag: { type: 'string' },
    threads: { type: 'string' },
    'precise-bn': { type: 'string' },
    'train-mode-eval': { type: 'boolean', default: false },
    'test-all-views': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  }),
);
if (flags.help) {
  console.log(`Experiment harness: held-out 2D EPE against samples seen, as JSON lines.
  --name NAME           run name in the log (default 'run')
  --log FILE            JSON-lines file appended to (default runs/experiments/results.jsonl)
  --eval-every N        evaluate every N steps (default steps/10)
  --test-size N         held-out samples (default 256)
  --test-seed N         seed of the held-out set (default 90210; training uses --data-seed)
  --fixed N             train on the first N samples only, cycled (overfit test)
  --precise-bn N        also evaluate after re-estimating the batch-norm statistics on N training batches
  --threads N           threads of the wasm backend (default: every core)
  --tag TEXT            a free label (ignored; e.g. for process watchers)
  --save DIR            where to save the trained model (tfjs format; default <log dir>/models/<name>)
  --test-all-views      held-out hands from every view even when training uses --max-tilt
  --train-mode-eval     also evaluate in training mode (batch statistics, Concrete sample)
${RECIPE_HELP}`);
  process.exit(0);
}

// A bad flag is a usage error (exit code 2), before anything runs.
const { config, evalEvery, testSize, testSeed, fixed, threads, recalBatches } = readCommandLine(() => {
  const config: JobConfig = jobConfigFromFlags(flags);
  const testSeed = intFlag('test-seed', flags['test-seed'], 90210, 0);
  // The held-out set is the stream of its seed: training on it would score the run on hands it trained on.
  if (config.dataSeed === testSeed) {
    throw new UsageError(`--data-seed must not be ${testSeed}, the held-out set's seed (--test-seed).`);
  }
  return {
    config,
    evalEvery: intFlag('eval-every', flags['eval-every'], Math.max(1, Math.round(config.steps / 10))),
    testSize: intFlag('test-size', flags['test-size'], 256),
    testSeed,
    fixed: flags.fixed === undefined ? 0 : intFlag('fixed', flags.fixed, 0),
    threads: threadsFlag(flags.threads as string | undefined),
    recalBatches: flags['precise-bn'] === undefined ? 0 : intFlag('precise-bn', flags['precise-bn'], 1),
  };
});
const name = (flags.name as string | undefined) ?? 'run';
const logFile = resolve(
  process.env.INIT_CWD ?? process.cwd(),
  (flags.log as string) ?? 'runs/experiments/results.jsonl',
);
const inputSize = config.model.inputSize ?? 64;

function log(entry: Record<string, unknown>): void {
  const line = JSON.stringify({ name, ...entry });
  appendFileSync(logFile, `${line}\n`);
  console.log(line);
}

/** Predictions of `model` on `set` with the selector in `mode`, or in training mode (BN batch statistics). */
async function predict(
  model: tfl.LayersModel,
  set: HandBatch[],
  mode: 'hard' | 'soft' | 'train',
): Promise<number[][][]> {
  const selector = findConcreteJointSelectors(model)[0] as unknown as { inferenceMode: 'hard' | 'soft' } | undefined;
  const saved = selector?.inferenceMode;
  if (selector && mode !== 'train') selector.inferenceMode = mode;
  // Training-mode calls update the moving statistics: keep and restore them.
  const moving = mode === 'train' ? model.weights.filter((w) => /moving_(mean|variance)/.test(w.originalName)) : [];
  const kept = moving.map((w) => tf.clone(w.read()));
  const out: number[][][] = [];
  for (const b of set) {
    const uv = tf.tidy(() => {
      const outputs = mode === 'train' ? model.apply(b.images, { training: true }) : model.predict(b.images);
      return (outputs as tf.Tensor[])[0];
    });
    out.push(...((await uv.array()) as number[][][]));
    uv.dispose();
  }
  moving.forEach((w, i) => w.write(kept[i]));
  tf.dispose(kept);
  if (selector && saved) selector.inferenceMode = saved;
  return out;
}

/** Predictions read from the backbone heatmaps h₀: the argmax cell of each joint's map, times the stride. */
async function predictFromBackbone(model: tfl.LayersModel, set: HandBatch[]): Promise<number[][][]> {
  const backbone = tfl.model({
    inputs: model.inputs,
    outputs: model.getLayer(BACKBONE_HEATMAP_LAYER).output as tfl.SymbolicTensor,
  });
  const out: number[][][] = [];
  for (const b of set) {
    const idx = tf.tidy(() => {
      const h = backbone.predict(b.images) as tf.Tensor4D; // [B, H, W, J]
      const [n, hh, ww, j] = h.shape;
      return tf.argMax(tf.transpose(tf.reshape(h, [n, hh * ww, j]), [0, 2, 1]), 2); // [B, J]
    });
    const w = set[0].images.shape[2] / UV_UNIT;
    for (const row of (await idx.array()) as number[][])
      out.push(row.map((k) => [UV_UNIT * (k % w), UV_UNIT * Math.floor(k / w)]));
    idx.dispose();
  }
  return out;
}

async function measure(model: tfl.LayersModel, set: HandBatch[], prefix: string): Promise<Record<string, number>> {
  const r: Record<string, number> = {};
  r[`${prefix}`] = await epeOf(set, await predict(model, set, 'hard'));
  if (findConcreteJointSelectors(model).length > 0)
    r[`${prefix}Soft`] = await epeOf(set, await predict(model, set, 'soft'));
  r[`${prefix}Backbone`] = await epeOf(set, await predictFromBackbone(model, set));
  if (flags['train-mode-eval']) r[`${prefix}TrainMode`] = await epeOf(set, await predict(model, set, 'train'));
  return r;
}

async function main(): Promise<void> {
  // First: a log folder that cannot be made (a file on the way, under /proc) is a named error, not a hang.
  await makeFolder(dirname(logFile), 'log folder (--log)');
  await setThreadedWasmBackend(threads);
  enableLeanBackprop(); // bit-for-bit the gradients of the stock pass, faster
  enableWinogradConvolution(); // 3×3 forward convolutions by Winograd (last-bit differences), faster
  const testSynthetic = flags['test-all-views'] ? {} : config.synthetic;
  const test = await heldOutSet(inputSize, testSize, 32, testSeed, testSynthetic);
  const base = await baselineErrors(
    test,
    meanTrainingPose({ ...config.synthetic, seed: config.dataSeed, size: inputSize }, 4096),
  );
  log({ kind: 'baselines', inputSize, testSize, testSeed, meanPose: base.meanPose, handCentre: base.handCentre });

  let fixedSet: HandBatch[] = [];
  if (fixed > 0) {
    for await (const b of batches({
      ...config.synthetic,
      seed: config.dataSeed,
      size: inputSize,
      count: fixed,
      batchSize: config.batchSize,
    }))
      fixedSet.push(b);
  }
  const recalSet: HandBatch[] = [];
  if (recalBatches > 0) {
    // Training-stream samples far beyond what a run reads: statistics of the training distribution.
    for await (const b of batches({
      ...config.synthetic,
      seed: config.dataSeed,
      size: inputSize,
      start: 50_000_000,
      count: recalBatches * config.batchSize,
      batchSize: config.batchSize,
    }))
      recalSet.push(b);
  }
  const model = await buildSeededModel(config);
  const trainer = buildTrainer(model, config, { progress: false });
  log({ kind: 'config', params: model.countParams(), config });

  let lossSum = 0;
  let lossCount = 0;
  const parts: Record<string, number> = {};
  const t0 = performance.now();
  const evalNow = async (step: number) => {
    const r = await measure(model, test, 'epe');
    if (fixed > 0) Object.assign(r, await measure(model, fixedSet, 'epeFixed'));
    const ema = trainer.ema;
    if (ema !== null) Object.assign(r, await ema.withAveragedWeights(() => measure(model, test, 'epeEma')));
    if (recalSet.length > 0) {
      await recalibrateBatchNorm(
        model,
        recalSet.map((b) => b.images),
      );
      r.epeRecal = await epeOf(test, await predict(model, test, 'hard'));
    }
    const betas = model.weights.filter((w) => /^b_get_uv\.\d+\//.test(w.originalName));
    r.betaMean = betas.length
      ? tf.tidy(() => tf.mean(tf.concat(betas.map((b) => tf.reshape(b.read(), [-1])))).dataSync()[0])
      : NaN;
    const meanParts = Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, v / Math.max(1, lossCount)]));
    log({
      kind: 'eval',
      step,
      samples: step * config.batchSize,
      ...r,
      loss: lossSum / Math.max(1, lossCount),
      ...meanParts,
      seconds: (performance.now() - t0) / 1000,
    });
    lossSum = 0;
    lossCount = 0;
    for (const k of Object.keys(parts)) parts[k] = 0;
  };
  await evalNow(0);
  const stream = fixed > 0 ? null : trainingData(config)({ batchesSeen: 0 })[Symbol.asyncIterator]();
  for (let step = 1; step <= config.steps; step++) {
    let batch: HandBatch;
    if (stream) batch = (await stream.next()).value as HandBatch;
    else batch = fixedSet[(step - 1) % fixedSet.length];
    const r = await trainer.trainStep(batch);
    if (stream) disposeBatch(batch);
    lossSum += r.loss;
    lossCount++;
    for (const [k, v] of Object.entries(r.parts ?? {})) parts[k] = (parts[k] ?? 0) + v;
    if (step % evalEvery === 0 || step === config.steps) await evalNow(step);
  }
  const saveDir = typeof flags.save === 'string' ? flags.save : join(dirname(logFile), 'models', name);
  await model.save(fileSystem(resolve(process.env.INIT_CWD ?? process.cwd(), saveDir)));
  log({
    kind: 'end',
    steps: config.steps,
    seconds: (performance.now() - t0) / 1000,
    stepsPerSecond: config.steps / ((performance.now() - t0) / 1000),
  });
  test.forEach(disposeBatch);
  fixedSet.forEach(disposeBatch);
  fixedSet = [];
}

main().catch(exitOnError);
