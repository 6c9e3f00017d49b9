/**
 * The callback protocol of `Trainer`, in the spirit of Keras callbacks and Lightning hooks: the loop
 * only steps; everything else — annealing, the moving average, evaluation, checkpoints, logs, progress,
 * Ctrl-C — is a callback with named hooks, and callbacks talk to each other through the events the
 * trainer dispatches (`onEvaluate`, `onCheckpoint`, `onMessage`).
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import type { BestMetric } from '../trainer-state';

/** Result of one training step. */
export interface StepResult {
  /** Steps completed (this one included). */
  step: number;
  /** Loss of the step (the weighted mean over its micro-batches; `NaN` or `±Infinity` when skipped). */
  loss: number;
  /** Named loss parts, if the loss function returned them. */
  parts?: Record<string, number>;
  /** Global gradient norm (after per-group clipping, before global clipping). */
  gradNorm: number;
  /** Learning rate used by each group. */
  learningRates: Record<string, number>;
  /** Temperature used (with annealing). */
  temperature?: number;
  /** Samples in the step (all micro-batches). */
  batchSize: number;
  /** Micro-batches of the step (1 without gradient accumulation). */
  microBatches: number;
  /** True when the step was dropped for a non-finite loss, loss part or gradient norm (`onNonFinite: 'skip'`). */
  skipped: boolean;
  /** Wall time of the step, ms. */
  ms: number;
}

/** Result of `Trainer.fit`. */
export interface FitResult {
  /** Steps completed in total. */
  step: number;
  /** True when stopped by SIGINT or `Trainer.stop` before `steps`. */
  interrupted: boolean;
  /** Loss of each step run by this call. */
  losses: number[];
  /** Metrics of the last evaluation, if any. */
  metrics: Record<string, number> | null;
  /** The best metric, when tracked. */
  best: BestMetric | null;
  /** The last `step-N` checkpoint written by this call, if any. */
  checkpoint: string | null;
  /** The checkpoint this call resumed from, if any. */
  resumedFrom: string | null;
  /** Steps this call dropped because of a non-finite loss, loss part or gradient norm (`onNonFinite: 'skip'`). */
  skippedSteps: number;
  /** Warnings of this call (e.g. a damaged checkpoint passed over on resume). */
  warnings: string[];
}

/** What `onTrainBegin` receives. */
export interface TrainBeginInfo {
  /** Steps completed before this call (after a resume: the checkpoint's step). */
  step: number;
  /** The step `fit` runs to. */
  totalSteps: number;
  /** The checkpoint resumed from, or `null`. */
  resumedFrom: string | null;
}

/** What `onStepBegin` receives. */
export interface StepBeginInfo {
  /** Steps completed before this one (the step index the schedules see). */
  step: number;
  /** Micro-batches the step will use. */
  microBatches: number;
}

/** What `onEvaluate` receives. */
export interface EvaluateInfo {
  /** Steps completed. */
  step: number;
  /** The metrics `evaluate` returned. */
  metrics: Record<string, number>;
  /** Wall time of the evaluation, ms. */
  ms: number;
  /** The monitored metric after this evaluation, or `null` when none is tracked. */
  best: BestMetric | null;
  /** True when this evaluation improved the monitored metric. */
  improved: boolean;
}

/** Why a checkpoint was written. */
export type CheckpointReason = 'periodic' | 'end' | 'interrupt' | 'best';

/** What `onCheckpoint` receives. */
export interface CheckpointInfo {
  /** Steps completed. */
  step: number;
  /** The checkpoint folder. */
  dir: string;
  /** Why it was written. */
  reason: CheckpointReason;
  /** Whether every weight and optimizer slot in it is finite. */
  finite: boolean;
}

/** What `onMessage` receives: a line for the user (progress display, log). */
export interface MessageInfo {
  /** Steps completed. */
  step: number;
  /** The text. */
  text: string;
  /** `'warning'` for something the user should look at (it is also logged). */
  level: 'info' | 'warning';
}

/** What `onLoopEnd` receives: the step loop is over, the final evaluation and checkpoint are still to come. */
export interface LoopEndInfo {
  /** Steps completed. */
  step: number;
  /** True when stopped before `steps` (SIGINT or `Trainer.stop`). */
  interrupted: boolean;
}

/** What `onTeardown` receives: `fit` is leaving, normally or by an error. */
export interface TeardownInfo {
  /** Steps completed. */
  step: number;
  /** The error `fit` is about to throw, or `null`. */
  error: unknown;
}

/** A summary of a written checkpoint. */
export interface CheckpointSummary {
  /** The checkpoint folder. */
  dir: string;
  /** Whether every weight and optimizer slot in it is finite. */
  finite: boolean;
}

/** Metrics the trainer keeps across calls (saved in checkpoints). */
export interface MetricRecord {
  /** The last evaluation's metrics. */
  last: Record<string, number> | null;
  /** The monitored metric. */
  best: BestMetric | null;
}

/**
 * What a callback sees of the trainer: its model and position, and the few actions callbacks take.
 * `Trainer` implements it; tests may pass a stand-in.
 */
export interface TrainerHandle {
  /** The model being trained (the one saved in checkpoints). */
  readonly model: tfl.LayersModel;
  /** Steps completed. */
  readonly step: number;
  /** True once a stop was asked for (`stop()`, Ctrl-C). */
  readonly stopRequested: boolean;
  /** Metrics kept across calls; evaluation callbacks update it. */
  readonly metrics: MetricRecord;
  /** Asks the running `fit` to stop after the current step. */
  stop(): void;
  /** Dispatches an event to every active callback, in order. */
  emit<K extends TrainerHook>(hook: K, info: TrainerHookInfo<K>): Promise<void>;
  /** Dispatches `onMessage` (a line for the user). */
  message(text: string, level?: MessageInfo['level']): Promise<void>;
  /** Writes a complete checkpoint into `dir` (atomically). */
  saveCheckpoint(dir: string): Promise<CheckpointSummary>;
  /** Runs `fn` with the weights evaluations should see (the moving average, when the trainer keeps one for evaluation). */
  withEvaluationWeights<T>(fn: () => Promise<T>): Promise<T>;
}

/**
 * Hooks called by `Trainer`; every one is optional and may be async. Each receives the event's info
 * and the trainer. Order within an event is the order of the callback list: the trainer's own
 * (annealing, moving average), then logging and progress, then yours, then evaluation, checkpoints and
 * Ctrl-C handling.
 *
 * @example
 * const stopWhenGood: TrainerCallbacks = {
 *   onEvaluate: ({ metrics }, trainer) => {
 *     if (metrics.epe2d < 3) trainer.stop();
 *   },
 * };
 */
export interface TrainerCallbacks {
  /** Before the first step of `fit` (after a resume). */
  onTrainBegin?(info: TrainBeginInfo, trainer: TrainerHandle): void | Promise<void>;
  /** Before every step (of `fit` or a direct `trainStep` call), before the learning rates are set. */
  onStepBegin?(info: StepBeginInfo, trainer: TrainerHandle): void | Promise<void>;
  /** After every step (of `fit` or a direct `trainStep` call). */
  onStepEnd?(info: StepResult, trainer: TrainerHandle): void | Promise<void>;
  /** After every evaluation. */
  onEvaluate?(info: EvaluateInfo, trainer: TrainerHandle): void | Promise<void>;
  /** After every checkpoint (`best/` included, with `reason: 'best'`). */
  onCheckpoint?(info: CheckpointInfo, trainer: TrainerHandle): void | Promise<void>;
  /** A line for the user: a notice or a warning. */
  onMessage?(info: MessageInfo, trainer: TrainerHandle): void | Promise<void>;
  /** After the step loop, before `onTrainEnd`: the place for the final evaluation and checkpoint. */
  onLoopEnd?(info: LoopEndInfo, trainer: TrainerHandle): void | Promise<void>;
  /** When `fit` ends normally (also after an interrupt), with its result. */
  onTrainEnd?(info: FitResult, trainer: TrainerHandle): void | Promise<void>;
  /** When `fit` leaves, normally or by an error: release what `onTrainBegin` took (listeners, displays). */
  onTeardown?(info: TeardownInfo, trainer: TrainerHandle): void | Promise<void>;
}

/** The name of a hook of {@link TrainerCallbacks}. */
export type TrainerHook = keyof TrainerCallbacks;

/** The info a hook receives. */
export type TrainerHookInfo<K extends TrainerHook> = Parameters<NonNullable<TrainerCallbacks[K]>>[0];

/**
 * Calls `hook` on every callback of `callbacks` that has it, in order, awaiting each.
 *
 * @example
 * const input = tfl.input({ shape: [4] });
 * const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 2 }).apply(input) as tfl.SymbolicTensor });
 * const loss = ([y]: tf.Tensor[], b: { xs: tf.Tensor; ys: tf.Tensor }) => tf.losses.meanSquaredError(b.ys, y) as tf.Scalar;
 * const trainer = new Trainer({ model, loss, progress: false });
 * const seen: number[] = [];
 * await dispatch([{ onStepEnd: (r) => void seen.push(r.loss) }], 'onStepEnd', {
 *   step: 1, loss: 0.5, gradNorm: 1, learningRates: {}, batchSize: 8, microBatches: 1, skipped: false, ms: 3,
 * }, trainer); // seen: [0.5]
 */
export async function dispatch<K extends TrainerHook>(
  callbacks: readonly TrainerCallbacks[],
  hook: K,
  info: TrainerHookInfo<K>,
  trainer: TrainerHandle,
): Promise<void> {
  for (const callback of callbacks) {
    const fn = callback[hook] as ((i: TrainerHookInfo<K>, t: TrainerHandle) => void | Promise<void>) | undefined;
    if (fn) await fn.call(callback, info, trainer);
  }
}
