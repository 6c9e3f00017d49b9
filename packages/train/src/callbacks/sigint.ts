/**
 * A clean stop on Ctrl-C as a trainer callback.
 */
import { PhalanxConfigError } from '@phalanx/errors';
import type { TeardownInfo, TrainerCallbacks, TrainerHandle } from './callback';

/**
 * What a first Ctrl-C prints (`StopOnSigint`, `stopOnFirstSigint`): the step finishes, then a checkpoint is written.
 *
 * @example
 * console.log(SIGINT_NOTICE); // 'interrupt: finishing the step, then writing a checkpoint (Ctrl-C again to quit at once)'
 */
export const SIGINT_NOTICE = 'interrupt: finishing the step, then writing a checkpoint (Ctrl-C again to quit at once)';

/** The part of `process` the callback uses (a stand-in in tests). */
export interface SignalSource {
  /** Adds a listener. */
  on(signal: 'SIGINT', listener: () => void): unknown;
  /** Removes it. */
  removeListener(signal: 'SIGINT', listener: () => void): unknown;
}

/**
 * On the first SIGINT (Ctrl-C) during `fit`, asks the trainer to stop after the current step — `fit`
 * then writes its interrupt checkpoint and returns `{ interrupted: true }`, and the caller decides what
 * to do (e.g. exit with code 130). The library never exits the process: after the first SIGINT the
 * listener is removed, so a second Ctrl-C gets Node's default handling (the process ends at once)
 * unless the application listens for SIGINT itself.
 *
 * @example
 * const input = tfl.input({ shape: [4] });
 * const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 2 }).apply(input) as tfl.SymbolicTensor });
 * const loss = ([y]: tf.Tensor[], b: { xs: tf.Tensor; ys: tf.Tensor }) => tf.losses.meanSquaredError(b.ys, y) as tf.Scalar;
 * function* data() {
 *   for (let i = 1; ; i++) yield { xs: tf.randomNormal([8, 4], 0, 1, 'float32', i), ys: tf.zeros([8, 2]) };
 * }
 * const trainer = new Trainer({ model, loss });
 * const result = await trainer.fit({ data, steps: 1000, handleSigint: true }); // adds a StopOnSigint
 * if (result.interrupted) process.exitCode = 130; // the application's choice
 */
export class StopOnSigint implements TrainerCallbacks {
  private trainer: TrainerHandle | null = null;
  private readonly listener = (): void => this.interrupt();

  /**
   * Throws `PhalanxConfigError` for `signals` without `on` and `removeListener` methods (`null` failed
   * only at the start of `fit`).
   */
  constructor(
    /** Where SIGINT comes from. Default `process`. */
    private readonly signals: SignalSource = process,
  ) {
    const s = signals as Partial<SignalSource> | null;
    if (typeof s?.on !== 'function' || typeof s.removeListener !== 'function') {
      const expected = 'a signal source {on, removeListener} (default process)';
      throw new PhalanxConfigError('StopOnSigint', 'signals', expected, s == null ? s : typeof s);
    }
  }

  /** Starts listening. */
  onTrainBegin(_info: unknown, trainer: TrainerHandle): void {
    this.trainer = trainer;
    this.signals.on('SIGINT', this.listener);
  }

  private interrupt(): void {
    this.signals.removeListener('SIGINT', this.listener);
    const trainer = this.trainer;
    if (!trainer) return;
    trainer.stop();
    void trainer.message(SIGINT_NOTICE);
  }

  /** Stops listening. */
  onTeardown(_info: TeardownInfo): void {
    this.signals.removeListener('SIGINT', this.listener);
    this.trainer = null;
  }
}
