/**
 * `loadHandPoseEstimator`: a shipped model (or any saved Learnable Groups / EHPE model) behind the
 * estimator interface, from the package's own files in Node, from a URL or from any `tf.io.IOHandler`.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { foldBatchNorm } from '@phalanx/blocks';
import { checkOptions, PhalanxConfigError, PhalanxFileError } from '@phalanx/errors';
// Importing the model packages registers their layer classes, which building a model from its JSON needs.
import '@phalanx/ehpe';
import '@phalanx/learnable-groups';
import { fileSystem } from '@phalanx/layers';
import { HAND_POSE_MODELS, readModelCard, type HandPoseModelName } from './card';
import { HandPoseEstimator } from './estimator';
import { ehpeHead, learnableGroupsHead } from './heads';
import { shippedModelUrl } from './package-files';

/** Options of {@link loadHandPoseEstimator}. */
export interface LoadHandPoseEstimatorOptions {
  /**
   * Where the model is: the URL of its `model.json`, or of the folder holding it (ending in `/`; a `file:`
   * URL not ending in `.json` is taken as the folder), e.g.
   * where a web app serves a copy of `node_modules/@phalanx/pretrained/models/<name>/`. Relative URLs
   * resolve against the page. Default: the package's own files (`shippedModelUrl(name)`) — read from
   * disk in Node, fetched in a browser (works when the package is served as-is, e.g. from a CDN).
   */
  url?: string;
  /**
   * Load the model through this handler instead (`tf.io.browserFiles([...])`, `tf.io.http(...)`,
   * `fileSystem(dir)` of `@phalanx/layers`, …). Takes precedence over `url`.
   */
  handler?: tf.io.IOHandler;
  /**
   * Options of `tf.io.http` for `url` (and the browser default): `fetchFunc`, `requestInit`, or
   * `weightUrlConverter` — e.g. to point at a `weights.bin` a bundler renamed.
   */
  loadOptions?: tf.io.LoadOptions;
}

/** The keys of {@link LoadHandPoseEstimatorOptions}: any other key is a named error. */
const LOAD_OPTION_KEYS = { url: true, handler: true, loadOptions: true } satisfies Record<
  keyof LoadHandPoseEstimatorOptions,
  true
>;

async function sourceOf(name: HandPoseModelName, options: LoadHandPoseEstimatorOptions): Promise<tf.io.IOHandler> {
  if (options.handler !== undefined) return options.handler;
  const url = options.url ?? shippedModelUrl(name).href;
  if (url.startsWith('file:')) {
    const { fileURLToPath } = await import('node:url');
    // A file URL names the model's folder, or its model.json.
    return fileSystem(fileURLToPath(/\.json$/i.test(url) ? url.replace(/[^/]*$/, '') : url));
  }
  return tf.io.http(url.endsWith('/') ? `${url}model.json` : url, options.loadOptions);
}

/**
 * The model in the files `options` point at, its failures (unreachable or relative URL in Node, a handler
 * that throws or returns no topology, a damaged model.json, weights that do not fit the topology) as a
 * `PhalanxFileError` naming the location and the reason; the package's own named errors pass unchanged.
 * Nothing this call allocated outlives a failure ({@link modelFromArtifacts}).
 */
async function loadNetwork(name: HandPoseModelName, options: LoadHandPoseEstimatorOptions): Promise<tfl.LayersModel> {
  const where = options.handler !== undefined ? 'options.handler' : (options.url ?? shippedModelUrl(name).href);
  try {
    const handler = await sourceOf(name, options);
    if (handler.load === undefined) throw new Error('the IOHandler has no load() method');
    return await modelFromArtifacts(await handler.load());
  } catch (error) {
    if (error instanceof PhalanxFileError || error instanceof PhalanxConfigError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new PhalanxFileError(where, 'model', `cannot be loaded: ${reason}`);
  }
}

/**
 * What `tfl.loadLayersModel` makes of a handler's artifacts — the model built from the topology, the
 * weights written into it by name (strictly: every weight of the model, no other, each of its shape), the
 * stored metadata set, a stored training config compiled in with its optimizer's state — except that a
 * failure disposes everything this call created. tfjs's own loader
 * leaves the built model's variables and the decoded weights behind when the weights do not fit (e.g. a
 * model.json whose input has another number of channels than weights.bin): about twice the model's weights
 * per failed load. Only what this call created is disposed, so concurrent loads are safe: the layers are
 * built synchronously (no other code runs in between), and the variables registered during that
 * stretch are this call's.
 */
async function modelFromArtifacts(artifacts: tf.io.ModelArtifacts): Promise<tfl.LayersModel> {
  const topology = (artifacts as Partial<tf.io.ModelArtifacts> | null)?.modelTopology;
  if (topology === null || typeof topology !== 'object' || topology instanceof ArrayBuffer || Array.isArray(topology)) {
    throw new Error('the model artifacts hold no layers-model topology (modelTopology)');
  }
  const registry = tf.engine().registeredVariables;
  const before = new Set(Object.keys(registry));
  // modelFromJSON builds every layer before its first await: the variables new after this line are its.
  const building = tfl.models.modelFromJSON({ modelTopology: topology as Record<string, never> });
  const created = Object.keys(registry)
    .filter((key) => !before.has(key))
    .map((key) => registry[key]);
  let model: tfl.LayersModel | undefined;
  try {
    model = await building;
    if (artifacts.userDefinedMetadata !== undefined) model.setUserDefinedMetadata(artifacts.userDefinedMetadata);
    if (artifacts.trainingConfig !== undefined) {
      // tfjs-core types the stored config more loosely than tfjs-layers reads it (loadLayersModel passes it on as is).
      model.loadTrainingConfig(artifacts.trainingConfig as Parameters<tfl.LayersModel['loadTrainingConfig']>[0]);
    }
    await loadWeights(model, artifacts);
    return model;
  } catch (error) {
    // A stored training config's optimizer is not the model's to dispose (tfjs marks it not owned): it is this call's.
    model?.optimizer?.dispose();
    model?.dispose();
    for (const variable of created) if (!variable.isDisposed) variable.dispose();
    throw error;
  }
}

/**
 * Writes the artifacts' weights into `model`, checked by name and shape before anything is decoded, and the
 * optimizer's state into a model compiled from a stored training config; the decoded tensors are disposed
 * whatever happens (a decoding failure inside the `tf.tidy`). Artifacts without weights leave the model's
 * initial values, as `tfl.loadLayersModel` does.
 */
async function loadWeights(model: tfl.LayersModel, artifacts: tf.io.ModelArtifacts): Promise<void> {
  const { weightData, weightSpecs } = artifacts;
  if (weightData === undefined) return;
  if (!Array.isArray(weightSpecs)) throw new Error('the model artifacts hold weight data but no weight specs');
  const specs = new Map(weightSpecs.filter((s) => s.group !== 'optimizer').map((s) => [s.name, s]));
  const names = new Set(model.weights.map((w) => w.originalName));
  for (const weight of model.weights) {
    const spec = specs.get(weight.originalName);
    if (spec === undefined) throw new Error(`the weights hold no '${weight.originalName}' (a weight of the model)`);
    const [inModel, inFile] = [JSON.stringify(weight.shape), JSON.stringify(spec.shape)];
    if (inModel !== inFile) {
      throw new Error(`the weight '${weight.originalName}' is ${inFile} in the weights but ${inModel} in the model`);
    }
  }
  const extra = [...specs.keys()].find((n) => !names.has(n));
  if (extra !== undefined) throw new Error(`the weights hold '${extra}', which is not a weight of the model`);
  const decoded = tf.tidy(() => tf.io.decodeWeights(weightData, weightSpecs));
  try {
    model.loadWeights(Object.fromEntries([...names].map((n) => [n, decoded[n]])), true);
    const slots = weightSpecs
      .filter((s) => s.group === 'optimizer')
      .map((s) => ({ name: s.name, tensor: decoded[s.name] }));
    if (model.optimizer != null && slots.length > 0) await model.optimizer.setWeights(slots);
  } finally {
    tf.dispose(Object.values(decoded));
  }
}

/** A named error for a `name` that is not one of the two networks. */
function checkModelName(component: string, name: unknown): asserts name is HandPoseModelName {
  if (!HAND_POSE_MODELS.includes(name as HandPoseModelName)) {
    throw new PhalanxConfigError(component, 'name', `one of ${HAND_POSE_MODELS.map((m) => `'${m}'`).join(', ')}`, name);
  }
}

/**
 * Named errors for a `name` that is not a shipped network, `options` that are not an object or have a key
 * that is not an option, a `url` that is not a string, a `handler` without `load()` and a `loadOptions`
 * that is not an object.
 */
function checkLoadArgs(component: string, name: unknown, options: unknown): void {
  checkModelName(component, name);
  checkOptions(component, 'options', options, LOAD_OPTION_KEYS, 'an object {url?, handler?, loadOptions?}');
  const { url, handler, loadOptions } = options as Record<string, unknown>;
  if (loadOptions !== undefined && (loadOptions === null || typeof loadOptions !== 'object')) {
    throw new PhalanxConfigError(component, 'options.loadOptions', 'a tf.io.LoadOptions object', loadOptions);
  }
  if (url !== undefined && typeof url !== 'string') {
    throw new PhalanxConfigError(component, 'options.url', 'a string (a URL)', url);
  }
  if (handler !== undefined && typeof (handler as { load?: unknown } | null)?.load !== 'function') {
    throw new PhalanxConfigError(component, 'options.handler', 'a tf.io.IOHandler with a load() method', handler);
  }
}

/**
 * Loads the network behind a hand-pose estimator as a plain `tfl.LayersModel`, unfolded: the shipped
 * weights of `name` (`'learnable-groups'` or `'ehpe'`), or the files `options.url` / `options.handler`
 * point at. Use it to train on from the shipped weights, to import other weights into the model
 * (`importTorchStateDict`), or to hand it to {@link estimatorFromModel} afterwards.
 * {@link loadHandPoseEstimator} is this followed by `estimatorFromModel`.
 *
 * @throws PhalanxConfigError — an unknown `name`, `options` that are not an object or have an unknown key,
 * a `url` that is not a string, a `handler` without `load()`, a `loadOptions` that is not an object.
 * @throws PhalanxFileError — files that cannot be loaded (the location and the reason), e.g. a topology whose
 * weights are not those of weights.bin (the weight's name and both shapes); such a failure leaves no tensor or
 * variable behind.
 * @example
 * ```ts
 * import '@tensorflow/tfjs-backend-cpu';
 * import { loadHandPoseModel } from '@phalanx/pretrained';
 *
 * const model = await loadHandPoseModel('ehpe');
 * console.log(model.inputs[0].shape); // [null, 96, 96, 3]
 * model.dispose();
 * ```
 */
export async function loadHandPoseModel(
  name: HandPoseModelName,
  options: LoadHandPoseEstimatorOptions = {},
): Promise<tfl.LayersModel> {
  checkLoadArgs('loadHandPoseModel', name, options);
  return loadNetwork(name, options);
}

/**
 * Loads a hand-pose estimator. `name` picks the network: `'learnable-groups'` (Learnable Joint Groups,
 * AAAI 2021) or `'ehpe'` (EHPE, 2025). Without options it loads the weights shipped in this package
 * (`models/<name>/`, see the package README for what they were trained on and how accurate they are);
 * `url` or `handler` load other files of the same network, e.g. a model saved by the training examples.
 * Everything is offline: nothing is fetched from anywhere but the given location.
 *
 * Set the tfjs backend first (`await tf.setBackend('webgl' | 'wasm' | 'cpu')`); the estimator runs on
 * the current one.
 *
 * @throws PhalanxConfigError — an unknown `name`, `options` that are not an object or have an unknown key,
 * a `url` that is not a string, a `handler` without `load()`, a `loadOptions` that is not an object.
 * @throws PhalanxFileError — files that cannot be loaded, as {@link loadHandPoseModel}; nothing is left
 * allocated.
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import '@tensorflow/tfjs-backend-cpu';
 * import { loadHandPoseEstimator } from '@phalanx/pretrained';
 *
 * const estimator = await loadHandPoseEstimator('learnable-groups');
 * const [hand] = await estimator.estimateHands(tf.zeros([256, 256, 3], 'int32'));
 * console.log(hand.keypoints[8], hand.keypoints3D[8], hand.score);
 * estimator.dispose();
 * ```
 */
export async function loadHandPoseEstimator(
  name: HandPoseModelName,
  options: LoadHandPoseEstimatorOptions = {},
): Promise<HandPoseEstimator> {
  checkLoadArgs('loadHandPoseEstimator', name, options);
  const model = await loadNetwork(name, options);
  try {
    return estimatorFromModel(name, model);
  } catch (error) {
    model.dispose();
    throw error;
  }
}

/**
 * An estimator around a model already in memory (built by `createLearnableGroups` / `createEhpe`, or
 * loaded): its card is read from the model's metadata (`readModelCard`). The estimator runs a copy of
 * `model` with its batch norms folded into the convolutions before them and the others run as one
 * per-channel affine kernel each (`foldBatchNorm(model, {standalone: 'affine'})` of `@phalanx/blocks`: the
 * same outputs, fewer layers and kernels) and disposes `model` — the estimator owns
 * it, so use `model` for nothing after this call (import other weights into it before). When this call
 * throws, `model` is left as it was.
 *
 * @example
 * ```ts
 * import { createLearnableGroups } from '@phalanx/learnable-groups';
 * import { estimatorFromModel } from '@phalanx/pretrained';
 *
 * const estimator = estimatorFromModel('learnable-groups', createLearnableGroups({ inputSize: 64 }));
 * ```
 */
export function estimatorFromModel(name: HandPoseModelName, model: tfl.LayersModel): HandPoseEstimator {
  checkModelName('estimatorFromModel', name);
  if (typeof (model as Partial<tfl.LayersModel> | null)?.predict !== 'function' || !Array.isArray(model.outputs)) {
    throw new PhalanxConfigError('estimatorFromModel', 'model', 'a tf.LayersModel', model);
  }
  const card = readModelCard(name, model);
  const folded = foldBatchNorm(model, { standalone: 'affine' });
  let estimator: HandPoseEstimator;
  try {
    const head = name === 'learnable-groups' ? learnableGroupsHead(folded, card) : ehpeHead(folded, card);
    estimator = new HandPoseEstimator(folded, card, head);
  } catch (error) {
    folded.dispose();
    throw error;
  }
  // The folded copy shares every weight it did not change; the rest (the batch norms, the unfolded
  // kernels) is freed here.
  model.dispose();
  return estimator;
}
