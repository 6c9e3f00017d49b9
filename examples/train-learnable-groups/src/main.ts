/**
 * Trains the Learnable Joint Groups network (AAAI 2021) on synthetic hands in Node on the wasm backend
 * and evaluates it on a held-out synthetic set before and after training.
 *
 *   pnpm demo                                   # the short default run (≤ 10 min on 2 cores)
 *   pnpm --filter @phalanx/example-train-learnable-groups start -- --preset pretrained --out runs/lg-long
 *   pnpm --filter @phalanx/example-train-learnable-groups start -- --full --paper   # the paper's size and recipe
 *
 * Writes into the output folder (default `runs/learnable-groups/latest` under the directory pnpm was
 * started from): `model/` (tfjs model.json + weights.bin), `checkpoints/` (resumable), `log.jsonl`,
 * `metrics.json`, `pck.svg`, `groups.svg`, `predictions.png`, `curve.svg`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-layers';
import { enableLeanBackprop, enableWinogradConvolution, setThreadedWasmBackend } from '@phalanx/wasm-training';
import { disposeBatch, encodePng, type HandBatch, type RgbImage } from '@phalanx/data';
import { type ConcreteJointSelector, fileSystem, findConcreteJointSelectors, makeFolder } from '@phalanx/layers';
import { pckCurveToSvg } from '@phalanx/pose';
import { initFromCheckpoint, openCheckpointFile } from './checkpoint';
import { checkNotForeignRun, checkResumableFolder } from './run-folder';
import { baselineErrors, meanTrainingPose, type Baselines } from './baselines';
import { groupsToSvg, learningCurvesSvg, predictionSheet } from './figures';
import { jobEvaluations } from './job-curve';
import { intFlag, jobConfigFromFlags, parseFlags, readCommandLine, UsageError } from './flags';
import {
  PAPER_LEARNING_RATES,
  buildSeededModel,
  buildTrainer,
  evaluate,
  heldOutMetrics,
  heldOutSet,
  summary,
} from './pipeline';
import type { Evaluation, JobConfig } from './pipeline';
import { PRESETS, type PresetName } from './presets';
import { evaluateShipped, type ShippedResult } from './shipped';
import { dataWorkersFlag, threadsFlag, trainingSource } from './threads';
import { stopOnFirstSigint } from '@phalanx/train/data-parallel';
import { replicasFlag, trainWithReplicas } from './replicas-main';
import { JOB_FLAGS, JOB_HELP } from './job-flags';
import { exitOnError } from './usage';

const flags = readCommandLine(() => parseFlags(process.argv.slice(2), JOB_FLAGS));

if (flags.help) {
  console.log(JOB_HELP);
  process.exit(0);
}

/** Seed of the held-out set (never trained on). */
const TEST_SEED = 90210;

/** The run's settings from the command line: a bad flag ends the process as a usage error (exit code 2). */
function readSettings() {
  const presetName = (flags.preset ?? 'demo') as PresetName;
  if (!Object.hasOwn(PRESETS, presetName)) {
    throw new UsageError(`--preset must be one of ${Object.keys(PRESETS).join(', ')}, but received '${presetName}'.`);
  }
  const preset = PRESETS[presetName];
  const config: JobConfig = jobConfigFromFlags(flags, preset.recipe);
  // The held-out set is the stream of its seed: training on it would score the run on hands it trained on.
  if (config.dataSeed === TEST_SEED) {
    throw new UsageError(`--data-seed must not be ${TEST_SEED}, the held-out set's seed.`);
  }
  const steps = config.steps;
  return {
    presetName,
    preset,
    config,
    testSize: intFlag('test-size', flags['test-size'], 256),
    evalEvery: intFlag('eval-every', flags['eval-every'], preset.evalEvery(steps)),
    checkpointEvery: intFlag('checkpoint-every', flags['checkpoint-every'], preset.checkpointEvery(steps)),
    threads: threadsFlag(flags.threads as string | undefined),
    dataWorkers: dataWorkersFlag(flags['data-workers'] as string | undefined),
    replicas: replicasFlag(flags.replicas as string | undefined, config.batchSize, preset.replicas),
  };
}
const settings = readCommandLine(readSettings);
const { presetName, config, testSize, evalEvery, checkpointEvery } = settings;
const inputSize = config.model.inputSize ?? 64;
const steps = config.steps;
const out = resolve(process.env.INIT_CWD ?? process.cwd(), (flags.out as string) ?? 'runs/learnable-groups/latest');
const checkpointDir = join(out, 'checkpoints');

function describeRecipe(model: { countParams(): number }, threads: number, dataWorkers: number): void {
  const m = config.model;
  console.log(
    `Learnable Groups (${presetName} preset${flags.paper ? ', --paper' : ''}): input ${inputSize}, ` +
      `${m.numGroups === 1 ? 'one branch (no groups)' : `${m.numGroups} groups${m.fusion ? ' + fusion' : ''}`}, ` +
      `planes [${m.planes}], hourglass ${m.hourglassFeatures} features, ${(model.countParams() / 1e6).toFixed(2)} M ` +
      `parameters; backend ${tf.getBackend()} (${threads} threads), data rendered by ${dataWorkers || 'no'} worker thread(s)`,
  );
  const sched = config.lrSchedule;
  console.log(
    `recipe: Adam, lr selector ${config.lr.selector}, fusion ${config.lr.fusion}, rest ${config.lr.rest}` +
      (sched
        ? ` (${sched.warmupSteps}-step warm-up, ${sched.decay} decay${sched.decay === 'cosine' ? ' to 0' : ''}` +
          (sched.restartEvery !== undefined
            ? `, restarted every ${sched.restartEvery} steps at ${sched.restartPeak ?? 1}^k of the peak`
            : '') +
          ')'
        : '') +
      (config.lr.rest !== PAPER_LEARNING_RATES.rest ? ` — the paper: constant 1e-4 (--paper)` : ''),
  );
  console.log(
    `τ: 5, −0.1 every ${config.temperatureEvery} steps; loss xyzL1 on (u/4, v/4, d), λ = ${config.zWeight}` +
      (config.scoremapWeight ? `, + ${config.scoremapWeight} × branch scoremap cross-entropy` : '') +
      (config.heatmapWeight ? `, + ${config.heatmapWeight} × backbone h₀ ${config.heatmapLoss ?? 'mse'}` : '') +
      (config.scoremapWeight || config.heatmapWeight
        ? ` (σ ${config.heatmapSigma}${config.heatmapSigmaFinal !== undefined ? ` → ${config.heatmapSigmaFinal}` : ''} heatmap px; training only)`
        : ''),
  );
  console.log(
    `steps ${steps} × batch ${config.batchSize} = ${steps * config.batchSize} samples; held-out ${testSize} ` +
      `synthetic hands of seed ${TEST_SEED} (training seed ${config.dataSeed}); output ${out}`,
  );
}

/** pck.svg, predictions.png (the first 8 held-out hands) and curve.svg (held-out 2D EPE from the log). */
async function writeFigures(
  before: Evaluation,
  after: Evaluation,
  test: HandBatch[],
  base: Baselines,
  stepsDone: number,
  shipped: ShippedResult,
): Promise<void> {
  writeFileSync(
    join(out, 'pck.svg'),
    pckCurveToSvg(
      {
        thresholds: after.measures3d.thresholds,
        curves: [
          { label: `before training (3D)`, pck: before.measures3d.pckCurve },
          { label: `after ${stepsDone} steps (3D)`, pck: after.measures3d.pckCurve },
        ],
      },
      { title: 'Held-out synthetic hands: 3D PCK (GT root depth and scale)', xLabel: 'Error threshold (mm)' },
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
  // Rows: ground truth, this run, and (when shipped) the model of the long recipe on the same hands.
  const rows = [after.uv.slice(0, n), ...(shipped.shipped ? [shipped.firstUv.slice(0, n)] : [])];
  writeFileSync(join(out, 'predictions.png'), await encodePng(predictionSheet(images, gtUv, ...rows)));
  // The learning curve from the run's log (all of it, also across resumes).
  const points = jobEvaluations(readFileSync(join(out, 'log.jsonl'), 'utf8'), config.batchSize);
  writeFileSync(
    join(out, 'curve.svg'),
    learningCurvesSvg(
      [{ label: `${presetName} run`, points: [[0, before.measures2d.epeMean], ...points] }],
      [
        { label: 'mean pose', value: base.meanPose },
        { label: 'hand centre', value: base.handCentre },
      ],
      `Held-out 2D EPE, ${inputSize}-px input`,
    ),
  );
}

/**
 * `--replicas N`: every replica starts from the same `--init` weights or resumes from the same
 * checkpoint; the first Ctrl-C stops them all after the same step (replica 0 writes the interrupt
 * checkpoint), a second one ends the process at once (Node's default: the listener is gone).
 */
async function trainReplicasUntilDone(
  model: LayersModel,
  replicas: number,
  train: Parameters<typeof trainWithReplicas>[3],
): Promise<{ step: number; interrupted: boolean; checkpoint: string | null }> {
  const stop = stopOnFirstSigint();
  try {
    return await trainWithReplicas(model, config, replicas, train, {
      resume: flags.resume === true,
      signal: stop.signal,
    });
  } finally {
    stop.release();
  }
}

async function main(): Promise<void> {
  const t0 = performance.now();
  // Before anything runs or is written: an --init file that cannot be read or is not a checkpoint is a named
  // error, and so is a folder that cannot be made (a file, under /proc) — not a hang.
  const initFile =
    typeof flags.init === 'string'
      ? openCheckpointFile(resolve(process.env.INIT_CWD ?? process.cwd(), flags.init))
      : null;
  if (flags.resume === true) checkResumableFolder(out);
  else checkNotForeignRun(out);
  await makeFolder(out, 'output folder (--out)');
  const threads = await setThreadedWasmBackend(settings.threads);
  enableLeanBackprop(); // the same gradients with less memory held: ≈ 8 % faster steps here
  enableWinogradConvolution(); // 3×3 forward convolutions by Winograd: ≈ 4 % faster steps on one thread
  const dataWorkers = settings.dataWorkers;
  const model = await buildSeededModel(config);
  if (initFile !== null) {
    const init = initFromCheckpoint(model, initFile);
    console.log(
      `initialised from ${flags.init}: ${init.loaded} tensors` +
        (init.temperature !== undefined ? `, selector τ ${init.temperature}` : ''),
    );
  }
  describeRecipe(model, threads, dataWorkers);

  const test = await heldOutSet(inputSize, testSize, inputSize > 128 ? 4 : 16, TEST_SEED, config.synthetic);
  const base = await baselineErrors(
    test,
    meanTrainingPose({ ...config.synthetic, seed: config.dataSeed, size: inputSize }, 4096),
  );
  const before = await evaluate(model, test);
  console.log(`before training: ${summary(before)}`);

  const replicas = settings.replicas;
  const tTrain = performance.now();
  const train = {
    steps,
    checkpointDir,
    checkpointEvery,
    logFile: join(out, 'log.jsonl'),
    evalEvery,
    dataWorkers,
    test: { size: inputSize, count: testSize, batchSize: inputSize > 128 ? 4 : 16, seed: TEST_SEED },
  };
  const result =
    replicas > 1
      ? await trainReplicasUntilDone(model, replicas, train)
      : await buildTrainer(model, config).fit({
          data: trainingSource(config, dataWorkers),
          steps,
          checkpointDir,
          checkpointEvery,
          keepCheckpoints: 2,
          logFile: join(out, 'log.jsonl'),
          resume: flags.resume === true,
          evaluateEvery: evalEvery,
          evaluate: () => heldOutMetrics(model, test),
        });
  if (result.interrupted) {
    console.log(`interrupted at step ${result.step}; checkpoint ${result.checkpoint}. Continue with --resume.`);
    process.exit(130);
  }
  const trainSeconds = (performance.now() - tTrain) / 1000;
  const after = await evaluate(model, test);
  console.log(`after ${result.step} steps (${trainSeconds.toFixed(0)} s of training): ${summary(after)}`);
  const selector = findConcreteJointSelectors(model)[0] as ConcreteJointSelector | undefined;
  const groups = selector ? selector.groups() : [];
  if (selector) {
    console.log(
      `groups (τ = ${selector.getTemperature().toFixed(2)}): ${groups.map((g) => `[${g.join(' ')}]`).join(' ')}`,
    );
    writeFileSync(
      join(out, 'groups.svg'),
      groupsToSvg(
        groups,
        `after ${result.step} steps, τ = ${selector.getTemperature().toFixed(2)}, input ${inputSize} px`,
      ),
    );
  }
  await model.save(fileSystem(join(out, 'model')));
  const shipped = await evaluateShipped(testSize, TEST_SEED, inputSize, config.synthetic);
  await writeFigures(before, after, test, base, result.step, shipped);
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
    `${JSON.stringify(
      {
        preset: presetName,
        config,
        steps: result.step,
        trainSeconds,
        heldOut: { count: testSize, seed: TEST_SEED, inputSize },
        baselines: base,
        before: brief(before),
        after: brief(after),
        shipped: shipped.shipped ? { ...shipped, firstUv: undefined } : shipped,
        groups,
      },
      null,
      2,
    )}\n`,
  );
  test.forEach(disposeBatch);
  console.log(
    `wrote ${out}/{model/, checkpoints/, log.jsonl, metrics.json, curve.svg, pck.svg, groups.svg, predictions.png}; ` +
      `total ${((performance.now() - t0) / 1000).toFixed(0)} s`,
  );
  if (shipped.shipped) {
    console.log(
      `shipped Learnable Groups (@phalanx/pretrained${shipped.training ? `: ${shipped.training}` : ''}): held-out 2D EPE ` +
        `${shipped.epe.toFixed(2)} px at ${shipped.inputSize} px input` +
        (shipped.inputSize !== inputSize ? ` (${shipped.epeAtJobSize.toFixed(2)} px at ${inputSize} px)` : '') +
        ' on the same hands',
    );
  } else {
    console.log(`shipped Learnable Groups: not yet shipped (${shipped.reason})`);
  }
  console.log(
    `held-out 2D EPE ${after.measures2d.epeMean.toFixed(2)} px at ${inputSize} px input; ` +
      `baselines: mean pose ${base.meanPose.toFixed(2)} px, hand centre ${base.handCentre.toFixed(2)} px`,
  );
}

// A named error (a folder that cannot be made, a refused checkpoint, also a replica's) says it all in one line.
main().catch(exitOnError);
