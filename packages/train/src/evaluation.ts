/**
 * Evaluation with the pose metrics of `@phalanx/pose`: runs a model over held-out batches and
 * reports end-point errors, PCK AUC and the 20–50 mm AUC through `KeypointEvaluator` (the official
 * `EvalUtil` semantics).
 */
import type * as tf from '@tensorflow/tfjs-core';
import {
  checkFinite,
  checkInteger,
  checkOneOf,
  checkOptions,
  checkOptionsObject,
  PhalanxArgumentError,
  PhalanxConfigError,
  type ConfigErrorClass,
} from '@phalanx/errors';
import { KeypointEvaluator } from '@phalanx/pose';

const NAME = 'poseEvaluation';

/** Ground truth and prediction of one batch, `[N, J, D]` arrays or tensors (D = 2 or 3). */
export interface KeypointPair {
  /** Ground-truth keypoints. */
  gt: tf.Tensor | number[][][];
  /** Predicted keypoints. */
  pred: tf.Tensor | number[][][];
  /** Visibility `[N, J]` (1 = evaluated); default: all visible. */
  visible?: tf.Tensor | number[][];
}

/** One metric family: a name prefix and the PCK threshold range. */
export interface KeypointMetricSpec<B> {
  /** Prefix of the reported names, e.g. `'2d'` → `epe2d`, `epeMedian2d`, `auc2d`. */
  name: string;
  /** Extracts (or predicts) the keypoint pair of a batch. Tensors returned are disposed after use. */
  pair: (batch: B) => KeypointPair | Promise<KeypointPair>;
  /** PCK thresholds `linspace(min, max, steps)`, e.g. 0–30 px, or 0–50 mm. */
  min: number;
  /** Largest threshold. */
  max: number;
  /** Number of thresholds (default 20). */
  steps?: number;
  /** Unit of 3D keypoints (`'mm'` or `'m'`): reports `auc20to50<name>` too. Omit for pixels. */
  units?: 'm' | 'mm';
}

/** Options of {@link poseEvaluation}. */
export interface PoseEvaluationOptions<B> {
  /** Opens the held-out batches (called at every evaluation, so it must yield the same batches). */
  data: () => AsyncIterable<B> | Iterable<B>;
  /** The metric families to compute. */
  metrics: KeypointMetricSpec<B>[];
  /** Frees a batch after use. Default: none. */
  disposeBatch?: (batch: B) => void;
  /** Number of joints (default 21). */
  numJoints?: number;
}

/** The keys of {@link PoseEvaluationOptions} and {@link KeypointMetricSpec}: any other key is a named error. */
const OPTION_KEYS = { data: true, metrics: true, disposeBatch: true, numJoints: true } satisfies Record<
  keyof PoseEvaluationOptions<unknown>,
  true
>;
const METRIC_KEYS = { name: true, pair: true, min: true, max: true, steps: true, units: true } satisfies Record<
  keyof KeypointMetricSpec<unknown>,
  true
>;

/** A named error unless `value` is a function. */
function checkFunction(argument: string, value: unknown, expected: string): void {
  if (typeof value !== 'function') throw new PhalanxConfigError(NAME, argument, expected, value);
}

/** The checks `KeypointEvaluator.measures` makes on one family's thresholds, made when the evaluation is built. */
function checkMetric(spec: unknown, k: number, names: Set<string>): void {
  const at = `metrics[${k}]`;
  checkOptions(NAME, at, spec, METRIC_KEYS, 'a metric spec object');
  const { name, pair, min, max, steps, units } = spec as Record<string, unknown>;
  if (typeof name !== 'string' || names.has(name)) {
    throw new PhalanxConfigError(NAME, `${at}.name`, 'a string no other metric family has', name);
  }
  names.add(name);
  checkFunction(`${at}.pair`, pair, 'a function (batch) → {gt, pred, visible?}');
  checkFinite(NAME, `${at}.min`, min);
  checkFinite(NAME, `${at}.max`, max);
  if (!((max as number) > (min as number)))
    throw new PhalanxConfigError(NAME, `${at}.max`, `greater than min (${min})`, max);
  if (steps !== undefined) checkInteger(NAME, `${at}.steps`, steps, 2);
  if (units !== undefined) checkOneOf(NAME, `${at}.units`, units, ['m', 'mm'] as const);
}

/**
 * Feeds the pair `spec.pair` makes of batch `b` to `evaluator`, then disposes the tensors of the pair that
 * are not the batch itself — also when `feed` refuses the pair. A refusal is rethrown as this function's,
 * naming the family and the batch: `poseEvaluation: pred[0][3][1] of the '2d' pair of batch 4 must be a
 * finite number, but received NaN.` (same class, expected and received values).
 */
async function feedPair<B>(evaluator: KeypointEvaluator, spec: KeypointMetricSpec<B>, batch: B, b: number) {
  const where = `the '${spec.name}' pair of batch ${b}`;
  const pair: unknown = await spec.pair(batch);
  const { gt, pred, visible } = checkOptionsObject(NAME, where, pair, 'an object {gt, pred, visible?}') as KeypointPair;
  try {
    evaluator.feed(gt, pred, visible);
  } catch (error) {
    if (!(error instanceof PhalanxArgumentError)) throw error;
    const errorClass = error.constructor as ConfigErrorClass;
    throw new errorClass(NAME, `${error.argument} of ${where}`, error.expected, error.received);
  } finally {
    for (const t of [gt, pred, visible]) {
      if (t && typeof (t as tf.Tensor).dispose === 'function' && t !== (batch as unknown)) (t as tf.Tensor).dispose();
    }
  }
}

/**
 * Builds an `evaluate` function for `Trainer.fit`: for each family `f` it reports `epe<f>` (mean EPE),
 * `epeMedian<f>`, `auc<f>` and, for 3D with units, `auc20to50<f>` — computed by `KeypointEvaluator`
 * over all held-out batches. Each `pair` runs the model in inference mode (e.g. `model.predict`).
 *
 * The options are checked here, not at the first evaluation (which may come hours into a run): options
 * that are not an object or have an unknown key, a `data`, `pair` or `disposeBatch` that is not a function,
 * an empty `metrics`, two families of one name, thresholds `KeypointEvaluator.measures` would refuse
 * (`min`, `max` not finite or `max ≤ min`, `steps` not an integer ≥ 2, `units` not `'m'`/`'mm'`) and a
 * `numJoints` that is not an integer ≥ 1 are a `PhalanxConfigError`.
 *
 * At evaluation, a pair that `KeypointEvaluator.feed` refuses is an error naming the family and the batch,
 * of feed's class: `PhalanxConfigError` for a `pair` that does not return an object and for a coordinate of
 * a visible keypoint that is not finite (`poseEvaluation: pred[0][3][1] of the '2d' pair of batch 4 must be
 * a finite number, but received NaN.` — never a NaN metric), `PhalanxShapeError` for shapes. The pair's
 * tensors and the batch are disposed on that path too.
 *
 * @example
 * import * as tf from '@tensorflow/tfjs-core';
 * import { batches, disposeBatch, type HandBatch } from '@phalanx/data';
 * import { createLearnableGroups } from '@phalanx/learnable-groups';
 * import { xyzL1Loss } from '@phalanx/losses';
 * import { poseEvaluation, Trainer } from '@phalanx/train';
 * const model = createLearnableGroups({ inputSize: 128 });
 * const predictUv = (b: HandBatch) => (model.predict(b.images) as tf.Tensor[])[0];
 * const evaluate = poseEvaluation<HandBatch>({
 *   data: () => batches({ seed: 99, size: 128, count: 64, batchSize: 16 }),
 *   disposeBatch,
 *   metrics: [{ name: '2d', min: 0, max: 30, pair: (b) => ({ gt: b.uv, pred: predictUv(b) }) }],
 * });
 * const trainer = new Trainer<HandBatch>({
 *   model,
 *   inputs: (b) => b.images,
 *   disposeBatch,
 *   loss: ([uv], batch) => xyzL1Loss(tf.pad(batch.uv, [[0, 0], [0, 0], [0, 1]]), tf.pad(uv, [[0, 0], [0, 0], [0, 1]])),
 * });
 * const data = () => batches({ seed: 1, size: 128, batchSize: 16 });
 * await trainer.fit({ data, steps: 1000, evaluate, evaluateEvery: 200 });
 */
export function poseEvaluation<B>(options: PoseEvaluationOptions<B>): () => Promise<Record<string, number>> {
  checkOptions(NAME, 'options', options, OPTION_KEYS, 'an object {data, metrics, disposeBatch?, numJoints?}');
  checkFunction('data', options.data, 'a function () → the held-out batches');
  if (options.disposeBatch !== undefined)
    checkFunction('disposeBatch', options.disposeBatch, 'a function (batch) → void');
  if (!Array.isArray(options.metrics) || options.metrics.length === 0) {
    throw new PhalanxConfigError(NAME, 'metrics', 'a non-empty list of metric specs', options.metrics);
  }
  const names = new Set<string>();
  options.metrics.forEach((spec, k) => checkMetric(spec, k, names));
  if (options.numJoints !== undefined) checkInteger(NAME, 'numJoints', options.numJoints, 1);
  return async () => {
    const evaluators = options.metrics.map(() => new KeypointEvaluator({ numJoints: options.numJoints ?? 21 }));
    let b = 0;
    for await (const batch of options.data()) {
      try {
        for (let k = 0; k < options.metrics.length; k++) await feedPair(evaluators[k], options.metrics[k], batch, b);
      } finally {
        options.disposeBatch?.(batch);
      }
      b++;
    }
    const out: Record<string, number> = {};
    options.metrics.forEach((spec, k) => {
      const m = evaluators[k].measures({ min: spec.min, max: spec.max, steps: spec.steps ?? 20, units: spec.units });
      out[`epe${spec.name}`] = m.epeMean;
      out[`epeMedian${spec.name}`] = m.epeMedian;
      out[`auc${spec.name}`] = m.auc;
      if (spec.units && m.auc20to50 != null) out[`auc20to50${spec.name}`] = m.auc20to50;
    });
    return out;
  };
}
