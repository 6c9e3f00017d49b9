/**
 * Parameter groups: the trainable variables of a model split by name, each part with its own optimizer,
 * learning-rate schedule and gradient clipping.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { checkPositive, PhalanxConfigError } from '@phalanx/errors';
import { FlatAdamOptimizer } from './flat-adam';
import { getLearningRate, setLearningRate } from './optimizer-state';
import { withoutStatefulFlags } from './patterns';
import { toSchedule, type LrSchedule } from './schedules';

/** One parameter group: the variables it matches train with its own optimizer and learning rate. */
export interface ParameterGroupConfig {
  /** Group name, used in logs and checkpoints (unique). Required. */
  name: string;
  /**
   * Which trainable variables belong to the group: a RegExp tested on the weight name
   * (`originalName`, e.g. `meta_S/logits`, `b_get_uv.0/beta`) or a predicate on the variable. A
   * variable goes to the first group that matches it; a group without `match` takes every variable
   * no earlier group took (put it last). Default: no `match`.
   */
  match?: RegExp | ((variable: tfl.LayerVariable) => boolean);
  /**
   * Learning rate: a number (constant) or a schedule `step → lr` (see `cosineLr`, `stepLr`,
   * `warmupLr`, `polynomialLr`). Set on the optimizer before every step. Default: the optimizer's own
   * rate, unchanged.
   */
  lr?: number | LrSchedule;
  /**
   * The group's optimizer, used by this group only (one given to two groups is a `PhalanxConfigError`:
   * its slots are positional, so the groups would share moments). Default: `optimizerFactory(lr(0))`.
   */
  optimizer?: tf.Optimizer;
  /**
   * Creates the optimizer from the initial learning rate when `optimizer` is not given. Default
   * `(lr) => new FlatAdamOptimizer(lr)`: `tf.train.adam`'s update and state in one fused step per group
   * (pass `(lr) => tf.train.adam(lr)` for tfjs' own).
   */
  optimizerFactory?: (learningRate: number) => tf.Optimizer;
  /** Clip this group's gradients to this global norm (> 0) before the global clipping. Default: none. */
  clipNorm?: number;
}

/** A parameter group as the trainer runs it. */
export interface ParameterGroup {
  /** Group name (unique). */
  name: string;
  /** Its variables, in a fixed order (optimizer slots are positional). */
  variables: tfl.LayerVariable[];
  /** Its optimizer. */
  optimizer: tf.Optimizer;
  /** Its learning-rate schedule, `null` to leave the optimizer's rate alone. */
  schedule: LrSchedule | null;
  /** Its own clipping norm, `null` for none. */
  clipNorm: number | null;
  /** Learning rate used at the last step (`NaN` before the first, or when the optimizer has none). */
  lastLr: number;
}

/** A group's name and the names of its variables, as {@link describeParameterGroups} reports them. */
export interface ParameterGroupDescription {
  /** Group name. */
  name: string;
  /** `originalName` of every variable of the group, in order. */
  variables: string[];
  /** The variables of the group that are frozen now. */
  frozen: string[];
}

function variableMatcher(
  component: string,
  argument: string,
  match: ParameterGroupConfig['match'],
): (v: tfl.LayerVariable) => boolean {
  if (match === undefined) return () => true;
  if (match instanceof RegExp) {
    const stateless = withoutStatefulFlags(match);
    return (v) => stateless.test(v.originalName);
  }
  if (typeof match === 'function') return match;
  throw new PhalanxConfigError(component, argument, 'a RegExp or a predicate', match);
}

/**
 * Splits `variables` into groups: each variable goes to the first group whose `match` accepts it; every
 * variable must land in a group. Creates the optimizers that are not given (`optimizerFactory(lr(0))`,
 * default {@link FlatAdamOptimizer}: Adam).
 *
 * @example
 * const input = tfl.input({ shape: [4] });
 * const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 2 }).apply(input) as tfl.SymbolicTensor });
 * const groups = buildParameterGroups('Trainer', model.trainableWeights, [
 *   { name: 'selector', match: /^meta_S\//, lr: 1e-1 },
 *   { name: 'rest', lr: 1e-4 },
 * ]);
 */
export function buildParameterGroups(
  component: string,
  variables: tfl.LayerVariable[],
  configs: ParameterGroupConfig[],
): ParameterGroup[] {
  if (!Array.isArray(configs) || configs.length === 0) {
    throw new PhalanxConfigError(component, 'parameterGroups', 'a non-empty list', configs);
  }
  const names = new Set<string>();
  const taken = new Set<tfl.LayerVariable>();
  // Optimizers made here (not given as `optimizer`) hold tensors: freed if a later group fails its checks.
  const made: tf.Optimizer[] = [];
  try {
    return groupsOf(component, variables, configs, names, taken, made);
  } catch (error) {
    made.forEach((optimizer) => optimizer.dispose());
    throw error;
  }
}

/** {@link buildParameterGroups} once `configs` is known to be a non-empty list; `made` collects the optimizers it makes. */
function groupsOf(
  component: string,
  variables: tfl.LayerVariable[],
  configs: ParameterGroupConfig[],
  names: Set<string>,
  taken: Set<tfl.LayerVariable>,
  made: tf.Optimizer[],
): ParameterGroup[] {
  // Each optimizer serves one group: tfjs optimizers (and FlatAdam) keep their slots by position, so a
  // second group's k-th variable would train on the first group's k-th moments.
  const owners = new Map<unknown, string>();
  const groups = configs.map((c, i): ParameterGroup => {
    const arg = `parameterGroups[${i}]`;
    if (!c || typeof c.name !== 'string' || c.name === '' || names.has(c.name)) {
      throw new PhalanxConfigError(component, `${arg}.name`, 'a unique non-empty string', c?.name);
    }
    names.add(c.name);
    const test = variableMatcher(component, `${arg}.match`, c.match);
    const mine = variables.filter((v) => !taken.has(v) && test(v));
    mine.forEach((v) => taken.add(v));
    const schedule = c.lr === undefined ? null : toSchedule(component, `${arg}.lr`, c.lr);
    const factory = c.optimizerFactory ?? ((lr: number) => new FlatAdamOptimizer(lr));
    const optimizer = c.optimizer ?? factory(schedule?.(0) ?? 1e-3);
    const owner = owners.get(optimizer);
    if (owner !== undefined) throw sharedOptimizer(component, arg, owner, optimizer);
    if (c.optimizer === undefined && optimizer instanceof tf.Optimizer) made.push(optimizer);
    if (!(optimizer instanceof tf.Optimizer)) {
      throw new PhalanxConfigError(component, `${arg}.optimizer`, 'a tf.Optimizer', optimizer);
    }
    owners.set(optimizer, c.name);
    const clipNorm = c.clipNorm === undefined ? null : checkPositive(component, `${arg}.clipNorm`, c.clipNorm);
    return { name: c.name, variables: mine, optimizer, schedule, clipNorm, lastLr: Number.NaN };
  });
  const left = variables.filter((v) => !taken.has(v));
  if (left.length > 0) {
    const examples = left
      .slice(0, 3)
      .map((v) => v.originalName)
      .join(', ');
    throw new PhalanxConfigError(
      component,
      'parameterGroups',
      'groups that cover every trainable variable (add a last group without `match`)',
      `${left.length} unmatched, e.g. ${examples}`,
    );
  }
  return groups;
}

/** The error for an optimizer that an earlier group (`owner`) already has. */
function sharedOptimizer(component: string, arg: string, owner: string, optimizer: unknown): PhalanxConfigError {
  const expected =
    `an optimizer of its own (group '${owner}' has this one: optimizers keep their state by position, ` +
    'so a shared one would mix the groups’ moments)';
  const received = optimizer instanceof tf.Optimizer ? optimizer.getClassName() : optimizer;
  return new PhalanxConfigError(component, `${arg}.optimizer`, expected, received);
}

/**
 * Sets every group's learning rate for `step` (`lr(step)` of its schedule; groups without one keep the
 * optimizer's rate) and returns the rates by group name.
 *
 * @example
 * const input = tfl.input({ shape: [4] });
 * const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 2 }).apply(input) as tfl.SymbolicTensor });
 * const groups = buildParameterGroups('Trainer', model.trainableWeights, [{ name: 'all', lr: (step) => 1e-3 / (1 + step) }]);
 * const rates = applyLearningRates('Trainer', groups, 9); // { all: 0.0001 }
 */
export function applyLearningRates(component: string, groups: ParameterGroup[], step: number): Record<string, number> {
  const rates: Record<string, number> = {};
  for (const g of groups) {
    if (g.schedule) {
      const lr = g.schedule(step);
      if (!Number.isFinite(lr) || lr < 0) {
        throw new PhalanxConfigError(component, `lr of group '${g.name}' at step ${step}`, 'a finite number ≥ 0', lr);
      }
      setLearningRate(g.optimizer, lr);
      g.lastLr = lr;
    } else {
      g.lastLr = getLearningRate(g.optimizer);
    }
    rates[g.name] = g.lastLr;
  }
  return rates;
}

/**
 * Each group's name and the names of its variables (all, and the frozen ones), for checking `match`
 * patterns.
 *
 * @example
 * const input = tfl.input({ shape: [4] });
 * const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 2 }).apply(input) as tfl.SymbolicTensor });
 * const groups = buildParameterGroups('Trainer', model.trainableWeights, [{ name: 'all' }]);
 * describeParameterGroups(groups); // [{ name: 'all', variables: ['dense_Dense1/kernel', 'dense_Dense1/bias'], frozen: [] }]
 */
export function describeParameterGroups(groups: ParameterGroup[]): ParameterGroupDescription[] {
  return groups.map((g) => ({
    name: g.name,
    variables: g.variables.map((v) => v.originalName),
    frozen: g.variables.filter((v) => !v.trainable).map((v) => v.originalName),
  }));
}

/**
 * Applies each group's gradients with its own optimizer: every variable of the group is listed, in the
 * group's fixed order (tfjs optimizers keep their slots by position); a frozen variable, or one without
 * a gradient, is passed with `null` and keeps its slot. `grads` are keyed by `tf.Variable` name.
 *
 * @example
 * const input = tfl.input({ shape: [4] });
 * const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 2 }).apply(input) as tfl.SymbolicTensor });
 * const groups = buildParameterGroups('Trainer', model.trainableWeights, [{ name: 'all', optimizerFactory: (lr) => tf.train.sgd(lr) }]);
 * const x = tf.ones([2, 4]);
 * const { grads } = tf.variableGrads(() => tf.mean(model.apply(x) as tf.Tensor) as tf.Scalar);
 * tf.tidy(() => applyGroupGradients(groups, grads));
 */
export function applyGroupGradients(groups: ParameterGroup[], grads: Record<string, tf.Tensor>): void {
  for (const g of groups) {
    const list = g.variables.map((v) => {
      const name = (v.read() as tf.Variable).name;
      return { name, tensor: (v.trainable ? grads[name] : undefined) ?? null };
    });
    if (list.some((x) => x.tensor !== null)) {
      g.optimizer.applyGradients(list as Parameters<tf.Optimizer['applyGradients']>[0]);
    }
  }
}
