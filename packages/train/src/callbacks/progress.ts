/**
 * The progress display of a run as a trainer callback.
 */
import { formatNumber, ProgressDisplay, type ProgressDisplayOptions } from '../progress';
import type {
  CheckpointInfo,
  EvaluateInfo,
  MessageInfo,
  StepResult,
  TrainBeginInfo,
  TrainerCallbacks,
} from './callback';

/**
 * Shows a {@link ProgressDisplay} for the run (a rewritten bar on a terminal, periodic lines
 * elsewhere) and prints, on their own lines: the resume, each evaluation's metrics, skipped steps, the
 * final or interrupt checkpoint, and every message (warnings prefixed `warning:`).
 *
 * @example
 * const input = tfl.input({ shape: [4] });
 * const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 2 }).apply(input) as tfl.SymbolicTensor });
 * const loss = ([y]: tf.Tensor[], b: { xs: tf.Tensor; ys: tf.Tensor }) => tf.losses.meanSquaredError(b.ys, y) as tf.Scalar;
 * const trainer = new Trainer({ model, loss, progress: false, callbacks: [new ProgressReporting({ every: 10 })] });
 */
export class ProgressReporting implements TrainerCallbacks {
  private display: ProgressDisplay | null = null;

  constructor(
    /** Display options (stream, tty, every, …). */
    readonly options: ProgressDisplayOptions = {},
  ) {}

  /** Opens the display. */
  onTrainBegin(info: TrainBeginInfo): void {
    this.display = new ProgressDisplay(info.totalSteps, this.options);
    if (info.resumedFrom) this.display.message(`resumed from ${info.resumedFrom} at step ${info.step}`);
    this.display.start(info.step);
  }

  /** Advances the bar. */
  onStepEnd(r: StepResult): void {
    if (r.skipped) this.display?.message(`step ${r.step} skipped: loss ${r.loss}, gradient norm ${r.gradNorm}`);
    this.display?.update({
      step: r.step,
      loss: r.loss,
      parts: r.parts,
      batchSize: r.batchSize,
      ...(r.temperature !== undefined ? { extra: { τ: r.temperature } } : {}),
    });
  }

  /** `eval @ step: name value, …`. */
  onEvaluate(info: EvaluateInfo): void {
    const values = Object.entries(info.metrics).map(
      ([k, v]) => `${k} ${Number.isInteger(v) ? v : Number.isFinite(v) ? v.toFixed(4) : formatNumber(v)}`,
    );
    this.display?.message(`eval @ ${info.step}: ${values.join(', ')}`);
  }

  /** The final and the interrupt checkpoint. */
  onCheckpoint(info: CheckpointInfo): void {
    if (info.reason === 'end' || info.reason === 'interrupt') this.display?.message(`checkpoint ${info.dir}`);
  }

  /** Messages and warnings. */
  onMessage(info: MessageInfo): void {
    this.display?.message(info.level === 'warning' ? `warning: ${info.text}` : info.text);
  }

  /** Closes the display. */
  onTeardown(): void {
    this.display?.done();
    this.display = null;
  }
}
