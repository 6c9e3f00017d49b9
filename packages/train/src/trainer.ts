/**
 * `Trainer` — a training loop for custom objectives on a `tf.LayersModel`. The core is small: parameter
 * groups with their own optimizers and learning-rate schedules, one step (gradients over one or more
 * micro-batches, clipping, a check that the loss, its parts and the gradient norm are finite, the update),
 * exact checkpoints and resume. Everything around it is a callback: temperature annealing, the moving average
 * of the weights, evaluation, checkpoints during `fit`, the JSON-lines log, the progress display and the
 * stop on Ctrl-C (see `TrainerCallbacks`).
 */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import {
  checkInteger,
  checkOneOf,
  checkOptions,
  checkPositive,
  PhalanxConfigError,
  PhalanxNonFiniteError,
} from '@phalanx/errors';
import {
  ConcreteJointSelector,
  findNoiseStreamLayers,
  type NoiseStreamLayer,
  type TemperatureSchedule,
} from '@phalanx/layers';
import { SelectorAnnealing } from './callbacks/annealing';
import {
  dispatch,
  type CheckpointSummary,
  type FitResult,
  type MessageInfo,
  type MetricRecord,
  type StepResult,
  type TrainerCallbacks,
  type TrainerHandle,
  type TrainerHook,
  type TrainerHookInfo,
} from './callbacks/callback';
import { RunHistory } from './callbacks/history';
import { CHECKPOINT_FILES, writeCheckpoint } from './checkpoint';
import { checkCheckpointRoot, recoverCheckpointFolder } from './checkpoint-folders';
import { BatchStream } from './data-source';
import { ExponentialMovingAverage, type EmaOptions } from './ema';
import { chooseResumeCheckpoint, fitCallbacks, resolveFitOptions, type FitOptions } from './fit-options';
import { allLayers, setFrozen, type LayerPattern } from './freeze';
import { snapshotOptimizer } from './optimizer-state';
import {
  applyGroupGradients,
  applyLearningRates,
  buildParameterGroups,
  describeParameterGroups,
  type ParameterGroup,
  type ParameterGroupConfig,
  type ParameterGroupDescription,
} from './parameter-groups';
import type { ProgressDisplayOptions } from './progress';
import { prepareTrainerRestore } from './restore';
import {
  computeReducedStepGradients,
  computeStepGradients,
  disposeStepGradients,
  type GradientReducer,
  type GroupMeasures,
  readStepMeasures,
  type LossFn,
  type StepMeasures,
  type StepModel,
} from './step';
import { checkDataPosition, type TrainerState } from './trainer-state';

const NAME = 'Trainer';

/** The keys of a {@link TrainerConfig}: any other key is a named error. */
const CONFIG_KEYS = {
  model: true,
  trainingModel: true,
  loss: true,
  inputs: true,
  batchSize: true,
  disposeBatch: true,
  parameterGroups: true,
  temperature: true,
  freeze: true,
  clipNorm: true,
  accumulateBatches: true,
  onNonFinite: true,
  ema: true,
  reduceGradients: true,
  callbacks: true,
  progress: true,
} satisfies Record<keyof TrainerConfig<unknown>, true>;

/** What `Trainer` does with a step whose loss, a loss part or gradient norm is NaN or ±Infinity. */
export type NonFiniteAction = 'stop' | 'skip';

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
  /** Samples in a batch (for samples/s and micro-batch weights). Default: the first dimension of the first input. */
  batchSize?: (batch: B) => number;
  /** Frees a batch after its step. Default: `tf.dispose` of every tensor in it. */
  disposeBatch?: (batch: B) => void;
  /** Parameter groups. Default: one group `'all'` with Adam ({@link FlatAdamOptimizer}) at 1e-3. */
  parameterGroups?: ParameterGroupConfig[];
  /**
   * Temperature schedule of every `ConcreteJointSelector` in the model (`stepTemperature()` for the
   * paper's 5 → −0.1 per 1000 steps): τ = schedule(step) is set before each step (a
   * {@link SelectorAnnealing} callback). Default: none (τ left as is).
   */
  temperature?: TemperatureSchedule;
  /** Layers frozen from the start (see {@link Trainer.freeze}). Default: none. */
  freeze?: LayerPattern[];
  /** Clip all gradients together to this global norm (> 0). Default: none. */
  clipNorm?: number;
  /**
   * Gradient accumulation: micro-batches per optimizer step (integer ≥ 1). `fit` takes this many batches
   * for each step and applies the weighted mean of their gradients — for a mean loss, the gradient of
   * one batch this many times larger, without its memory. Schedules count optimizer steps. Default 1.
   */
  accumulateBatches?: number;
  /**
   * A step whose loss, one of its parts or global gradient norm is NaN or ±Infinity is never applied.
   * `'stop'` throws a `PhalanxNonFiniteError` naming the step and the value (e.g. `loss part 'xyz'`);
   * `'skip'` drops the step (weights, optimizer state and batch-norm statistics stay as before it), counts
   * it and goes on. Default `'stop'`.
   */
  onNonFinite?: NonFiniteAction;
  /** Keep an exponential moving average of the weights (see {@link ExponentialMovingAverage}). Default: none. */
  ema?: EmaOptions;
  /**
   * An asynchronous gradient exchange between the backward pass and the update (see
   * {@link GradientReducer}): it receives each step's unclipped gradients and resolves to the gradients
   * to apply — e.g. the mean over data-parallel replicas (`runDataParallel` of
   * `@phalanx/train/data-parallel` gives each replica one). Clipping, the reported gradient norm and the
   * finiteness check (`onNonFinite`) apply to what it returns; the reported loss stays this trainer's
   * own, and the finiteness check also judges the loss and parts it reports over all the replicas
   * (`reportGroupMeasures`), so every replica skips or stops at the same step. Default: none (the step's
   * own gradients are applied).
   *
   * @example
   * const peers = new Map<string, tf.Tensor>(); // e.g. gradients received from another process
   * const reduceGradients: GradientReducer = async (grads) =>
   *   tf.tidy(() => Object.fromEntries(Object.entries(grads).map(([name, g]) => [name, tf.div(tf.add(g, peers.get(name) ?? g), 2)])));
   */
  reduceGradients?: GradientReducer;
  /** Hooks (see `TrainerCallbacks`). */
  callbacks?: TrainerCallbacks[];
  /** Progress display options, or `false` for none. Default: a display on `process.stdout`. */
  progress?: ProgressDisplayOptions | false;
}

function defaultInputs(batch: unknown): tf.Tensor | tf.Tensor[] {
  if (batch instanceof tf.Tensor) return batch;
  if (Array.isArray(batch) && batch.every((t) => t instanceof tf.Tensor)) return batch as tf.Tensor[];
  const b = batch as { images?: tf.Tensor; xs?: tf.Tensor | tf.Tensor[] };
  if (b && b.images instanceof tf.Tensor) return b.images;
  if (b && b.xs !== undefined) return b.xs;
  throw new PhalanxConfigError(NAME, 'inputs', 'given when batches have no `images` or `xs` field', batch);
}

function checkTrainingModel(model: tfl.LayersModel, trainingModel: tfl.LayersModel | undefined): tfl.LayersModel {
  if (trainingModel === undefined || trainingModel === model) return model;
  const mine = new Set(model.weights);
  const weights = (trainingModel as { weights?: unknown } | null)?.weights;
  const foreign = Array.isArray(weights) ? (weights as tfl.LayerVariable[]).filter((w) => !mine.has(w)) : [];
  if (!Array.isArray(weights) || foreign.length > 0) {
    throw new PhalanxConfigError(
      NAME,
      'trainingModel',
      "a tf.LayersModel built from the model's own layers",
      foreign.length > 0 ? `a model with other weights (${foreign[0].originalName})` : trainingModel,
    );
  }
  return trainingModel;
}

/**
 * Named errors for the {@link TrainerConfig} fields that are used only later (in `fit` or a step) and would
 * otherwise fail there as a `TypeError`, or — a `freeze` given as one string — be iterated character by
 * character and freeze nothing: `inputs`, `batchSize`, `disposeBatch` and `reduceGradients` must be
 * functions, `freeze` and `callbacks` lists (of patterns; of objects), `progress` `false` or an options
 * object. `null` counts as absent, like `undefined` (except for `reduceGradients`). Run before anything
 * holds tensors or changes the model.
 */
function checkDeferredConfig(config: TrainerConfig<unknown>): void {
  for (const key of ['inputs', 'batchSize', 'disposeBatch'] as const) {
    const value = config[key];
    if (value != null && typeof value !== 'function') throw new PhalanxConfigError(NAME, key, 'a function', value);
  }
  if (config.freeze != null && !Array.isArray(config.freeze)) {
    const expected = 'a list of layer patterns (RegExps, layer names or predicates)';
    throw new PhalanxConfigError(NAME, 'freeze', expected, config.freeze);
  }
  // Checked before any layer is frozen, so that a bad pattern leaves the model as it was.
  (config.freeze ?? []).forEach((pattern: unknown, i) => {
    if (!(pattern instanceof RegExp) && typeof pattern !== 'string' && typeof pattern !== 'function') {
      throw new PhalanxConfigError(NAME, `freeze[${i}]`, 'a RegExp, a layer name or a predicate', pattern);
    }
  });
  if (config.reduceGradients !== undefined && typeof config.reduceGradients !== 'function') {
    const expected = 'an async function (grads, context) → grads';
    throw new PhalanxConfigError(NAME, 'reduceGradients', expected, config.reduceGradients);
  }
  const { callbacks, progress } = config;
  if (callbacks != null && !Array.isArray(callbacks)) {
    throw new PhalanxConfigError(NAME, 'callbacks', 'a list of TrainerCallbacks objects', callbacks);
  }
  (callbacks ?? []).forEach((callback: unknown, i) => {
    if (callback === null || typeof callback !== 'object') {
      throw new PhalanxConfigError(NAME, `callbacks[${i}]`, 'a TrainerCallbacks object', callback);
    }
  });
  if (progress != null && progress !== false && (typeof progress !== 'object' || Array.isArray(progress))) {
    throw new PhalanxConfigError(NAME, 'progress', 'false or a ProgressDisplayOptions object', progress);
  }
}

/**
 * Sets every noise-stream layer's position (selector Gumbel noise, dropout masks) to the one `state`
 * saved under its name: `noiseCalls`, or — for a checkpoint written before it existed — the selectors'
 * `selectorNoiseCalls`. Layers the checkpoint does not name keep their position.
 */
function restoreNoiseCalls(layers: readonly NoiseStreamLayer[], state: TrainerState): void {
  for (const layer of layers) {
    const calls = state.noiseCalls?.[layer.name] ?? state.selectorNoiseCalls[layer.name];
    if (calls !== undefined) layer.setNoiseState({ calls });
  }
}

/**
 * The values a step's finiteness is judged on, as the host read gave them: the loss, the gradient norm
 * and every loss part (`loss part 'name'`, so a part cannot shadow the other two).
 */
function measuredValues(measures: StepMeasures): Record<string, number> {
  const values: Record<string, number> = { loss: measures.loss, gradNorm: measures.gradNorm };
  for (const [name, value] of Object.entries(measures.parts ?? {})) values[`loss part '${name}'`] = value;
  return values;
}

/**
 * The values a step's finiteness is judged on: its own measures — or, when a gradient reducer reported the
 * loss and parts over every replica and one of them is not finite, those (with this step's gradient norm,
 * which is already the reduced gradients'). So a step non-finite in one replica is judged non-finite in all.
 */
function judgedValues(measures: StepMeasures, group: GroupMeasures | undefined): Record<string, number> {
  const own = measuredValues(measures);
  if (group === undefined) return own;
  const all = measuredValues({ loss: group.loss, gradNorm: measures.gradNorm, parts: group.parts ?? measures.parts });
  return Object.values(all).every(Number.isFinite) ? own : all;
}

/**
 * A `PhalanxConfigError` when two weights of `model` share a name (`originalName`), e.g. layers of the same
 * name in two nested models: checkpoints hold weights by name, so every checkpoint of the run would be
 * refused as damaged when read back (tfjs' own loader refuses such a model too).
 */
function checkDistinctWeightNames(model: tfl.LayersModel): void {
  const seen = new Set<string>();
  for (const w of model.weights) {
    if (seen.has(w.originalName)) {
      const expected = 'weights with distinct names, for checkpoints (name the layers of nested models apart)';
      throw new PhalanxConfigError(`${NAME}.fit`, 'model', expected, `two weights named '${w.originalName}'`, String);
    }
    seen.add(w.originalName);
  }
}

/** Copies of the non-trainable weights (batch-norm statistics) to put back when a step is skipped. */
function snapshotNonTrainable(model: tfl.LayersModel): { restore(): void; dispose(): void } {
  const weights = model.nonTrainableWeights;
  const copies = tf.tidy(() => weights.map((w) => tf.clone(w.read())));
  return {
    restore: () => weights.forEach((w, i) => w.write(copies[i])),
    dispose: () => tf.dispose(copies),
  };
}

/**
 * A training loop for custom objectives.
 *
 * Each step: the `onStepBegin` callbacks (e.g. τ = `temperature(step)`), every group's learning rate
 * (`lr(step)`); gradients of the loss over the step's micro-batches (one `tf.variableGrads` each, frozen
 * variables excluded); clipping per group and/or globally; one host read of the loss, its parts and the
 * gradient norm; if all are finite, each group's optimizer `applyGradients` on its own variables —
 * otherwise nothing is applied (`onNonFinite`); then the `onStepEnd` callbacks.
 *
 * `fit` adds the data loop and, as callbacks, periodic evaluation, checkpoints (`model.json` +
 * `weights.bin`, optimizer state, `trainer-state.json`, written atomically), the JSON-lines log, the
 * progress display and the stop on Ctrl-C; `resume` restores everything all-or-nothing, so an
 * interrupted run resumed from its checkpoint reproduces the uninterrupted one (same data position,
 * schedules, Adam state, moving average and the noise streams of `ConcreteJointSelector`s and seeded
 * dropouts; the data must be deterministic too).
 *
 * @example
 * import * as tf from '@tensorflow/tfjs-core';
 * import { batches, disposeBatch, type HandBatch } from '@phalanx/data';
 * import { stepTemperature } from '@phalanx/layers';
 * import { createLearnableGroups } from '@phalanx/learnable-groups';
 * import { xyzL1Loss } from '@phalanx/losses';
 * import { xyzToUvd } from '@phalanx/pose';
 * import { Trainer, cosineLr, warmupLr } from '@phalanx/train';
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
 *     { name: 'rest', lr: warmupLr({ steps: 100, after: cosineLr({ initial: 1e-4, steps: 1000 }) }) },
 *   ],
 *   temperature: stepTemperature(),
 *   accumulateBatches: 4,
 *   ema: { decay: 0.999 },
 * });
 * const result = await trainer.fit({ data: () => batches({ seed: 1, size: 128, batchSize: 8 }), steps: 1000,
 *   checkpointDir: 'runs/lg', checkpointEvery: 200, resume: true });
 * if (result.interrupted) process.exitCode = 130;
 */
export class Trainer<B = unknown> implements TrainerHandle {
  /** The model being trained. */
  readonly model: tfl.LayersModel;
  /** The model applied in a training step (`config.trainingModel`, else {@link Trainer.model}). */
  readonly trainingModel: tfl.LayersModel;
  /** Metrics kept across `fit` calls and checkpoints: the last evaluation and the monitored best. */
  readonly metrics: MetricRecord = { last: null, best: null };
  /** The moving average of the weights, when `config.ema` was given. */
  readonly ema: ExponentialMovingAverage | null;
  /** Micro-batches per optimizer step. */
  readonly accumulateBatches: number;
  /** What happens to a step with a non-finite loss, loss part or gradient norm. */
  readonly onNonFinite: NonFiniteAction;
  private readonly stepModel: StepModel<B>;
  private readonly batchSizeOf: (batch: B) => number;
  private readonly disposeBatch: (batch: B) => void;
  private readonly groups: ParameterGroup[];
  private readonly annealing: SelectorAnnealing | null;
  private readonly ownCallbacks: TrainerCallbacks[];
  private readonly userCallbacks: TrainerCallbacks[];
  private readonly progressOptions: ProgressDisplayOptions | false;
  private readonly reduceGradients: GradientReducer | null;
  private fitOnly: { observers: TrainerCallbacks[]; actors: TrainerCallbacks[] } = { observers: [], actors: [] };
  private stepCount = 0;
  private batchCount = 0;
  /** The most batches one step has taken (bounds `batchesSeen` in a checkpoint). */
  private maxStepBatches = 0;
  private sampleCount = 0;
  private skipCount = 0;
  private stopFlag = false;

  constructor(config: TrainerConfig<B>) {
    checkOptions(NAME, 'config', config, CONFIG_KEYS, 'an object');
    if (!config.model || !Array.isArray((config.model as { weights?: unknown }).weights)) {
      throw new PhalanxConfigError(NAME, 'model', 'a tf.LayersModel', config.model);
    }
    if (typeof config.loss !== 'function') throw new PhalanxConfigError(NAME, 'loss', 'a function', config.loss);
    checkDeferredConfig(config as TrainerConfig<unknown>);
    this.model = config.model;
    this.trainingModel = checkTrainingModel(config.model, config.trainingModel);
    const inputs = config.inputs ?? (defaultInputs as (b: B) => tf.Tensor | tf.Tensor[]);
    // `inputs` may build tensors (e.g. a normalisation): only their shape is wanted here.
    this.batchSizeOf = config.batchSize ?? ((b: B) => tf.tidy(() => [inputs(b)].flat()[0].shape[0] ?? 0));
    this.disposeBatch = config.disposeBatch ?? ((b: B) => tf.dispose(b as unknown as tf.TensorContainer));
    if (config.temperature !== undefined && typeof config.temperature !== 'function') {
      throw new PhalanxConfigError(NAME, 'temperature', 'a function step → τ', config.temperature);
    }
    this.annealing = config.temperature ? new SelectorAnnealing(config.temperature) : null;
    const clipNorm = config.clipNorm === undefined ? null : checkPositive(NAME, 'clipNorm', config.clipNorm);
    this.accumulateBatches = checkInteger(NAME, 'accumulateBatches', config.accumulateBatches ?? 1, 1);
    this.onNonFinite = checkOneOf(NAME, 'onNonFinite', config.onNonFinite ?? 'stop', ['stop', 'skip'] as const);
    // The average and the optimizers hold tensors: the one made first is freed if the other fails.
    this.ema = config.ema === undefined ? null : new ExponentialMovingAverage(this.model, config.ema);
    try {
      this.groups = buildParameterGroups(
        NAME,
        this.model.trainableWeights,
        config.parameterGroups ?? [{ name: 'all', lr: 1e-3 }],
      );
    } catch (error) {
      this.ema?.dispose();
      throw error;
    }
    this.stepModel = {
      component: NAME,
      trainingModel: this.trainingModel,
      loss: config.loss,
      inputs,
      groups: this.groups,
      clipNorm,
    };
    this.ownCallbacks = [this.annealing, this.ema].filter((c): c is NonNullable<typeof c> => c !== null);
    this.userCallbacks = config.callbacks ?? [];
    this.progressOptions = config.progress ?? {};
    this.reduceGradients = config.reduceGradients ?? null;
    for (const pattern of config.freeze ?? []) this.freeze(pattern);
  }

  /** Steps completed so far (including those before a resume, and skipped ones). */
  get step(): number {
    return this.stepCount;
  }

  /** Batches consumed so far (the data position; micro-batches count one each). */
  get batchesSeen(): number {
    return this.batchCount;
  }

  /** Samples consumed so far. */
  get samplesSeen(): number {
    return this.sampleCount;
  }

  /** Steps dropped so far because of a non-finite loss, loss part or gradient norm (`onNonFinite: 'skip'`). */
  get skippedSteps(): number {
    return this.skipCount;
  }

  /** True once a stop was asked for (`stop()`, Ctrl-C) in the running `fit`. */
  get stopRequested(): boolean {
    return this.stopFlag;
  }

  /** Each group's name and the names of its variables (for checking `match` patterns). */
  describeGroups(): ParameterGroupDescription[] {
    return describeParameterGroups(this.groups);
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

  /**
   * Undoes {@link Trainer.freeze} for the matching layers. Returns their names.
   *
   * The parameter groups are fixed when the trainer is made, from the weights trainable then: a layer
   * that was already frozen at that moment (by an earlier trainer, or `setFrozen`) has no place in them.
   * Unfreezing such a layer here would leave it frozen to the optimizer while its batch norms train, so
   * it throws a `PhalanxConfigError` instead and changes nothing: unfreeze those layers with
   * `setFrozen(model, pattern, false)` before making the trainer.
   */
  unfreeze(pattern: LayerPattern): string[] {
    const wasFrozen = new Set(allLayers(this.model).filter((l) => l !== this.model && !l.trainable));
    const names = setFrozen(this.model, pattern, false);
    const grouped = new Set(this.groups.flatMap((g) => g.variables));
    const outside = this.model.trainableWeights.filter((v) => !grouped.has(v));
    if (outside.length === 0) return names;
    setFrozen(this.model, (layer) => wasFrozen.has(layer), true);
    throw new PhalanxConfigError(
      NAME,
      'unfreeze',
      'layers whose weights the parameter groups hold (layers frozen before the Trainer was made are not in them: ' +
        'unfreeze those with setFrozen(model, pattern, false) first)',
      `${outside.length} weights outside every group, e.g. ${outside
        .slice(0, 3)
        .map((v) => v.originalName)
        .join(', ')}`,
    );
  }

  /** Asks a running `fit` to stop after the current step (it then checkpoints and returns). */
  stop(): void {
    this.stopFlag = true;
  }

  private callbacks(): TrainerCallbacks[] {
    return [...this.ownCallbacks, ...this.fitOnly.observers, ...this.userCallbacks, ...this.fitOnly.actors];
  }

  /** Dispatches an event to every active callback, in order (the trainer's, `fit`'s, the user's). */
  emit<K extends TrainerHook>(hook: K, info: TrainerHookInfo<K>): Promise<void> {
    return dispatch(this.callbacks(), hook, info, this);
  }

  /** Dispatches `onMessage` (shown by the progress display; warnings are also logged). */
  message(text: string, level: MessageInfo['level'] = 'info'): Promise<void> {
    return this.emit('onMessage', { step: this.stepCount, text, level });
  }

  /** Runs `fn` with the moving average in the weights when the trainer keeps one for evaluation; else just `fn`. */
  withEvaluationWeights<T>(fn: () => Promise<T>): Promise<T> {
    return this.ema?.evaluate ? this.ema.withAveragedWeights(fn) : fn();
  }

  /**
   * One optimizer step on `batches` — one batch, or `accumulateBatches` micro-batches whose gradients are
   * averaged (weighted by their sizes). The batches are not disposed; a batch holding a disposed tensor
   * is a `PhalanxShapeError` naming it (`batch.xs`). Increments {@link Trainer.step}.
   * Throws `PhalanxNonFiniteError` (nothing applied, no counter moved) when the loss, a loss part or the
   * gradient norm is not finite and `onNonFinite` is `'stop'`.
   */
  async trainStep(...batches: B[]): Promise<StepResult> {
    if (batches.length === 0) throw new PhalanxConfigError(`${NAME}.trainStep`, 'batches', 'at least one batch', 0);
    const t0 = performance.now();
    const step = this.stepCount;
    await this.emit('onStepBegin', { step, microBatches: batches.length });
    const learningRates = applyLearningRates(NAME, this.groups, step);
    const sizes = batches.map((b, i) => {
      const size = this.batchSizeOf(b);
      // A checkpoint records the samples seen: a non-integer would write a state no resume can read.
      if (!Number.isSafeInteger(size) || size < 0) {
        throw new PhalanxConfigError(`${NAME}.trainStep`, `batchSize(batches[${i}])`, 'an integer ≥ 0', size);
      }
      return size;
    });
    const measures = await this.computeAndApply(batches, sizes, step);
    const samples = sizes.reduce((a, b) => a + b, 0);
    this.stepCount += 1;
    this.batchCount += batches.length;
    this.maxStepBatches = Math.max(this.maxStepBatches, batches.length);
    this.sampleCount += samples;
    const result: StepResult = {
      step: this.stepCount,
      ...measures, // loss, gradNorm, parts, skipped
      learningRates,
      ...(this.annealing?.temperature != null ? { temperature: this.annealing.temperature } : {}),
      batchSize: samples,
      microBatches: batches.length,
      ms: performance.now() - t0,
    };
    await this.emit('onStepEnd', result);
    return result;
  }

  /** Gradients, the one host read, then the update — or none, for a non-finite loss, part or norm. */
  private async computeAndApply(
    batches: B[],
    sizes: number[],
    step: number,
  ): Promise<StepMeasures & { skipped: boolean }> {
    const guard = this.onNonFinite === 'skip' ? snapshotNonTrainable(this.trainingModel) : null;
    try {
      const gradients = this.reduceGradients
        ? await computeReducedStepGradients(this.stepModel, batches, sizes, step, this.reduceGradients)
        : computeStepGradients(this.stepModel, batches, sizes, step);
      let measures: StepMeasures;
      let judged: Record<string, number>;
      try {
        measures = await readStepMeasures(gradients);
        judged = judgedValues(measures, gradients.groupMeasures);
        const finite = Object.values(judged).every(Number.isFinite);
        if (finite) tf.tidy(() => applyGroupGradients(this.groups, gradients.grads));
        if (finite) return { ...measures, skipped: false };
      } finally {
        disposeStepGradients(gradients);
      }
      if (guard === null) throw new PhalanxNonFiniteError(NAME, step + 1, judged);
      guard.restore();
      this.skipCount += 1;
      return { ...measures, skipped: true };
    } finally {
      guard?.dispose();
    }
  }

  /** The state written to `trainer-state.json`. */
  private state(): TrainerState {
    const noiseCalls: Record<string, number> = {};
    const selectorNoiseCalls: Record<string, number> = {};
    for (const layer of findNoiseStreamLayers(this.model)) {
      const { calls } = layer.getNoiseState();
      noiseCalls[layer.name] = calls;
      // The selectors' positions also under their old key, which every reader of version 1 knows.
      if (layer instanceof ConcreteJointSelector) selectorNoiseCalls[layer.name] = calls;
    }
    return {
      version: 1,
      step: this.stepCount,
      batchesSeen: this.batchCount,
      maxBatchesPerStep: this.maxStepBatches,
      samplesSeen: this.sampleCount,
      learningRates: Object.fromEntries(this.groups.map((g) => [g.name, Number.isFinite(g.lastLr) ? g.lastLr : null])),
      temperature: this.annealing?.temperature ?? null,
      selectorNoiseCalls,
      noiseCalls,
      best: this.metrics.best,
      lastMetrics: this.metrics.last,
      savedAt: new Date().toISOString(),
      skippedSteps: this.skipCount,
      ema: this.ema?.state() ?? null,
    };
  }

  /**
   * Writes a checkpoint of the current state into `dir`, atomically (a temporary folder renamed into
   * place): `model.json` + `weights.bin` (standard tfjs, `tf.loadLayersModel(fileSystem(dir))` reads
   * it), `optimizer.json` + `optimizer.bin`, `ema/` (with a moving average) and `trainer-state.json`.
   * Returns whether every weight and optimizer slot written is finite.
   */
  async saveCheckpoint(dir: string): Promise<CheckpointSummary> {
    const snapshots = [];
    try {
      for (const g of this.groups) snapshots.push({ group: g.name, snapshot: await snapshotOptimizer(g.optimizer) });
      const ema = this.ema;
      const extra = ema ? (folder: string) => ema.save(join(folder, CHECKPOINT_FILES.ema)) : undefined;
      return await writeCheckpoint(dir, this.model, snapshots, this.state(), { extra });
    } finally {
      for (const { snapshot } of snapshots) tf.dispose(snapshot.weights.map((w) => w.tensor));
    }
  }

  /**
   * Restores a checkpoint written by {@link Trainer.saveCheckpoint} into this trainer (same model
   * architecture and groups), all or nothing: every weight (by name, shape and dtype), every optimizer
   * (class and slots) and the moving average are read and checked before anything is written; a mismatch
   * is a named error (`PhalanxFileError`, or `PhalanxConfigError` for a changed optimizer class) and
   * changes nothing. So is a data position (`batchesSeen`) that the step count rules out: below `step`,
   * or above `step × maxBatchesPerStep` (older files without it: `step × accumulateBatches`). Then the
   * step, data position, metrics and the position of every noise stream (selector noise, seeded dropout
   * masks) are restored. Optimizers must not have taken a step yet.
   */
  async restore(dir: string): Promise<TrainerState> {
    const folder = (await recoverCheckpointFolder(dir)) ?? dir;
    const participants = this.ema ? [this.ema] : [];
    const { state, prepared } = await prepareTrainerRestore(folder, {
      model: this.model,
      groups: this.groups,
      participants,
    });
    try {
      const perStep = state.maxBatchesPerStep ?? this.accumulateBatches;
      checkDataPosition(state, perStep, join(folder, CHECKPOINT_FILES.state));
      await prepared.commit();
    } finally {
      prepared.dispose();
    }
    restoreNoiseCalls(findNoiseStreamLayers(this.model), state);
    this.stepCount = state.step;
    this.batchCount = state.batchesSeen;
    this.maxStepBatches = state.maxBatchesPerStep ?? (state.step === 0 ? 0 : Math.ceil(state.batchesSeen / state.step));
    this.sampleCount = state.samplesSeen;
    this.skipCount = state.skippedSteps ?? 0;
    this.metrics.best = state.best;
    this.metrics.last = state.lastMetrics as Record<string, number> | null;
    this.annealing?.restore(state.temperature);
    for (const g of this.groups) g.lastLr = state.learningRates[g.name] ?? Number.NaN;
    return state;
  }

  /**
   * Trains until `steps` steps are done in total (or the data ends, or SIGINT / {@link Trainer.stop}),
   * evaluating and checkpointing on the way. See `FitOptions`. The checkpoint root and the log file are
   * checked for writing first: one that cannot be written is a `PhalanxFileError` before the checkpoint to
   * resume from is read and before any step.
   */
  async fit(options: FitOptions<B>): Promise<FitResult> {
    const plan = resolveFitOptions(options);
    if (plan.root !== null) await checkCheckpointRoot(plan.root);
    if (plan.root !== null || typeof plan.resume === 'string') {
      checkDistinctWeightNames(this.model);
      await this.checkOptimizerStates();
    }
    const extra = fitCallbacks(plan, this.progressOptions); // opens the log
    const choice = await chooseResumeCheckpoint(plan.resume, plan.root);
    if (choice.dir !== null && plan.total < choice.step) {
      throw new PhalanxConfigError(
        `${NAME}.fit`,
        'steps',
        `at least ${choice.step}, the step of checkpoint ${choice.dir}`,
        plan.total,
      );
    }
    if (choice.dir !== null) await this.restore(choice.dir);
    const history = new RunHistory();
    this.fitOnly = { observers: [history, ...extra.observers], actors: extra.actors };
    this.stopFlag = false;
    const stream = new BatchStream(plan.data, () => ({ step: this.stepCount, batchesSeen: this.batchCount }));
    try {
      const interrupted = await this.runLoop(stream, plan.total, choice);
      const result: FitResult = {
        step: this.stepCount,
        interrupted,
        losses: history.losses,
        metrics: this.metrics.last,
        best: this.metrics.best,
        checkpoint: history.checkpoint,
        resumedFrom: choice.dir,
        skippedSteps: history.skippedSteps,
        warnings: history.warnings,
      };
      await this.emit('onTrainEnd', result);
      return result;
    } finally {
      this.fitOnly = { observers: [], actors: [] };
    }
  }

  /**
   * A `PhalanxConfigError` naming the group whose optimizer cannot hand out its state (tfjs' Adamax has no
   * `getWeights` / `setWeights`): checkpoints and resume need it, and the first checkpoint would otherwise
   * fail with tfjs' raw error after the steps before it.
   */
  private async checkOptimizerStates(): Promise<void> {
    for (const g of this.groups) {
      let snapshot: Awaited<ReturnType<typeof snapshotOptimizer>>;
      try {
        snapshot = await snapshotOptimizer(g.optimizer);
      } catch (error) {
        const expected =
          'an optimizer whose state can be saved and restored (getWeights / setWeights), for checkpoints and resume';
        const received = `${g.optimizer.getClassName()} (${error instanceof Error ? error.message : String(error)})`;
        throw new PhalanxConfigError(`${NAME}.fit`, `optimizer of group '${g.name}'`, expected, received);
      }
      tf.dispose(snapshot.weights.map((w) => w.tensor));
    }
  }

  /** Begin, the steps, the loop's end, teardown (also on error). Returns whether it was interrupted. */
  private async runLoop(
    stream: BatchStream<B>,
    total: number,
    choice: { dir: string | null; warnings: string[] },
  ): Promise<boolean> {
    let failure: unknown = null;
    let interrupted = false;
    try {
      await stream.skip(this.batchCount, this.disposeBatch);
      await this.emit('onTrainBegin', { step: this.stepCount, totalSteps: total, resumedFrom: choice.dir });
      for (const w of choice.warnings) await this.message(w, 'warning');
      while (this.stepCount < total) {
        // Yield to the event loop once per step: signal handlers (SIGINT) and timers run only on a
        // macrotask turn, and a wasm/cpu step with in-memory data never gives one otherwise.
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (this.stopFlag) break;
        const batches = await stream.take(this.accumulateBatches);
        if (batches.length === 0) break;
        try {
          await this.trainStep(...batches);
        } finally {
          batches.forEach((b) => this.disposeBatch(b));
        }
      }
      interrupted = this.stopFlag;
      await this.emit('onLoopEnd', { step: this.stepCount, interrupted });
    } catch (error) {
      failure = error;
    }
    try {
      await this.emit('onTeardown', { step: this.stepCount, error: failure });
    } finally {
      await stream.close();
    }
    if (failure !== null) throw failure;
    return interrupted;
  }
}
