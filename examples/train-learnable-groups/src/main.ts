/**
 * Trains the Learnable Joint Groups network (AAAI 2021) on synthetic hands in Node on the wasm backend
 * and evaluates it on a held-out synthetic set before and after training.
 *
 *   pnpm demo                                   # the short default run (< 10 min on 2 cores)
 *   pnpm --filter @phalanx/example-train-learnable-groups start -- --steps 2000 --batch 32
 *   pnpm --filter @phalanx/example-train-learnable-groups start -- --full --paper   # the paper's size and recipe
 *
 * Writes into the output folder (default `runs/learnable-groups/latest` under the directory pnpm was
 * started from): `model/` (tfjs model.json + weights.bin), `checkpoints/` (resumable), `log.jsonl`,
 * `metrics.json`, `pck.svg`, `groups.svg`, `predictions.png`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import { setThreadedWasmBackend } from '@phalanx/wasm-training';
import { disposeBatch, encodePng, type RgbImage } from '@phalanx/data';
import { type ConcreteJointSelector, fileSystem, findConcreteJointSelectors } from '@phalanx/layers';
import { pckCurveToSvg } from '@phalanx/pose';
import { initFromCheckpoint } from './checkpoint';
import { predictionSheet, groupsToSvg } from './figures';
import { dataWorkersFlag, threadsFlag, trainingSource } from './threads';
import {
  buildModel,
  buildTrainer,
  evaluate,
  heldOutSet,
  MODEL_SIZES,
  PAPER_LEARNING_RATES,
  summary,
  type Evaluation,
  type JobConfig,
} from './pipeline';

/** Auxiliary 2D supervision of the short default run (see the README: the paper pre-trains the hourglass in 2D). */
const DEFAULT_AUX = { heatmapWeight: 0, scoremapWeight: 1, heatmapSigma: 1.5 };

// `pnpm start -- --steps 300` hands the script a literal `--` first; without stripping it, parseArgs would
// read every flag after it as a positional argument and silently ignore them.
const argv = process.argv.slice(2);
const { values: flags } = parseArgs({
  args: argv[0] === '--' ? argv.slice(1) : argv,
  options: {
    steps: { type: 'string' },
    batch: { type: 'string' },
    'input-size': { type: 'string' },
    out: { type: 'string' },
    full: { type: 'boolean', default: false },
    paper: { type: 'boolean', default: false },
    'lr-rest': { type: 'string' },
    'temperature-every': { type: 'string' },
    'z-weight': { type: 'string' },
    'heatmap-weight': { type: 'string' },
    'scoremap-weight': { type: 'string' },
    'heatmap-sigma': { type: 'string' },
    beta: { type: 'string' },
    'test-size': { type: 'string' },
    'checkpoint-every': { type: 'string' },
    resume: { type: 'boolean', default: false },
    init: { type: 'string' },
    threads: { type: 'string' },
    'data-workers': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
  allowPositionals: false,
});

if (flags.help) {
  console.log(`Train Learnable Groups on synthetic hands (wasm).
  --steps N             optimizer steps (default 150)
  --batch B             batch size (default 16, --full: 1 — 2 exceeds wasm's 4 GB heap; the paper: 32)
  --input-size S        input size, a multiple of 64 (default 64; --full: 256)
  --out DIR             output folder (default runs/learnable-groups/latest)
  --full                the paper's model size: 256 px, planes [32, 32], 256 hourglass features
  --paper               the paper's recipe exactly: lr 1e-1 / 1e-2 / 1e-4, τ −0.1 every 1000 steps
  --lr-rest LR          learning rate of the non-selector, non-fusion weights (default 1e-3; paper 1e-4)
  --temperature-every N τ drops by 0.1 every N steps (default ⌊steps/45⌋: τ ≤ 0.5 at the end; paper 1000)
  --z-weight λ          weight of the depth term of the L1 loss (default 1)
  --heatmap-weight W    auxiliary 2D loss: heatmapMSE on the backbone heatmaps h₀ (Net_HG tmpOut) against
                        Gaussian targets (default ${DEFAULT_AUX.heatmapWeight}; --paper: 0)
  --scoremap-weight W   auxiliary 2D loss: cross-entropy of each branch's softmax(β·h) against the
                        normalised Gaussian (default ${DEFAULT_AUX.scoremapWeight}; --paper: 0)
  --heatmap-sigma σ     σ of the Gaussian targets in heatmap pixels (default ${DEFAULT_AUX.heatmapSigma})
  --beta β              initial per-joint β of the soft-argmax layers (default: the model's 1)
  --test-size N         held-out samples (default 64)
  --checkpoint-every N  checkpoint period (default steps/3)
  --resume              continue from the newest checkpoint in <out>/checkpoints
  --init FILE           start from PyTorch weights: a .pth/.pt checkpoint (read directly, no Python;
                        e.g. the release's RHD_final.pth with --full) or a .safetensors file. The
                        model configuration must match the checkpoint's (strict import)
  --threads N           threads of the wasm backend (default: every core)
  --data-workers N      worker threads rendering the training data ahead of the trainer (default 1; 0: none)`);
  process.exit(0);
}

function intFlag(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be an integer ≥ 1, but received '${value}'.`);
  return n;
}

function numFlag(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a number ≥ 0, but received '${value}'.`);
  return n;
}

const size = flags.full ? MODEL_SIZES.full : MODEL_SIZES.small;
const inputSize = intFlag('input-size', flags['input-size'], size.inputSize);
const steps = intFlag('steps', flags.steps, 150);
const restLr = numFlag('lr-rest', flags['lr-rest'], flags.paper ? PAPER_LEARNING_RATES.rest : 1e-3);
const config: JobConfig = {
  model: { ...size, inputSize },
  steps,
  // At the paper's size a batch of 2 already exceeds the 4 GB wasm heap (bench/results/models.md).
  batchSize: intFlag('batch', flags.batch, flags.full ? 1 : 16),
  lr: { ...PAPER_LEARNING_RATES, rest: restLr },
  temperatureEvery: intFlag(
    'temperature-every',
    flags['temperature-every'],
    flags.paper ? 1000 : Math.max(1, Math.floor(steps / 45)),
  ),
  zWeight: numFlag('z-weight', flags['z-weight'], 1),
  dataSeed: 1,
  heatmapWeight: numFlag('heatmap-weight', flags['heatmap-weight'], flags.paper ? 0 : DEFAULT_AUX.heatmapWeight),
  scoremapWeight: numFlag('scoremap-weight', flags['scoremap-weight'], flags.paper ? 0 : DEFAULT_AUX.scoremapWeight),
  heatmapSigma: numFlag('heatmap-sigma', flags['heatmap-sigma'], DEFAULT_AUX.heatmapSigma),
  initialBeta: flags.beta === undefined ? undefined : numFlag('beta', flags.beta, 1),
};
const testSize = intFlag('test-size', flags['test-size'], 64);
const out = resolve(process.env.INIT_CWD ?? process.cwd(), flags.out ?? 'runs/learnable-groups/latest');
const checkpointDir = join(out, 'checkpoints');

async function main(): Promise<void> {
  const t0 = performance.now();
  const threads = await setThreadedWasmBackend(threadsFlag(flags.threads));
  const dataWorkers = dataWorkersFlag(flags['data-workers']);
  mkdirSync(out, { recursive: true });

  const model = buildModel(config);
  if (flags.init !== undefined) {
    const init = initFromCheckpoint(model, resolve(process.env.INIT_CWD ?? process.cwd(), flags.init));
    console.log(
      `initialised from ${flags.init}: ${init.loaded} tensors` +
        (init.temperature !== undefined ? `, selector τ ${init.temperature}` : ''),
    );
  }
  console.log(
    `Learnable Groups: input ${inputSize}, planes [${config.model.planes}], hourglass ${config.model.hourglassFeatures} ` +
      `features, ${(model.countParams() / 1e6).toFixed(2)} M parameters; backend ${tf.getBackend()} ` +
      `(${threads} threads), data rendered by ${dataWorkers || 'no'} worker thread(s)`,
  );
  console.log(
    `recipe: Adam, lr selector ${config.lr.selector}, fusion ${config.lr.fusion}, rest ${config.lr.rest}` +
      (config.lr.rest !== PAPER_LEARNING_RATES.rest
        ? ` (paper: ${PAPER_LEARNING_RATES.rest}; raised so that a ${steps}-step run learns — use --paper for the paper's values)`
        : ' (the paper’s values)'),
  );
  console.log(
    `τ: 5, −0.1 every ${config.temperatureEvery} steps` +
      (config.temperatureEvery !== 1000 ? ' (paper: every 1000 steps; compressed to the run length)' : '') +
      `; loss: xyzL1Loss on (u/4, v/4, d), uv in heatmap pixels, d = (z − z_root)/s (root middle MCP, s middle MCP–PIP), λ = ${config.zWeight}`,
  );
  console.log(
    `2D supervision: ` +
      (config.heatmapWeight || config.scoremapWeight
        ? [
            config.heatmapWeight ? `backbone heatmaps h₀: heatmapMSE × ${config.heatmapWeight}` : '',
            config.scoremapWeight ? `branch soft-argmax maps: cross-entropy × ${config.scoremapWeight}` : '',
          ]
            .filter((x) => x)
            .join(', ') +
          ` (Gaussian targets σ = ${config.heatmapSigma} heatmap px; auxiliary, training only — the saved model is the official network)`
        : 'none (the paper pre-trains the hourglass in 2D first; not done here)') +
      (config.initialBeta !== undefined ? `; initial soft-argmax β ${config.initialBeta}` : ''),
  );
  console.log(
    `steps ${steps}, batch ${config.batchSize}, held-out ${testSize} synthetic hands (other seed); output ${out}`,
  );

  const test = await heldOutSet(inputSize, testSize, Math.min(inputSize > 128 ? 4 : 16, testSize));
  const t1 = performance.now();
  const before = await evaluate(model, test);
  console.log(`before training: ${summary(before)}  [${((performance.now() - t1) / 1000).toFixed(1)} s]`);

  const trainer = buildTrainer(model, config);
  const result = await trainer.fit({
    data: trainingSource(config, dataWorkers),
    steps,
    checkpointDir,
    checkpointEvery: intFlag('checkpoint-every', flags['checkpoint-every'], Math.max(1, Math.ceil(steps / 3))),
    keepCheckpoints: 1,
    logFile: join(out, 'log.jsonl'),
    resume: flags.resume,
    evaluateEvery: Math.max(1, Math.ceil(steps / 3)),
    evaluate: async () => {
      const e = await evaluate(model, test);
      return { epe2dPx: e.measures2d.epeMean, epe3dMm: e.measures3d.epeMean, auc20to50: e.measures3d.auc20to50 ?? NaN };
    },
  });
  if (result.interrupted) {
    console.log(`interrupted at step ${result.step}; checkpoint ${result.checkpoint}. Continue with --resume.`);
    process.exit(130);
  }
  const trainSeconds = (performance.now() - t1) / 1000;

  const after = await evaluate(model, test);
  const selector = findConcreteJointSelectors(model)[0] as ConcreteJointSelector;
  const groups = selector.groups();
  console.log(`after ${result.step} steps:  ${summary(after)}`);
  console.log(
    `2D EPE ${before.measures2d.epeMean.toFixed(2)} → ${after.measures2d.epeMean.toFixed(2)} px, ` +
      `3D EPE ${before.measures3d.epeMean.toFixed(1)} → ${after.measures3d.epeMean.toFixed(1)} mm, ` +
      `AUC 20–50 mm ${(before.measures3d.auc20to50 ?? 0).toFixed(3)} → ${(after.measures3d.auc20to50 ?? 0).toFixed(3)}`,
  );
  console.log(
    `groups (τ = ${selector.getTemperature().toFixed(2)}): ${groups.map((g) => `[${g.join(' ')}]`).join(' ')}`,
  );

  await model.save(fileSystem(join(out, 'model')));
  writeFileSync(
    join(out, 'pck.svg'),
    pckCurveToSvg(
      {
        thresholds: after.measures3d.thresholds,
        curves: [
          { label: `before training (3D)`, pck: before.measures3d.pckCurve },
          { label: `after ${result.step} steps (3D)`, pck: after.measures3d.pckCurve },
        ],
      },
      { title: 'Held-out synthetic hands: 3D PCK (GT root depth and scale)', xLabel: 'Error threshold (mm)' },
    ),
  );
  writeFileSync(
    join(out, 'groups.svg'),
    groupsToSvg(
      groups,
      `after ${result.step} steps, τ = ${selector.getTemperature().toFixed(2)}, input ${inputSize} px`,
    ),
  );
  const n = Math.min(8, test[0].images.shape[0]);
  const imgs = (await test[0].images.array()) as number[][][][];
  const images: RgbImage[] = imgs.slice(0, n).map((im) => ({
    data: Float32Array.from(im.flat(2)),
    width: inputSize,
    height: inputSize,
  }));
  const gtUv = ((await test[0].uv.array()) as number[][][]).slice(0, n);
  writeFileSync(join(out, 'predictions.png'), await encodePng(predictionSheet(images, gtUv, after.uv.slice(0, n))));
  const brief = (e: Evaluation) => ({
    epe2dPx: e.measures2d.epeMean,
    epe2dMedianPx: e.measures2d.epeMedian,
    epe3dMm: e.measures3d.epeMean,
    epe3dMedianMm: e.measures3d.epeMedian,
    auc0to50: e.measures3d.auc,
    auc20to50: e.measures3d.auc20to50,
  });
  writeFileSync(
    join(out, 'metrics.json'),
    `${JSON.stringify({ config, steps: result.step, trainSeconds, before: brief(before), after: brief(after), groups }, null, 2)}\n`,
  );
  test.forEach(disposeBatch);
  console.log(
    `wrote ${out}/{model/, checkpoints/, log.jsonl, metrics.json, pck.svg, groups.svg, predictions.png}; ` +
      `total ${((performance.now() - t0) / 1000).toFixed(0)} s`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
