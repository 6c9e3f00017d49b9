/**
 * Checkpoints on disk: the model in the standard TensorFlow.js layout (`model.json` + `weights.bin`,
 * loadable with `tf.loadLayersModel`), the optimizers' state (`optimizer.json` + `optimizer.bin`, the
 * tfjs weight encoding), optionally the moving average of the weights (`ema/`, a loadable model too)
 * and `trainer-state.json` (step, data position, schedules, selector noise streams, best metric). A
 * checkpoint is written into a temporary folder and renamed into place, so a folder that exists is
 * complete.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { PhalanxFileError } from '@phalanx/errors';
import { fileSystem } from '@phalanx/layers';
import { replaceFolder, uniqueSuffix } from './checkpoint-folders';
import { checkPath, fileSystemReason, makeFolder } from './paths';
import type { CheckpointSummary } from './callbacks/callback';
import type { NamedTensor, OptimizerSnapshot } from './optimizer-state';
import { parseTrainerState, type TrainerState } from './trainer-state';

/** File names inside a checkpoint folder. */
export const CHECKPOINT_FILES = {
  /** The model topology and weights manifest (standard tfjs). */
  model: 'model.json',
  /** The model weights (standard tfjs). */
  weights: 'weights.bin',
  /** Each group's optimizer class, private scalars and the manifest of its slots. */
  optimizerSpecs: 'optimizer.json',
  /** The optimizer slots, in tfjs weight encoding. */
  optimizerData: 'optimizer.bin',
  /** {@link TrainerState}; written last inside the temporary folder. */
  state: 'trainer-state.json',
  /** Folder of the moving average of the weights: a complete tfjs model. */
  ema: 'ema',
} as const;

/** One group's entry in `optimizer.json`. */
interface OptimizerFileEntry {
  group: string;
  className: string;
  scalars: Record<string, number>;
  /** The original names of `getWeights()`, in order. */
  names: string[];
}

interface OptimizerFile {
  groups: OptimizerFileEntry[];
  specs: tf.io.WeightsManifestEntry[];
}

/** A group's optimizer snapshot, as {@link writeCheckpoint} takes them. */
export interface GroupSnapshot {
  /** Group name. */
  group: string;
  /** The snapshot (see `snapshotOptimizer`). */
  snapshot: OptimizerSnapshot;
}

/** Options of {@link writeCheckpoint}. */
export interface WriteCheckpointOptions {
  /** Writes more files into the (temporary) checkpoint folder before the state, e.g. the moving average. */
  extra?: (dir: string) => Promise<void>;
}

/** Whether every float32 / complex64 value described by `specs` in `data` is finite. */
function allFinite(specs: tf.io.WeightsManifestEntry[], data: ArrayBuffer): boolean {
  let offset = 0;
  for (const spec of specs) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const bytes = spec.dtype === 'complex64' ? 8 : spec.dtype === 'bool' ? 1 : 4;
    if (spec.dtype === 'float32' || spec.dtype === 'complex64') {
      const values = new Float32Array(data.slice(offset, offset + size * bytes));
      for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return false;
    }
    offset += size * bytes;
  }
  return true;
}

/** Saves `model` into `dir` and returns whether its weights are finite. */
async function writeModel(model: tfl.LayersModel, dir: string): Promise<boolean> {
  let finite = true;
  const target = fileSystem(dir);
  await model.save({
    save: async (artifacts) => {
      const data = artifacts.weightData ? tf.io.CompositeArrayBuffer.join(artifacts.weightData) : new ArrayBuffer(0);
      finite = allFinite(artifacts.weightSpecs ?? [], data);
      return target.save!(artifacts);
    },
  });
  return finite;
}

/** Writes `optimizer.json` + `optimizer.bin`; returns whether every slot is finite. */
async function writeOptimizers(dir: string, optimizers: GroupSnapshot[]): Promise<boolean> {
  const named: NamedTensor[] = [];
  const groups: OptimizerFileEntry[] = optimizers.map(({ group, snapshot }, g) => {
    snapshot.weights.forEach((w, i) => named.push({ name: `${g}/${i}`, tensor: w.tensor }));
    return {
      group,
      className: snapshot.className,
      scalars: snapshot.scalars,
      names: snapshot.weights.map((w) => w.name),
    };
  });
  const { data, specs } = await tf.io.encodeWeights(named);
  await writeFile(join(dir, CHECKPOINT_FILES.optimizerData), new Uint8Array(data));
  const file: OptimizerFile = { groups, specs };
  await writeFile(join(dir, CHECKPOINT_FILES.optimizerSpecs), JSON.stringify(file));
  const scalarsFinite = optimizers.every(({ snapshot }) => Object.values(snapshot.scalars).every(Number.isFinite));
  return scalarsFinite && allFinite(specs, data);
}

/**
 * Writes a complete checkpoint into `dir`: model, optimizer snapshots (by group name, in group order),
 * `options.extra` files and the trainer state (with `finite` set from the weights and slots written).
 * Everything goes into `<dir>.tmp-<id>/` first, which is then renamed to `dir` (an existing `dir` is
 * replaced), so a process killed at any moment leaves the old checkpoint or the new one, complete.
 * Missing parent folders are made one level at a time (see `checkCheckpointRoot`). A `dir` that is not a
 * non-empty string is a `PhalanxConfigError`; a folder that cannot be made and a file-system failure while
 * writing (a read-only file system, a full disk) are a `PhalanxFileError` naming `dir`.
 *
 * @example
 * const input = tfl.input({ shape: [4] });
 * const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 2 }).apply(input) as tfl.SymbolicTensor });
 * const optimizer = tf.train.adam(1e-3);
 * const snapshot = await snapshotOptimizer(optimizer);
 * const state: TrainerState = {
 *   version: 1, step: 100, batchesSeen: 100, samplesSeen: 800, learningRates: { all: 1e-3 }, temperature: null,
 *   selectorNoiseCalls: {}, best: null, lastMetrics: null, savedAt: new Date().toISOString(),
 * };
 * const summary = await writeCheckpoint('runs/a/step-00000100', model, [{ group: 'all', snapshot }], state);
 * summary.finite; // false if a weight or an optimizer slot holds NaN or ±Infinity
 */
export async function writeCheckpoint(
  dir: string,
  model: tfl.LayersModel,
  optimizers: GroupSnapshot[],
  state: TrainerState,
  options: WriteCheckpointOptions = {},
): Promise<CheckpointSummary> {
  checkPath('writeCheckpoint', 'dir', dir, 'a folder path');
  // What the reader would refuse is refused here, before a step's work becomes an unreadable checkpoint.
  parseTrainerState(JSON.stringify({ ...state, finite: true }), join(dir, CHECKPOINT_FILES.state));
  const staged = `${dir}.tmp-${uniqueSuffix()}`;
  try {
    makeFolder(staged, dir, 'checkpoint folder');
    const modelFinite = await writeModel(model, staged);
    const optimizersFinite = await writeOptimizers(staged, optimizers);
    await options.extra?.(staged);
    const finite = modelFinite && optimizersFinite;
    await writeFile(join(staged, CHECKPOINT_FILES.state), `${JSON.stringify({ ...state, finite }, null, 2)}\n`);
    await replaceFolder(staged, dir);
    return { dir, finite };
  } catch (error) {
    await rm(staged, { recursive: true, force: true }).catch(() => undefined); // the first error is the news
    // A system call's failure (EROFS, ENOSPC, …) as a named error; a Phalanx error (a file in the way) as it is.
    if (typeof (error as { syscall?: unknown } | null)?.syscall !== 'string') throw error;
    throw new PhalanxFileError(dir, 'checkpoint', `cannot be written: ${fileSystemReason(error)}`);
  }
}

/**
 * Reads `trainer-state.json` of a checkpoint folder, validated against the {@link TrainerState} schema
 * (`PhalanxFileError` naming the field otherwise). A `dir` that is not a non-empty string is a
 * `PhalanxConfigError`.
 *
 * @example
 * const { step, batchesSeen } = await readTrainerState('runs/a/step-00000100');
 */
export async function readTrainerState(dir: string): Promise<TrainerState> {
  const file = join(checkPath('readTrainerState', 'dir', dir, 'a folder path'), CHECKPOINT_FILES.state);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new PhalanxFileError(file, 'file', `cannot be read: ${(error as Error).message}`);
  }
  return parseTrainerState(text, file);
}

function checkOptimizerFile(json: unknown, file: string): OptimizerFile {
  const fail = (field: string, problem: string) => new PhalanxFileError(file, field, problem);
  const f = json as OptimizerFile;
  if (!f || !Array.isArray(f.groups) || !Array.isArray(f.specs))
    throw fail('content', 'must have lists `groups` and `specs`');
  f.specs.forEach((s, i) => {
    if (
      !s ||
      typeof s.name !== 'string' ||
      !Array.isArray(s.shape) ||
      !s.shape.every((d) => Number.isSafeInteger(d) && d >= 0)
    )
      throw fail(`specs[${i}]`, 'must have a name and a shape of integers ≥ 0');
    if (s.dtype !== 'float32' && s.dtype !== 'int32')
      throw fail(`specs[${i}].dtype`, `must be float32 or int32, but is ${s.dtype}`);
  });
  const names = new Set(f.specs.map((s) => s.name));
  if (names.size !== f.specs.length) throw fail('specs', 'must name every tensor once');
  const groups = new Set<string>();
  let referenced = 0;
  f.groups.forEach((g, i) => {
    if (!g || typeof g.group !== 'string' || typeof g.className !== 'string' || !Array.isArray(g.names))
      throw fail(`groups[${i}]`, 'must have `group`, `className` and `names`');
    if (groups.has(g.group)) throw fail(`groups[${i}].group`, `repeats the group '${g.group}'`);
    groups.add(g.group);
    if (!g.names.every((n) => typeof n === 'string')) throw fail(`groups[${i}].names`, 'must be strings');
    referenced += g.names.length;
    if (
      g.scalars === null ||
      typeof g.scalars !== 'object' ||
      !Object.values(g.scalars).every((v) => typeof v === 'number')
    )
      throw fail(`groups[${i}].scalars`, 'must map names to numbers');
    g.names.forEach((_, k) => {
      if (!names.has(`${i}/${k}`)) throw fail(`groups[${i}].names[${k}]`, `has no tensor '${i}/${k}' in specs`);
    });
  });
  // Every spec is some group's tensor (else decoding would make a tensor nobody owns).
  if (referenced !== f.specs.length) throw fail('specs', 'must hold exactly the tensors the groups name');
  return f;
}

/**
 * Reads the optimizer snapshots of a checkpoint, by group name, after checking the file's structure and
 * that `optimizer.bin` holds exactly the bytes its specs describe. The caller owns the tensors. A `dir` that
 * is not a non-empty string is a `PhalanxConfigError`.
 *
 * @example
 * const snapshots = await readOptimizerSnapshots('runs/a/step-00000100');
 * snapshots.get('all')?.className; // 'Adam'
 */
export async function readOptimizerSnapshots(dir: string): Promise<Map<string, OptimizerSnapshot>> {
  const file = join(checkPath('readOptimizerSnapshots', 'dir', dir, 'a folder path'), CHECKPOINT_FILES.optimizerSpecs);
  const dataFile = join(dir, CHECKPOINT_FILES.optimizerData);
  let text: string;
  let bytes: Uint8Array;
  try {
    [text, bytes] = await Promise.all([readFile(file, 'utf8'), readFile(dataFile)]);
  } catch (error) {
    throw new PhalanxFileError(dir, 'optimizer state', `cannot be read: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new PhalanxFileError(file, 'content', `is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = checkOptimizerFile(json, file);
  const needed = parsed.specs.reduce((n, s) => n + 4 * s.shape.reduce((a, b) => a * b, 1), 0);
  if (needed !== bytes.byteLength) {
    throw new PhalanxFileError(
      dataFile,
      'byte length',
      `must be ${needed} as optimizer.json describes, but is ${bytes.byteLength}`,
    );
  }
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const tensors = tf.io.decodeWeights(buffer, parsed.specs);
  const result = new Map<string, OptimizerSnapshot>();
  parsed.groups.forEach((entry, g) => {
    result.set(entry.group, {
      className: entry.className,
      scalars: entry.scalars,
      weights: entry.names.map((name, i) => ({ name, tensor: tensors[`${g}/${i}`] })),
    });
  });
  const used = new Set(parsed.groups.flatMap((e, g) => e.names.map((_, i) => `${g}/${i}`)));
  tf.dispose(Object.entries(tensors).flatMap(([k, t]) => (used.has(k) ? [] : [t])));
  return result;
}

/**
 * Checks that a checkpoint folder is intact without touching any model: `trainer-state.json` follows the
 * schema, `model.json` and `weights.bin` load (paths inside the folder, byte length as the manifest
 * says), the optimizer files agree, and so does `ema/` when the state names one. Returns the state;
 * throws `PhalanxFileError` naming what is damaged, and `PhalanxConfigError` for a `dir` that is not a
 * non-empty string.
 *
 * @example
 * const state = await checkCheckpoint('runs/a/step-00000100');
 */
export async function checkCheckpoint(dir: string): Promise<TrainerState> {
  const state = await readTrainerState(checkPath('checkCheckpoint', 'dir', dir, 'a folder path'));
  await fileSystem(dir).load!();
  tf.dispose([...(await readOptimizerSnapshots(dir)).values()].flatMap((s) => s.weights.map((w) => w.tensor)));
  if (state.ema) await fileSystem(join(dir, CHECKPOINT_FILES.ema)).load!();
  return state;
}
