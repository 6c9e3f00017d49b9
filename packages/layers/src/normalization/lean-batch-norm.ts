/**
 * LeanBatchNormalization — tfjs-layers' batch normalisation with a leaner training-mode backward pass,
 * under its own registered class name.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { checkPositiveFloat32, PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { checkTensor } from '../util/checks';
import { BATCH_NORM_CONVERTER, registerTorchConverter } from '../io/torch-converters';
import {
  FUSED_BATCH_NORM_TRAINING_GRAD_KERNEL,
  FUSED_BATCH_NORM_TRAINING_KERNEL,
  FUSED_MOVING_AVERAGES_KERNEL,
  fusedBatchNormKernelsAvailable,
} from './fused-batch-norm-kernels';
import {
  BATCH_NORMALIZATION_ARGS_KEYS,
  checkNormalizationArgs,
  StockBatchNormalization,
  type BatchNormalizationArgs,
} from './stock';

/** The fields of tfjs-layers' `BatchNormalization` that {@link LeanBatchNormalization} reads. */
interface BatchNormState {
  axis: number;
  epsilon: number;
  momentum: number;
  scale: boolean;
  center: boolean;
  gamma?: tfl.LayerVariable;
  beta?: tfl.LayerVariable;
  movingMean: tfl.LayerVariable;
  movingVariance: tfl.LayerVariable;
}

/**
 * Throws a named error unless `x` is a float32 tensor `[…, C]` of rank ≥ 1 and every entry of `perChannel` a
 * tensor `[C]`, and `epsilon` (when given) a positive normal float32: checked in plain JavaScript, before any
 * kernel runs, so that a wrong argument is not broadcast or cycled by flat index into a wrong result.
 */
function checkBatchNormArgs(
  component: string,
  x: tf.Tensor,
  perChannel: Record<string, tf.Tensor>,
  epsilon: number | null,
): void {
  checkTensor(component, 'x', x);
  if (x.rank < 1) throw new PhalanxShapeError(component, 'x', 'a tensor […, C] of rank ≥ 1', x.shape);
  if (x.dtype !== 'float32') {
    throw new PhalanxShapeError(component, 'x', 'a float32 tensor', `a ${x.dtype} tensor`, String);
  }
  const channels = x.shape[x.rank - 1];
  for (const [argument, value] of Object.entries(perChannel)) {
    checkTensor(component, argument, value);
    if (value.rank !== 1 || value.shape[0] !== channels) {
      throw new PhalanxShapeError(component, argument, `[C] = [${channels}] (the last dimension of x)`, value.shape);
    }
  }
  if (epsilon !== null) checkPositiveFloat32(component, 'epsilon', epsilon);
}

type LayerCall = (inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];

/**
 * Batch normalisation over every axis but the last in training mode, as one differentiable node:
 * `y = (x − μ_B)·(σ²_B + ε)^−½·γ + β` with the batch statistics computed by `tf.moments` and the
 * output by `tf.batchNorm` — the very ops tfjs-layers runs, so `y`, `μ_B` and `σ²_B` are bitwise the
 * same — but with the closed-form gradient (x̂ = (x − μ)·r, r = (σ² + ε)^−½, N = elements per channel)
 *
 * - ∂β = Σ dy,  ∂γ = Σ dy·x̂,  ∂x = γ·r·(dy − ∂β/N − x̂·∂γ/N),
 *
 * equal to what tfjs's tape derives through `moments` and `batchNorm` within float32 rounding. The
 * tape then keeps only `x` (and per-channel statistics) for the backward pass, where tfjs-layers'
 * op-by-op version keeps `x − μ`, `(x − μ)²` and the normalised output as well, and creates four more
 * input-sized gradients (of `(x − μ)²`, `x − μ`, the cast input and the statistics' broadcasts) that
 * tfjs holds until the backward pass ends. Returns `[y, μ_B, σ²_B]` (μ_B and σ²_B carry no gradient).
 *
 * **Shapes**: x `[…, C]`, gamma and beta `[C]` → y like x, μ_B and σ²_B `[C]`.
 *
 * **Fused kernels.** When the active backend registers both
 * {@link FUSED_BATCH_NORM_TRAINING_KERNEL} and {@link FUSED_BATCH_NORM_TRAINING_GRAD_KERNEL} (see
 * {@link fusedBatchNormKernelsAvailable}; `@phalanx/wasm-training` does for `wasm`) and x, gamma and beta
 * are float32, the same formulas run as one kernel forward and one backward instead of about twenty tfjs
 * ops; `y`, μ_B, σ²_B and the gradients then equal the composed ones within float32 rounding (not
 * bitwise: sums in another order).
 *
 * @example
 * import * as tf from '@tensorflow/tfjs-core';
 * import { batchNormTraining } from '@phalanx/layers';
 * const x = tf.randomNormal([2, 4, 4, 8]);
 * const [y, mean, variance] = batchNormTraining(x, tf.ones([8]), tf.zeros([8]), 1e-5);
 */
export function batchNormTraining(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  epsilon: number,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  checkBatchNormArgs('batchNormTraining', x, { gamma, beta }, epsilon);
  const float32 = gamma.dtype === 'float32' && beta.dtype === 'float32';
  if (float32 && fusedBatchNormKernelsAvailable()) return fusedBatchNormTraining(x, gamma, beta, epsilon);
  const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
  const count = x.size / x.shape[x.rank - 1];
  let stats: [tf.Tensor, tf.Tensor] | null = null;
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xi, g, b] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    const { mean, variance } = tf.moments(xi, axes);
    const y = tf.batchNorm(xi, mean, variance, b, g, epsilon);
    save([xi, mean, variance, g]);
    stats = [tf.keep(mean), tf.keep(variance)];
    return {
      value: y,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const d = dy as tf.Tensor;
          const [xs, m, v, gs] = saved;
          const r = tf.rsqrt(tf.add(v, tf.scalar(epsilon)));
          const xc = tf.sub(xs, m);
          const dBeta = tf.sum(d, axes);
          const sumDyXc = tf.sum(tf.mul(d, xc), axes);
          const dGamma = tf.mul(sumDyXc, r);
          // ∂x = γr·(dy − Σdy/N − (x − μ)·r²·Σ(dy·(x − μ))/N)
          const a = tf.div(dBeta, tf.scalar(count));
          const c = tf.div(tf.mul(tf.mul(r, r), sumDyXc), tf.scalar(count));
          const dx = tf.mul(tf.sub(tf.sub(d, a), tf.mul(xc, c)), tf.mul(gs, r));
          return [dx, dGamma, dBeta];
        }),
    };
  });
  const y = f(x, gamma, beta);
  const [mean, variance] = stats as unknown as [tf.Tensor, tf.Tensor];
  return [y, mean, variance];
}

/** {@link batchNormTraining} on the backend's fused kernels: one kernel forward, one backward. */
function fusedBatchNormTraining(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  epsilon: number,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  let stats: [tf.Tensor, tf.Tensor] | null = null;
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xi, g, b] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    const [y, mean, variance] = tf
      .engine()
      .runKernel(FUSED_BATCH_NORM_TRAINING_KERNEL, { x: xi, gamma: g, beta: b }, { epsilon }) as tf.Tensor[];
    save([xi, mean, variance, g]);
    stats = [tf.keep(mean), tf.keep(variance)];
    return {
      value: y,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [xs, m, v, gs] = saved;
        const inputs = { dy: dy as tf.Tensor, x: xs, mean: m, variance: v, gamma: gs };
        return tf.engine().runKernel(FUSED_BATCH_NORM_TRAINING_GRAD_KERNEL, inputs, { epsilon }) as tf.Tensor[];
      },
    };
  });
  const y = f(x, gamma, beta);
  const [mean, variance] = stats as unknown as [tf.Tensor, tf.Tensor];
  return [y, mean, variance];
}

/**
 * The moving statistics after one training batch, exactly as tfjs-layers updates them:
 * `m′ = m − (m − μ_B)·decay`, `v′ = v − (v − σ²_B)·decay` (decay = 1 − momentum), each operation
 * rounded to float32. One {@link FUSED_MOVING_AVERAGES_KERNEL} call where the active backend has it
 * (bitwise the same), else six tfjs ops.
 *
 * **Shapes**: every input `[C]` → `[m′ [C], v′ [C]]`.
 *
 * @example
 * import * as tf from '@tensorflow/tfjs-core';
 * import { updatedMovingAverages } from '@phalanx/layers';
 * const [m, v] = updatedMovingAverages(tf.zeros([4]), tf.ones([4]), tf.fill([4], 2), tf.fill([4], 3), 0.1);
 * // m = [0.2, 0.2, 0.2, 0.2], v = [1.2, 1.2, 1.2, 1.2]
 */
export function updatedMovingAverages(
  movingMean: tf.Tensor,
  movingVariance: tf.Tensor,
  mean: tf.Tensor,
  variance: tf.Tensor,
  decay: number,
): [tf.Tensor, tf.Tensor] {
  const inputs = { movingMean, movingVariance, mean, variance };
  checkBatchNormArgs('updatedMovingAverages', movingMean, { movingVariance, mean, variance }, null);
  if (typeof decay !== 'number' || !(decay >= 0 && decay <= 1)) {
    throw new PhalanxConfigError('updatedMovingAverages', 'decay', 'a number in [0, 1]', decay);
  }
  const float32 = Object.values(inputs).every((t) => t.dtype === 'float32');
  if (float32 && tf.getKernel(FUSED_MOVING_AVERAGES_KERNEL, tf.getBackend()) != null) {
    return tf.engine().runKernel(FUSED_MOVING_AVERAGES_KERNEL, inputs, { decay }) as [tf.Tensor, tf.Tensor];
  }
  return tf.tidy(() => [
    tf.sub(movingMean, tf.mul(tf.sub(movingMean, mean), decay)),
    tf.sub(movingVariance, tf.mul(tf.sub(movingVariance, variance), decay)),
  ]);
}

/**
 * Backends on which {@link LeanBatchNormalization} runs inference as {@link batchNormInference}: those whose
 * `FusedBatchNorm` kernel is slower than a broadcast multiply and add. On `wasm` the kernel takes 2–7× as
 * long (`[8, 24, 24, 96]`: 1.7 ms against 0.3 ms, one thread); on `cpu` it is 2× faster than the two ops.
 */
const SCALE_SHIFT_BACKENDS: ReadonlySet<string> = new Set(['wasm']);

/**
 * Batch normalisation with fixed statistics as one scale and one shift per channel:
 * `y = x·s + t` with `s = γ·(σ² + ε)^−½` and `t = β − μ·s` — the map `(x − μ)·(σ² + ε)^−½·γ + β` of
 * `tf.batchNorm`, equal to it within float32 rounding, computed as two broadcast passes over `x` after four
 * `[C]`-sized ops instead of one pass that recomputes the factor for every element. Differentiable with
 * respect to every argument on every backend.
 *
 * **Shapes**: `x [..., C]`; `gamma`, `beta`, `mean`, `variance` `[C]` → `[..., C]`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { batchNormInference } from '@phalanx/layers';
 *
 * const x = tf.randomNormal([2, 4, 4, 3]);
 * const [gamma, beta, mean, variance] = [tf.ones([3]), tf.zeros([3]), tf.zeros([3]), tf.ones([3])];
 * const y = batchNormInference(x, gamma, beta, mean, variance, 1e-3); // x / √1.001
 * ```
 */
export function batchNormInference(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  mean: tf.Tensor,
  variance: tf.Tensor,
  epsilon: number,
): tf.Tensor {
  checkBatchNormArgs('batchNormInference', x, { gamma, beta, mean, variance }, epsilon);
  return tf.tidy(() => {
    const scale = tf.mul(gamma, tf.rsqrt(tf.add(variance, epsilon)));
    const shift = tf.sub(beta, tf.mul(mean, scale));
    return tf.add(tf.mul(x, scale), shift);
  });
}

/**
 * tfjs-layers' `BatchNormalization` (same arguments, weights `gamma`, `beta`, `moving_mean`,
 * `moving_variance`, same config) whose training-mode call over all axes but the last runs
 * {@link batchNormTraining}: the output and the moving-statistics update are bitwise the stock layer's
 * (within float32 rounding where the backend provides the fused batch-norm kernels, see
 * {@link fusedBatchNormKernelsAvailable}), the backward pass keeps fewer input-sized tensors. Inference runs
 * {@link batchNormInference} on `wasm` (the same values within float32 rounding, several times faster there)
 * and the stock code elsewhere; other axes run the stock code.
 *
 * `y = (x − μ)·(σ² + ε)^−½·γ + β` with the batch statistics μ, σ² in training (and the moving averages
 * `m ← m − (m − μ_B)·(1 − momentum)` updated), the moving statistics at inference.
 *
 * Registered as `LeanBatchNormalization`, so a saved model reloads as this class once `@phalanx/layers`
 * is imported; tfjs's own `BatchNormalization` stays as it is for every other model. A model saved
 * before this class had its own name stores its batch norms as `BatchNormalization`: it still loads,
 * as tfjs's stock class, with the same weights and the same outputs (only the training-mode backward
 * pass is the stock one).
 *
 * **Shapes**: `[…, C]` → same; weights `[C]` each.
 *
 * @example
 * const x = tfl.input({ shape: [32, 32, 64] });
 * const y = leanBatchNormalization({ axis: -1, epsilon: 1e-5, momentum: 0.9, name: 'bn1' }).apply(x);
 */
export class LeanBatchNormalization extends StockBatchNormalization {
  /** Name under which the class is registered for serialisation. */
  static className = 'LeanBatchNormalization';

  /**
   * As tfjs-layers' `BatchNormalization`; an `args` that is not an object, a key of it that is not an
   * argument of `BatchNormalization`, an `epsilon` that is not a positive normal float32 and a `momentum`
   * outside [0, 1] are a `PhalanxConfigError`.
   */
  constructor(args?: BatchNormalizationArgs) {
    super(checkNormalizationArgs('LeanBatchNormalization', args, BATCH_NORMALIZATION_ARGS_KEYS, true));
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[] {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    // An integer input is normalised as float32 (the layer's dtype), not in integer arithmetic.
    if (x.dtype !== 'float32') return tf.tidy(() => this.call(tf.cast(x, 'float32'), kwargs) as tf.Tensor);
    const s = this as unknown as BatchNormState;
    const lastAxis = s.axis === -1 || s.axis === x.rank - 1;
    const affine = lastAxis && s.scale && s.center && s.gamma != null && s.beta != null;
    if (affine && kwargs.training !== true && SCALE_SHIFT_BACKENDS.has(tf.getBackend())) {
      const [gamma, beta] = [s.gamma!.read(), s.beta!.read()];
      return batchNormInference(x, gamma, beta, s.movingMean.read(), s.movingVariance.read(), s.epsilon);
    }
    if (!affine || kwargs.training !== true) {
      return (StockBatchNormalization.prototype as unknown as { call: LayerCall }).call.call(this, inputs, kwargs);
    }
    return tf.tidy(() => {
      const [y, mean, variance] = batchNormTraining(x, s.gamma!.read(), s.beta!.read(), s.epsilon);
      const [movingMean, movingVariance] = updatedMovingAverages(
        s.movingMean.read(),
        s.movingVariance.read(),
        mean,
        variance,
        1 - s.momentum,
      );
      s.movingMean.write(movingMean);
      s.movingVariance.write(movingVariance);
      tf.dispose([mean, variance]);
      return y;
    });
  }
}
tf.serialization.registerClass(
  LeanBatchNormalization as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>,
);
registerTorchConverter(LeanBatchNormalization, BATCH_NORM_CONVERTER);

/**
 * Creates a {@link LeanBatchNormalization} layer (arguments of `tf.layers.batchNormalization`).
 *
 * @example
 * const bn = leanBatchNormalization({ axis: -1, epsilon: 1e-5, momentum: 0.9 });
 */
export function leanBatchNormalization(args: BatchNormalizationArgs = {}): LeanBatchNormalization {
  return new LeanBatchNormalization(args);
}
