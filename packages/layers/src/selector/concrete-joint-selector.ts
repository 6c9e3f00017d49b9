/**
 * ConcreteJointSelector — learnable binary joint grouping of Learnable Groups (Li et al., AAAI 2021,
 * Eq. 4–8): every joint is assigned to one of G groups by a Concrete (Gumbel-softmax) relaxation of a
 * categorical distribution whose logits are learned.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayerArgs } from '@tensorflow/tfjs-layers/dist/engine/topology';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';
import { perWeightConverter, registerTorchConverter } from '../io/torch-converters';
import { checkBoolean, checkOneOf, checkPositiveFloat32, PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { checkElements, checkSize, checkTensor, type OwnArgsKeys } from '../util/checks';
import { NoiseStream, type NoiseStreamState } from '../util/noise-stream';
import {
  checkInputCount,
  PhalanxLayer,
  shapeList,
  tensorList,
  tensorShapes,
  withComponent,
} from '../util/phalanx-layer';
import { STEP_TEMPERATURE_DEFAULTS } from './temperature-defaults';

const NAME = 'ConcreteJointSelector';

/**
 * The default of every optional argument of {@link ConcreteJointSelectorArgs}. The initial temperature is
 * the start of the paper's schedule, {@link STEP_TEMPERATURE_DEFAULTS}. The single place these values are
 * written.
 */
export const CONCRETE_JOINT_SELECTOR_DEFAULTS = Object.freeze({
  /** {@link ConcreteJointSelectorArgs.initialTemperature} */
  initialTemperature: STEP_TEMPERATURE_DEFAULTS.initial,
  /** {@link ConcreteJointSelectorArgs.straightThrough} */
  straightThrough: false,
  /** {@link ConcreteJointSelectorArgs.inferenceMode} */
  inferenceMode: 'hard',
  /** {@link ConcreteJointSelectorArgs.seed} */
  seed: null,
} as const);
const DEFAULTS = CONCRETE_JOINT_SELECTOR_DEFAULTS;

/** Initial value of every selection logit: a constant, so no group is preferred (official code: 0.5). */
export const INITIAL_SELECTION_LOGIT = 0.5;

/** The largest float32 below 1: uniform samples are clipped to `[1e-10, 1 − 2⁻²⁴]` so `log` stays finite. */
const UNIFORM_MAX = 1 - 2 ** -24;
const UNIFORM_MIN = 1e-10;

/** How the selector picks groups at inference. */
export type InferenceMode = 'hard' | 'soft';
const INFERENCE_MODES: readonly InferenceMode[] = ['hard', 'soft'];

/**
 * Samples standard Gumbel noise `n = −log(−log U)`, `U ~ Uniform(0, 1)`.
 *
 * **Shapes**: returns a tensor of `shape`.
 *
 * @param shape Shape of the sample, e.g. `[J, G]`: integer sizes, at most 2²⁸ elements (else a
 *   `PhalanxConfigError`).
 * @param seed Optional seed (number or string) for a reproducible sample; the same seed gives the same
 *   sample.
 * @example
 * const n = gumbelNoise([21, 3], 42); // [21, 3]
 */
export function gumbelNoise(shape: number[], seed?: number | string): tf.Tensor {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new PhalanxConfigError('gumbelNoise', 'shape', 'a list of integer sizes ≥ 0', shape);
  }
  checkElements('gumbelNoise', 'shape', shape);
  return tf.tidy(() => {
    const u = tf.clipByValue(tf.randomUniform(shape, 0, 1, 'float32', seed), UNIFORM_MIN, UNIFORM_MAX);
    return tf.neg(tf.log(tf.neg(tf.log(u))));
  });
}

function rowArgMaxOneHot(x: tf.Tensor): tf.Tensor {
  const depth = x.shape[x.rank - 1];
  // int32 one-hot then cast: the wasm OneHot kernel ignores a float32 dtype (tfjs 4.22).
  const oneHot = tf.cast(tf.oneHot(tf.argMax(x, -1), depth), 'float32');
  // + 0 · (row sum): the same one-hot for finite rows, NaN for a row with a NaN or ±∞ (argmax would put
  // it in group 0 silently).
  return tf.add(oneHot, tf.mul(tf.sum(x, -1, true), 0));
}

/** One-hot of the row argmax in the forward pass; the gradient passes through unchanged (dy). */
const straightThroughOneHot = tf.customGrad((soft: tf.Tensor | tf.GradSaveFunc) => ({
  value: rowArgMaxOneHot(soft as tf.Tensor),
  gradFunc: (dy: tf.Tensor) => dy,
}));

/** One-hot of the row argmax, with an explicit zero gradient (argmax is piecewise constant). */
const hardOneHot = tf.customGrad((logits: tf.Tensor | tf.GradSaveFunc) => ({
  value: rowArgMaxOneHot(logits as tf.Tensor),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
}));

/**
 * τ as a float32 scalar tensor: a number is checked as a positive normal float32; a tensor is checked by what
 * costs no read — a live tensor (`PhalanxShapeError` when disposed), float32 (`PhalanxConfigError` naming the
 * dtype: an int32 or bool τ was computed as a float32 τ, `false` as 0 and NaN rows), rank 0 (`PhalanxShapeError`).
 * Its value is not read (that would be a host read in every training step): a τ tensor ≤ 0, NaN or ±∞ is not
 * refused, and gives a meaningless selection (τ < 0 favours the smallest logits; 0 and NaN give NaN rows).
 */
function temperatureTensor(component: string, temperature: unknown): tf.Tensor {
  if (typeof temperature === 'number') {
    return tf.scalar(checkPositiveFloat32(component, 'temperature', temperature));
  }
  if (!(temperature instanceof tf.Tensor)) {
    throw new PhalanxConfigError(component, 'temperature', 'a number or a tf.Tensor', temperature);
  }
  checkTensor(component, 'temperature', temperature);
  if (temperature.dtype !== 'float32') {
    throw new PhalanxConfigError(component, 'temperature', 'a float32 scalar tensor', temperature.dtype);
  }
  if (temperature.rank !== 0) {
    throw new PhalanxShapeError(component, 'temperature', 'a scalar tensor', temperature.shape);
  }
  return temperature;
}

function checkSelectionShapes(component: string, logits: tf.Tensor, noise: tf.Tensor | null): void {
  checkTensor(component, 'logits', logits);
  if (noise !== null) checkTensor(component, 'gumbelNoise', noise);
  if (logits.rank !== 2) throw new PhalanxShapeError(component, 'logits', 'a rank-2 tensor [J, G]', logits.shape);
  if (noise !== null && !tf.util.arraysEqual(noise.shape, logits.shape)) {
    throw new PhalanxShapeError(component, 'gumbelNoise', `of shape [${logits.shape.join(', ')}]`, noise.shape);
  }
}

/** A score s is tame when s·2⁶⁶ is finite: |s| ≲ FLOAT32_MAX / 2⁶⁶ ≈ 4.6e18 (see {@link overflowSafeScores}). */
const LARGE_SCORE_PROBE = 2 ** 66;

/**
 * `x / τ` for `x [J, G]`, except in the rows where that overflows float32 or exceeds about 4.6e18 in size (a
 * small τ with large logits): there `(x − max_g x) / τ`, which has the same softmax, stays finite and has its
 * maximum at 0. Huge finite rows are shifted too because webgl's softmax is wrong on them (its max-reduction
 * starts at −1e20: a row of scores all below that gave a mixture instead of a one-hot). Rows of moderate
 * scores are exactly `x / τ`, so a model's run does not change by a rounding; the row test is built from ops
 * that all have gradients (a product, `isFinite`, a min, casts; no comparison), so the selection stays
 * differentiable.
 */
function overflowSafeScores(x: tf.Tensor, tau: tf.Tensor): tf.Tensor {
  const scores = tf.div(x, tau);
  // isFinite(scores · 2⁶⁶): false for ±∞, NaN and |scores| ≳ 4.6e18. 1 where every score of the row is tame.
  const rowTame = tf.min(tf.cast(tf.isFinite(tf.mul(scores, LARGE_SCORE_PROBE)), 'float32'), -1, true); // [J, 1]
  const shifted = tf.div(tf.sub(x, tf.max(x, -1, true)), tau);
  return tf.where(tf.cast(tf.broadcastTo(rowTame, x.shape), 'bool'), scores, shifted);
}

/**
 * The Concrete (Gumbel-softmax) selection matrix of Learnable Groups (Eq. 6–7):
 * `S[j, g] = softmax_g((logits[j, g] + n[j, g]) / τ)`. With `straightThrough`, the forward value is
 * the one-hot of each row's argmax and the gradient is that of the soft `S` (Bengio et al.'s
 * straight-through estimator, written with `tf.customGrad`). With `noise = null` no noise is added:
 * `softmax(logits / τ)`, the selector's soft inference.
 *
 * **Shapes**: `logits [J, G]`, `noise [J, G] | null`, `temperature` a number or scalar tensor → `[J, G]`.
 *
 * @param logits Selection logits (unnormalised log-probabilities of each group, per joint).
 * @param temperature τ > 0 (a number is validated — it must be a normal float32, or τ would be 0 in the
 *   tensor; a tensor must be a live float32 scalar, else a named error — its value is not read, so that a
 *   training step makes no host round trip: a τ tensor ≤ 0, NaN or ±∞ is the caller's to avoid).
 * @param noise Gumbel noise (see {@link gumbelNoise}) or `null`.
 * @param straightThrough Use the straight-through estimator.
 * @example
 * const s = concreteSelection(tf.zeros([21, 3]), 0.5, gumbelNoise([21, 3], 1), false); // rows sum to 1
 */
export function concreteSelection(
  logits: tf.Tensor,
  temperature: number | tf.Tensor,
  noise: tf.Tensor | null = null,
  straightThrough = false,
): tf.Tensor2D {
  checkSelectionShapes('concreteSelection', logits, noise);
  return tf.tidy(() => {
    const tau = temperatureTensor('concreteSelection', temperature);
    const perturbed = tf.cast(noise === null ? logits : tf.add(logits, noise), 'float32');
    const soft = tf.softmax(overflowSafeScores(perturbed, tau), -1);
    return (straightThrough ? straightThroughOneHot(soft) : soft) as tf.Tensor2D;
  });
}

/**
 * The hard selection matrix `S = one_hot(argmax_g logits)`: every joint in exactly one group. Its
 * gradient is zero (argmax is piecewise constant). A row of logits with a NaN or ±∞ gives a NaN row.
 *
 * **Shapes**: `logits [J, G]` → `[J, G]`.
 *
 * @example
 * hardSelection(tf.tensor2d([[0, 2, 1]])); // [[0, 1, 0]]
 */
export function hardSelection(logits: tf.Tensor): tf.Tensor2D {
  checkSelectionShapes('hardSelection', logits, null);
  return hardOneHot(logits) as tf.Tensor2D;
}

/**
 * Combines per-group joint predictions with a selection matrix (Learnable Groups Eq. 8):
 * `y[b, j, c] = Σ_g S[j, g] · x[b, g, j, c]`, one broadcast multiply and one sum over the group axis.
 *
 * **Shapes**: `x [B, G, J, C]`, `selection [J, G]` → `[B, J, C]`.
 *
 * @example
 * const logits = tf.randomNormal([21, 3]); // [J, G]
 * const y = selectJoints(tf.randomNormal([4, 3, 21, 2]), hardSelection(logits)); // [4, 21, 2]
 */
export function selectJoints(x: tf.Tensor, selection: tf.Tensor): tf.Tensor3D {
  checkTensor('selectJoints', 'x', x);
  checkTensor('selectJoints', 'selection', selection);
  if (x.rank !== 4) throw new PhalanxShapeError('selectJoints', 'x', 'a rank-4 tensor [B, G, J, C]', x.shape);
  const [, groups, joints] = x.shape;
  if (selection.rank !== 2 || selection.shape[0] !== joints || selection.shape[1] !== groups) {
    throw new PhalanxShapeError('selectJoints', 'selection', `of shape [${joints}, ${groups}]`, selection.shape);
  }
  return tf.tidy(() => {
    // [J, G] → [1, G, J, 1] so that it broadcasts against [B, G, J, C].
    const weights = tf.reshape(tf.transpose(selection), [1, groups, joints, 1]);
    return tf.sum(tf.mul(x, weights), 1) as tf.Tensor3D;
  });
}

/**
 * Constructor arguments of {@link ConcreteJointSelector}. Optional fields default to
 * {@link CONCRETE_JOINT_SELECTOR_DEFAULTS}; sizes are at most {@link MAX_SIZE}.
 */
export interface ConcreteJointSelectorArgs extends LayerArgs {
  /** Number of joints J (integer ≥ 1), e.g. 21. Required. */
  numJoints: number;
  /** Number of groups G (integer ≥ 2). Required. */
  numGroups: number;
  /**
   * Initial Concrete temperature τ (> 0, a normal float32: it is stored in a float32 weight), the start of
   * the paper's schedule by default. It is stored as the non-trainable weight `temperature` and changed
   * with `setTemperature` or {@link TemperatureAnnealing}.
   */
  initialTemperature?: number;
  /**
   * Straight-through estimator in training: the forward value is the one-hot of each row's argmax, the
   * gradient that of the soft selection.
   */
  straightThrough?: boolean;
  /**
   * Selection at inference (`training` false): `'hard'` — one-hot of the argmax of the logits, every
   * joint in exactly one group; `'soft'` — `softmax(logits / τ)`.
   */
  inferenceMode?: InferenceMode;
  /**
   * Seed of the Gumbel noise stream (integer). When given, the k-th training call draws its noise from
   * seed `(seed, k)`: successive calls differ, and a new layer with the same seed repeats the sequence.
   * `null`: unseeded.
   */
  seed?: number | null;
}

/**
 * The position of a {@link ConcreteJointSelector}'s Gumbel noise stream (a {@link NoiseStreamState}):
 * with a `seed`, the k-th training call draws its noise from seed `(seed, k)`, so `calls` (the number of
 * samples drawn so far) fixes every later sample. Save it with a checkpoint and set it back to resume
 * the exact stream.
 */
export type ConcreteNoiseState = NoiseStreamState;

/** Options of {@link ConcreteJointSelector.selection}. */
export interface SelectionOptions {
  /** Training selection (Concrete sample) when true, inference selection otherwise. Default false. */
  training?: boolean;
  /** Gumbel noise `[J, G]` to use instead of a fresh sample (training only). */
  gumbelNoise?: tf.Tensor;
}

/**
 * The keys of {@link ConcreteJointSelectorArgs} beyond tfjs's `LayerArgs`: the constructor accepts these, `getConfig()`
 * writes them.
 */
const ARGS_KEYS = {
  numJoints: true,
  numGroups: true,
  initialTemperature: true,
  straightThrough: true,
  inferenceMode: true,
  seed: true,
} satisfies OwnArgsKeys<ConcreteJointSelectorArgs>;

/**
 * Learnable binary joint grouping (Learnable Groups, Eq. 4–8). Each of the G groups predicts every
 * joint; the layer keeps, per joint, the prediction of the group it belongs to:
 *
 * `y[b, j, c] = Σ_g S[j, g] · x[b, g, j, c]`
 *
 * - training: `S = softmax((logits + n) / τ)` along G with fresh Gumbel noise
 *   `n = −log(−log U)`, `U ~ Uniform(0, 1)` at every call (or `kwargs.gumbelNoise`); with
 *   `straightThrough`, the forward value is the one-hot of each row's argmax and the gradient that of
 *   the soft `S`.
 * - inference, `'hard'`: `S = one_hot(argmax_g logits)`; `'soft'`: `S = softmax(logits / τ)`.
 *
 * Weights (in this order): `logits [J, G]` (trainable, all 0.5 initially: no prior over groups) and
 * `temperature []` (non-trainable, saved with the model).
 *
 * **Shapes**: input `[B, G, J, C]` → output `[B, J, C]`.
 *
 * @example
 * const selector = concreteJointSelector({ numJoints: 21, numGroups: 3 });
 * const y = selector.apply(tf.randomNormal([8, 3, 21, 2]), { training: true }) as tf.Tensor; // [8, 21, 2]
 * selector.setTemperature(1.0);
 * selector.groups(); // e.g. [[0, 1, …], [5, …], […]]
 */
export class ConcreteJointSelector extends PhalanxLayer<ConcreteJointSelectorArgs> {
  /** Name under which the class is registered for serialisation. */
  static className = NAME;

  /** Number of joints J (rows of `logits [J, G]`). */
  readonly numJoints: number;
  /** Number of groups G (≥ 2). */
  readonly numGroups: number;
  /** Initial value of the `temperature` weight τ (> 0). The current τ is `getTemperature()`. */
  readonly initialTemperature: number;
  /** Whether training uses the straight-through estimator (hard forward, soft gradient). */
  readonly straightThrough: boolean;
  /** Selection at inference: `'hard'` (one-hot argmax of the logits) or `'soft'` (`softmax(logits / τ)`). */
  readonly inferenceMode: InferenceMode;
  /** Seed of the Gumbel noise stream, or `null` for unseeded noise. */
  readonly seed: number | null;

  private logits: tfl.LayerVariable | null = null;
  private temperature: tfl.LayerVariable | null = null;
  /** Temperature set before the layer was built; applied in `build`. */
  private pendingTemperature: number;
  /** The Gumbel noise stream: the seed and the number of samples drawn so far. */
  private readonly noise: NoiseStream;

  constructor(args: ConcreteJointSelectorArgs) {
    super(args, ARGS_KEYS);
    this.numJoints = checkSize(NAME, 'numJoints', args.numJoints, 1);
    this.numGroups = checkSize(NAME, 'numGroups', args.numGroups, 2);
    checkElements(NAME, 'logits [J, G] (numJoints·numGroups)', [this.numJoints, this.numGroups]);
    this.initialTemperature = checkPositiveFloat32(
      NAME,
      'initialTemperature',
      args.initialTemperature ?? DEFAULTS.initialTemperature,
    );
    this.straightThrough = checkBoolean(NAME, 'straightThrough', args.straightThrough ?? DEFAULTS.straightThrough);
    this.inferenceMode = checkOneOf(
      NAME,
      'inferenceMode',
      args.inferenceMode ?? DEFAULTS.inferenceMode,
      INFERENCE_MODES,
    );
    this.noise = new NoiseStream(NAME, 'seed', args.seed ?? DEFAULTS.seed);
    this.seed = this.noise.seed;
    this.pendingTemperature = this.initialTemperature;
  }

  /** Checks the input shapes (one `[B, G, J, C]`) for `build`, `computeOutputShape` and `call`; returns it. */
  private checkShapes(shapes: tfl.Shape[]): tfl.Shape {
    checkInputCount(NAME, shapes, [1], 'a single tensor [B, G, J, C]', shapes);
    const shape = shapes[0];
    const expected = `of shape [B, ${this.numGroups}, ${this.numJoints}, C] (numGroups, numJoints)`;
    if (shape.length !== 4 || shape[1] !== this.numGroups || shape[2] !== this.numJoints) {
      throw new PhalanxShapeError(
        NAME,
        'input',
        expected,
        shape.map((d) => (d === null ? 'null' : d)),
      );
    }
    return shape;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    this.checkShapes(shapeList(inputShape));
    this.logits = this.addWeight(
      'logits',
      [this.numJoints, this.numGroups],
      'float32',
      tfl.initializers.constant({ value: INITIAL_SELECTION_LOGIT }),
      undefined,
      true,
    );
    this.temperature = this.addWeight(
      'temperature',
      [],
      'float32',
      tfl.initializers.constant({ value: this.pendingTemperature }),
      undefined,
      false,
    );
    this.built = true;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const shape = this.checkShapes(shapeList(inputShape));
    return [shape[0], shape[2], shape[3]];
  }

  /** Draws the next Gumbel noise sample `[J, G]` (from the seeded stream when `seed` is set). */
  private sampleNoise(): tf.Tensor {
    return gumbelNoise([this.numJoints, this.numGroups], this.noise.next());
  }

  private selectionTensor(training: boolean, noise: tf.Tensor | undefined): tf.Tensor2D {
    if (this.logits === null || this.temperature === null) {
      throw new PhalanxConfigError(NAME, 'layer', 'built (call it on an input first)', 'an unbuilt layer');
    }
    const logits = this.logits.read();
    const tau = this.temperature.read();
    if (training) {
      return concreteSelection(logits, tau, noise ?? this.sampleNoise(), this.straightThrough);
    }
    return this.inferenceMode === 'hard' ? hardSelection(logits) : concreteSelection(logits, tau, null, false);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      this.checkShapes(tensorShapes(inputs));
      const [x] = tensorList(inputs);
      const noise = kwargs?.gumbelNoise as tf.Tensor | undefined;
      if (noise !== undefined && !(noise instanceof tf.Tensor)) {
        throw new PhalanxConfigError(NAME, 'kwargs.gumbelNoise', 'a tensor [J, G]', noise);
      }
      const selection = this.selectionTensor(kwargs?.training === true, noise);
      return selectJoints(x, selection);
    });
  }

  /**
   * The selection matrix `S [J, G]` the layer would use: a fresh Concrete sample (or the given noise)
   * when `training`, the inference selection otherwise. The caller owns (disposes) the result.
   */
  selection(options: SelectionOptions = {}): tf.Tensor2D {
    return withComponent(NAME, () =>
      tf.tidy(() => this.selectionTensor(options?.training === true, options?.gumbelNoise)),
    );
  }

  /**
   * The joint indices of each group under the hard assignment `argmax_g logits` (the inference
   * grouping of `'hard'` mode): `groups()[g]` lists the joints in group g, in increasing order.
   *
   * @throws PhalanxConfigError when a logit is NaN or ±Infinity (no group can be read from it).
   */
  groups(): number[][] {
    const result: number[][] = Array.from({ length: this.numGroups }, () => []);
    if (this.logits === null) {
      // Unbuilt: all logits equal, argmax picks group 0 for every joint.
      for (let j = 0; j < this.numJoints; j++) result[0].push(j);
      return result;
    }
    const logits = this.logits.read();
    // eslint-disable-next-line no-restricted-syntax -- an inspection method returning host data, not a forward pass
    if (!tf.tidy(() => tf.all(tf.isFinite(logits)).dataSync()[0])) {
      throw new PhalanxConfigError(NAME, 'logits', 'finite (to assign every joint a group)', 'NaN or ±Infinity');
    }
    const assignment = tf.tidy(() => tf.argMax(logits, -1));
    // eslint-disable-next-line no-restricted-syntax -- an inspection method returning host data, not a forward pass
    const indices = assignment.dataSync();
    assignment.dispose();
    indices.forEach((g, j) => result[g].push(j));
    return result;
  }

  /**
   * The position of the Gumbel noise stream (see {@link ConcreteNoiseState}): the seed and the number
   * of samples drawn so far.
   *
   * @example
   * const selector = concreteJointSelector({ numJoints: 21, numGroups: 3, seed: 7 });
   * selector.setNoiseState({ calls: 1200 }); // as after 1200 training calls
   * const saved = selector.getNoiseState(); // { seed: 7, calls: 1200 }
   * // … later, in a fresh layer built with the same seed:
   * const other = concreteJointSelector({ numJoints: 21, numGroups: 3, seed: 7 });
   * other.setNoiseState(saved); // its next training call draws sample 1200, as `selector`'s would
   */
  getNoiseState(): ConcreteNoiseState {
    return this.noise.getState();
  }

  /**
   * Moves the Gumbel noise stream to `state.calls` (an integer ≥ 0), e.g. when resuming training from a
   * checkpoint. `state.seed`, when given, must be this layer's seed: the position of another stream
   * would not reproduce anything.
   */
  setNoiseState(state: Pick<ConcreteNoiseState, 'calls'> & Partial<Pick<ConcreteNoiseState, 'seed'>>): void {
    this.noise.setState(state);
  }

  /** The current temperature τ (reads the `temperature` weight). */
  getTemperature(): number {
    if (this.temperature === null) return this.pendingTemperature;
    // eslint-disable-next-line no-restricted-syntax -- returns a host number by design; not on the forward path
    return this.temperature.read().dataSync()[0];
  }

  /** Sets the temperature τ (> 0, a normal float32); before `build` it becomes the weight's initial value. */
  setTemperature(temperature: number): void {
    checkPositiveFloat32(NAME, 'temperature', temperature);
    if (this.temperature === null) {
      this.pendingTemperature = temperature;
      return;
    }
    const variable = this.temperature;
    tf.tidy(() => {
      variable.write(tf.scalar(temperature));
    });
  }

  /** As `Layer.setWeights`, and rejects a temperature that is not a positive normal float32. */
  override setWeights(weights: tf.Tensor[]): void {
    withComponent(NAME, () => {
      if (weights.length === 2 && weights[1].size === 1) {
        // eslint-disable-next-line no-restricted-syntax -- validates user-given host values before they become weights
        checkPositiveFloat32(NAME, 'temperature', weights[1].dataSync()[0]);
      }
      super.setWeights(weights);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      numJoints: this.numJoints,
      numGroups: this.numGroups,
      initialTemperature: this.initialTemperature,
      straightThrough: this.straightThrough,
      inferenceMode: this.inferenceMode,
      seed: this.seed,
      ...super.getConfig(),
    };
  }
}
tf.serialization.registerClass(ConcreteJointSelector);
// Learnable Groups' meta_S = nn.Linear(G, J, bias=False): weight [J, G] is the logits as they are; the
// temperature is not part of a state_dict.
registerTorchConverter(ConcreteJointSelector, perWeightConverter({ logits: { torch: 'weight' }, temperature: null }));

/**
 * Creates a {@link ConcreteJointSelector}, like `tf.layers.dense`.
 *
 * @example
 * const selector = concreteJointSelector({ numJoints: 21, numGroups: 3, straightThrough: true });
 */
export function concreteJointSelector(args: ConcreteJointSelectorArgs): ConcreteJointSelector {
  return new ConcreteJointSelector(args);
}
