/**
 * The JSON-lines log of a run as a trainer callback.
 */
import { checkPath } from '../paths';
import { JsonlLog } from '../jsonl-log';
import type {
  CheckpointInfo,
  EvaluateInfo,
  FitResult,
  MessageInfo,
  StepResult,
  TeardownInfo,
  TrainBeginInfo,
  TrainerCallbacks,
} from './callback';

/**
 * Appends one JSON object per event to a `.jsonl` file (see `TrainingEvent`): `start`, `step` (loss,
 * parts, learning rates, τ, gradient norm, batch size, step time and the run's average speed), `eval`,
 * `checkpoint`, `warning`, `end` — and `error` when `fit` fails.
 *
 * @example
 * const input = tfl.input({ shape: [4] });
 * const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 2 }).apply(input) as tfl.SymbolicTensor });
 * const loss = ([y]: tf.Tensor[], b: { xs: tf.Tensor; ys: tf.Tensor }) => tf.losses.meanSquaredError(b.ys, y) as tf.Scalar;
 * const trainer = new Trainer({ model, loss, callbacks: [new JsonlLogging('runs/a/log.jsonl')] });
 */
export class JsonlLogging implements TrainerCallbacks {
  /** The log. */
  readonly log: JsonlLog;
  private started = 0;
  private startStep = 0;
  private samples = 0;
  private now: () => number;

  constructor(
    /** Path of the `.jsonl` file (appended to; its folder is created). */
    path: string,
    /** Clock in ms, for tests. Default `performance.now`. */
    now: () => number = () => performance.now(),
  ) {
    this.log = new JsonlLog(checkPath('JsonlLogging', 'path', path, 'a file path'));
    this.now = now;
  }

  /** `start`. */
  onTrainBegin(info: TrainBeginInfo): void {
    this.started = this.now();
    this.startStep = info.step;
    this.samples = 0;
    this.log.write({ event: 'start', step: info.step, totalSteps: info.totalSteps, resumedFrom: info.resumedFrom });
  }

  /** `step`, with the average speed since `start`. */
  onStepEnd(r: StepResult): void {
    this.samples += r.batchSize;
    const seconds = Math.max((this.now() - this.started) / 1000, r.ms / 1000, 1e-9);
    this.log.write({
      event: 'step',
      step: r.step,
      loss: r.loss,
      ...(r.parts ? { parts: r.parts } : {}),
      learningRates: r.learningRates,
      ...(r.temperature !== undefined ? { temperature: r.temperature } : {}),
      gradNorm: r.gradNorm,
      batchSize: r.batchSize,
      ...(r.microBatches > 1 ? { microBatches: r.microBatches } : {}),
      ...(r.skipped ? { skipped: true } : {}),
      stepMs: r.ms,
      stepsPerSecond: (r.step - this.startStep) / seconds,
      samplesPerSecond: this.samples / seconds,
    });
  }

  /** `eval`. */
  onEvaluate(info: EvaluateInfo): void {
    this.log.write({ event: 'eval', step: info.step, metrics: info.metrics, ms: info.ms });
  }

  /** `checkpoint`. */
  onCheckpoint(info: CheckpointInfo): void {
    this.log.write({
      event: 'checkpoint',
      step: info.step,
      dir: info.dir,
      reason: info.reason,
      ...(info.finite ? {} : { finite: false }),
    });
  }

  /** `warning` (plain notices are not logged). */
  onMessage(info: MessageInfo): void {
    if (info.level === 'warning') this.log.write({ event: 'warning', step: info.step, message: info.text });
  }

  /** `end`. */
  onTrainEnd(result: FitResult): void {
    const seconds = (this.now() - this.started) / 1000;
    this.log.write({ event: 'end', step: result.step, interrupted: result.interrupted, seconds });
  }

  /** `error`, when `fit` fails. */
  onTeardown(info: TeardownInfo): void {
    if (info.error === null) return;
    const e = info.error as { name?: string; message?: string };
    this.log.write({
      event: 'error',
      step: info.step,
      name: e?.name ?? 'Error',
      message: e?.message ?? String(info.error),
    });
  }
}
