/**
 * ChannelAffine — a per-channel scale and offset with an optional ReLU, `y = act(x·s + t)`: an inference
 * batch norm (its moving statistics folded into `s` and `t`) run as one kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayerArgs } from '@tensorflow/tfjs-layers/dist/engine/topology';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';
import { checkOneOf, PhalanxShapeError } from '@phalanx/errors';
import { checkTensor, type OwnArgsKeys } from '../util/checks';
import { checkInputCount, PhalanxLayer, shapeList, tensorList, tensorShapes } from '../util/phalanx-layer';

const COMPONENT = 'ChannelAffine';

/** The activations {@link affineChannels} fuses: none (`'linear'`) or a ReLU. */
export const CHANNEL_AFFINE_ACTIVATIONS = ['linear', 'relu'] as const;
/** One of {@link CHANNEL_AFFINE_ACTIVATIONS}. */
export type ChannelAffineActivation = (typeof CHANNEL_AFFINE_ACTIVATIONS)[number];

/** Throws unless `scale` and `offset` are `[C]` with C the last dimension of `x`. */
function checkAffineShapes(component: string, x: tf.Tensor, scale: tf.Tensor, offset: tf.Tensor): void {
  for (const [argument, value] of Object.entries({ x, scale, offset })) checkTensor(component, argument, value);
  if (x.rank < 1) throw new PhalanxShapeError(component, 'x', 'a tensor […, C] of rank ≥ 1', x.shape);
  const channels = x.shape[x.rank - 1];
  for (const [argument, v] of [
    ['scale', scale],
    ['offset', offset],
  ] as const) {
    if (v.rank !== 1 || v.shape[0] !== channels) {
      throw new PhalanxShapeError(component, argument, `[${channels}] (the last dimension of x)`, v.shape);
    }
  }
}

/**
 * `y = act(x·s + t)` with `s` and `t` broadcast along the last axis (act: identity or ReLU). A batch norm
 * at inference is this map with `s = γ / √(σ² + ε)` and `t = β − μ·s` (moving mean μ, moving variance σ²).
 *
 * A `[B, H, W, C]` input runs as one fused 1 × 1 depthwise convolution with `s` as its filter, `t` as its
 * bias and the ReLU as its activation (`tf.fused.depthwiseConv2d`: a single SIMD pass in XNNPACK on
 * `wasm`, on every thread), where `tf.batchNorm` and a ReLU make two passes and the batch norm recomputes
 * `1 / √(σ² + ε)` for every element. Other ranks multiply and add. Differentiable on every backend
 * (`@phalanx/wasm-training` supplies the depthwise gradients `wasm` lacks).
 *
 * **Shapes**: `x [..., C]`, `scale [C]`, `offset [C]` → `[..., C]` (float32).
 *
 * @param x The input, channels last.
 * @param scale `s`, one factor per channel.
 * @param offset `t`, one offset per channel.
 * @param activation `'linear'` (default) or `'relu'`.
 * @throws PhalanxShapeError when `scale` or `offset` is not `[C]`; PhalanxConfigError for another activation.
 *
 * @example
 * ```ts
 * const x = tf.randomNormal([1, 32, 32, 64]);
 * const y = affineChannels(x, tf.ones([64]), tf.zeros([64]), 'relu'); // equals tf.relu(x)
 * ```
 */
export function affineChannels(
  x: tf.Tensor,
  scale: tf.Tensor,
  offset: tf.Tensor,
  activation: ChannelAffineActivation = 'linear',
): tf.Tensor {
  checkAffineShapes('affineChannels', x, scale, offset);
  checkOneOf('affineChannels', 'activation', activation, CHANNEL_AFFINE_ACTIVATIONS);
  return tf.tidy(() => {
    const input = tf.cast(x, 'float32');
    if (input.rank === 4) {
      const image = input as tf.Tensor4D;
      return tf.fused.depthwiseConv2d({
        x: image,
        filter: tf.reshape(scale, [1, 1, image.shape[3], 1]) as tf.Tensor4D,
        strides: 1,
        pad: 'valid',
        bias: offset,
        activation,
      });
    }
    const y = tf.add(tf.mul(input, scale), offset);
    return activation === 'relu' ? tf.relu(y) : y;
  });
}

/** Configuration of {@link ChannelAffine}. */
export interface ChannelAffineArgs extends LayerArgs {
  /** `'linear'` (default: `y = x·s + t`) or `'relu'` (`y = max(x·s + t, 0)`). */
  activation?: ChannelAffineActivation;
}

/**
 * The keys of {@link ChannelAffineArgs} beyond tfjs's `LayerArgs`: the constructor accepts these, `getConfig()`
 * writes them.
 */
const ARGS_KEYS = { activation: true } satisfies OwnArgsKeys<ChannelAffineArgs>;

/**
 * A per-channel affine map with an optional ReLU, `y = act(x·s + t)` ({@link affineChannels}), with weights
 * `scale` `s` (initialised to 1) and `offset` `t` (initialised to 0). `foldBatchNorm` of `@phalanx/blocks`
 * puts one in place of each batch norm it cannot fold into a convolution (and of the ReLU after it), so an
 * inference model runs it as one kernel instead of a batch norm and a ReLU.
 *
 * **Shapes**: `[..., C]` → same; `scale`, `offset` `[C]`.
 *
 * @example
 * ```ts
 * const features = tfl.input({ shape: [64, 64, 128] });
 * const y = channelAffine({ activation: 'relu', name: 'r1.bn' }).apply(features); // [null, 64, 64, 128]
 * ```
 */
export class ChannelAffine extends PhalanxLayer<ChannelAffineArgs> {
  /** Name under which the class is registered for serialisation. */
  static className = 'ChannelAffine';
  /** The activation applied after the affine map. */
  readonly activation: ChannelAffineActivation;
  private scale?: tfl.LayerVariable;
  private offset?: tfl.LayerVariable;

  constructor(args: ChannelAffineArgs = {}) {
    super(args, ARGS_KEYS);
    this.activation = checkOneOf(COMPONENT, 'activation', args.activation ?? 'linear', CHANNEL_AFFINE_ACTIVATIONS);
  }

  /** Checks the input shapes (one `[..., C]` with known C) for `build`, `computeOutputShape` and `call`. */
  private checkShape(shapes: tfl.Shape[]): tfl.Shape {
    checkInputCount(COMPONENT, shapes, [1], 'a single tensor [..., C]');
    const [shape] = shapes;
    if (shape.length < 2 || shape[shape.length - 1] == null) {
      throw new PhalanxShapeError(COMPONENT, 'input shape', '[B, ..., C] with known C', shape);
    }
    return shape;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = this.checkShape(shapeList(inputShape));
    const channels = shape[shape.length - 1] as number;
    this.scale = this.addWeight('scale', [channels], 'float32', tfl.initializers.ones(), undefined, true);
    this.offset = this.addWeight('offset', [channels], 'float32', tfl.initializers.zeros(), undefined, true);
    this.built = true;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    return this.checkShape(shapeList(inputShape));
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    void kwargs;
    return tf.tidy(() => {
      this.checkShape(tensorShapes(inputs));
      const [x] = tensorList(inputs);
      return affineChannels(x, this.scale!.read(), this.offset!.read(), this.activation);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { activation: this.activation, ...super.getConfig() };
  }
}
tf.serialization.registerClass(ChannelAffine);

/**
 * Creates a {@link ChannelAffine} layer.
 *
 * @example
 * ```ts
 * const affine = channelAffine({ activation: 'relu' });
 * const y = affine.apply(tf.randomNormal([2, 16, 16, 8])) as tf.Tensor; // max(x·1 + 0, 0)
 * ```
 */
export function channelAffine(args: ChannelAffineArgs = {}): ChannelAffine {
  return new ChannelAffine(args);
}
