/**
 * The resumable run: stage 1 (backbone + TW-stage), stage 2 (PG-stage), the PG-only ablation and stage 3
 * (everything, end to end; when asked for), one after the other, each with its checkpoints
 * (`<out>/checkpoints/<stage>/step-N/`), its JSON-lines log (`<out>/log-<stage>.jsonl`) and a held-out
 * evaluation every `evalEvery` steps. Run again with `resume`, it restores the finished stages from their
 * last checkpoint and continues the unfinished one from its newest intact checkpoint.
 */
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { HandBatch } from '@phalanx/data';
import {
  chooseResumeCheckpoint,
  JsonlLog,
  type FitResult,
  type ProgressDisplayOptions,
  type Trainer,
  type TrainerCallbacks,
} from '@phalanx/train';
import { ReplicaSync, type ReplicaContext } from '@phalanx/train/data-parallel';
import { initFromCheckpoint } from './checkpoint';
import {
  buildModel,
  buildPgOnly,
  evaluate,
  heldOutSet,
  meanLayout,
  pgOnlyTrainer,
  stage1Trainer,
  stage2Trainer,
  stage3FirstBatch,
  stage3Trainer,
  stage3View,
  type Evaluation,
  type JobConfig,
  type TrainerOptions,
} from './pipeline';
import { openRun, type RunRecord } from './run-config';
import { trainingSource } from './threads';

/**
 * The stages of a run, in order. Stage 3 (`'e2e'`) comes after the ablation, which takes its backbone from
 * the full model: that backbone must still be stage 1's.
 */
export const STAGES = ['tw', 'pg', 'pg-only', 'e2e'] as const;

/** A stage's name: `'tw'` (stage 1), `'pg'` (stage 2), `'pg-only'` (the ablation), `'e2e'` (stage 3). */
export type StageName = (typeof STAGES)[number];

/** The seed of the held-out set (never trained on: training uses `config.dataSeed`). */
export const TEST_SEED = 90210;

/** Options of {@link runStages}. */
export interface RunOptions {
  /** The job. */
  config: JobConfig;
  /** The run folder. */
  out: string;
  /** Preset name (stored with the run). */
  preset: string;
  /** Continue the run in `out` (an empty `out` starts a fresh one). */
  resume: boolean;
  /** Train the PG-only ablation. */
  pgOnly: boolean;
  /** Held-out samples. */
  testSize: number;
  /** Held-out evaluation period (steps). */
  evalEvery: number;
  /** Checkpoint period (steps). */
  checkpointEvery: number;
  /** Worker threads rendering the training data (0: on the training thread). */
  dataWorkers: number;
  /**
   * Data-parallel replicas the run trains on (`--replicas`; default 1, one process). Stored in the run
   * record when more than 1. `runStages` itself trains one process or, with {@link RunOptions.replica}, one
   * replica; `trainWithReplicas` starts them.
   */
  replicas?: number;
  /**
   * Data-parallel replicas of stage 3 (`--replicas-e2e`; absent: {@link RunOptions.replicas}). Stored in the
   * run record when it differs from `replicas`. The caller trains the stages before it and stage 3 in two
   * calls ({@link RunOptions.stopBefore}).
   */
  replicasE2e?: number;
  /**
   * Stop before this stage: the stages before it are trained (or restored) and it and the later ones are
   * neither built nor trained; `interruptedIn` stays null (default: run every stage).
   */
  stopBefore?: StageName;
  /** PyTorch weights to start from (a fresh stage 1 only), resolved path; `--init` as given is `initName`. */
  init?: { path: string; name: string };
  /** Progress display of each stage's trainer (default: none). */
  progress?: ProgressDisplayOptions | false;
  /** Extra callbacks of a stage's trainer (e.g. a stop in a test). */
  callbacks?: (stage: StageName) => TrainerCallbacks[];
  /** Where notices go (default `console.log`). */
  log?: (text: string) => void;
  /** Called once the model is built, with its parameter count (e.g. to describe the run). */
  onStart?: (params: number) => void;
  /**
   * Set in a data-parallel replica (`--replicas`, `replicas.ts`): this process trains its shard of every
   * batch, its gradients averaged with the other replicas' each step (`ReplicaSync` keeps them in step).
   * Replica 0 evaluates, logs and checkpoints; the others only train. The run folder is not opened here:
   * the main thread has checked or written its record before starting the replicas.
   */
  replica?: ReplicaContext<unknown>;
}

/** What a stage did in this process. */
export interface StageOutcome {
  /** Steps reached. */
  step: number;
  /** Whether it was already finished (restored from its last checkpoint, not trained). */
  restored: boolean;
  /** Wall seconds spent in this process. */
  seconds: number;
}

/** The result of {@link runStages}: the trained models (when not interrupted) and the held-out set. */
export interface RunResult {
  /** `'fresh'` or `'resumed'`. */
  start: 'fresh' | 'resumed';
  /** The stage that was stopped (SIGINT or `trainer.stop()`), or null when every stage finished. */
  interruptedIn: StageName | null;
  /** Each stage's outcome, for the stages reached. */
  stages: Partial<Record<StageName, StageOutcome>>;
  /** The full model. */
  model: tfl.LayersModel;
  /** The PG-only model, once that stage started. */
  pgOnly: tfl.LayersModel | null;
  /** The PG-only model's start layout (the mean hand of training samples). */
  layout: tf.Tensor2D;
  /** The held-out batches. */
  test: HandBatch[];
}

/** The record stored in the run folder for `options`. */
export function runRecord(o: RunOptions): RunRecord {
  return {
    preset: o.preset,
    config: o.config,
    pgOnly: o.pgOnly,
    testSize: o.testSize,
    testSeed: TEST_SEED,
    evalEvery: o.evalEvery,
    init: o.init?.name ?? null,
    ...((o.replicas ?? 1) > 1 ? { replicas: o.replicas } : {}),
    ...(o.replicasE2e !== undefined && o.replicasE2e !== (o.replicas ?? 1) ? { replicasE2e: o.replicasE2e } : {}),
  };
}

/**
 * The metrics a stage logs at each held-out evaluation (all errors on the held-out set): stage 1 the TW
 * joints' 2D error (input px), squared 2.5D distance and depth error (mm) next to the mean-pose and
 * hand-centre baselines;
 * stages 2 and 3 and PG-only the 2D error over all 21 joints, PA-MPJPE and MPJPE (mm) next to the mean hand's
 * and the hand centre's (PG-only's own three prefixed `pgOnly…`).
 */
export function stageMetrics(stage: StageName, e: Evaluation, samples: number): Record<string, number> {
  if (stage === 'tw') {
    return {
      samples,
      twEpe2dPx: e.twJoints.px,
      twDistance: e.twJoints.distance,
      twDepthMm: e.twJoints.depthMm,
      meanPoseTwEpe2dPx: e.twJoints.meanHandPx ?? Number.NaN,
      meanPoseTwDepthMm: e.twJoints.meanHandDepthMm ?? Number.NaN,
      handCentreTwEpe2dPx: e.handCentre.twPx,
    };
  }
  const r = stage === 'pg-only' ? e.pgOnly! : e.full;
  // The PG-only model's own measures are named apart (`pgOnlyEpe2dPx`, …): a reader of every log's
  // `epe2dPx` (the pretrained package's ship script) then sees the full model's curve only.
  const own =
    stage === 'pg-only' ? ['pgOnlyEpe2dPx', 'pgOnlyPaMpjpeMm', 'pgOnlyMpjpeMm'] : ['epe2dPx', 'paMpjpeMm', 'mpjpeMm'];
  return {
    samples,
    [own[0]]: r.epe2dPx,
    [own[1]]: r.paMpjpe,
    [own[2]]: r.mpjpe,
    meanPoseEpe2dPx: e.meanHand?.epe2dPx ?? Number.NaN,
    meanPosePaMpjpeMm: e.meanHand?.paMpjpe ?? Number.NaN,
    meanPoseMpjpeMm: e.meanHand?.mpjpe ?? Number.NaN,
    handCentreEpe2dPx: e.handCentre.px,
  };
}

/**
 * A stage's `ReplicaSync`: stops every replica after the same step on Ctrl-C, and averages the batch-norm
 * moving statistics over the replicas before replica 0 evaluates or checkpoints, and at the stage's end.
 */
function replicaSync(replica: ReplicaContext<unknown>, o: RunOptions): ReplicaSync {
  return new ReplicaSync(replica, { averageEvery: [o.checkpointEvery, o.evalEvery] });
}

interface StageSpec {
  name: StageName;
  trainer: Trainer<HandBatch>;
  steps: number;
  evaluateAt: () => Promise<Evaluation>;
  /** The training stream's first batch (default 0). */
  firstBatch?: number;
  /** The job as this stage sees it (default the run's): its batch size sizes the stream and counts samples. */
  config?: JobConfig;
}

/**
 * One stage: restored from its last checkpoint when finished; otherwise trained from its newest intact
 * checkpoint (or from the start, after logging the step-0 evaluation) to `steps`.
 */
async function runStage(o: RunOptions, s: StageSpec): Promise<{ outcome: StageOutcome; result: FitResult | null }> {
  const t0 = performance.now();
  const dir = join(o.out, 'checkpoints', s.name);
  const logFile = join(o.out, `log-${s.name}.jsonl`);
  const replica = o.replica;
  const primary = (replica?.replica ?? 0) === 0;
  // Every replica reads the same folder before any of them can write to it (that takes a step of all).
  const choice = await chooseResumeCheckpoint(true, dir);
  if (choice.dir !== null && choice.step >= s.steps) {
    await s.trainer.restore(choice.dir);
    return { outcome: { step: choice.step, restored: true, seconds: (performance.now() - t0) / 1000 }, result: null };
  }
  const config = s.config ?? o.config;
  const metrics = async (step: number) => stageMetrics(s.name, await s.evaluateAt(), step * config.batchSize);
  if (choice.dir === null && primary) {
    const t = performance.now();
    const m = await metrics(0);
    new JsonlLog(logFile).write({ event: 'eval', step: 0, metrics: m, ms: performance.now() - t });
  }
  const shard = replica ? { index: replica.replica, count: replica.replicas } : undefined;
  const source = trainingSource(config, o.dataWorkers, shard);
  const first = s.firstBatch ?? 0;
  const primaryOnly = {
    checkpointDir: dir,
    checkpointEvery: o.checkpointEvery,
    keepCheckpoints: 2,
    logFile,
    evaluateEvery: o.evalEvery,
    evaluate: ({ step }: { step: number }) => metrics(step),
  };
  const result = await s.trainer.fit({
    data: ({ batchesSeen }) => source({ batchesSeen: first + batchesSeen }),
    steps: s.steps,
    ...(primary ? primaryOnly : { logFile: null }),
    // A replica resumes from the checkpoint chosen above, as every other replica does; Ctrl-C reaches it
    // through the main thread's signal (`runDataParallel`), not its own SIGINT handler.
    ...(replica ? { resume: choice.dir ?? false, handleSigint: false } : { resume: true }),
  });
  return { outcome: { step: result.step, restored: false, seconds: (performance.now() - t0) / 1000 }, result };
}

/**
 * Runs (or continues) the three stages in `o.out`. Checks the run record first (`openRun`). Returns
 * after the last stage, or after the stage that was stopped (`interruptedIn`); the caller disposes the
 * models, the layout and the held-out batches.
 *
 * @example
 * const r = await runStages({ config, out: 'runs/ehpe/a', preset: 'demo', resume: true, pgOnly: true,
 *   testSize: 128, evalEvery: 200, checkpointEvery: 200, dataWorkers: 1 });
 */
export async function runStages(o: RunOptions): Promise<RunResult> {
  const log = o.log ?? console.log;
  const replica = o.replica;
  const primary = (replica?.replica ?? 0) === 0;
  const start = replica ? 'resumed' : openRun(o.out, runRecord(o), o.resume);
  const { config } = o;
  const inputSize = config.model.imageSize ?? 256;
  const model = await buildModel(config, replica?.replica ?? 0);
  o.onStart?.(model.countParams());
  const twStarted = (await chooseResumeCheckpoint(true, join(o.out, 'checkpoints', 'tw'))).dir !== null;
  if (o.init && !twStarted) {
    const tensors = initFromCheckpoint(model, o.init.path);
    if (primary) log(`initialised from ${o.init.name}: ${tensors} tensors`);
  }
  const test = primary
    ? await heldOutSet(inputSize, o.testSize, Math.min(16, o.testSize), TEST_SEED, config.handCrop ?? false)
    : [];
  const layout = await meanLayout(config);
  const result: RunResult = { start, interruptedIn: null, stages: {}, model, pgOnly: null, layout, test };
  const options = (name: StageName): TrainerOptions => ({
    progress: primary ? (o.progress ?? false) : false,
    callbacks: [...(replica ? [replicaSync(replica, o)] : []), ...(o.callbacks?.(name) ?? [])],
    ...(replica
      ? {
          reduceGradients: replica.reduceGradients,
          // A shard counts as its global batch: samples seen and samples/s as in a single-process run.
          batchSize: (b: HandBatch) => b.images.shape[0] * replica.replicas,
        }
      : {}),
  });
  const full = () => evaluate(model, test, config, undefined, layout);
  // Each stage's name, and how to build it (PG-only builds its model): only the stages that run are built.
  const specs: [StageName, () => Omit<StageSpec, 'name'> | Promise<Omit<StageSpec, 'name'>>][] = [
    [
      'tw',
      () => ({
        trainer: stage1Trainer(model, config, options('tw')),
        steps: config.stepsTw,
        evaluateAt: full,
      }),
    ],
    [
      'pg',
      () => ({
        trainer: stage2Trainer(model, config, options('pg')),
        steps: config.stepsPg,
        evaluateAt: full,
      }),
    ],
  ];
  if (o.pgOnly) {
    specs.push([
      'pg-only',
      async () => {
        // Built after stage 2 (whose backbone is stage 1's, frozen), seeded: the same start on every resume.
        const pgOnly = await buildPgOnly(config, model, replica?.replica ?? 0);
        result.pgOnly = pgOnly;
        return {
          trainer: pgOnlyTrainer(pgOnly, layout, config, options('pg-only')),
          steps: config.stepsPg,
          evaluateAt: () => evaluate(model, test, config, { model: pgOnly, layout }, layout),
        };
      },
    ]);
  }
  const stepsE2e = config.stepsE2e ?? 0;
  if (stepsE2e > 0) {
    specs.push([
      'e2e',
      () => ({
        trainer: stage3Trainer(model, config, options('e2e')),
        steps: stepsE2e,
        evaluateAt: full,
        // Samples that neither stage 1 nor stage 2 read, in batches of stage 3's size.
        firstBatch: stage3FirstBatch(config),
        config: stage3View(config),
      }),
    ]);
  }
  const stop = o.stopBefore === undefined ? STAGES.length : STAGES.indexOf(o.stopBefore);
  for (const [name, make] of specs.filter(([name]) => STAGES.indexOf(name) < stop)) {
    const s: StageSpec = { name, ...(await make()) };
    const { outcome, result: fit } = await runStage(o, s);
    result.stages[s.name] = outcome;
    log(
      outcome.restored
        ? `${s.name}: finished earlier, restored from its step-${outcome.step} checkpoint`
        : `${s.name}: step ${outcome.step} of ${s.steps} (${outcome.seconds.toFixed(0)} s)` +
            (fit?.resumedFrom ? `, resumed from ${fit.resumedFrom}` : ''),
    );
    if (fit?.interrupted) {
      result.interruptedIn = s.name;
      break;
    }
  }
  return result;
}
