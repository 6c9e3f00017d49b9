/**
 * `Trainer` — a training loop for custom objectives on a `tf.LayersModel`: parameter groups with their
 * own optimizers and learning-rate schedules, Concrete-temperature annealing, freezing by layer name,
 * gradient clipping, progress display, JSON-lines log, checkpoints with exact resume, periodic
 * evaluation and a clean stop on Ctrl-C.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import {
  annealTemperature,
  checkInteger,
  checkPositive,
  findConcreteJointSelectors,
  PhalanxConfigError,
  type TemperatureSchedule,
} from '@phalanx/layers';
import {
  checkpointName,
  listCheckpoints,
  loadModelWeights,
  readOptimizerSnapshots,
  readTrainerState,
  writeCheckpoint,
  type BestMetric,
  type TrainerState,
} from './checkpoint';
import { clipByGlobalNorm, globalNorm } from './clipping';
import { setFrozen, type LayerPattern } from './freeze';
import { JsonlLog } from './jsonl-log';
import { restoreOptimizer, setLearningRate, snapshotOptimizer } from './optimizer-state';
import { ProgressDisplay, type ProgressDisplayOptions } from './progress';
import { toSchedule, type LrSchedule } from './schedules';

const NAME = 'Trainer';

/** What a loss function returns: the scalar to minimise, or it plus named parts for the logs. */
export type LossResult = tf.Scalar | { total: tf.Scalar; parts?: Record<string, tf.Scalar> };

/**
 * The objective: model outputs (always a list, in the model's output order) and the batch → loss.
 * Runs inside the gradient tape; create tensors freely, they are disposed.
 */
export type LossFn<B> = (outputs: tf.Tensor[], batch: B, context: { step: number }) => LossResult;

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
   * `warmupLr`). Set on the optimizer before every step. Default: the optimizer's own rate, unchanged.
   */
  lr?: number | LrSchedule;
  /** The group's optimizer. Default: `optimizerFactory(lr(0))`. */
  optimizer?: tf.Optimizer;
  /** Creates the optimizer from the initial learning rate when `optimizer` is not given. Default `tf.train.adam`. */
  optimizerFactory?: (learningRate: number) => tf.Optimizer;
  /** Clip this group's gradients to this global norm (> 0) before the global clipping. Default: none. */
  clipNorm?: number;
}

/** Hooks called by {@link Trainer.fit}; every one is optional and may be async. */
export interface TrainerCallbacks {
  /** Before the first step of `fit` (after a resume). */
  onTrainBegin?: (info: { step: number; totalSteps: number }) => void | Promise<void>;
  /** After every step. */
  onStepEnd?: (info: StepResult) => void | Promise<void>;
  /** After every evaluation. */
  onEvaluate?: (info: { step: number; metrics: Record<string, number> }) => void | Promise<void>;
  /** After every checkpoint. */
  onCheckpoint?: (info: { step: number; dir: string }) => void | Promise<void>;
  /** When `fit` ends (also after an interrupt). */
  onTrainEnd?: (info: FitResult) => void | Promise<void>;
}

/** Configuration of a {@link Trainer}. */
export interface TrainerConfig<B> {
  /** The model to train. Required. Checkpoints save this model; `evaluate` sees it. */
  model: tfl.LayersModel;
  /**
   * The model applied in a training step, when it should differ from `model`: a model built from the
   * same layers with extra outputs, e.g. auxiliary heatmaps for an intermediate loss
   * (`tfl.model({inputs: model.inputs, outputs: [...model.outputs, model.getLayer('h').output]})`).
   * The loss receives its outputs. Every trainable weight must be one of `model`'s (checked), so the
   * parameter groups, freezing, checkpoints and resume are those of `model`, which stays the saved
   * (inference) network. Default: `model`.
   */
  trainingModel?: tfl.LayersModel;
  /** The objective. Required. */
  loss: LossFn<B>;
  /**
   * The model input(s) of a batch. Default: `batch.images`, else `batch.xs`, else the batch itself if
   * it is a tensor.
   */
  inputs?: (batch: B) => tf.Tensor | tf.Tensor[];
  /** Samples in a batch (for samples/s). Default: the first dimension of the first input. */
  batchSize?: (batch: B) => number;
  /** Frees a batch after its step. Default: `tf.dispose` of every tensor in it. */
  disposeBatch?: (batch: B) => void;
  /** Parameter groups. Default: one group `'all'` with Adam at 1e-3. */
  parameterGroups?: ParameterGroupConfig[];
  /**
   * Temperature schedule of every `ConcreteJointSelector` in the model (`stepTemperature()` for the
   * paper's 5 → −0.1 per 1000 steps): τ = schedule(step) is set before each step with
   * `annealTemperature`. Default: none (τ left as is).
   */
  temperature?: TemperatureSchedule;
  /** Layers frozen from the start (see {@link Trainer.freeze}). Default: none. */
  freeze?: LayerPattern[];
  /** Clip all gradients together to this global norm (> 0). Default: none. */
  clipNorm?: number;
  /** Hooks. */
  callbacks?: TrainerCallbacks[];
  /** Progress display options, or `false` for none. Default: a display on `process.stdout`. */
  progress?: ProgressDisplayOptions | false;
}

/** A data source: an (async) iterable of batches, or a function that opens one at a given step. */
export type DataSource<B> =
  | AsyncIterable<B>
  | Iterable<B>
  | ((position: { step: number; batchesSeen: number }) => AsyncIterable<B> | Iterable<B>);

/** Options of {@link Trainer.fit}. */
export interface FitOptions<B> {
  /**
   * Batches. A function is called with the position to start from (`step`, `batchesSeen`) — at the
   * start, after a resume (so it can start at the right sample) and whenever the iterable it returned
   * ends (a new epoch). A plain iterable is consumed once; on resume its first `batchesSeen` batches
   * are skipped. Required.
   */
  data: DataSource<B>;
  /** Total number of optimizer steps of the run, counting those before a resume (integer ≥ 1). Required. */
  steps: number;
  /** Evaluate every this many steps (integer ≥ 1), and at the end. Default: only at the end. */
  evaluateEvery?: number;
  /** Computes evaluation metrics (e.g. with {@link poseEvaluation}); called with the model in inference mode. */
  evaluate?: (context: { step: number }) => Promise<Record<string, number>>;
  /** Track the best value of this metric and keep a `best` checkpoint (with `checkpointDir`). */
  bestMetric?: { name: string; mode: 'min' | 'max' };
  /** Folder of checkpoints (`step-N/` subfolders). Default: no checkpoints. */
  checkpointDir?: string;
  /** Write a checkpoint every this many steps (integer ≥ 1), and at the end. Default: only at the end. */
  checkpointEvery?: number;
  /** Number of `step-N` checkpoints kept (integer ≥ 1; older ones are deleted). Default 2. */
  keepCheckpoints?: number;
  /**
   * Continue from the newest checkpoint in `checkpointDir` (`true`) or from the given checkpoint
   * folder. Nothing happens with `true` when there is no checkpoint yet. Default `false`.
   */
  resume?: boolean | string;
  /** JSON-lines log file (appended to). Default: `<checkpointDir>/log.jsonl` when there is a checkpoint dir. */
  logFile?: string | null;
  /** On SIGINT (Ctrl-C): finish the step, write a checkpoint and return `{interrupted: true}`. Default `true`. */
  handleSigint?: boolean;
}

/** Result of one training step. */
export interface StepResult {
  /** Steps completed (this one included). */
  step: number;
  /** Loss of the step. */
  loss: number;
  /** Named loss parts, if the loss function returned them. */
  parts?: Record<string, number>;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Learning rate used by each group. */
  learningRates: Record<string, number>;
  /** Temperature used (with annealing). */
  temperature?: number;
  /** Samples in the batch. */
  batchSize: number;
  /** Wall time of the step, ms. */
  ms: number;
}

/** Result of {@link Trainer.fit}. */
export interface FitResult {
  /** Steps completed in total. */
  step: number;
  /** True when stopped by SIGINT or {@link Trainer.stop} before `steps`. */
  interrupted: boolean;
  /** Loss of each step run by this call. */
  losses: number[];
  /** Metrics of the last evaluation, if any. */
  metrics: Record<string, number> | null;
  /** The best metric, when tracked. */
  best: BestMetric | null;
  /** The last checkpoint written, if any. */
  checkpoint: string | null;
}

interface Group {
  name: string;
  variables: tfl.LayerVariable[];
  optimizer: tf.Optimizer;
  schedule: LrSchedule | null;
  clipNorm: number | null;
  lastLr: number;
}

function defaultInputs(batch: unknown): tf.Tensor | tf.Tensor[] {
  if (batch instanceof tf.Tensor) return batch;
  if (Array.isArray(batch) && batch.every((t) => t instanceof tf.Tensor)) return batch as tf.Tensor[];
  const b = batch as { images?: tf.Tensor; xs?: tf.Tensor | tf.Tensor[] };
  if (b && b.images instanceof tf.Tensor) return b.images;
  if (b && b.xs !== undefined) return b.xs;
  throw new PhalanxConfigError(NAME, 'inputs', 'given when batches have no `images` or `xs` field', batch);
}

function isTensorMap(v: unknown): v is Record<string, tf.Scalar> {
  return v !== null && typeof v === 'object' && Object.values(v).every((t) => t instanceof tf.Tensor);
}

/**
 * A training loop for custom objectives.
 *
 * Each step: set every group's learning rate (`lr(step)`) and the selectors' temperature
 * (`temperature(step)`); one `tf.variableGrads` over all trainable variables of all groups (frozen
 * ones excluded); clip per group and/or globally; each group's optimizer `applyGradients` on its own
 * variables — all inside `tf.tidy`, with one host read (the loss) per step.
 *
 * `fit` adds the data loop, progress display, JSON-lines log, periodic evaluation, checkpoints
 * (`model.json` + `weights.bin`, optimizer state, `trainer-state.json`) and resume: an interrupted run
 * resumed from its checkpoint reproduces the uninterrupted one (same data position, schedules, Adam
 * state and `ConcreteJointSelector` noise stream; the data must be deterministic too).
 *
 * @example
 * import * as tf from '@tensorflow/tfjs-core';
 * import { batches, disposeBatch, type HandBatch } from '@phalanx/data';
 * import { stepTemperature } from '@phalanx/layers';
 * import { createLearnableGroups } from '@phalanx/learnable-groups';
 * import { xyzL1Loss } from '@phalanx/losses';
 * import { xyzToUvd } from '@phalanx/pose';
 * import { Trainer } from '@phalanx/train';
 * const model = createLearnableGroups({ inputSize: 128 });
 * const targetOf = (b: HandBatch) => tf.concat([b.uv, tf.slice(xyzToUvd(b.xyz, b.K).uvd, [0, 0, 2], [-1, -1, 1])], 2);
 * const trainer = new Trainer<HandBatch>({
 *   model,
 *   inputs: (b) => b.images,
 *   disposeBatch,
 *   loss: ([uv, depth], batch) => xyzL1Loss(targetOf(batch), tf.concat([uv, tf.expandDims(depth, 2)], 2)),
 *   parameterGroups: [
 *     { name: 'selector', match: /^meta_S\//, lr: 1e-1 },
 *     { name: 'fusion', match: /^nddr_layer/, lr: 1e-2 },
 *     { name: 'rest', lr: 1e-4 },
 *   ],
 *   temperature: stepTemperature(),
 * });
 * await trainer.fit({ data: () => batches({ seed: 1, size: 128, batchSize: 16 }), steps: 1000,
 *   checkpointDir: 'runs/lg', checkpointEvery: 200, resume: true });
 */
export class Trainer<B = unknown> {
  /** The model being trained. */
  readonly model: tfl.LayersModel;
  /** The model applied in a training step (`config.trainingModel`, else {@link Trainer.model}). */
  readonly trainingModel: tfl.LayersModel;
  private readonly loss: LossFn<B>;
  private readonly inputs: (batch: B) => tf.Tensor | tf.Tensor[];
  private readonly batchSizeOf: (batch: B) => number;
  private readonly disposeBatch: (batch: B) => void;
  private readonly groups: Group[];
  private readonly temperature: TemperatureSchedule | null;
  private readonly clipNorm: number | null;
  private readonly callbacks: TrainerCallbacks[];
  private readonly progressOptions: ProgressDisplayOptions | false;
  private stepCount = 0;
  private batchesSeen = 0;
  private samplesSeen = 0;
  private lastTemperature: number | null = null;
  private best: BestMetric | null = null;
  private lastMetrics: Record<string, number> | null = null;
  private stopRequested = false;
  private progress: ProgressDisplay | null = null;

  constructor(config: TrainerConfig<B>) {
    if (config === null || typeof config !== 'object')
      throw new PhalanxConfigError(NAME, 'config', 'an object', config);
    if (!config.model || !Array.isArray((config.model as { weights?: unknown }).weights)) {
      throw new PhalanxConfigError(NAME, 'model', 'a tf.LayersModel', config.model);
    }
    if (typeof config.loss !== 'function') throw new PhalanxConfigError(NAME, 'loss', 'a function', config.loss);
    this.model = config.model;
    this.trainingModel = config.trainingModel ?? config.model;
    if (this.trainingModel !== this.model) {
      const mine = new Set(this.model.weights);
      const weights = (this.trainingModel as { weights?: unknown }).weights;
      const foreign = Array.isArray(weights) ? (weights as tfl.LayerVariable[]).filter((w) => !mine.has(w)) : [];
      if (!Array.isArray(weights) || foreign.length > 0) {
        throw new PhalanxConfigError(
          NAME,
          'trainingModel',
          "a tf.LayersModel built from the model's own layers",
          foreign.length > 0 ? `a model with other weights (${foreign[0].originalName})` : config.trainingModel,
        );
      }
    }
    this.loss = config.loss;
    this.inputs = config.inputs ?? (defaultInputs as (b: B) => tf.Tensor | tf.Tensor[]);
    this.batchSizeOf =
      config.batchSize ??
      ((b: B) =>
        // `inputs` may build tensors (e.g. a normalisation): only their shape is wanted here.
        tf.tidy(() => {
          const x = this.inputs(b);
          return (Array.isArray(x) ? x[0] : x).shape[0] ?? 0;
        }));
    this.disposeBatch = config.disposeBatch ?? ((b: B) => tf.dispose(b as unknown as tf.TensorContainer));
    this.temperature = config.temperature ?? null;
    if (this.temperature !== null && typeof this.temperature !== 'function') {
      throw new PhalanxConfigError(NAME, 'temperature', 'a function step → τ', this.temperature);
    }
    this.clipNorm = config.clipNorm === undefined ? null : checkPositive(NAME, 'clipNorm', config.clipNorm);
    this.callbacks = config.callbacks ?? [];
    this.progressOptions = config.progress ?? {};
    this.groups = this.buildGroups(config.parameterGroups ?? [{ name: 'all', lr: 1e-3 }]);
    for (const pattern of config.freeze ?? []) this.freeze(pattern);
  }

  private buildGroups(configs: ParameterGroupConfig[]): Group[] {
    if (!Array.isArray(configs) || configs.length === 0) {
      throw new PhalanxConfigError(NAME, 'parameterGroups', 'a non-empty list', configs);
    }
    const names = new Set<string>();
    const taken = new Set<tfl.LayerVariable>();
    const variables = this.model.trainableWeights;
    const groups = configs.map((c, i): Group => {
      const arg = `parameterGroups[${i}]`;
      if (!c || typeof c.name !== 'string' || c.name === '' || names.has(c.name)) {
        throw new PhalanxConfigError(NAME, `${arg}.name`, 'a unique non-empty string', c?.name);
      }
      names.add(c.name);
      const match = c.match;
      let test: (v: tfl.LayerVariable) => boolean;
      if (match === undefined) test = () => true;
      else if (match instanceof RegExp) test = (v) => match.test(v.originalName);
      else if (typeof match === 'function') test = match;
      else throw new PhalanxConfigError(NAME, `${arg}.match`, 'a RegExp or a predicate', match);
      const mine = variables.filter((v) => !taken.has(v) && test(v));
      mine.forEach((v) => taken.add(v));
      const schedule = c.lr === undefined ? null : toSchedule(NAME, `${arg}.lr`, c.lr);
      let optimizer = c.optimizer;
      if (optimizer === undefined) {
        const factory = c.optimizerFactory ?? ((lr: number) => tf.train.adam(lr));
        optimizer = factory(schedule ? schedule(0) : 1e-3);
      }
      if (!(optimizer instanceof tf.Optimizer)) {
        throw new PhalanxConfigError(NAME, `${arg}.optimizer`, 'a tf.Optimizer', optimizer);
      }
      const clipNorm = c.clipNorm === undefined ? null : checkPositive(NAME, `${arg}.clipNorm`, c.clipNorm);
      return { name: c.name, variables: mine, optimizer, schedule, clipNorm, lastLr: Number.NaN };
    });
    const left = variables.filter((v) => !taken.has(v));
    if (left.length > 0) {
      throw new PhalanxConfigError(
        NAME,
        'parameterGroups',
        'groups that cover every trainable variable (add a last group without `match`)',
        `${left.length} unmatched, e.g. ${left
          .slice(0, 3)
          .map((v) => v.originalName)
          .join(', ')}`,
      );
    }
    return groups;
  }

  /** Steps completed so far (including those before a resume). */
  get step(): number {
    return this.stepCount;
  }

  /** Each group's name and the names of its variables (for checking `match` patterns). */
  describeGroups(): { name: string; variables: string[]; frozen: string[] }[] {
    return this.groups.map((g) => ({
      name: g.name,
      variables: g.variables.map((v) => v.originalName),
      frozen: g.variables.filter((v) => !v.trainable).map((v) => v.originalName),
    }));
  }

  /** The optimizer of a group. */
  optimizerOf(group: string): tf.Optimizer {
    const g = this.groups.find((x) => x.name === group);
    if (!g)
      throw new PhalanxConfigError(NAME, 'group', `one of ${this.groups.map((x) => `'${x.name}'`).join(', ')}`, group);
    return g.optimizer;
  }

  /**
   * Freezes the layers whose name matches `pattern` (a RegExp, an exact name or a predicate): their
   * weights get no gradient and no update (their groups skip them), and frozen batch-norm layers keep
   * their moving statistics. Returns the names of the layers frozen.
   */
  freeze(pattern: LayerPattern): string[] {
    return setFrozen(this.model, pattern, true);
  }

  /** Undoes {@link Trainer.freeze} for the matching layers. Returns their names. */
  unfreeze(pattern: LayerPattern): string[] {
    return setFrozen(this.model, pattern, false);
  }

  /** Asks a running `fit` to stop after the current step (it then checkpoints and returns). */
  stop(): void {
    this.stopRequested = true;
  }

  /**
   * One optimizer step on `batch` (the batch is not disposed). Increments {@link Trainer.step}.
   */
  async trainStep(batch: B): Promise<StepResult> {
    const t0 = performance.now();
    const step = this.stepCount;
    const learningRates: Record<string, number> = {};
    for (const g of this.groups) {
      if (g.schedule) {
        const lr = g.schedule(step);
        if (!Number.isFinite(lr) || lr < 0) {
          throw new PhalanxConfigError(NAME, `lr of group '${g.name}' at step ${step}`, 'a finite number ≥ 0', lr);
        }
        setLearningRate(g.optimizer, lr);
        g.lastLr = lr;
      } else {
        g.lastLr = (g.optimizer as unknown as { learningRate?: number }).learningRate ?? Number.NaN;
      }
      learningRates[g.name] = g.lastLr;
    }
    let temperature: number | undefined;
    if (this.temperature && findConcreteJointSelectors(this.model).length > 0) {
      temperature = annealTemperature(this.model, this.temperature, step);
      this.lastTemperature = temperature;
    }
    const active = this.groups.flatMap((g) => g.variables.filter((v) => v.trainable));
    if (active.length === 0) throw new PhalanxConfigError(NAME, 'model', 'at least one unfrozen trainable variable', 0);
    const varList = active.map((v) => v.read() as tf.Variable);
    let kept: Record<string, tf.Scalar> | null = null;

    const { lossValue, norm } = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => {
        const outputs = this.trainingModel.apply(this.inputs(batch), { training: true }) as tf.Tensor | tf.Tensor[];
        const result = this.loss(Array.isArray(outputs) ? outputs : [outputs], batch, { step });
        if (result instanceof tf.Tensor) return result;
        if (!result || !(result.total instanceof tf.Tensor)) {
          throw new PhalanxConfigError(NAME, 'loss', 'a scalar tensor or {total, parts}', result);
        }
        if (result.parts !== undefined) {
          if (!isTensorMap(result.parts))
            throw new PhalanxConfigError(NAME, 'loss parts', 'scalar tensors', result.parts);
          kept = {};
          for (const [k, t] of Object.entries(result.parts)) kept[k] = tf.keep(t);
        }
        return result.total;
      }, varList);
      if (value.rank !== 0) throw new PhalanxConfigError(NAME, 'loss', 'a scalar', value.shape);
      // Per-group clipping, then global clipping.
      for (const g of this.groups) {
        if (g.clipNorm === null) continue;
        const names = g.variables.map((v) => (v.read() as tf.Variable).name).filter((n) => grads[n] !== undefined);
        const { clipped } = clipByGlobalNorm(
          names.map((n) => grads[n]),
          g.clipNorm,
        );
        names.forEach((n, i) => (grads[n] = clipped[i]));
      }
      const all = Object.values(grads);
      const gradNorm = globalNorm(all);
      if (this.clipNorm !== null) {
        const names = Object.keys(grads);
        const { clipped } = clipByGlobalNorm(all, this.clipNorm);
        names.forEach((n, i) => (grads[n] = clipped[i]));
      }
      for (const g of this.groups) {
        // Every variable of the group, in a fixed order (optimizer slots are positional); null = no update.
        const list = g.variables.map((v) => {
          const name = (v.read() as tf.Variable).name;
          return { name, tensor: (v.trainable ? grads[name] : undefined) ?? null };
        });
        if (list.some((x) => x.tensor !== null))
          g.optimizer.applyGradients(list as Parameters<tf.Optimizer['applyGradients']>[0]);
      }
      return { lossValue: value, norm: gradNorm };
    });
    const [lossArr, normArr] = await Promise.all([lossValue.data(), norm.data()]);
    tf.dispose([lossValue, norm]);
    let parts: Record<string, number> | undefined;
    const keptParts = kept as Record<string, tf.Scalar> | null;
    if (keptParts !== null) {
      parts = {};
      for (const [k, t] of Object.entries(keptParts)) {
        parts[k] = (await t.data())[0];
      }
      tf.dispose(Object.values(keptParts));
    }
    this.stepCount += 1;
    const batchSize = this.batchSizeOf(batch);
    this.samplesSeen += batchSize;
    return {
      step: this.stepCount,
      loss: lossArr[0],
      parts,
      gradNorm: normArr[0],
      learningRates,
      temperature,
      batchSize,
      ms: performance.now() - t0,
    };
  }

  /** The state written to `trainer-state.json`. */
  private state(): TrainerState {
    const selectorNoiseCalls: Record<string, number> = {};
    for (const s of findConcreteJointSelectors(this.model)) {
      const calls = (s as unknown as { noiseCalls?: unknown }).noiseCalls;
      if (typeof calls === 'number') selectorNoiseCalls[s.name] = calls;
    }
    return {
      version: 1,
      step: this.stepCount,
      batchesSeen: this.batchesSeen,
      samplesSeen: this.samplesSeen,
      learningRates: Object.fromEntries(this.groups.map((g) => [g.name, g.lastLr])),
      temperature: this.lastTemperature,
      selectorNoiseCalls,
      best: this.best,
      lastMetrics: this.lastMetrics,
      savedAt: new Date().toISOString(),
    };
  }

  /**
   * Writes a checkpoint of the current state into `dir`: `model.json` + `weights.bin` (standard tfjs,
   * `tf.loadLayersModel(fileSystem(dir))` reads it), `optimizer.json` + `optimizer.bin`,
   * `trainer-state.json`.
   */
  async saveCheckpoint(dir: string): Promise<void> {
    const snapshots = [];
    for (const g of this.groups) snapshots.push({ group: g.name, snapshot: await snapshotOptimizer(g.optimizer) });
    try {
      await writeCheckpoint(dir, this.model, snapshots, this.state());
    } finally {
      for (const { snapshot } of snapshots) tf.dispose(snapshot.weights.map((w) => w.tensor));
    }
  }

  /**
   * Restores a checkpoint written by {@link Trainer.saveCheckpoint} into this trainer (same model
   * architecture and groups): weights, optimizer states, step, data position, best metric and the
   * position of each seeded selector's noise stream. Optimizers must not have taken a step yet.
   */
  async restore(dir: string): Promise<TrainerState> {
    const state = await readTrainerState(dir);
    await loadModelWeights(this.model, dir);
    const snapshots = await readOptimizerSnapshots(dir);
    try {
      for (const g of this.groups) {
        const snap = snapshots.get(g.name);
        if (!snap) throw new Error(`Trainer.restore: ${dir} has no optimizer state for group '${g.name}'.`);
        await restoreOptimizer(g.optimizer, snap);
      }
    } finally {
      for (const snap of snapshots.values()) tf.dispose(snap.weights.map((w) => w.tensor));
    }
    for (const s of findConcreteJointSelectors(this.model)) {
      const calls = state.selectorNoiseCalls[s.name];
      if (calls !== undefined) (s as unknown as { noiseCalls: number }).noiseCalls = calls;
    }
    this.stepCount = state.step;
    this.batchesSeen = state.batchesSeen;
    this.samplesSeen = state.samplesSeen;
    this.best = state.best;
    this.lastMetrics = state.lastMetrics;
    this.lastTemperature = state.temperature;
    for (const g of this.groups) g.lastLr = state.learningRates[g.name] ?? Number.NaN;
    return state;
  }

  private async emit<K extends keyof TrainerCallbacks>(
    hook: K,
    info: Parameters<NonNullable<TrainerCallbacks[K]>>[0],
  ): Promise<void> {
    for (const cb of this.callbacks) {
      const fn = cb[hook] as ((i: typeof info) => void | Promise<void>) | undefined;
      if (fn) await fn(info);
    }
  }

  /**
   * Trains until `steps` steps are done in total (or the data ends, or SIGINT / {@link Trainer.stop}),
   * evaluating and checkpointing on the way. See {@link FitOptions}.
   */
  async fit(options: FitOptions<B>): Promise<FitResult> {
    const name = 'Trainer.fit';
    if (options === null || typeof options !== 'object')
      throw new PhalanxConfigError(name, 'options', 'an object', options);
    const total = checkInteger(name, 'steps', options.steps, 1);
    const evaluateEvery =
      options.evaluateEvery === undefined ? null : checkInteger(name, 'evaluateEvery', options.evaluateEvery, 1);
    const checkpointEvery =
      options.checkpointEvery === undefined ? null : checkInteger(name, 'checkpointEvery', options.checkpointEvery, 1);
    const keep = checkInteger(name, 'keepCheckpoints', options.keepCheckpoints ?? 2, 1);
    const root = options.checkpointDir ?? null;
    if (checkpointEvery !== null && root === null) {
      throw new PhalanxConfigError(name, 'checkpointDir', 'given with checkpointEvery', root);
    }
    if (options.bestMetric) {
      const { name: metric, mode } = options.bestMetric;
      if (mode !== 'min' && mode !== 'max')
        throw new PhalanxConfigError(name, 'bestMetric.mode', "'min' or 'max'", mode);
      if (!this.best || this.best.name !== metric) this.best = { name: metric, mode, value: null, step: null };
    }

    let resumedFrom: string | null = null;
    if (options.resume) {
      const dir =
        typeof options.resume === 'string'
          ? options.resume
          : root === null
            ? null
            : ((await listCheckpoints(root)).pop()?.dir ?? null);
      if (options.resume === true && root === null) {
        throw new PhalanxConfigError(name, 'checkpointDir', 'given with resume: true', root);
      }
      if (dir !== null) {
        await this.restore(dir);
        resumedFrom = dir;
      }
    }

    const logPath = options.logFile === undefined ? (root === null ? null : join(root, 'log.jsonl')) : options.logFile;
    const log = logPath ? new JsonlLog(logPath) : null;
    this.progress = this.progressOptions === false ? null : new ProgressDisplay(total, this.progressOptions);
    const say = (text: string) => this.progress?.message(text);
    log?.write({ event: 'start', step: this.stepCount, totalSteps: total, resumedFrom });
    if (resumedFrom) say(`resumed from ${resumedFrom} at step ${this.stepCount}`);

    this.stopRequested = false;
    const onSigint = () => {
      if (this.stopRequested) process.exit(130);
      this.stopRequested = true;
      say('interrupt: finishing the step, then writing a checkpoint (Ctrl-C again to quit at once)');
    };
    const handleSigint = options.handleSigint ?? true;
    if (handleSigint) process.on('SIGINT', onSigint);

    const losses: number[] = [];
    let lastCheckpoint: string | null = null;
    let lastCheckpointStep = -1;
    let lastEvalStep = -1;
    const started = performance.now();

    const checkpoint = async (reason: 'periodic' | 'end' | 'interrupt') => {
      if (root === null || lastCheckpointStep === this.stepCount) return;
      const dir = join(root, checkpointName(this.stepCount));
      await this.saveCheckpoint(dir);
      lastCheckpoint = dir;
      lastCheckpointStep = this.stepCount;
      log?.write({ event: 'checkpoint', step: this.stepCount, dir, reason });
      if (reason !== 'periodic') say(`checkpoint ${dir}`);
      const all = await listCheckpoints(root);
      for (const old of all.slice(0, Math.max(0, all.length - keep)))
        await rm(old.dir, { recursive: true, force: true });
      await this.emit('onCheckpoint', { step: this.stepCount, dir });
    };

    const evaluate = async () => {
      if (!options.evaluate || lastEvalStep === this.stepCount) return;
      lastEvalStep = this.stepCount;
      const t0 = performance.now();
      const metrics = await options.evaluate({ step: this.stepCount });
      const ms = performance.now() - t0;
      this.lastMetrics = metrics;
      log?.write({ event: 'eval', step: this.stepCount, metrics, ms });
      say(
        `eval @ ${this.stepCount}: ${Object.entries(metrics)
          .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(4)}`)
          .join(', ')}`,
      );
      if (this.best) {
        const v = metrics[this.best.name];
        if (typeof v === 'number' && Number.isFinite(v)) {
          const better =
            this.best.value === null || (this.best.mode === 'min' ? v < this.best.value : v > this.best.value);
          if (better) {
            this.best = { ...this.best, value: v, step: this.stepCount };
            if (root !== null) {
              const dir = join(root, 'best');
              await this.saveCheckpoint(dir);
              log?.write({ event: 'checkpoint', step: this.stepCount, dir, reason: 'best' });
            }
          }
        }
      }
      await this.emit('onEvaluate', { step: this.stepCount, metrics });
    };

    const open = (): AsyncIterator<B> | Iterator<B> => {
      const src = options.data;
      const it =
        typeof src === 'function'
          ? src({ step: this.stepCount, batchesSeen: this.batchesSeen })
          : (src as AsyncIterable<B> | Iterable<B>);
      const asAsync = (it as AsyncIterable<B>)[Symbol.asyncIterator];
      return asAsync ? asAsync.call(it) : (it as Iterable<B>)[Symbol.iterator]();
    };

    let iterator = open();
    if (typeof options.data !== 'function') {
      for (let i = 0; i < this.batchesSeen; i++) {
        const r = await iterator.next();
        if (r.done) break;
        this.disposeBatch(r.value);
      }
    }
    await this.emit('onTrainBegin', { step: this.stepCount, totalSteps: total });
    this.progress?.start(this.stepCount);

    let interrupted = false;
    let freshIterator = true;
    try {
      while (this.stepCount < total) {
        // Yield to the event loop once per step: signal handlers (SIGINT) and timers run only on a
        // macrotask turn, and a wasm/cpu step with in-memory data never gives one otherwise.
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (this.stopRequested) {
          interrupted = true;
          break;
        }
        let next = await iterator.next();
        if (next.done) {
          if (typeof options.data !== 'function' || freshIterator) break;
          iterator = open();
          freshIterator = true;
          next = await iterator.next();
          if (next.done) break;
        }
        freshIterator = false;
        const batch = next.value;
        let result: StepResult;
        try {
          result = await this.trainStep(batch);
        } finally {
          this.disposeBatch(batch);
        }
        this.batchesSeen += 1;
        losses.push(result.loss);
        const speed = this.progress?.speed(result.step);
        log?.write({
          event: 'step',
          step: result.step,
          loss: result.loss,
          ...(result.parts ? { parts: result.parts } : {}),
          learningRates: result.learningRates,
          ...(result.temperature !== undefined ? { temperature: result.temperature } : {}),
          gradNorm: result.gradNorm,
          batchSize: result.batchSize,
          stepMs: result.ms,
          stepsPerSecond: speed?.stepsPerSecond ?? 1000 / result.ms,
          samplesPerSecond: speed?.samplesPerSecond ?? (1000 * result.batchSize) / result.ms,
        });
        this.progress?.update({
          step: result.step,
          loss: result.loss,
          parts: result.parts,
          batchSize: result.batchSize,
          ...(result.temperature !== undefined ? { extra: { τ: result.temperature } } : {}),
        });
        await this.emit('onStepEnd', result);
        if (evaluateEvery !== null && result.step % evaluateEvery === 0 && result.step < total) await evaluate();
        if (checkpointEvery !== null && result.step % checkpointEvery === 0) await checkpoint('periodic');
      }
      if (!interrupted && this.stopRequested) interrupted = true;
      if (!interrupted) await evaluate();
      await checkpoint(interrupted ? 'interrupt' : 'end');
    } finally {
      if (handleSigint) process.removeListener('SIGINT', onSigint);
      this.progress?.done();
      const ret = (iterator as AsyncIterator<B>).return;
      if (ret) await ret.call(iterator);
    }
    const seconds = (performance.now() - started) / 1000;
    log?.write({ event: 'end', step: this.stepCount, interrupted, seconds });
    const result: FitResult = {
      step: this.stepCount,
      interrupted,
      losses,
      metrics: this.lastMetrics,
      best: this.best,
      checkpoint: lastCheckpoint,
    };
    await this.emit('onTrainEnd', result);
    return result;
  }
}
