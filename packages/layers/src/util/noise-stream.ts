/**
 * Reproducible streams of training noise (Gumbel noise, dropout masks): a seed and a call counter, so
 * that the k-th draw of a layer is a pure function of `(seed, k)` and a checkpoint that saves the
 * counter resumes the exact stream. Nothing global is touched: every draw passes its own tf seed.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { checkInteger, PhalanxConfigError } from '@phalanx/errors';
import { checkLayer } from './checks';

/**
 * The position of a noise stream: with a `seed`, the k-th draw uses the tf seed `` `${seed}:${k}` ``, so
 * `calls` (the number of draws so far) fixes every later draw. Save it with a checkpoint and set it back
 * to resume the exact stream.
 */
export interface NoiseStreamState {
  /** The stream's seed (`null`: unseeded, the stream cannot be reproduced). */
  seed: number | null;
  /** Draws so far (integer ≥ 0): the next draw is number `calls`. */
  calls: number;
}

/**
 * Returns `value` as a noise seed: an integer (safe in float64), or `null` for `null` and `undefined`.
 * Throws a `PhalanxConfigError` naming `component` and `argument` otherwise.
 *
 * @example
 * checkNoiseSeed('DynamicEdgeGAT', 'dropoutSeed', 7); // 7
 * checkNoiseSeed('DynamicEdgeGAT', 'dropoutSeed', undefined); // null
 * checkNoiseSeed('DynamicEdgeGAT', 'dropoutSeed', 1.5); // throws: must be an integer or null
 */
export function checkNoiseSeed(component: string, argument: string, value: unknown): number | null {
  if (value == null) return null;
  if (!Number.isSafeInteger(value)) throw new PhalanxConfigError(component, argument, 'an integer or null', value);
  return value as number;
}

/**
 * The seed of the `index`-th noise site of something seeded with `seed` (e.g. the k-th dropout layer of a
 * model): a 31-bit mix of both, never 0. Deterministic, so a model built twice from the same seed gives
 * every site the same seed.
 *
 * @example
 * const first = deriveNoiseSeed(1, 0); // an integer in [1, 2³¹)
 * deriveNoiseSeed(1, 0) === first; // true
 */
export function deriveNoiseSeed(seed: number, index: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x27d4eb2f);
  return (h ^ (h >>> 15)) & 0x7fffffff || 1;
}

/**
 * A layer's stream of training noise: a seed (or `null`) and the number of draws so far. Each
 * {@link NoiseStream.next} returns the tf seed of the next draw — `` `${seed}:${k}` `` for draw k, or
 * `undefined` when unseeded — and advances the counter; {@link NoiseStream.getState} and
 * {@link NoiseStream.setState} read and move the position (e.g. for a checkpoint).
 *
 * @example
 * const stream = new NoiseStream('MyLayer', 'seed', 7);
 * const mask = tf.dropout(tf.ones([4, 4]), 0.5, undefined, stream.next()); // draw 0: seed '7:0'
 * stream.getState(); // { seed: 7, calls: 1 }
 */
export class NoiseStream {
  /** The stream's seed, or `null` for unseeded draws. */
  readonly seed: number | null;
  /** The component named by errors. */
  private readonly component: string;
  /** Draws so far. */
  private calls = 0;

  /**
   * @param component Named by errors, e.g. the layer class.
   * @param argument The seed's argument name, named by a seed error, e.g. `'dropoutSeed'`.
   * @param seed An integer, or `null`/`undefined` for unseeded draws (checked with {@link checkNoiseSeed}).
   */
  constructor(component: string, argument: string, seed: number | null | undefined) {
    this.component = component;
    this.seed = checkNoiseSeed(component, argument, seed);
  }

  /** The tf seed of the next draw (`undefined` when unseeded), and advances the stream by one draw. */
  next(): string | undefined {
    const call = this.calls++;
    return this.seed === null ? undefined : `${this.seed}:${call}`;
  }

  /** The seed and the number of draws so far. */
  getState(): NoiseStreamState {
    return { seed: this.seed, calls: this.calls };
  }

  /**
   * Moves the stream to `state.calls` (an integer ≥ 0). `state.seed`, when given, must be this stream's
   * seed: the position of another stream would not reproduce anything. Errors are `PhalanxConfigError`s
   * naming `'noise state'`, `'noise state calls'` or `'noise state seed'`.
   */
  setState(state: Pick<NoiseStreamState, 'calls'> & Partial<Pick<NoiseStreamState, 'seed'>>): void {
    const component = this.component;
    if (state === null || typeof state !== 'object') {
      throw new PhalanxConfigError(component, 'noise state', 'an object', state);
    }
    const calls = checkInteger(component, 'noise state calls', state.calls, 0);
    if (!Number.isSafeInteger(calls)) {
      throw new PhalanxConfigError(component, 'noise state calls', 'a safe integer', calls);
    }
    if (state.seed !== undefined && state.seed !== this.seed) {
      throw new PhalanxConfigError(component, 'noise state seed', `this layer's seed (${this.seed})`, state.seed);
    }
    this.calls = calls;
  }
}

/**
 * A layer with a {@link NoiseStream}: `getNoiseState()` and `setNoiseState()` as
 * `ConcreteJointSelector`, `DynamicEdgeGAT`, `MultiHeadAttention` and `SeededDropout` have them.
 */
export interface NoiseStreamLayer extends tfl.layers.Layer {
  /** The seed and the number of draws so far. */
  getNoiseState(): NoiseStreamState;
  /** Moves the stream to `state.calls`; `state.seed`, when given, must be the layer's seed. */
  setNoiseState(state: Pick<NoiseStreamState, 'calls'> & Partial<Pick<NoiseStreamState, 'seed'>>): void;
}

/**
 * Whether `layer` has a noise stream ({@link NoiseStreamLayer}): methods `getNoiseState` and
 * `setNoiseState`.
 *
 * @example
 * hasNoiseStream(dynamicEdgeGAT({ units: 4, dropoutSeed: 1 })); // true
 * hasNoiseStream(tfl.layers.dense({ units: 4 })); // false
 */
export function hasNoiseStream(layer: tfl.layers.Layer): layer is NoiseStreamLayer {
  const candidate = layer as Partial<NoiseStreamLayer>;
  return typeof candidate.getNoiseState === 'function' && typeof candidate.setNoiseState === 'function';
}

/**
 * Every layer of `model` with a noise stream ({@link hasNoiseStream}), nested models included, each
 * once, in the order of `model.layers`: what a checkpoint saves the positions of (by layer name).
 *
 * @example
 * const x = tfl.input({ shape: [21, 8] });
 * const y = dynamicEdgeGAT({ units: 2, heads: 2, attentionDropout: 0.1, dropoutSeed: 3 }).apply(x) as tfl.SymbolicTensor;
 * const model = tfl.model({ inputs: x, outputs: y });
 * findNoiseStreamLayers(model).map((l) => l.getNoiseState()); // [{ seed: 3, calls: 0 }]
 */
export function findNoiseStreamLayers(model: tfl.layers.Layer): NoiseStreamLayer[] {
  checkLayer('findNoiseStreamLayers', model);
  const found = new Set<NoiseStreamLayer>();
  const visit = (layer: tfl.layers.Layer): void => {
    if (hasNoiseStream(layer)) found.add(layer);
    const children = (layer as { layers?: unknown }).layers;
    if (Array.isArray(children)) children.forEach((child) => visit(child as tfl.layers.Layer));
  };
  visit(model);
  return [...found];
}
