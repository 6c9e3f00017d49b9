/**
 * What a `fit` call did, collected from its events (Keras' `History`).
 */
import type { CheckpointInfo, MessageInfo, StepResult, TrainBeginInfo, TrainerCallbacks } from './callback';

/**
 * Records the losses of the steps of one `fit` call, the last `step-N` checkpoint written, the number of
 * skipped steps and the warnings; `Trainer.fit` builds its result from it.
 *
 * @example
 * const input = tfl.input({ shape: [4] });
 * const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 2 }).apply(input) as tfl.SymbolicTensor });
 * const loss = ([y]: tf.Tensor[], b: { xs: tf.Tensor; ys: tf.Tensor }) => tf.losses.meanSquaredError(b.ys, y) as tf.Scalar;
 * function* data() {
 *   for (let i = 1; ; i++) yield { xs: tf.randomNormal([8, 4], 0, 1, 'float32', i), ys: tf.zeros([8, 2]) };
 * }
 * const history = new RunHistory();
 * const trainer = new Trainer({ model, loss, progress: false, callbacks: [history] });
 * await trainer.fit({ data, steps: 100 });
 * history.losses.length; // 100
 */
export class RunHistory implements TrainerCallbacks {
  /** Loss of each step of the run. */
  losses: number[] = [];
  /** The last `step-N` checkpoint folder written, or `null`. */
  checkpoint: string | null = null;
  /** Steps skipped because of a non-finite loss, loss part or gradient norm. */
  skippedSteps = 0;
  /** Warnings of the run. */
  warnings: string[] = [];
  /** The checkpoint the run resumed from, or `null`. */
  resumedFrom: string | null = null;

  /** Starts a new record. */
  onTrainBegin(info: TrainBeginInfo): void {
    this.losses = [];
    this.checkpoint = null;
    this.skippedSteps = 0;
    this.warnings = [];
    this.resumedFrom = info.resumedFrom;
  }

  /** Records the loss (and a skip). */
  onStepEnd(r: StepResult): void {
    this.losses.push(r.loss);
    if (r.skipped) this.skippedSteps += 1;
  }

  /** Records `step-N` checkpoints (not `best/`). */
  onCheckpoint(info: CheckpointInfo): void {
    if (info.reason !== 'best') this.checkpoint = info.dir;
  }

  /** Records warnings. */
  onMessage(info: MessageInfo): void {
    if (info.level === 'warning') this.warnings.push(info.text);
  }
}
