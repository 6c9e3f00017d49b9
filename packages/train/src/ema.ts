/**
 * An exponential moving average (EMA) of a model's trainable weights, updated after every applied step,
 * saved with checkpoints and usable for evaluation.
 */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { checkBoolean, checkOptions, PhalanxConfigError, PhalanxFileError } from '@phalanx/errors';
import { fileSystem } from '@phalanx/layers';
import type { StepResult, TrainerCallbacks } from './callbacks/callback';
import { CHECKPOINT_FILES } from './checkpoint';
import { readCheckedWeights, type PreparedRestore, type RestoreParticipant } from './restore';
import type { EmaState, TrainerState } from './trainer-state';

const NAME = 'ExponentialMovingAverage';

/** Options of {@link ExponentialMovingAverage} (the `ema` option of `Trainer`). */
export interface EmaOptions {
  /** The decay d ∈ [0, 1): the weight of the old average at each update. Default 0.999. */
  decay?: number;
  /**
   * Warm-up of the decay (TensorFlow's `num_updates`): update t uses `min(d, (1 + t) / (10 + t))`, so the
   * average follows the weights closely early on. Default `true`.
   */
  warmup?: boolean;
  /** Evaluate with the averaged weights (the trainer's `evaluate` sees them). Default `true`. */
  evaluate?: boolean;
}

/** The keys of {@link EmaOptions}: any other key (e.g. `warmUp`) is a named error. */
const OPTION_KEYS = { decay: true, warmup: true, evaluate: true } satisfies Record<keyof EmaOptions, true>;

/**
 * An exponential moving average of the trainable weights of `model` (those trainable when it is
 * created): after every applied step (skipped steps excepted),
 *
 * `ā ← d_t · ā + (1 − d_t) · w`, with `d_t = min(d, (1 + t)/(10 + t))` (warm-up) or `d_t = d`,
 *
 * t counting the updates so far; `ā` starts at the weights' values. Computed on the backend (no host
 * read). Non-trainable weights (batch-norm statistics, a selector's temperature) are not averaged: the
 * averaged model uses the live ones. `withAveragedWeights(fn)` runs `fn` with the averages in place;
 * `save(dir)` writes the averaged model as a loadable tfjs model. `Trainer` creates one for its `ema`
 * option, saves it in each checkpoint's `ema/` and restores it exactly on resume.
 *
 * **Shapes**: one average per weight, of the weight's shape.
 *
 * @example
 * const input = tfl.input({ shape: [4] });
 * const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 2 }).apply(input) as tfl.SymbolicTensor });
 * const ema = new ExponentialMovingAverage(model, { decay: 0.99 });
 * ema.update(); // after an optimizer step
 * const x = tf.ones([1, 4]);
 * const averaged = await ema.withAveragedWeights(() => model.predict(x) as tf.Tensor);
 */
export class ExponentialMovingAverage implements TrainerCallbacks, RestoreParticipant {
  /** The decay d. */
  readonly decay: number;
  /** Whether the decay warms up as `min(d, (1 + t)/(10 + t))`. */
  readonly warmup: boolean;
  /** Whether evaluations should use the averaged weights. */
  readonly evaluate: boolean;
  private readonly tracked: tfl.LayerVariable[];
  private readonly averages: tf.Variable[];
  private count = 0;

  constructor(
    /** The model whose trainable weights are averaged. */
    readonly model: tfl.LayersModel,
    options: EmaOptions = {},
  ) {
    if (!Array.isArray((model as { trainableWeights?: unknown } | null)?.trainableWeights)) {
      throw new PhalanxConfigError(NAME, 'model', 'a tf.LayersModel', model === null ? null : typeof model);
    }
    checkOptions(NAME, 'options', options, OPTION_KEYS, 'an object');
    const decay = options.decay ?? 0.999;
    if (typeof decay !== 'number' || !(decay >= 0 && decay < 1)) {
      throw new PhalanxConfigError(NAME, 'decay', 'a number in [0, 1)', decay);
    }
    this.decay = decay;
    this.warmup = checkBoolean(NAME, 'warmup', options.warmup ?? true);
    this.evaluate = checkBoolean(NAME, 'evaluate', options.evaluate ?? true);
    this.tracked = model.trainableWeights;
    this.averages = tf.tidy(() => this.tracked.map((w) => tf.variable(tf.clone(w.read()), false)));
  }

  /** Updates applied so far (t). */
  get updates(): number {
    return this.count;
  }

  /** The decay of update number `t` (0-based). */
  decayAt(t: number): number {
    return this.warmup ? Math.min(this.decay, (1 + t) / (10 + t)) : this.decay;
  }

  /** One update: `ā ← d_t · ā + (1 − d_t) · w` for every tracked weight. */
  update(): void {
    const d = this.decayAt(this.count);
    tf.tidy(() => {
      this.tracked.forEach((w, i) => {
        const a = this.averages[i];
        a.assign(tf.add(tf.mul(a, d), tf.mul(w.read(), 1 - d)));
      });
    });
    this.count += 1;
  }

  /** Updates after each step that was applied. */
  onStepEnd(info: StepResult): void {
    if (!info.skipped) this.update();
  }

  /** The averages, by weight name (`originalName`); the tensors stay the average's (do not dispose). */
  averagedWeights(): tf.NamedTensorMap {
    return Object.fromEntries(this.tracked.map((w, i) => [w.originalName, this.averages[i] as tf.Tensor]));
  }

  /** Runs `fn` with the averaged values in the model's weights, then puts the trained values back (bit for bit). */
  async withAveragedWeights<T>(fn: () => Promise<T> | T): Promise<T> {
    const backup = tf.tidy(() => this.tracked.map((w) => tf.clone(w.read())));
    this.tracked.forEach((w, i) => w.write(this.averages[i]));
    try {
      return await fn();
    } finally {
      this.tracked.forEach((w, i) => w.write(backup[i]));
      tf.dispose(backup);
    }
  }

  /** Saves the averaged model (topology + averaged weights) into `dir`, loadable with `tf.loadLayersModel`. */
  async save(dir: string): Promise<void> {
    await this.withAveragedWeights(() => this.model.save(fileSystem(dir)));
  }

  /** What `trainer-state.json` records of the average. */
  state(): EmaState {
    return { updates: this.count, decay: this.decay };
  }

  /**
   * Reads `ema/` of checkpoint `dir` and checks it (names, shapes, dtypes); `commit` sets the averages and
   * the update count. A checkpoint without an average (written without `ema`) restarts the average from
   * the restored weights.
   */
  async prepareRestore(dir: string, state: TrainerState): Promise<PreparedRestore> {
    if (!state.ema) {
      return {
        commit: async () => {
          tf.tidy(() => this.tracked.forEach((w, i) => this.averages[i].assign(w.read())));
          this.count = 0;
        },
        dispose: () => {},
      };
    }
    const updates = state.ema.updates;
    const folder = join(dir, CHECKPOINT_FILES.ema);
    if (state.ema.decay !== this.decay) {
      throw new PhalanxFileError(
        join(dir, CHECKPOINT_FILES.state),
        'ema.decay',
        `is ${state.ema.decay}, but the trainer's is ${this.decay}`,
      );
    }
    // The saved averaged model holds every weight of the model; the averages are the tracked ones.
    const saved = await readCheckedWeights(this.model.weights, folder);
    return {
      commit: async () => {
        tf.tidy(() => this.tracked.forEach((w, i) => this.averages[i].assign(saved[w.originalName])));
        this.count = updates;
      },
      dispose: () => tf.dispose(Object.values(saved)),
    };
  }

  /** Frees the averages. */
  dispose(): void {
    tf.dispose(this.averages);
  }
}
