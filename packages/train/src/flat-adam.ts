/**
 * Adam with one fused update for all the variables it trains: the moments of every variable live in two
 * flat vectors, and a step is a fixed number of kernels whatever the number of variables. Same
 * hyper-parameters, same elementwise formula in the same order as tfjs' `tf.train.adam`, and the same
 * saved state, so either optimizer resumes from the other's checkpoint.
 */
import * as tf from '@tensorflow/tfjs-core';
import { checkOptions, checkPositive, PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { checkRate, DESERIALIZATION_KEYS } from '@phalanx/layers';
import { concatFlat, splitFlat } from './flat-tensors';
import type { NamedTensor } from './optimizer-state';

/** What {@link adamUpdate} needs: the gradient, the moments and value before the step, and the rates. */
export interface AdamUpdateArgs {
  /** The gradient `g_t` (any shape; `m`, `v` and `value` have the same). */
  gradient: tf.Tensor;
  /** The first moment `m_{t−1}`. */
  m: tf.Tensor;
  /** The second moment `v_{t−1}`. */
  v: tf.Tensor;
  /** The value `θ_{t−1}`. */
  value: tf.Tensor;
  /** `1 − β₁ᵗ` (bias correction of the first moment), a scalar tensor. */
  oneMinusAccBeta1: tf.Scalar;
  /** `1 − β₂ᵗ` (bias correction of the second moment), a scalar tensor. */
  oneMinusAccBeta2: tf.Scalar;
  /** The learning rate `η`. */
  learningRate: number;
  /** `β₁`, the decay of the first moment. */
  beta1: number;
  /** `β₂`, the decay of the second moment. */
  beta2: number;
  /** `ε`, added to `√v̂` (outside the square root). */
  epsilon: number;
}

const ADAM_UPDATE_KEYS = {
  gradient: true,
  m: true,
  v: true,
  value: true,
  oneMinusAccBeta1: true,
  oneMinusAccBeta2: true,
  learningRate: true,
  beta1: true,
  beta2: true,
  epsilon: true,
} satisfies Record<keyof AdamUpdateArgs, true>;

/** The moments and the value after one Adam step (new tensors, the shape of the inputs). */
export interface AdamUpdateResult {
  /** `m_t`. */
  m: tf.Tensor;
  /** `v_t`. */
  v: tf.Tensor;
  /** `θ_t`. */
  value: tf.Tensor;
}

/**
 * One Adam step (Kingma & Ba, 2015), elementwise, in exactly the order of operations of tfjs-core 4.x
 * `AdamOptimizer` (so results are bitwise equal to it):
 *
 * - `m_t = m_{t−1}·β₁ + g·(1 − β₁)`
 * - `v_t = v_{t−1}·β₂ + g²·(1 − β₂)`
 * - `θ_t = (m_t / (1 − β₁ᵗ)) / (√(v_t / (1 − β₂ᵗ)) + ε) · (−η) + θ_{t−1}`
 *
 * 14 kernels whatever the size of the tensors.
 *
 * **Shapes**: `gradient`, `m`, `v`, `value` of one shape → `m`, `v`, `value` of that shape. `args` that are
 * not an object of these keys (`null`, a misspelt key) are a `PhalanxConfigError`.
 *
 * @example
 * const step = adamUpdate({
 *   gradient: tf.tensor1d([0.5, -2]), m: tf.zeros([2]), v: tf.zeros([2]), value: tf.tensor1d([1, 1]),
 *   oneMinusAccBeta1: tf.scalar(1 - 0.9), oneMinusAccBeta2: tf.scalar(1 - 0.999),
 *   learningRate: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-7,
 * });
 * step.value.print(); // ≈ [0.9, 1.1]: the first step moves every element by η
 */
export function adamUpdate(args: AdamUpdateArgs): AdamUpdateResult {
  checkOptions('adamUpdate', 'args', args, ADAM_UPDATE_KEYS, 'an object {gradient, m, v, value, …}');
  const { gradient, beta1, beta2 } = args;
  const m = tf.add(tf.mul(args.m, beta1), tf.mul(gradient, 1 - beta1));
  const v = tf.add(tf.mul(args.v, beta2), tf.mul(tf.square(gradient), 1 - beta2));
  const mHat = tf.div(m, args.oneMinusAccBeta1);
  const vHat = tf.div(v, args.oneMinusAccBeta2);
  const step = tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), args.epsilon)), -args.learningRate);
  return { m, v, value: tf.add(step, args.value) };
}

/** The optimizer slots, named as tfjs Adam names them, and where each lies in the flat vectors. */
interface SlotLayout {
  /** `<variable>/m` of each slot, in slot order (fixed when the slot is created, as in tfjs). */
  mNames: string[];
  /** `<variable>/v` of each slot. */
  vNames: string[];
  /** Shape of each slot (its variable's). */
  shapes: number[][];
  /** Size of each slot. */
  sizes: number[];
}

/** A slot that gets a gradient, and where it starts in the flat vectors. */
interface SlotSegment {
  slot: number;
  offset: number;
  size: number;
}

/** A run of the flat vectors: one slot that gets a gradient, or consecutive slots that do not. */
type Segment = SlotSegment | { slot: null; offset: number; size: number; zeros: tf.Tensor1D };

/** How a step with a given set of gradients is laid out (kept while that set does not change). */
interface StepPlan {
  /** Which slots get a gradient: one `'1'` or `'0'` per slot. */
  key: string;
  /** The runs of the flat vectors, in order. */
  segments: Segment[];
  /** `true` where a gradient is present (bool, `[total]`), `null` when every slot has one. */
  mask: tf.Tensor1D | null;
}

/** The moments of every slot, flat, with their layout. */
interface FlatState {
  layout: SlotLayout;
  /** First moments of all slots, concatenated: `[Σ n_k]`. */
  m: tf.Variable;
  /** Second moments, likewise. */
  v: tf.Variable;
  plan: StepPlan | null;
}

/** One entry of an `applyGradients` call: the variable and its gradient (`null`: none this step). */
interface GradientEntry {
  variable: tf.Variable;
  gradient: tf.Tensor | null;
}

const COMPONENT = 'FlatAdamOptimizer';

/** The variables and gradients of an `applyGradients` argument, checked (names, dtypes, shapes). */
function gradientEntries(variableGradients: tf.NamedTensorMap | NamedTensor[]): GradientEntry[] {
  const named = Array.isArray(variableGradients)
    ? variableGradients.map((g) => [g.name, g.tensor] as const)
    : Object.entries(variableGradients);
  const registered = tf.engine().registeredVariables;
  const seen = new Set<string>();
  return named.map(([name, gradient]) => {
    const variable = registered[name];
    if (variable === undefined || seen.has(name)) {
      throw new PhalanxConfigError(COMPONENT, 'variableGradients', 'named after distinct registered variables', name);
    }
    seen.add(name);
    if (variable.dtype !== 'float32') {
      throw new PhalanxConfigError(COMPONENT, `variable '${name}'`, 'of dtype float32', variable.dtype);
    }
    if (gradient != null && !tf.util.arraysEqual(gradient.shape, variable.shape)) {
      throw new PhalanxShapeError(
        COMPONENT,
        `the gradient of '${name}'`,
        `of shape [${variable.shape}]`,
        gradient.shape,
      );
    }
    return { variable, gradient: gradient ?? null };
  });
}

function disposePlan(plan: StepPlan | null): void {
  if (plan === null) return;
  tf.dispose([...plan.segments.flatMap((s) => (s.slot === null ? [s.zeros] : [])), ...(plan.mask ? [plan.mask] : [])]);
}

/** The plan of a step in which `present[k]` says whether slot `k` gets a gradient. */
function makePlan(layout: SlotLayout, present: boolean[], key: string): StepPlan {
  const segments: Segment[] = [];
  let offset = 0;
  let gap = 0;
  const closeGap = () => {
    if (gap > 0) segments.push({ slot: null, offset: offset - gap, size: gap, zeros: tf.zeros([gap]) as tf.Tensor1D });
    gap = 0;
  };
  layout.sizes.forEach((size, k) => {
    if (present[k]) {
      closeGap();
      segments.push({ slot: k, offset, size });
    } else {
      gap += size;
    }
    offset += size;
  });
  closeGap();
  if (present.every(Boolean)) return { key, segments, mask: null };
  const mask = new Uint8Array(offset);
  for (const s of segments) if (s.slot !== null) mask.fill(1, s.offset, s.offset + s.size);
  return { key, segments, mask: tf.tensor1d(mask, 'bool') };
}

/** The flat vector of `pieces(k)` for the slots of the plan that get a gradient, zeros elsewhere. */
function concatSegments(plan: StepPlan, piece: (slot: number) => tf.Tensor): tf.Tensor1D {
  return concatFlat(plan.segments.map((s) => (s.slot === null ? s.zeros : piece(s.slot))));
}

/** A learning rate: a finite number ≥ 0. */
function checkLearningRate(learningRate: unknown): number {
  if (typeof learningRate !== 'number' || !Number.isFinite(learningRate) || learningRate < 0) {
    throw new PhalanxConfigError(COMPONENT, 'learningRate', 'a finite number ≥ 0', learningRate);
  }
  return learningRate;
}

/** The keys of {@link FlatAdamOptimizer.getConfig}: tfjs Adam's hyper-parameters. */
const CONFIG_KEYS = { learningRate: true, beta1: true, beta2: true, epsilon: true } as const;

/**
 * Adam (tfjs' `tf.train.adam`) with one fused step for all its variables: the first and second moments
 * of every variable live in two flat vectors `m, v ∈ ℝ^N` (`N` = the parameters of all its variables),
 * and `applyGradients` concatenates the gradients and the values, runs the update of
 * {@link adamUpdate} once on the vectors, splits the new values and assigns them — about 20 kernels
 * whatever the number of variables, where tfjs' Adam runs 13 per variable.
 *
 * **Same as `tf.train.adam`**: hyper-parameters and defaults (`β₁ = 0.9`, `β₂ = 0.999`,
 * `ε = backend epsilon`), the elementwise formula and its order of operations (bitwise equal results
 * on the cpu backend), the running products `accBeta1 = β₁ᵗ⁺¹`, `accBeta2`, the learning rate read from
 * the public `learningRate` field at every step, and `getWeights()` / `setWeights()` with the same
 * slots (`iterations`, then `<variable>/m` of every variable, then `<variable>/v`): a checkpoint of one
 * restores into the other.
 *
 * **Slots are positional, as in tfjs**: the k-th entry of an `applyGradients` list updates slot k,
 * created (zeros, named after that entry) the first time the list reaches k. A longer list later adds
 * slots; a shorter one, a `null` gradient or a missing one leaves those slots and variables unchanged;
 * an entry whose variable does not have the shape of its slot is a `PhalanxShapeError`. Variables must
 * be float32.
 *
 * **Differences**: `getWeights()` returns new tensors, which the caller disposes (tfjs' Adam hands out
 * its own slot variables); a step whose set of missing gradients differs from the previous step's
 * builds a new layout (a zeros block and a mask, then cached).
 *
 * **Shapes**: gradients of their variables' shapes; state `m, v: [N]`.
 *
 * @example
 * const w = tf.variable(tf.tensor2d([[1, 2], [3, 4]]));
 * const b = tf.variable(tf.zeros([2]));
 * const optimizer = new FlatAdamOptimizer(1e-2);
 * optimizer.minimize(() => tf.sum(tf.square(tf.add(tf.matMul(tf.ones([1, 2]), w), b))) as tf.Scalar);
 * const state = await optimizer.getWeights(); // iter, w/m, b/m, w/v, b/v
 * tf.dispose(state.map((s) => s.tensor));
 */
export class FlatAdamOptimizer extends tf.Optimizer {
  /** Class name in checkpoints and `tf.serialization`. */
  static className = 'FlatAdam';

  /** `β₁ᵗ⁺¹` after t steps (the bias correction of the next step uses it). */
  private accBeta1: tf.Variable;
  /** `β₂ᵗ⁺¹` after t steps. */
  private accBeta2: tf.Variable;
  /** The flat moments (nested, so that only `accBeta1` and `accBeta2` are scalar variable fields). */
  private state: FlatState | null = null;

  /** The learning rate `η`, read at every step (assign it, or use `setLearningRate`, to change it). */
  learningRate: number;
  /** `β₁`, the decay of the first moment. */
  readonly beta1: number;
  /** `β₂`, the decay of the second moment. */
  readonly beta2: number;
  /** `ε`, added to `√v̂`. */
  readonly epsilon: number;

  /**
   * @param learningRate The learning rate `η`. Default 0.001.
   * @param beta1 `β₁`, the decay of the first moment. Default 0.9.
   * @param beta2 `β₂`, the decay of the second moment. Default 0.999.
   * @param epsilon `ε`. Default: the backend's epsilon (1e-7 on cpu and wasm), as in tfjs.
   * @throws PhalanxConfigError when the learning rate is not a finite number ≥ 0, a β is not in [0, 1) or ε is
   *   not a finite number > 0 (tfjs's Adam takes them silently and trains to NaN).
   */
  constructor(learningRate = 0.001, beta1 = 0.9, beta2 = 0.999, epsilon: number | null = null) {
    super();
    this.learningRate = checkLearningRate(learningRate);
    this.beta1 = checkRate(COMPONENT, 'beta1', beta1);
    this.beta2 = checkRate(COMPONENT, 'beta2', beta2);
    this.epsilon = epsilon === null ? tf.backend().epsilon() : checkPositive(COMPONENT, 'epsilon', epsilon);
    [this.accBeta1, this.accBeta2] = tf.tidy(() => [tf.scalar(beta1).variable(), tf.scalar(beta2).variable()]);
  }

  /**
   * One Adam step for the listed variables (by `tf.Variable` name; `null` gradients are skipped, see the
   * class comment). No host read.
   */
  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    checkLearningRate(this.learningRate); // a schedule may have set it
    const entries = gradientEntries(variableGradients);
    this.ensureSlots(entries);
    const state = this.state;
    const present = state === null ? [] : state.layout.sizes.map((_, k) => entries[k]?.gradient != null);
    const plan = state !== null && present.some(Boolean) ? this.planFor(state, present) : null;
    tf.tidy(() => {
      if (plan !== null) this.fusedStep(state!, plan, entries);
      this.accBeta1.assign(tf.mul(this.accBeta1, this.beta1));
      this.accBeta2.assign(tf.mul(this.accBeta2, this.beta2));
    });
    this.incrementIterations();
  }

  /** The plan of a step with these gradients present: the last one, or a new one (kept). */
  private planFor(state: FlatState, present: boolean[]): StepPlan {
    const key = present.map((p) => (p ? '1' : '0')).join('');
    if (state.plan?.key === key) return state.plan;
    disposePlan(state.plan);
    const plan = makePlan(state.layout, present, key);
    // Kept: applyGradients may run inside the caller's tidy.
    plan.segments.forEach((s) => s.slot === null && tf.keep(s.zeros));
    if (plan.mask) tf.keep(plan.mask);
    state.plan = plan;
    return plan;
  }

  /** The update of every slot that gets a gradient, on the flat vectors (inside a tidy). */
  private fusedStep(state: FlatState, plan: StepPlan, entries: GradientEntry[]): void {
    const updated = adamUpdate({
      gradient: concatSegments(plan, (k) => entries[k].gradient!),
      m: state.m,
      v: state.v,
      value: concatSegments(plan, (k) => entries[k].variable),
      oneMinusAccBeta1: tf.sub(1, this.accBeta1),
      oneMinusAccBeta2: tf.sub(1, this.accBeta2),
      learningRate: this.learningRate,
      beta1: this.beta1,
      beta2: this.beta2,
      epsilon: this.epsilon,
    });
    state.m.assign(plan.mask ? tf.where(plan.mask, updated.m, state.m) : updated.m);
    state.v.assign(plan.mask ? tf.where(plan.mask, updated.v, state.v) : updated.v);
    const shapes = plan.segments.map((s) => (s.slot === null ? [s.size] : state.layout.shapes[s.slot]));
    const values = splitFlat(updated.value as tf.Tensor1D, shapes);
    plan.segments.forEach((s, i) => s.slot !== null && entries[s.slot].variable.assign(values[i]));
  }

  /** Creates the slots of new positions and checks the shapes of the others. */
  private ensureSlots(entries: GradientEntry[]): void {
    const layout = this.state?.layout;
    const known = layout?.shapes.length ?? 0;
    for (let k = 0; k < Math.min(known, entries.length); k++) {
      const shape = entries[k].variable.shape;
      if (!tf.util.arraysEqual(shape, layout!.shapes[k])) {
        throw new PhalanxShapeError(
          COMPONENT,
          `variable '${entries[k].variable.name}' (entry ${k})`,
          `of shape [${layout!.shapes[k]}], as its slot '${layout!.mNames[k]}'`,
          shape,
        );
      }
    }
    if (entries.length <= known) return;
    const added = entries.slice(known).map((e) => e.variable);
    const grown: SlotLayout = {
      mNames: [...(layout?.mNames ?? []), ...added.map((v) => `${v.name}/m`)],
      vNames: [...(layout?.vNames ?? []), ...added.map((v) => `${v.name}/v`)],
      shapes: [...(layout?.shapes ?? []), ...added.map((v) => [...v.shape])],
      sizes: [...(layout?.sizes ?? []), ...added.map((v) => v.size)],
    };
    const extra = added.reduce((n, v) => n + v.size, 0);
    const grow = (old: tf.Variable | undefined) =>
      tf.tidy(() => (old ? tf.concat([old, tf.zeros([extra])]) : tf.zeros([extra])).variable(false));
    this.replaceState({ layout: grown, m: grow(this.state?.m), v: grow(this.state?.v), plan: null });
  }

  private replaceState(next: FlatState | null): void {
    if (this.state !== null) {
      tf.dispose([this.state.m, this.state.v]);
      disposePlan(this.state.plan);
    }
    this.state = next;
  }

  /** Frees the moments and the running products. */
  override dispose(): void {
    this.accBeta1.dispose();
    this.accBeta2.dispose();
    this.replaceState(null);
  }

  /**
   * `[iterations, <var>/m …, <var>/v …]` as tfjs Adam returns them: one tensor per slot, of its
   * variable's shape. All are new tensors: the caller disposes them.
   */
  override async getWeights(): Promise<NamedTensor[]> {
    const iterations = await this.saveIterations();
    const state = this.state;
    if (state === null) return [iterations];
    const { layout } = state;
    const [m, v] = tf.tidy(() => [
      splitFlat(state.m as tf.Tensor1D, layout.shapes),
      splitFlat(state.v as tf.Tensor1D, layout.shapes),
    ]);
    return [
      iterations,
      ...m.map((tensor, k) => ({ name: layout.mNames[k], tensor })),
      ...v.map((tensor, k) => ({ name: layout.vNames[k], tensor })),
    ];
  }

  /**
   * Restores `[iterations, <var>/m …, <var>/v …]` (from {@link FlatAdamOptimizer.getWeights} or tfjs
   * Adam's): the slots in that order, `accBeta1 = β₁^(t+1)` and `accBeta2 = β₂^(t+1)` as tfjs does. The
   * tensors stay the caller's.
   */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const slots = await this.extractIterations(weightValues);
    tf.tidy(() => {
      this.accBeta1.assign(tf.pow(this.beta1, this.iterations_ + 1));
      this.accBeta2.assign(tf.pow(this.beta2, this.iterations_ + 1));
    });
    const count = slots.length / 2;
    if (!Number.isInteger(count)) {
      throw new PhalanxConfigError(COMPONENT, 'weights', 'iterations and two slots per variable', slots.length + 1);
    }
    const ms = slots.slice(0, count);
    const vs = slots.slice(count);
    ms.forEach((m, k) => {
      if (!tf.util.arraysEqual(m.tensor.shape, vs[k].tensor.shape)) {
        throw new PhalanxShapeError(
          COMPONENT,
          `slot '${vs[k].name}'`,
          `of shape [${m.tensor.shape}]`,
          vs[k].tensor.shape,
        );
      }
    });
    if (count === 0) return this.replaceState(null);
    const flat = (ts: NamedTensor[]) => tf.tidy(() => concatFlat(ts.map((t) => t.tensor)).variable(false));
    const layout: SlotLayout = {
      mNames: ms.map((s) => s.name),
      vNames: vs.map((s) => s.name),
      shapes: ms.map((s) => [...s.tensor.shape]),
      sizes: ms.map((s) => s.tensor.size),
    };
    this.replaceState({ layout, m: flat(ms), v: flat(vs), plan: null });
  }

  /** The hyper-parameters, as tfjs Adam's `getConfig`. */
  override getConfig(): tf.serialization.ConfigDict {
    return { learningRate: this.learningRate, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon };
  }

  /**
   * Creates the optimizer from {@link FlatAdamOptimizer.getConfig}. A `config` that is not an object, or
   * that has a key other than those and `customObjects` (which tfjs's deserialiser adds), is a
   * `PhalanxConfigError`: a misspelt `learningrate` would otherwise become the default rate silently.
   */
  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    const known = { ...CONFIG_KEYS, ...DESERIALIZATION_KEYS };
    checkOptions(COMPONENT, 'config', config, known, 'a config object {learningRate, beta1, beta2, epsilon}');
    return new cls(config.learningRate, config.beta1, config.beta2, config.epsilon);
  }
}
tf.serialization.registerClass(FlatAdamOptimizer);
