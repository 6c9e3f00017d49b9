/**
 * Checkpoints on disk: the model in the standard TensorFlow.js layout (`model.json` + `weights.bin`,
 * loadable with `tf.loadLayersModel`), the optimizers' state (`optimizer.json` + `optimizer.bin`, the
 * tfjs weight encoding) and `trainer-state.json` (step, data position, schedules, selector noise
 * streams, best metric). `trainer-state.json` is written last, through a rename: a folder without it
 * is an interrupted save and is ignored.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { fileSystem } from '@phalanx/layers';
import type { NamedTensor, OptimizerSnapshot } from './optimizer-state';

/** File names inside a checkpoint folder. */
export const CHECKPOINT_FILES = {
  model: 'model.json',
  weights: 'weights.bin',
  optimizerSpecs: 'optimizer.json',
  optimizerData: 'optimizer.bin',
  state: 'trainer-state.json',
} as const;

/** Best value of the monitored evaluation metric so far. */
export interface BestMetric {
  /** Metric name (a key of what `evaluate` returns). */
  name: string;
  /** `'min'` (lower is better, e.g. EPE) or `'max'` (e.g. AUC). */
  mode: 'min' | 'max';
  /** Best value seen, `null` before the first evaluation. */
  value: number | null;
  /** Step of the best value, `null` before the first evaluation. */
  step: number | null;
}

/** Contents of `trainer-state.json`. */
export interface TrainerState {
  /** Format version (1). */
  version: 1;
  /** Optimizer steps completed. */
  step: number;
  /** Batches taken from the data source so far (the data position to resume from). */
  batchesSeen: number;
  /** Samples seen so far. */
  samplesSeen: number;
  /** Learning rate of each parameter group at the last step, by group name. */
  learningRates: Record<string, number>;
  /** Concrete temperature at the last step (`null` without annealing). */
  temperature: number | null;
  /** Position in each seeded `ConcreteJointSelector` noise stream (calls so far), by layer name. */
  selectorNoiseCalls: Record<string, number>;
  /** The monitored metric, when `bestMetric` was given. */
  best: BestMetric | null;
  /** The last evaluation's metrics. */
  lastMetrics: Record<string, number> | null;
  /** Wall-clock time of the save (ISO 8601). */
  savedAt: string;
}

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

/** The folder name of the checkpoint at `step`: `step-00001200`. */
export function checkpointName(step: number): string {
  return `step-${String(step).padStart(8, '0')}`;
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}

/**
 * Writes a complete checkpoint into `dir` (created if missing): model, optimizer snapshots (by group
 * name, in group order) and trainer state.
 */
export async function writeCheckpoint(
  dir: string,
  model: tfl.LayersModel,
  optimizers: { group: string; snapshot: OptimizerSnapshot }[],
  state: TrainerState,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  await rm(join(dir, CHECKPOINT_FILES.state), { force: true });
  await model.save(fileSystem(dir));
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
  await writeAtomic(join(dir, CHECKPOINT_FILES.optimizerSpecs), JSON.stringify(file));
  await writeAtomic(join(dir, CHECKPOINT_FILES.state), `${JSON.stringify(state, null, 2)}\n`);
}

/** Reads `trainer-state.json` of a checkpoint folder. */
export async function readTrainerState(dir: string): Promise<TrainerState> {
  return JSON.parse(await readFile(join(dir, CHECKPOINT_FILES.state), 'utf8')) as TrainerState;
}

/**
 * Reads the optimizer snapshots of a checkpoint, by group name. The caller owns the tensors.
 */
export async function readOptimizerSnapshots(dir: string): Promise<Map<string, OptimizerSnapshot>> {
  const file = JSON.parse(await readFile(join(dir, CHECKPOINT_FILES.optimizerSpecs), 'utf8')) as OptimizerFile;
  const bytes = await readFile(join(dir, CHECKPOINT_FILES.optimizerData));
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const tensors = tf.io.decodeWeights(buffer, file.specs);
  const result = new Map<string, OptimizerSnapshot>();
  file.groups.forEach((entry, g) => {
    result.set(entry.group, {
      className: entry.className,
      scalars: entry.scalars,
      weights: entry.names.map((name, i) => ({ name, tensor: tensors[`${g}/${i}`] })),
    });
  });
  return result;
}

/**
 * Loads the weights of a checkpoint (`model.json` + `weights.bin`) into an existing model: by weight
 * name (`originalName`, as `model.save` writes them), or — when the names differ, e.g. auto-named
 * layers of a second model instance — by position, provided the count and every shape agree.
 */
export async function loadModelWeights(model: tfl.LayersModel, dir: string): Promise<void> {
  const artifacts = await fileSystem(dir).load!();
  if (!artifacts.weightSpecs || !artifacts.weightData) {
    throw new Error(`loadModelWeights: ${dir} holds no weights.`);
  }
  const data = tf.io.CompositeArrayBuffer.join(artifacts.weightData);
  const saved = tf.io.decodeWeights(data, artifacts.weightSpecs);
  const weights = model.weights;
  const byName = weights.every((w) => saved[w.originalName] !== undefined);
  const specs = artifacts.weightSpecs;
  if (!byName && specs.length !== weights.length) {
    tf.dispose(Object.values(saved));
    throw new Error(
      `loadModelWeights: ${dir} holds ${specs.length} weights with other names than the model's ${weights.length}.`,
    );
  }
  weights.forEach((w, i) => {
    const t = byName ? saved[w.originalName] : saved[specs[i].name];
    if (!tf.util.arraysEqual(t.shape, w.shape as number[])) {
      tf.dispose(Object.values(saved));
      throw new Error(
        `loadModelWeights: weight ${w.originalName} has shape [${w.shape}] but the checkpoint holds [${t.shape}].`,
      );
    }
    w.write(t);
  });
  tf.dispose(Object.values(saved));
}

/**
 * The complete checkpoints under `root` (folders `step-N` holding `trainer-state.json`), newest last.
 */
export async function listCheckpoints(root: string): Promise<{ step: number; dir: string }[]> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch {
    return [];
  }
  const found: { step: number; dir: string }[] = [];
  for (const name of names) {
    const m = /^step-(\d+)$/.exec(name);
    if (!m) continue;
    const dir = join(root, name);
    try {
      await readFile(join(dir, CHECKPOINT_FILES.state));
      found.push({ step: Number(m[1]), dir });
    } catch {
      // incomplete save: ignored
    }
  }
  return found.sort((a, b) => a.step - b.step);
}

/** The newest complete checkpoint folder under `root`, or `null`. */
export async function latestCheckpoint(root: string): Promise<string | null> {
  const all = await listCheckpoints(root);
  return all.length ? all[all.length - 1].dir : null;
}
