/**
 * LastAxisLayerNormalization — tfjs-layers' layer normalisation computed with broadcasting over the
 * last axis, under its own registered class name.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { LAYER_NORM_CONVERTER, registerTorchConverter } from '../io/torch-converters';
import {
  checkNormalizationArgs,
  LAYER_NORMALIZATION_ARGS_KEYS,
  StockLayerNormalization,
  type LayerNormalizationArgs,
} from './stock';

/** The fields of tfjs-layers' `LayerNormalization` that {@link LastAxisLayerNormalization} reads. */
interface LayerNormState {
  axis: number | number[];
  epsilon: number;
  scale: boolean;
  center: boolean;
  gamma?: tfl.LayerVariable;
  beta?: tfl.LayerVariable;
}

type LayerCall = (inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];

/**
 * tfjs-layers' `LayerNormalization` (same arguments, weights `gamma`, `beta`, same config) computing
 *
 * `y = (x − μ)·(σ² + ε)^−½·γ + β`, μ and σ² over the last axis,
 *
 * with broadcasting when it normalises the last axis. The stock layer tiles μ, σ², γ and β to the
 * input's full shape (four `Tile` kernels per call, a scalar loop on wasm, four input-sized tensors)
 * so that it can call `tf.batchNorm`; the results agree to float32 rounding (≈ 1e-7 relative). Other
 * axes run the stock code.
 *
 * Registered as `LastAxisLayerNormalization`, so a saved model reloads as this class once
 * `@phalanx/layers` is imported; tfjs's own `LayerNormalization` stays as it is for every other model.
 * A model saved before this class had its own name stores its layer norms as `LayerNormalization`: it
 * still loads, as tfjs's stock class, with the same weights (outputs equal to float32 rounding).
 *
 * **Shapes**: `[…, D]` → same; `gamma`, `beta` `[D]`.
 *
 * @example
 * const tokens = tfl.input({ shape: [21, 512] });
 * const y = lastAxisLayerNormalization({ axis: -1, epsilon: 1e-5, name: 'ln1' }).apply(tokens);
 */
export class LastAxisLayerNormalization extends StockLayerNormalization {
  /** Name under which the class is registered for serialisation. */
  static className = 'LastAxisLayerNormalization';

  /**
   * As tfjs-layers' `LayerNormalization`; an `args` that is not an object, a key of it that is not an
   * argument of `LayerNormalization` and an `epsilon` that is not a positive normal float32 are a
   * `PhalanxConfigError`.
   */
  constructor(args?: LayerNormalizationArgs) {
    super(checkNormalizationArgs('LastAxisLayerNormalization', args, LAYER_NORMALIZATION_ARGS_KEYS, false));
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[] {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    const s = this as unknown as LayerNormState;
    const axes = Array.isArray(s.axis) ? s.axis : [s.axis];
    if (axes.length !== 1 || (axes[0] !== -1 && axes[0] !== x.rank - 1)) {
      return (StockLayerNormalization.prototype as unknown as { call: LayerCall }).call.call(this, inputs, kwargs);
    }
    return tf.tidy(() => {
      const { mean, variance } = tf.moments(x, -1, true);
      let y = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, tf.scalar(s.epsilon))));
      if (s.scale && s.gamma) y = tf.mul(y, s.gamma.read());
      if (s.center && s.beta) y = tf.add(y, s.beta.read());
      return y;
    });
  }
}
tf.serialization.registerClass(
  LastAxisLayerNormalization as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>,
);
registerTorchConverter(LastAxisLayerNormalization, LAYER_NORM_CONVERTER);

/**
 * Creates a {@link LastAxisLayerNormalization} layer (arguments of `tf.layers.layerNormalization`).
 *
 * @example
 * const ln = lastAxisLayerNormalization({ axis: -1, epsilon: 1e-5 });
 */
export function lastAxisLayerNormalization(args: LayerNormalizationArgs = {}): LastAxisLayerNormalization {
  return new LastAxisLayerNormalization(args);
}
