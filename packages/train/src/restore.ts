/**
 * All-or-nothing restores: everything a checkpoint holds is read and checked against the model and the
 * optimizers — every weight name, shape and dtype, every optimizer class and slot shape — before the
 * first value is written. A mismatch is a named error and leaves the trainer as it was.
 */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { PhalanxConfigError, PhalanxFileError } from '@phalanx/errors';
import { checkLayer, fileSystem } from '@phalanx/layers';
import { CHECKPOINT_FILES, readOptimizerSnapshots, readTrainerState } from './checkpoint';
import { optimizerStatesCompatible, restoreOptimizer, type OptimizerSnapshot } from './optimizer-state';
import type { ParameterGroup } from './parameter-groups';
import type { TrainerState } from './trainer-state';
import { checkPath } from './paths';

/** Values read from a checkpoint and checked, ready to be written: `commit` cannot fail on a mismatch. */
export interface PreparedRestore {
  /** Writes the values. */
  commit(): Promise<void>;
  /** Frees what was read (after `commit`, or instead of it). */
  dispose(): void;
}

/** Something that takes part in a restore with its own files (e.g. the moving average of the weights). */
export interface RestoreParticipant {
  /** Reads and checks its part of checkpoint `dir` (whose state is `state`); throws without changing anything. */
  prepareRestore(dir: string, state: TrainerState): Promise<PreparedRestore>;
}

const shapeText = (shape: readonly (number | null)[]) => `[${shape.join(', ')}]`;

/** Named errors for the arguments every reader here takes: a list (`argument`) and a checkpoint folder. */
function checkListAndDir(component: string, argument: string, list: unknown, expected: string, dir: unknown): void {
  if (!Array.isArray(list))
    throw new PhalanxConfigError(component, argument, expected, list === null ? null : typeof list);
  checkPath(component, 'dir', dir, 'a folder path');
}

/**
 * Checks decoded weights against the model's variables: the same set of names (no loading by position),
 * and for each the same shape and dtype. Throws `PhalanxFileError` naming `file` and the first mismatch.
 */
function checkWeights(file: string, saved: tf.NamedTensorMap, weights: tfl.LayerVariable[]): void {
  const names = new Set(weights.map((w) => w.originalName));
  const missing = weights.filter((w) => saved[w.originalName] === undefined).map((w) => w.originalName);
  const extra = Object.keys(saved).filter((n) => !names.has(n));
  if (missing.length > 0 || extra.length > 0) {
    const list = (xs: string[]) => `${xs.slice(0, 3).join(', ')}${xs.length > 3 ? ', …' : ''}`;
    const parts = [
      missing.length > 0 ? `lacks ${missing.length} of the model's weights (${list(missing)})` : '',
      extra.length > 0 ? `holds ${extra.length} the model does not have (${list(extra)})` : '',
    ];
    throw new PhalanxFileError(file, 'weights', `${parts.filter(Boolean).join(' and ')}: another model's checkpoint?`);
  }
  for (const w of weights) {
    const t = saved[w.originalName];
    if (!tf.util.arraysEqual(t.shape, w.shape as number[])) {
      throw new PhalanxFileError(
        file,
        `weight '${w.originalName}'`,
        `has shape ${shapeText(t.shape)}, but the model's is ${shapeText(w.shape)}`,
      );
    }
    if (t.dtype !== w.dtype) {
      throw new PhalanxFileError(
        file,
        `weight '${w.originalName}'`,
        `has dtype ${t.dtype}, but the model's is ${w.dtype}`,
      );
    }
  }
}

/**
 * Reads the weights of the model saved in `dir` (`model.json` + `weights.bin`, checked by `fileSystem`)
 * and checks them against `weights`: by name, shape and dtype. The caller owns (disposes) the tensors.
 * `weights` that are not an array and a `dir` that is not a non-empty string are a `PhalanxConfigError`.
 *
 * @example
 * const input = tfl.input({ shape: [4] });
 * const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 2 }).apply(input) as tfl.SymbolicTensor });
 * const saved = await readCheckedWeights(model.weights, 'runs/a/step-00000100/ema');
 * tf.dispose(Object.values(saved));
 */
export async function readCheckedWeights(weights: tfl.LayerVariable[], dir: string): Promise<tf.NamedTensorMap> {
  checkListAndDir('readCheckedWeights', 'weights', weights, "an array of a model's weights (model.weights)", dir);
  const file = join(dir, CHECKPOINT_FILES.model);
  const artifacts = await fileSystem(dir).load!();
  if (!artifacts.weightSpecs || !artifacts.weightData) throw new PhalanxFileError(file, 'weights', 'are missing');
  const saved = tf.io.decodeWeights(tf.io.CompositeArrayBuffer.join(artifacts.weightData), artifacts.weightSpecs);
  try {
    checkWeights(file, saved, weights);
  } catch (error) {
    tf.dispose(Object.values(saved));
    throw error;
  }
  return saved;
}

/**
 * Reads and checks the weights of the model saved in `dir` (see {@link readCheckedWeights}); `commit`
 * writes them into `weights`. Named errors as {@link readCheckedWeights}.
 *
 * @example
 * const input = tfl.input({ shape: [4] });
 * const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 2 }).apply(input) as tfl.SymbolicTensor });
 * const prepared = await prepareModelWeights(model.weights, 'runs/a/step-00000100');
 * try { await prepared.commit(); } finally { prepared.dispose(); }
 */
export async function prepareModelWeights(weights: tfl.LayerVariable[], dir: string): Promise<PreparedRestore> {
  checkListAndDir('prepareModelWeights', 'weights', weights, "an array of a model's weights (model.weights)", dir);
  const saved = await readCheckedWeights(weights, dir);
  return {
    commit: async () => weights.forEach((w) => w.write(saved[w.originalName])),
    dispose: () => tf.dispose(Object.values(saved)),
  };
}

/**
 * Loads the weights of a checkpoint (`model.json` + `weights.bin`) into an existing model, all or
 * nothing: every weight of the model must be in the checkpoint under its name (`originalName`, as
 * `model.save` writes them) with the same shape and dtype, and the checkpoint must hold no other
 * weight; otherwise a `PhalanxFileError` names the mismatch and no weight is written. A `model` that is
 * not a model and a `dir` that is not a non-empty string are a `PhalanxConfigError`.
 *
 * @example
 * const input = tfl.input({ shape: [4] });
 * const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 2 }).apply(input) as tfl.SymbolicTensor });
 * await loadModelWeights(model, 'runs/a/best');
 */
export async function loadModelWeights(model: tfl.LayersModel, dir: string): Promise<void> {
  checkLayer('loadModelWeights', model);
  checkPath('loadModelWeights', 'dir', dir, 'a folder path');
  const prepared = await prepareModelWeights(model.weights, dir);
  try {
    await prepared.commit();
  } finally {
    prepared.dispose();
  }
}

/**
 * Checks an optimizer snapshot against the group's optimizer and variables: the same optimizer class, or
 * an interchangeable one (tfjs `Adam` ↔ `FlatAdam`; `PhalanxConfigError` otherwise: the run's
 * configuration changed) and slots that fit the variables
 * (iterations, then blocks of one slot per variable, each of the variable's shape).
 */
function checkOptimizerSnapshot(dir: string, group: ParameterGroup, snapshot: OptimizerSnapshot | undefined): void {
  const file = join(dir, CHECKPOINT_FILES.optimizerSpecs);
  const field = `group '${group.name}'`;
  if (!snapshot)
    throw new PhalanxFileError(file, field, 'is missing: the checkpoint was written with other parameter groups');
  const kind = group.optimizer.getClassName();
  if (!optimizerStatesCompatible(snapshot.className, kind)) {
    throw new PhalanxConfigError(
      'Trainer.restore',
      `the optimizer of group '${group.name}'`,
      `a ${snapshot.className}, as in checkpoint ${dir}`,
      kind,
    );
  }
  const [iterations, ...slots] = snapshot.weights;
  const n = group.variables.length;
  if (!iterations || iterations.tensor.size !== 1 || (n === 0 ? slots.length > 0 : slots.length % n !== 0)) {
    throw new PhalanxFileError(
      file,
      field,
      `holds ${snapshot.weights.length} optimizer tensors, which do not fit its ${n} variables`,
    );
  }
  slots.forEach((slot, i) => {
    const v = group.variables[i % n];
    if (!tf.util.arraysEqual(slot.tensor.shape, v.shape as number[])) {
      throw new PhalanxFileError(
        file,
        `${field} slot '${slot.name}'`,
        `has shape ${shapeText(slot.tensor.shape)}, but variable '${v.originalName}' has ${shapeText(v.shape)}`,
      );
    }
  });
}

/**
 * Reads every group's optimizer state from `dir` and checks it (class, slot count and shapes); the
 * checkpoint must hold exactly the trainer's groups. `commit` restores them (optimizers must not have
 * taken a step yet). `groups` that are not an array and a `dir` that is not a non-empty string are a
 * `PhalanxConfigError`.
 *
 * @example
 * const input = tfl.input({ shape: [4] });
 * const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 2 }).apply(input) as tfl.SymbolicTensor });
 * const groups = buildParameterGroups('Trainer', model.trainableWeights, [{ name: 'all' }]);
 * const prepared = await prepareOptimizers(groups, 'runs/a/step-00000100');
 * try {
 *   await prepared.commit();
 * } finally {
 *   prepared.dispose();
 * }
 */
export async function prepareOptimizers(groups: ParameterGroup[], dir: string): Promise<PreparedRestore> {
  checkListAndDir('prepareOptimizers', 'groups', groups, 'an array of parameter groups', dir);
  const snapshots = await readOptimizerSnapshots(dir);
  const dispose = () => snapshots.forEach((s) => tf.dispose(s.weights.map((w) => w.tensor)));
  try {
    for (const g of groups) checkOptimizerSnapshot(dir, g, snapshots.get(g.name));
    const foreign = [...snapshots.keys()].filter((name) => !groups.some((g) => g.name === name));
    if (foreign.length > 0) {
      throw new PhalanxFileError(
        join(dir, CHECKPOINT_FILES.optimizerSpecs),
        `group '${foreign[0]}'`,
        'is not a parameter group of this trainer: the checkpoint was written with other groups',
      );
    }
  } catch (error) {
    dispose();
    throw error;
  }
  return {
    commit: async () => {
      for (const g of groups) await restoreOptimizer(g.optimizer, snapshots.get(g.name)!);
    },
    dispose,
  };
}

/** What {@link prepareTrainerRestore} restores. */
export interface RestoreTarget {
  /** The model whose weights are restored. */
  model: tfl.LayersModel;
  /** The parameter groups whose optimizers are restored. */
  groups: ParameterGroup[];
  /** Other parts with files of their own (restored after the model). */
  participants: RestoreParticipant[];
}

/** What {@link prepareTrainerRestore} returns. */
export interface PreparedTrainerRestore {
  /** The checkpoint's `trainer-state.json`. */
  state: TrainerState;
  /** Everything else, checked and ready to write. */
  prepared: PreparedRestore;
}

/**
 * Reads and checks everything checkpoint `dir` holds for `target` — state, model weights, optimizer
 * states, participants' files — then returns the state and a `commit` that writes it all. Nothing is
 * written when any part fails; every tensor read is freed on every path. A `dir` that is not a non-empty
 * string and a `target` that is not `{model, groups, participants}` are a `PhalanxConfigError`, raised before
 * anything is read.
 *
 * @example
 * const input = tfl.input({ shape: [4] });
 * const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 2 }).apply(input) as tfl.SymbolicTensor });
 * const groups = buildParameterGroups('Trainer', model.trainableWeights, [{ name: 'all' }]);
 * const { state, prepared } = await prepareTrainerRestore('runs/a/step-00000100', { model, groups, participants: [] });
 * try { await prepared.commit(); } finally { prepared.dispose(); }
 */
export async function prepareTrainerRestore(dir: string, target: RestoreTarget): Promise<PreparedTrainerRestore> {
  const name = 'prepareTrainerRestore';
  checkPath(name, 'dir', dir, 'a folder path');
  if (target === null || typeof target !== 'object') {
    throw new PhalanxConfigError(name, 'target', 'an object {model, groups, participants}', target);
  }
  checkLayer(name, target.model);
  if (!Array.isArray(target.groups)) throw new PhalanxConfigError(name, 'target.groups', 'an array', target.groups);
  if (!Array.isArray(target.participants)) {
    throw new PhalanxConfigError(name, 'target.participants', 'an array', target.participants);
  }
  const state = await readTrainerState(dir);
  const parts: PreparedRestore[] = [];
  const dispose = () => parts.forEach((p) => p.dispose());
  try {
    parts.push(await prepareModelWeights(target.model.weights, dir));
    parts.push(await prepareOptimizers(target.groups, dir));
    for (const participant of target.participants) parts.push(await participant.prepareRestore(dir, state));
  } catch (error) {
    dispose();
    throw error;
  }
  return {
    state,
    prepared: {
      commit: async () => {
        for (const p of parts) await p.commit();
      },
      dispose,
    },
  };
}
