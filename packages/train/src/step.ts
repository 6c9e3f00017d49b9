/**
 * The training step core: gradients of the loss over one or more micro-batches, per-group and global
 * clipping, the step's measures (loss, gradient norm, loss parts) packed into one tensor for a single
 * host read, and the optimizers' update — kept apart so the update can be withheld when a measure is
 * not finite.
 */
import * as tf from '@tensorflow/tfjs-core';
import { util } from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { clipByGlobalNorm, globalNorm } from './clipping';
import type { ParameterGroup } from './parameter-groups';

/** A loss with named parts for the logs: `total` is minimised, `parts` (float32 scalars) are reported. */
export interface LossWithParts {
  /** The float32 scalar to minimise. */
  total: tf.Scalar;
  /**
   * Named float32 scalar parts of the loss (e.g. `{ heatmap, xyz }`), read back and logged with the step;
   * a step with a non-finite part is not applied, like one with a non-finite loss.
   */
  parts?: Record<string, tf.Scalar>;
}

/** What a loss function returns: the scalar to minimise, or it plus named parts for the logs. */
export type LossResult = tf.Scalar | LossWithParts;

/** What the loss function is told about the step it runs in. */
export interface LossContext {
  /** Steps completed before this one (0 at the first step). */
  step: number;
  /** Index of the micro-batch within the step (0 without gradient accumulation). */
  microBatch: number;
}

/**
 * The objective: model outputs (always a list, in the model's output order) and the batch → loss.
 * Runs inside the gradient tape; create tensors freely, they are disposed. The loss and every part must be
 * float32 scalars, and the loss must have a gradient to at least one unfrozen trainable weight; anything
 * else is a `PhalanxConfigError` naming `loss` or `loss parts['name']`, and the step is not applied.
 */
export type LossFn<B> = (outputs: tf.Tensor[], batch: B, context: LossContext) => LossResult;

/** What a step needs to compute gradients. */
export interface StepModel<B> {
  /** Name used in error messages. */
  component: string;
  /** The model applied in training mode. */
  trainingModel: tfl.LayersModel;
  /** The objective. */
  loss: LossFn<B>;
  /** The model input(s) of a batch. */
  inputs: (batch: B) => tf.Tensor | tf.Tensor[];
  /** The parameter groups (their trainable variables get gradients). */
  groups: ParameterGroup[];
  /** Global clipping norm, `null` for none. */
  clipNorm: number | null;
}

/**
 * Gradients of one step, ready to apply, and its measures: `measures = [loss, gradNorm, ...parts]`
 * (one tensor, so reading them costs one host round trip). The caller disposes both
 * ({@link disposeStepGradients}).
 */
export interface StepGradients {
  /** Clipped gradients by `tf.Variable` name. */
  grads: Record<string, tf.Tensor>;
  /** `[loss, gradNorm, ...parts]`, shape `[2 + parts]`. */
  measures: tf.Tensor1D;
  /** The names of the loss parts, in the order of `measures`. */
  partNames: string[];
  /** The loss and parts over all the replicas, when the gradient reducer reported them. */
  groupMeasures?: GroupMeasures;
}

/** The measures of a step, read back to the host. */
export interface StepMeasures {
  /** The loss (the weighted mean over micro-batches). */
  loss: number;
  /** Global gradient norm after per-group clipping, before global clipping. */
  gradNorm: number;
  /** Named loss parts, if the loss function returned them. */
  parts?: Record<string, number>;
}

interface MicroBatchGradients {
  value: tf.Scalar;
  grads: Record<string, tf.Tensor>;
  /** Loss parts (empty without). */
  parts: Record<string, tf.Scalar>;
}

function isTensorMap(v: unknown): v is Record<string, tf.Scalar> {
  return v !== null && typeof v === 'object' && Object.values(v).every((t) => t instanceof tf.Tensor);
}

/** The variables that get gradients: every trainable (unfrozen) variable of every group. */
function activeVariables(model: StepModel<unknown>): tf.Variable[] {
  const active = model.groups.flatMap((g) => g.variables.filter((v) => v.trainable));
  if (active.length === 0) {
    throw new PhalanxConfigError(model.component, 'model', 'at least one unfrozen trainable variable', 0);
  }
  return active.map((v) => v.read() as tf.Variable);
}

/** `a float32 tensor of shape [4]`: a received tensor, for an error message. */
function describeTensor(t: tf.Tensor): string {
  return `${/^[aeiou]/.test(t.dtype) ? 'an' : 'a'} ${t.dtype} tensor of shape [${t.shape.join(', ')}]`;
}

/**
 * A disposed tensor among the entries of `value` (itself, its items, its fields and their items, named
 * from `name`: `batch.xs`, `batch[0]`, `batch.xs[1]`), or `null`.
 */
function findDisposed(value: unknown, name: string, depth = 2): { name: string; tensor: tf.Tensor } | null {
  if (value instanceof tf.Tensor) return value.isDisposed ? { name, tensor: value } : null;
  if (depth === 0 || value === null || typeof value !== 'object') return null;
  const proto = Object.getPrototypeOf(value) as unknown;
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) return null; // e.g. a typed array
  const entries = Array.isArray(value)
    ? value.map((v: unknown, i) => [`${name}[${i}]`, v] as const)
    : Object.entries(value).map(([k, v]) => [`${name}.${k}`, v] as const);
  // A few entries are enough to name a dead tensor; a long list of numbers is not walked every step.
  for (const [n, v] of entries.slice(0, 64)) {
    const found = findDisposed(v, n, depth - 1);
    if (found !== null) return found;
  }
  return null;
}

/**
 * A `PhalanxShapeError` naming a disposed tensor in the batch, or in what `inputs` made of it — the model
 * would fail on it with a `TypeError`.
 */
function checkLive<B>(component: string, batch: B, inputs: tf.Tensor | tf.Tensor[]): void {
  const dead = findDisposed(batch, 'batch') ?? findDisposed(inputs, 'inputs(batch)', 1);
  if (dead === null) return;
  const received = `a disposed tensor of shape [${dead.tensor.shape.join(', ')}]`;
  throw new PhalanxShapeError(component, dead.name, 'a live tensor', received, String);
}

/** Applies the model and the loss to `batch`; hands the loss parts (if any) to `keepParts`. */
function lossOf<B>(
  model: StepModel<B>,
  batch: B,
  context: LossContext,
  keepParts: (parts: Record<string, tf.Scalar>) => void,
): tf.Scalar {
  const inputs = model.inputs(batch);
  checkLive(model.component, batch, inputs);
  const outputs = model.trainingModel.apply(inputs, { training: true }) as tf.Tensor | tf.Tensor[];
  const result = model.loss(Array.isArray(outputs) ? outputs : [outputs], batch, context);
  if (result instanceof tf.Tensor) return checkScalar(model.component, 'loss', result);
  if (!result || !(result.total instanceof tf.Tensor)) {
    throw new PhalanxConfigError(model.component, 'loss', 'a scalar tensor or {total, parts}', result);
  }
  if (result.parts !== undefined) {
    if (!isTensorMap(result.parts)) {
      throw new PhalanxConfigError(model.component, 'loss parts', 'scalar tensors', result.parts);
    }
    // Checked inside the tape: a part that cannot be packed with the measures failed later, in `finish`, as a
    // raw tfjs error.
    for (const [name, part] of Object.entries(result.parts)) {
      checkScalar(model.component, `loss parts['${name}']`, part);
    }
    keepParts(result.parts);
  }
  return checkScalar(model.component, 'loss', result.total);
}

/**
 * A rank-0 float32 tensor, else a `PhalanxConfigError` naming `argument`: an int32 loss has no gradient
 * worth the name (and, scaled by a micro-batch weight, trained on the truncated value), and a part of
 * another shape or dtype cannot be packed with the step's measures.
 */
function checkScalar(component: string, argument: string, loss: tf.Tensor): tf.Scalar {
  if (loss.rank !== 0 || loss.dtype !== 'float32') {
    throw new PhalanxConfigError(component, argument, 'a float32 scalar', describeTensor(loss), String);
  }
  return loss as tf.Scalar;
}

/** tfjs's message for a loss without a gradient path to any of the variables. */
const NO_CONNECTION = /^Cannot find a connection between any variable and the result of the loss function/;

/** `tf.variableGrads`, with a loss that no trainable weight reaches as a `PhalanxConfigError` naming `loss`. */
function variableGrads(
  component: string,
  f: () => tf.Scalar,
  varList: tf.Variable[],
): ReturnType<typeof tf.variableGrads> {
  try {
    return tf.variableGrads(f, varList);
  } catch (error) {
    if (!(error instanceof Error) || !NO_CONNECTION.test(error.message)) throw error;
    const expected = 'computed from the model outputs (a scalar with a gradient to an unfrozen trainable weight)';
    throw new PhalanxConfigError(component, 'loss', expected, 'a scalar that depends on none of them', String);
  }
}

/** Loss and gradients of one micro-batch, scaled by `weight` (none when `null`). Tensors are the caller's. */
function microBatchGradients<B>(
  model: StepModel<B>,
  varList: tf.Variable[],
  batch: B,
  context: LossContext,
  weight: number | null,
): MicroBatchGradients {
  // Loss parts are made inside the tape's own scope: kept there, owned (and freed) here.
  let kept: Record<string, tf.Scalar> = {};
  const release = () => tf.dispose(Object.values(kept));
  // An error thrown inside the tape would leak the tensors tfjs saved for the backward pass (they are
  // freed only when the gradient computation completes): catch it, finish with a zero loss, rethrow.
  let failure: { error: unknown } | null = null;
  try {
    return tf.tidy(() => {
      const { value, grads } = variableGrads(
        model.component,
        () => {
          try {
            return lossOf(model, batch, context, (parts) => {
              kept = Object.fromEntries(Object.entries(parts).map(([k, t]) => [k, tf.keep(t)]));
            });
          } catch (error) {
            failure = { error };
            return tf.mul(tf.sum(varList[0]), 0) as tf.Scalar;
          }
        },
        varList,
      );
      if (failure !== null) throw (failure as { error: unknown }).error;
      const parts = kept;
      if (weight === null) {
        kept = {}; // handed over to the caller
        return { value, grads, parts };
      }
      const scale = <T extends tf.Tensor>(t: T) => tf.mul(t, weight) as T;
      return {
        value: scale(value),
        grads: Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, scale(g)])),
        parts: Object.fromEntries(Object.entries(parts).map(([k, t]) => [k, scale(t)])),
      };
    });
  } finally {
    release();
  }
}

/** `a + b` for every entry (an entry of one side alone is kept); disposes both sides. */
function addInto(a: MicroBatchGradients, b: MicroBatchGradients): MicroBatchGradients {
  const sum = tf.tidy(() => {
    const add = (x: tf.Tensor | undefined, y: tf.Tensor | undefined) =>
      x && y ? tf.add(x, y) : tf.clone((x ?? y) as tf.Tensor);
    const merge = <T extends tf.Tensor>(x: Record<string, T>, y: Record<string, T>) =>
      Object.fromEntries([...new Set([...Object.keys(x), ...Object.keys(y)])].map((k) => [k, add(x[k], y[k]) as T]));
    return {
      value: add(a.value, b.value) as tf.Scalar,
      grads: merge(a.grads, b.grads),
      parts: merge(a.parts, b.parts),
    };
  });
  disposeMicroBatch(a);
  disposeMicroBatch(b);
  return sum;
}

function disposeMicroBatch(m: MicroBatchGradients): void {
  tf.dispose([m.value, ...Object.values(m.grads), ...Object.values(m.parts)]);
}

/** Per-group clipping, the norm, global clipping and the packed measures; disposes `total` (also on an error). */
function finish(model: StepModel<unknown>, total: MicroBatchGradients): StepGradients {
  let out: StepGradients | null = null;
  try {
    out = measureAndClip(model, total);
    return out;
  } finally {
    // Unclipped gradients are handed on as they are; free the rest.
    const handedOn = new Set<tf.Tensor>(out === null ? [] : Object.values(out.grads));
    tf.dispose(
      [total.value, ...Object.values(total.grads), ...Object.values(total.parts)].filter((t) => !handedOn.has(t)),
    );
  }
}

/** The work of {@link finish}, in one `tf.tidy`: new tensors, or `total`'s own unclipped gradients. */
function measureAndClip(model: StepModel<unknown>, total: MicroBatchGradients): StepGradients {
  return tf.tidy(() => {
    const grads = { ...total.grads };
    for (const g of model.groups) {
      if (g.clipNorm === null) continue;
      const names = g.variables.map((v) => (v.read() as tf.Variable).name).filter((n) => grads[n] !== undefined);
      const { clipped } = clipByGlobalNorm(
        names.map((n) => grads[n]),
        g.clipNorm,
      );
      names.forEach((n, i) => (grads[n] = clipped[i]));
    }
    const all = Object.values(grads);
    let gradNorm: tf.Scalar;
    if (model.clipNorm !== null) {
      const names = Object.keys(grads);
      const { clipped, norm } = clipByGlobalNorm(all, model.clipNorm); // the norm before clipping
      names.forEach((n, i) => (grads[n] = clipped[i]));
      gradNorm = norm;
    } else {
      gradNorm = globalNorm(all);
    }
    const partNames = Object.keys(total.parts);
    const measures = tf.stack([total.value, gradNorm, ...partNames.map((k) => total.parts[k])]) as tf.Tensor1D;
    return { grads, measures, partNames };
  });
}

/**
 * Gradients of the loss over `batches` (one or more micro-batches) with respect to every unfrozen
 * variable of the groups, clipped per group and globally, with the step's measures.
 *
 * With K micro-batches of n_k samples, the loss and every gradient are the weighted mean
 * `Σ_k (n_k / Σ n) · ∇L_k` — for a loss that is a mean over samples this is the gradient of one batch
 * of all Σ n samples (up to float rounding; batch normalisation still sees each micro-batch alone).
 * With one batch nothing is scaled.
 *
 * **Shapes**: `sizes` has one entry per batch; `measures` is `[2 + number of loss parts]`.
 *
 * @example
 * const input = tfl.input({ shape: [4] });
 * const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 2 }).apply(input) as tfl.SymbolicTensor });
 * type Batch = { xs: tf.Tensor; ys: tf.Tensor };
 * const groups = buildParameterGroups('Trainer', model.trainableWeights, [{ name: 'all' }]);
 * const stepModel: StepModel<Batch> = {
 *   component: 'Trainer', trainingModel: model, groups, clipNorm: null, inputs: (b) => b.xs,
 *   loss: ([y], b) => tf.losses.meanSquaredError(b.ys, y) as tf.Scalar,
 * };
 * const batchA = { xs: tf.ones([16, 4]), ys: tf.zeros([16, 2]) };
 * const batchB = { xs: tf.ones([16, 4]), ys: tf.ones([16, 2]) };
 * const g = computeStepGradients(stepModel, [batchA, batchB], [16, 16], 0);
 * const measures = await readStepMeasures(g); // { loss, gradNorm, parts }
 * tf.tidy(() => applyGroupGradients(stepModel.groups, g.grads));
 * disposeStepGradients(g);
 */
export function computeStepGradients<B>(
  model: StepModel<B>,
  batches: B[],
  sizes: number[],
  step: number,
): StepGradients {
  return finish(model as StepModel<unknown>, rawGradients(model, batches, sizes, step));
}

/** Loss, parts and unclipped gradients over the micro-batches (weighted mean); tensors are the caller's. */
function rawGradients<B>(model: StepModel<B>, batches: B[], sizes: number[], step: number): MicroBatchGradients {
  const varList = activeVariables(model as StepModel<unknown>);
  const samples = sizes.reduce((a, b) => a + b, 0);
  let total: MicroBatchGradients | null = null;
  try {
    batches.forEach((batch, k) => {
      const weight = batches.length === 1 ? null : sizes[k] / samples;
      const next = microBatchGradients(model, varList, batch, { step, microBatch: k }, weight);
      total = total === null ? next : addInto(total, next);
    });
  } catch (error) {
    if (total !== null) disposeMicroBatch(total);
    throw error;
  }
  return total!;
}

/** What a {@link GradientReducer} is told about the step whose gradients it receives. */
export interface GradientReductionContext {
  /** Steps completed before this one (0 at the first step). */
  step: number;
  /** Samples behind these gradients (the sum over the step's micro-batches). */
  samples: number;
  /** This step's loss on those samples (owned by the trainer: read it, do not dispose it). */
  loss: tf.Scalar;
  /** This step's loss parts on those samples, by name (owned by the trainer); empty without parts. */
  parts: Readonly<Record<string, tf.Scalar>>;
  /**
   * Tells the trainer the step's loss and loss parts over every participant of the exchange (e.g. their
   * means weighted by samples): the finiteness check (`onNonFinite`) then also judges these, so a step
   * that is not finite in one data-parallel replica is skipped — or stops the run — in all of them.
   */
  reportGroupMeasures(measures: GroupMeasures): void;
}

/** The loss and loss parts of a step over all the replicas of a gradient exchange (see `reportGroupMeasures`). */
export interface GroupMeasures {
  /** The step's total loss over every replica (e.g. the sample-weighted mean of their losses). */
  loss: number;
  /** The step's loss parts by name over every replica, combined as `loss` is; absent when the loss has none. */
  parts?: Record<string, number>;
}

/**
 * A gradient exchange between the backward pass and the update: it receives the step's unclipped
 * gradients by `tf.Variable` name and resolves to the gradients to apply, with the same names and
 * shapes — e.g. the mean over data-parallel replicas, `ḡ = (1/N) Σ_r g_r`. Clipping, the gradient norm
 * and the finiteness check then apply to what it returns.
 *
 * Ownership: the tensors it receives belong to the trainer (freed after the step, do not dispose them);
 * the tensors it returns are handed over to the trainer (it frees them; returning an input unchanged
 * is allowed).
 *
 * @example
 * // Every step applies the mean of this replica's gradients and a fixed "other replica" gradient.
 * const other: Record<string, tf.Tensor> = {};
 * const reducer: GradientReducer = async (grads) =>
 *   tf.tidy(() => Object.fromEntries(Object.entries(grads).map(([name, g]) => [name, tf.div(tf.add(g, other[name] ?? g), 2)])));
 */
export type GradientReducer = (
  grads: Readonly<Record<string, tf.Tensor>>,
  context: GradientReductionContext,
) => Promise<Record<string, tf.Tensor>>;

/** Checks that the reducer gave back every gradient, with its shape. */
function checkReduced(
  component: string,
  raw: Record<string, tf.Tensor>,
  reduced: Record<string, tf.Tensor> | null | undefined,
): void {
  if (reduced === null || typeof reduced !== 'object') {
    throw new PhalanxConfigError(component, 'reduceGradients result', 'a map of gradients by variable name', reduced);
  }
  for (const [name, g] of Object.entries(raw)) {
    const r = reduced[name];
    if (!(r instanceof tf.Tensor)) {
      throw new PhalanxConfigError(component, `reduceGradients result '${name}'`, 'a tensor', r);
    }
    if (!util.arraysEqual(r.shape, g.shape)) {
      throw new PhalanxShapeError(component, `reduceGradients result '${name}'`, `shape [${g.shape}]`, r.shape);
    }
  }
  const extra = Object.keys(reduced).filter((name) => raw[name] === undefined);
  if (extra.length > 0) {
    throw new PhalanxConfigError(component, 'reduceGradients result', 'only the names it received', extra);
  }
}

/**
 * {@link computeStepGradients} with a {@link GradientReducer} between the backward pass and clipping:
 * the reducer's gradients are clipped, measured (`gradNorm`) and returned for the update; the loss and
 * its parts stay this step's own (what the reducer reports with `reportGroupMeasures` is returned as
 * `groupMeasures`, for the finiteness check).
 *
 * @example
 * const input = tfl.input({ shape: [4] });
 * const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 2 }).apply(input) as tfl.SymbolicTensor });
 * type Batch = { xs: tf.Tensor; ys: tf.Tensor };
 * const groups = buildParameterGroups('Trainer', model.trainableWeights, [{ name: 'all' }]);
 * const stepModel: StepModel<Batch> = {
 *   component: 'Trainer', trainingModel: model, groups, clipNorm: null, inputs: (b) => b.xs,
 *   loss: ([y], b) => tf.losses.meanSquaredError(b.ys, y) as tf.Scalar,
 * };
 * const batch = { xs: tf.ones([16, 4]), ys: tf.zeros([16, 2]) };
 * const halve: GradientReducer = async (grads) =>
 *   tf.tidy(() => Object.fromEntries(Object.entries(grads).map(([name, g]) => [name, tf.mul(g, 0.5)])));
 * const g = await computeReducedStepGradients(stepModel, [batch], [16], 0, halve);
 * tf.tidy(() => applyGroupGradients(stepModel.groups, g.grads));
 * disposeStepGradients(g);
 */
export async function computeReducedStepGradients<B>(
  model: StepModel<B>,
  batches: B[],
  sizes: number[],
  step: number,
  reduce: GradientReducer,
): Promise<StepGradients> {
  const total = rawGradients(model, batches, sizes, step);
  let reduced: Record<string, tf.Tensor> | null = null;
  let groupMeasures: GroupMeasures | undefined;
  try {
    const samples = sizes.reduce((a, b) => a + b, 0);
    const reportGroupMeasures = (measures: GroupMeasures): void => {
      groupMeasures = measures;
    };
    reduced = await reduce(total.grads, { step, samples, loss: total.value, parts: total.parts, reportGroupMeasures });
    checkReduced(model.component, total.grads, reduced);
  } catch (error) {
    const mine = new Set(Object.values(total.grads));
    const given: unknown[] = reduced !== null && typeof reduced === 'object' ? Object.values(reduced) : [];
    tf.dispose(given.filter((t): t is tf.Tensor => t instanceof tf.Tensor && !mine.has(t)));
    disposeMicroBatch(total);
    throw error;
  }
  const kept = new Set(Object.values(reduced!));
  tf.dispose(Object.values(total.grads).filter((t) => !kept.has(t)));
  const gradients = finish(model as StepModel<unknown>, { value: total.value, grads: reduced!, parts: total.parts });
  return groupMeasures === undefined ? gradients : { ...gradients, groupMeasures };
}

/**
 * Reads the measures of a step — one host round trip — as numbers.
 *
 * @example
 * const g: StepGradients = { grads: {}, measures: tf.tensor1d([0.5, 2]), partNames: [] };
 * const { loss, gradNorm } = await readStepMeasures(g); // 0.5, 2
 */
export async function readStepMeasures(gradients: StepGradients): Promise<StepMeasures> {
  const values = await gradients.measures.data();
  const measures: StepMeasures = { loss: values[0], gradNorm: values[1] };
  if (gradients.partNames.length > 0) {
    measures.parts = Object.fromEntries(gradients.partNames.map((k, i) => [k, values[2 + i]]));
  }
  return measures;
}

/**
 * Frees the tensors of {@link computeStepGradients}.
 *
 * @example
 * const g: StepGradients = { grads: { w: tf.ones([3]) }, measures: tf.tensor1d([0.5, 2]), partNames: [] };
 * disposeStepGradients(g);
 */
export function disposeStepGradients(gradients: StepGradients): void {
  tf.dispose([gradients.measures, ...Object.values(gradients.grads)]);
}
