/**
 * SeededDropout — dropout whose masks form a reproducible stream: the k-th training call draws its
 * mask from the tf seed `` `${seed}:${k}` ``, so two layers with the same seed draw the same sequence of
 * masks, successive calls draw different ones, and a checkpoint that saves the call count resumes the
 * exact sequence. (A tfjs-layers `Dropout` built with a `seed` draws the same mask at every call.)
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { LayerArgs } from '@tensorflow/tfjs-layers/dist/engine/topology';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';
import { PhalanxConfigError } from '@phalanx/errors';
import { checkArgs, checkRate, checkTensor, type OwnArgsKeys } from '../util/checks';
import { NoiseStream, type NoiseStreamState } from '../util/noise-stream';
import { checkInputCount, PhalanxLayer, shapeList, tensorList, tensorShapes } from '../util/phalanx-layer';

const COMPONENT = 'SeededDropout';

/** Options of {@link seededDropoutCore}. */
export interface SeededDropoutOptions {
  /** Fraction of the entries set to 0, in [0, 1). */
  rate: number;
  /** Training mode: the mask is applied only when true. Default false (identity). */
  training?: boolean;
  /** The tf seed of the mask (number or string); the same seed gives the same mask. Default: unseeded. */
  seed?: number | string;
}

/**
 * Functional core of {@link SeededDropout}, as `tf.dropout`: in training,
 * `y = x · m / (1 − rate)` with `m = ⌊U + 1 − rate⌋ ∈ {0, 1}`, `U ~ Uniform[0, 1)` drawn with `seed`
 * (each entry kept with probability `1 − rate`); otherwise, or with `rate` 0, `y = x` (the input itself).
 *
 * **Shapes**: `x` any shape → the same shape (an integer `x` is dropped out as float32).
 *
 * @example
 * const x = tf.ones([2, 4]);
 * const y = seededDropoutCore(x, { rate: 0.5, training: true, seed: '7:0' }); // entries 0 or 2
 * seededDropoutCore(x, { rate: 0.5 }) === x; // true: inference is the identity
 */
export function seededDropoutCore(x: tf.Tensor, options: SeededDropoutOptions): tf.Tensor {
  checkTensor('seededDropoutCore', 'x', x);
  const { rate, training = false, seed } = checkArgs('seededDropoutCore', 'options', options);
  checkRate('seededDropoutCore', 'rate', rate);
  if (!training || rate === 0) return x;
  // tf.dropout takes float tensors only; an integer input is dropped out (and scaled) as float32.
  return x.dtype === 'float32'
    ? tf.dropout(x, rate, undefined, seed)
    : tf.tidy(() => tf.dropout(tf.cast(x, 'float32'), rate, undefined, seed));
}

/** Configuration of {@link SeededDropout}. */
export interface SeededDropoutArgs extends LayerArgs {
  /** Fraction of the entries set to 0 in training, in [0, 1). Required. */
  rate: number;
  /**
   * Seed of the mask stream (an integer). The k-th training call draws its mask from the tf seed
   * `` `${seed}:${k}` ``. Required.
   */
  seed: number;
}

/**
 * The keys of {@link SeededDropoutArgs} beyond tfjs's `LayerArgs`: the constructor accepts these, `getConfig()`
 * writes them.
 */
const ARGS_KEYS = { rate: true, seed: true } satisfies OwnArgsKeys<SeededDropoutArgs>;

/**
 * Dropout with a reproducible stream of masks. Training (`kwargs.training` true, as `model.fit` and
 * `Trainer` set it): `y = x · m / (1 − rate)`, `m[i] = 1` with probability `1 − rate`, else 0, the k-th
 * call's mask drawn from the tf seed `` `${seed}:${k}` `` ({@link seededDropoutCore}); inference: `y = x`.
 * The numbers are those of `tf.dropout` with that seed. No weights.
 *
 * `getNoiseState()` / `setNoiseState()` read and move the position in the stream (the number of masks
 * drawn so far); `Trainer` saves it with its checkpoints. Only training calls with `rate > 0` draw.
 *
 * **Shapes**: any input shape → the same shape.
 *
 * @example
 * const x = tfl.input({ shape: [21, 64] });
 * const y = seededDropout({ rate: 0.1, seed: 7 }).apply(x) as tfl.SymbolicTensor; // [null, 21, 64]
 * const model = tfl.model({ inputs: x, outputs: y });
 * const out = model.apply(tf.ones([2, 21, 64]), { training: true }) as tf.Tensor; // mask number 0 of seed 7
 */
export class SeededDropout extends PhalanxLayer<SeededDropoutArgs> {
  /** Name under which the class is registered for serialisation. */
  static className = 'SeededDropout';

  /** Fraction of the entries dropped in training, in [0, 1). */
  readonly rate: number;
  /** Seed of the mask stream. */
  readonly seed: number;
  /** The mask stream: the seed and the number of masks drawn so far. */
  private readonly noise: NoiseStream;

  constructor(args: SeededDropoutArgs) {
    super(args, ARGS_KEYS);
    this.rate = checkRate(COMPONENT, 'rate', args.rate);
    if (args.seed == null) throw new PhalanxConfigError(COMPONENT, 'seed', 'an integer', args.seed);
    this.noise = new NoiseStream(COMPONENT, 'seed', args.seed);
    this.seed = args.seed;
    this.supportsMasking = true;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const shapes = shapeList(inputShape);
    checkInputCount(COMPONENT, shapes, [1], 'a single tensor');
    return shapes[0];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    checkInputCount(COMPONENT, tensorShapes(inputs), [1], 'a single tensor');
    const [x] = tensorList(inputs);
    const training = kwargs?.training === true && this.rate > 0;
    return tf.tidy(() =>
      seededDropoutCore(x, { rate: this.rate, training, seed: training ? this.noise.next() : undefined }),
    );
  }

  /**
   * The position of the mask stream: the seed and the number of masks drawn so far.
   *
   * @example
   * const dropout = seededDropout({ rate: 0.1, seed: 3 });
   * dropout.getNoiseState(); // { seed: 3, calls: 0 }
   */
  getNoiseState(): NoiseStreamState {
    return this.noise.getState();
  }

  /**
   * Moves the mask stream to `state.calls` (an integer ≥ 0), e.g. when resuming from a checkpoint;
   * `state.seed`, when given, must be this layer's seed.
   *
   * @example
   * const dropout = seededDropout({ rate: 0.1, seed: 3 });
   * dropout.setNoiseState({ calls: 500 }); // the next training call draws mask number 500
   */
  setNoiseState(state: Pick<NoiseStreamState, 'calls'> & Partial<Pick<NoiseStreamState, 'seed'>>): void {
    this.noise.setState(state);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { rate: this.rate, seed: this.seed, ...super.getConfig() };
  }
}
tf.serialization.registerClass(SeededDropout);

/**
 * Creates a {@link SeededDropout} layer (like `tf.layers.dropout`).
 *
 * @example
 * const dropout = seededDropout({ rate: 0.1, seed: 42, name: 'fem.sa_blocks.0.mlp.2' });
 */
export function seededDropout(args: SeededDropoutArgs): SeededDropout {
  return new SeededDropout(args);
}
