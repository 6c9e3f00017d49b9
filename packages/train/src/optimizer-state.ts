/**
 * Helpers around tfjs optimizers: setting the learning rate of a live optimizer, and reading / restoring
 * its complete state so that a resumed run continues bit for bit.
 */
import * as tf from '@tensorflow/tfjs-core';
import { checkNonNegative, PhalanxConfigError } from '@phalanx/errors';

/** A `PhalanxConfigError` of `component` unless `optimizer` is a `tf.Optimizer`. */
function checkOptimizer(component: string, optimizer: unknown): tf.Optimizer {
  // `tf.Optimizer`'s Symbol.hasInstance reads `optimizer.minimize`: test for an object first.
  if (optimizer === null || typeof optimizer !== 'object' || !(optimizer instanceof tf.Optimizer)) {
    throw new PhalanxConfigError(
      component,
      'optimizer',
      'a tf.Optimizer',
      optimizer == null ? optimizer : typeof optimizer,
    );
  }
  return optimizer;
}

/**
 * Sets the learning rate of a tfjs optimizer in place. SGD and momentum have `setLearningRate` (they
 * cache `−lr` as a tensor); Adam, Adamax, RMSProp, Adagrad and Adadelta read their `learningRate`
 * field at every `applyGradients` (tfjs-core 4.x `src/optimizers/*_optimizer.ts`), so assigning the
 * field is enough. An `optimizer` that is not a `tf.Optimizer` and a `learningRate` that is not a finite
 * number ≥ 0 are a `PhalanxConfigError` (a NaN rate would turn every weight NaN at the next step).
 *
 * @example
 * const adam = tf.train.adam(1e-3);
 * setLearningRate(adam, 1e-4); // the next applyGradients uses 1e-4
 */
export function setLearningRate(optimizer: tf.Optimizer, learningRate: number): void {
  checkOptimizer('setLearningRate', optimizer);
  checkNonNegative('setLearningRate', 'learningRate', learningRate);
  const o = optimizer as unknown as { setLearningRate?: (lr: number) => void; learningRate?: number };
  if (o.learningRate === learningRate) return;
  if (typeof o.setLearningRate === 'function') o.setLearningRate(learningRate);
  else o.learningRate = learningRate;
}

/**
 * The learning rate a tfjs optimizer currently uses (`NaN` if it has none). An `optimizer` that is not a
 * `tf.Optimizer` is a `PhalanxConfigError`.
 *
 * @example
 * getLearningRate(tf.train.adam(1e-3)); // 0.001
 */
export function getLearningRate(optimizer: tf.Optimizer): number {
  checkOptimizer('getLearningRate', optimizer);
  const lr = (optimizer as unknown as { learningRate?: number }).learningRate;
  return typeof lr === 'number' ? lr : Number.NaN;
}

/** A named tensor, as `optimizer.getWeights()` returns them. */
export interface NamedTensor {
  /** Name (e.g. `dense/kernel/m`). */
  name: string;
  /** Value. */
  tensor: tf.Tensor;
}

/** A snapshot of an optimizer's state. */
export interface OptimizerSnapshot {
  /** `optimizer.getConfig()` (class and hyper-parameters, for a sanity check on restore). */
  className: string;
  /** The tensors of `optimizer.getWeights()` (iterations first, then the slots), in order. */
  weights: NamedTensor[];
  /**
   * Scalar variables the optimizer keeps outside `getWeights` (Adam's `accBeta1`, `accBeta2`; Adamax's
   * `iteration`), by property name. `setWeights` recomputes them as `β^(t+1)` with `pow`, which can
   * differ from the running product in the last bit; restoring the saved values makes resume exact.
   */
  scalars: Record<string, number>;
}

function scalarVariables(optimizer: tf.Optimizer): [string, tf.Variable][] {
  return Object.entries(optimizer as unknown as Record<string, unknown>).filter(
    (entry): entry is [string, tf.Variable] => entry[1] instanceof tf.Variable && entry[1].size === 1,
  );
}

/**
 * Reads an optimizer's complete state: `getWeights()` plus the scalar variables it keeps privately.
 * The caller owns (disposes) `weights[i].tensor`: copies of the optimizer's own variables (tfjs
 * optimizers hand those out), or the new tensors `getWeights` made (`iterations`; every slot of
 * `FlatAdamOptimizer`). An `optimizer` that is not a `tf.Optimizer` is a `PhalanxConfigError`.
 *
 * @example
 * const snapshot = await snapshotOptimizer(tf.train.adam(1e-3));
 * snapshot.className; // 'Adam'
 */
export async function snapshotOptimizer(optimizer: tf.Optimizer): Promise<OptimizerSnapshot> {
  checkOptimizer('snapshotOptimizer', optimizer);
  const live = await optimizer.getWeights();
  const weights = live.map((w) => ({
    name: w.name,
    tensor: w.tensor instanceof tf.Variable ? tf.clone(w.tensor) : w.tensor,
  }));
  const scalars: Record<string, number> = {};
  for (const [key, v] of scalarVariables(optimizer)) scalars[key] = (await v.data())[0];
  return { className: optimizer.getClassName(), weights, scalars };
}

/** Groups of optimizer classes whose states are the same (slots, their order and names, scalars). */
const INTERCHANGEABLE_STATES: readonly (readonly string[])[] = [['Adam', 'FlatAdam']];

/**
 * Whether the state of a `saved` optimizer class restores into a `current` one: the same class, or tfjs
 * `Adam` and `FlatAdam` (same update, same slots `iterations, <var>/m …, <var>/v …`, same scalars).
 *
 * @example
 * optimizerStatesCompatible('Adam', 'FlatAdam'); // true
 * optimizerStatesCompatible('Adam', 'SGD'); // false
 */
export function optimizerStatesCompatible(saved: string, current: string): boolean {
  return saved === current || INTERCHANGEABLE_STATES.some((group) => group.includes(saved) && group.includes(current));
}

/**
 * Restores a snapshot taken by {@link snapshotOptimizer} into an optimizer of the same class, or of an
 * interchangeable one ({@link optimizerStatesCompatible}), whose variables are listed to
 * `applyGradients` in the same order as when the snapshot was taken. A `PhalanxConfigError` for an
 * `optimizer` that is not a `tf.Optimizer`, a `snapshot` that is not `{className, weights, scalars}`, and an
 * optimizer whose class cannot take the snapshot's state.
 *
 * @example
 * const adam = tf.train.adam(1e-3);
 * const snapshot = await snapshotOptimizer(adam);
 * await restoreOptimizer(new FlatAdamOptimizer(1e-3), snapshot); // Adam and FlatAdam are interchangeable
 */
export async function restoreOptimizer(optimizer: tf.Optimizer, snapshot: OptimizerSnapshot): Promise<void> {
  const name = 'restoreOptimizer';
  checkOptimizer(name, optimizer);
  const s = snapshot as Partial<OptimizerSnapshot> | null;
  if (
    s === null ||
    typeof s !== 'object' ||
    typeof s.className !== 'string' ||
    !Array.isArray(s.weights) ||
    s.scalars === null ||
    typeof s.scalars !== 'object'
  ) {
    const expected = 'a snapshot {className, weights, scalars} (see snapshotOptimizer)';
    throw new PhalanxConfigError(name, 'snapshot', expected, s == null ? s : typeof s);
  }
  if (!optimizerStatesCompatible(snapshot.className, optimizer.getClassName())) {
    const expected = `a ${snapshot.className} (or one whose state is interchangeable), as the snapshot was taken of`;
    throw new PhalanxConfigError(name, 'optimizer', expected, optimizer.getClassName());
  }
  if (snapshot.weights.length > 0)
    await optimizer.setWeights(snapshot.weights as Parameters<tf.Optimizer['setWeights']>[0]);
  for (const [key, v] of scalarVariables(optimizer)) {
    const value = snapshot.scalars[key];
    if (value !== undefined) tf.tidy(() => v.assign(tf.scalar(value, v.dtype)));
  }
}
