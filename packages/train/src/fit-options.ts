/**
 * The options of `Trainer.fit`, their validation, the callbacks they stand for, and the choice of the
 * checkpoint to resume from.
 */
import { join } from 'node:path';
import { checkInteger, checkOptions, describeCompact, PhalanxConfigError, PhalanxFileError } from '@phalanx/errors';
import type { TrainerCallbacks } from './callbacks/callback';
import { Checkpointing } from './callbacks/checkpointing';
import { PeriodicEvaluation, type BestMetricSpec, type EvaluateFn } from './callbacks/evaluation';
import { JsonlLogging } from './callbacks/logging';
import { ProgressReporting } from './callbacks/progress';
import { StopOnSigint } from './callbacks/sigint';
import { checkCheckpoint } from './checkpoint';
import { listCheckpoints, recoverCheckpointFolder } from './checkpoint-folders';
import type { DataSource } from './data-source';
import type { ProgressDisplayOptions } from './progress';

/** Options of `Trainer.fit`. */
export interface FitOptions<B> {
  /**
   * Batches. A function is called with the position to start from (`step`, `batchesSeen`) — at the
   * start, after a resume (so it can start at the right sample) and whenever the iterable it returned
   * ends (a new epoch). A plain iterable is consumed once; on resume its first `batchesSeen` batches
   * are skipped. Required.
   */
  data: DataSource<B>;
  /**
   * Total number of optimizer steps of the run, counting those before a resume (integer ≥ 1, and not
   * below the step of the checkpoint resumed from). Required.
   */
  steps: number;
  /** Evaluate every this many steps (integer ≥ 1), and at the end. Default: only at the end. */
  evaluateEvery?: number;
  /** Computes evaluation metrics (e.g. with `poseEvaluation`); called with the model in inference mode. */
  evaluate?: EvaluateFn;
  /**
   * Track the best value of this metric and keep a `best` checkpoint (with `checkpointDir`). An evaluation
   * that does not return it is a `PhalanxConfigError`.
   */
  bestMetric?: BestMetricSpec;
  /**
   * Folder of checkpoints (`step-N/` subfolders; made with the first one). Checked for writing before the
   * first step: a file in the way, a read-only or virtual file system is a `PhalanxFileError` then, not
   * after steps of training. Default: no checkpoints.
   */
  checkpointDir?: string;
  /** Write a checkpoint every this many steps (integer ≥ 1), and at the end. Default: only at the end. */
  checkpointEvery?: number;
  /**
   * Number of `step-N` checkpoints kept (integer ≥ 1; older ones are deleted, except the newest finite
   * one). Default 2.
   */
  keepCheckpoints?: number;
  /**
   * Continue from the newest checkpoint in `checkpointDir` (`true`) or from the given checkpoint
   * folder. With `true`, a damaged newest checkpoint is passed over with a warning for the newest
   * intact one; nothing happens when there is no checkpoint yet. Default `false`.
   */
  resume?: boolean | string;
  /**
   * JSON-lines log file (appended to; its folder is made and the file checked for writing before the first step).
   * Default: `<checkpointDir>/log.jsonl` when there is a checkpoint dir.
   */
  logFile?: string | null;
  /**
   * On SIGINT (Ctrl-C): finish the step, write a checkpoint and return `{interrupted: true}`; a second
   * Ctrl-C ends the process (Node's default). Default `true`.
   */
  handleSigint?: boolean;
}

/** `FitOptions` validated, defaults applied. */
export interface FitPlan<B> {
  /** The data. */
  data: DataSource<B>;
  /** The step to run to. */
  total: number;
  /** The checkpoint root, or `null`. */
  root: string | null;
  /** `resume` as given. */
  resume: boolean | string;
  /** The log file, or `null`. */
  logFile: string | null;
  /** Whether to stop cleanly on SIGINT. */
  handleSigint: boolean;
  /** The evaluation callback, when `evaluate` was given. */
  evaluation: PeriodicEvaluation | null;
  /** The checkpointing callback, when `checkpointDir` was given. */
  checkpointing: Checkpointing | null;
}

/** The keys of {@link FitOptions}: any other key is a named error. */
const FIT_OPTION_KEYS = {
  data: true,
  steps: true,
  evaluateEvery: true,
  evaluate: true,
  bestMetric: true,
  checkpointDir: true,
  checkpointEvery: true,
  keepCheckpoints: true,
  resume: true,
  logFile: true,
  handleSigint: true,
} satisfies Record<keyof FitOptions<unknown>, true>;

/**
 * Validates `options` (named errors for every bad value) and builds the evaluation and checkpointing
 * callbacks they describe.
 *
 * @example
 * function* data() {
 *   for (let i = 1; ; i++) yield { xs: tf.randomNormal([8, 4], 0, 1, 'float32', i), ys: tf.zeros([8, 2]) };
 * }
 * const plan = resolveFitOptions({ data, steps: 1000, checkpointDir: 'runs/a', checkpointEvery: 100 });
 */
export function resolveFitOptions<B>(options: FitOptions<B>): FitPlan<B> {
  const name = 'Trainer.fit';
  checkOptions(name, 'options', options, FIT_OPTION_KEYS, 'an object');
  const total = checkInteger(name, 'steps', options.steps, 1);
  const data: unknown = options.data;
  const iterable =
    typeof data === 'function' ||
    (data !== null &&
      typeof data === 'object' &&
      (typeof (data as AsyncIterable<B>)[Symbol.asyncIterator] === 'function' ||
        typeof (data as Iterable<B>)[Symbol.iterator] === 'function'));
  if (!iterable) {
    throw new PhalanxConfigError(
      name,
      'data',
      'an iterable, an async iterable or a function of the position',
      data,
      describeCompact,
    );
  }
  const evaluateEvery =
    options.evaluateEvery === undefined ? undefined : checkInteger(name, 'evaluateEvery', options.evaluateEvery, 1);
  const checkpointEvery =
    options.checkpointEvery === undefined
      ? undefined
      : checkInteger(name, 'checkpointEvery', options.checkpointEvery, 1);
  const keep = checkInteger(name, 'keepCheckpoints', options.keepCheckpoints ?? 2, 1);
  const root = options.checkpointDir ?? null;
  if (checkpointEvery !== undefined && root === null) {
    throw new PhalanxConfigError(name, 'checkpointDir', 'given with checkpointEvery', root);
  }
  if (options.resume === true && root === null)
    throw new PhalanxConfigError(name, 'checkpointDir', 'given with resume: true', root);
  if (options.bestMetric && options.bestMetric.mode !== 'min' && options.bestMetric.mode !== 'max') {
    throw new PhalanxConfigError(name, 'bestMetric.mode', "'min' or 'max'", options.bestMetric.mode);
  }
  if (options.evaluate !== undefined && typeof options.evaluate !== 'function') {
    throw new PhalanxConfigError(name, 'evaluate', 'a function', options.evaluate);
  }
  if (options.bestMetric !== undefined && typeof options.bestMetric.name !== 'string') {
    throw new PhalanxConfigError(name, 'bestMetric.name', 'a string', options.bestMetric.name);
  }
  for (const needsEvaluate of ['bestMetric', 'evaluateEvery'] as const) {
    if (options[needsEvaluate] !== undefined && options.evaluate === undefined) {
      throw new PhalanxConfigError(name, 'evaluate', `given with ${needsEvaluate} (it would never run)`, undefined);
    }
  }
  const evaluation = options.evaluate
    ? new PeriodicEvaluation({ evaluate: options.evaluate, every: evaluateEvery, bestMetric: options.bestMetric })
    : null;
  const checkpointing = root === null ? null : new Checkpointing({ dir: root, every: checkpointEvery, keep });
  return {
    data: options.data,
    total,
    root,
    resume: options.resume ?? false,
    logFile: options.logFile === undefined ? (root === null ? null : join(root, 'log.jsonl')) : options.logFile,
    handleSigint: options.handleSigint ?? true,
    evaluation,
    checkpointing,
  };
}

/** The callbacks a `fit` call adds around the trainer's own: observers first, actors after the user's. */
export interface FitCallbacks {
  /** Logging and progress: they see every event before the user's callbacks. */
  observers: TrainerCallbacks[];
  /** Evaluation, checkpoints and SIGINT: they act after the user's callbacks. */
  actors: TrainerCallbacks[];
}

/**
 * The callbacks of a `fit` call: JSON-lines log and progress display (observers), evaluation,
 * checkpointing and SIGINT handling (actors).
 *
 * @example
 * const plan = resolveFitOptions({ data: [1, 2, 3], steps: 3, checkpointDir: 'runs/a' });
 * const { observers, actors } = fitCallbacks(plan, { every: 10 }); // [JsonlLogging, ProgressReporting], [Checkpointing, StopOnSigint]
 */
export function fitCallbacks(plan: FitPlan<unknown>, progress: ProgressDisplayOptions | false): FitCallbacks {
  const observers: TrainerCallbacks[] = [];
  if (plan.logFile) observers.push(new JsonlLogging(plan.logFile));
  if (progress !== false) observers.push(new ProgressReporting(progress));
  const actors: TrainerCallbacks[] = [];
  if (plan.evaluation) actors.push(plan.evaluation);
  if (plan.checkpointing) actors.push(plan.checkpointing);
  if (plan.handleSigint) actors.push(new StopOnSigint());
  return { observers, actors };
}

/** The checkpoint to resume from, and warnings about damaged ones passed over. */
export interface ResumeChoice {
  /** The checkpoint folder, or `null` to start afresh. */
  dir: string | null;
  /** Its step (0 when starting afresh). */
  step: number;
  /** One line per damaged checkpoint passed over. */
  warnings: string[];
}

/**
 * Picks the checkpoint `resume` points at: the given folder, or with `true` the newest intact `step-N`
 * under `root` (checked with `checkCheckpoint`; damaged newer ones become warnings). When every
 * checkpoint is damaged, a `PhalanxFileError` says so rather than starting over them.
 *
 * @example
 * const { dir, warnings } = await chooseResumeCheckpoint(true, 'runs/a/checkpoints');
 */
export async function chooseResumeCheckpoint(resume: boolean | string, root: string | null): Promise<ResumeChoice> {
  if (typeof resume === 'string') {
    const dir = (await recoverCheckpointFolder(resume)) ?? resume; // e.g. a best/ whose replacement was killed
    return { dir, step: (await checkCheckpoint(dir)).step, warnings: [] };
  }
  if (!resume || root === null) return { dir: null, step: 0, warnings: [] };
  const warnings: string[] = [];
  const all = await listCheckpoints(root);
  for (const { dir } of [...all].reverse()) {
    try {
      const state = await checkCheckpoint(dir);
      return { dir, step: state.step, warnings };
    } catch (error) {
      if (!(error instanceof PhalanxFileError)) throw error;
      warnings.push(`checkpoint ${dir} is damaged (${error.message}); trying an older one`);
    }
  }
  if (all.length > 0) {
    throw new PhalanxFileError(root, 'checkpoints', `are all damaged, none can be resumed: ${warnings.join('; ')}`);
  }
  return { dir: null, step: 0, warnings };
}
