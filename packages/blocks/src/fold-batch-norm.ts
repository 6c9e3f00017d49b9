/**
 * Batch-norm folding for inference: a model whose `Conv2D → BatchNormalization (→ ReLU)` chains run as one
 * convolution each, with the same outputs. At inference a batch norm is a fixed per-channel affine map, so
 * it can be folded into the convolution before it; the ReLU after it then becomes the convolution's own
 * activation, which tfjs-layers runs as one fused kernel (`tf.fused.conv2d`; XNNPACK on wasm). Optionally,
 * every other batch norm (→ ReLU) becomes one `ChannelAffine` of `@phalanx/layers`.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { checkOneOf, checkOptions, describe, PhalanxConfigError } from '@phalanx/errors';
import { ChannelAffine } from '@phalanx/layers';

const COMPONENT = 'foldBatchNorm';

/**
 * Batch-norm classes whose inference is tfjs-layers' `BatchNormalization` with the moving statistics.
 * Matched by class name on the model's config, not with `isBatchNormalization` of `@phalanx/layers`: the
 * fold rewrites the serialised config, where a user's subclass of `BatchNormalization` would also pass an
 * `instanceof` test although its inference may differ.
 */
const BATCH_NORM_CLASSES: ReadonlySet<string> = new Set(['BatchNormalization', 'LeanBatchNormalization']);

type Json = Record<string, unknown>;
/** One input of a node in a model config: `[layer name, node index, tensor index, kwargs?]`. */
type TensorRef = [string, number, number, Json?];
/** One layer of a functional model config (`Container.getConfig`). */
interface LayerEntry {
  name: string;
  className: string;
  config: Json;
  inboundNodes: TensorRef[][];
}
/** A functional model config (`Container.getConfig`), as `LayersModel.fromConfig` reads it. */
interface ModelConfig {
  name: string;
  layers: LayerEntry[];
  inputLayers: TensorRef[];
  outputLayers: TensorRef[];
}
/** A foldable chain: the names of its layers. */
interface FoldChain {
  conv: string;
  batchNorm: string;
  relu: string | null;
}
/** A batch norm (→ ReLU) that becomes one `ChannelAffine`: the names of its layers. */
interface AffineChain {
  batchNorm: string;
  relu: string | null;
}

/** Options of {@link foldBatchNorm}. */
export interface FoldBatchNormOptions {
  /**
   * What becomes of the batch norms that do not follow a foldable convolution (e.g. the pre-activation
   * `bn` of {@link preActResidual}): `'keep'` (default) copies them as they are; `'affine'` turns each
   * one over the last axis of its input (→ plain ReLU) into one `ChannelAffine` layer of `@phalanx/layers`
   * with the same name, `y = act(x·s + t)` with `s = γ / √(σ² + ε)`, `t = β − μ·s` — on a `[B, H, W, C]`
   * input one fused 1 × 1 depthwise convolution instead of a batch norm and a ReLU (≈ 3× faster on
   * `wasm`). The ReLU goes, as for a folded chain.
   */
  standalone?: 'keep' | 'affine';
}

/**
 * A copy of `model` for inference in which every `Conv2D → batch norm (→ ReLU)` chain is one `Conv2D`.
 * For each output channel o, with the batch norm's γ, β, moving mean μ, moving variance σ² and its own ε:
 *
 * `s_o = γ_o / √(σ²_o + ε)`,  `W'[…, o] = W[…, o] · s_o`,  `b'_o = (b_o − μ_o) · s_o + β_o`,
 *
 * so `conv(x; W', b') = bn(conv(x; W, b))` exactly (up to float32 rounding), for any padding, strides and
 * dilation (γ = 1 without `scale`, β = 0 without `center`, b = 0 without a bias). When the batch norm's
 * output goes only to a plain ReLU (`tfl.layers.reLU()` without `maxValue`, or `activation('relu')`),
 * the folded convolution takes `activation: 'relu'` and the ReLU layer goes too.
 *
 * A chain folds when the convolution is a `Conv2D` (channels last, linear activation, float32, called
 * once), the batch norm is tfjs-layers' `BatchNormalization` or `LeanBatchNormalization` over the last
 * axis, the convolution's output goes to the batch norm only, and neither output is a model output (a model
 * output never moves to another layer: a ReLU whose output is one stays, unfused). Everything else is
 * copied as it is — batch norms after other layers (e.g. the pre-activation `bn` of {@link preActResidual}),
 * on other axes or of other classes, ReLUs with a `maxValue`, tensors with several consumers, layers inside
 * nested models. The folded convolution keeps its name and gets `useBias: true`; the batch norm and fused
 * ReLU are gone and their consumers read the convolution; regularisers and constraints of folded
 * convolutions are dropped (the copy is for inference, not compiled).
 *
 * Pure: `model` is only read and keeps working; the copy is a new functional `tf.LayersModel` (also for a
 * `tfl.sequential`) with the same name, inputs, output names and user-defined metadata. Weights that do
 * not change are shared with `model`, not copied (tfjs counts references to the data: either model can be
 * disposed first); the folded convolutions hold new weights. The caller disposes the copy.
 *
 * **Shapes**: the copy takes and returns what `model` does. Per chain: kernel `W [kh, kw, C_in, C]`, bias
 * `b [C]`, γ, β, μ, σ² `[C]` → `W' [kh, kw, C_in, C]`, `b' [C]`.
 *
 * With `{standalone: 'affine'}`, the batch norms that remain become `ChannelAffine` layers (see
 * {@link FoldBatchNormOptions.standalone}): then no batch norm over the last axis is left, and each ReLU
 * after one is fused too.
 *
 * @param model A built `tf.LayersModel` whose layers are registered classes (as for saving).
 * @param options What becomes of the batch norms that cannot fold (default: kept).
 * @returns The folded copy.
 * @throws PhalanxConfigError when `model` is not a built `tf.LayersModel`, is disposed, or has a layer that
 *   cannot be rebuilt from its config.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import * as tfl from '@tensorflow/tfjs-layers';
 * import { foldBatchNorm, preActResidual } from '@phalanx/blocks';
 *
 * const x = tfl.input({ shape: [64, 64, 64] });
 * const model = tfl.model({ inputs: x, outputs: preActResidual(x, { outChannels: 128, name: 'r1' }) });
 * const folded = foldBatchNorm(model); // r1.bn1, r1.relu1, r1.bn2, r1.relu2 folded into r1.conv1, r1.conv2
 * const y = folded.predict(tf.zeros([1, 64, 64, 64])) as tf.Tensor; // equals model.predict(…)
 * folded.getLayer('r1.conv1').getConfig().activation; // 'relu'
 * const lean = foldBatchNorm(model, { standalone: 'affine' }); // r1.bn, r1.relu: one ChannelAffine 'r1.bn'
 * lean.getLayer('r1.bn').getClassName(); // 'ChannelAffine'
 * tf.dispose([y]);
 * folded.dispose();
 * lean.dispose();
 * ```
 */
export function foldBatchNorm(model: tfl.LayersModel, options: FoldBatchNormOptions = {}): tfl.LayersModel {
  checkModel(model);
  const known = { standalone: true } satisfies Record<keyof FoldBatchNormOptions, true>;
  checkOptions(COMPONENT, 'options', options, known, "an object {standalone?: 'keep' | 'affine'}");
  const standalone = checkOneOf(COMPONENT, 'options.standalone', options.standalone ?? 'keep', ['keep', 'affine']);
  const { config, layers } = graphOf(model);
  const chains = findChains(config, layers);
  const affines = standalone === 'affine' ? findAffineChains(config, layers, chains) : [];
  rewriteConfig(config, chains, affines);
  const folded = rebuild(config);
  try {
    copyWeights(layers, folded, chains, affines);
    const metadata = model.getUserDefinedMetadata();
    if (metadata !== undefined) folded.setUserDefinedMetadata(structuredClone(metadata));
  } catch (error) {
    folded.dispose();
    throw error;
  }
  return folded;
}

/** Throws the named error for anything but a built, undisposed `tf.LayersModel`. */
function checkModel(model: tfl.LayersModel): void {
  if (!(model instanceof tfl.LayersModel)) {
    const received = model as unknown;
    throw new PhalanxConfigError(
      COMPONENT,
      'model',
      'a tf.LayersModel (tfl.model, tfl.sequential or loaded)',
      received,
      (v) => (typeof v === 'object' && v !== null ? `an instance of ${v.constructor?.name ?? 'Object'}` : describe(v)),
    );
  }
  if (!Array.isArray(model.inputs) || model.inputs.length === 0 || !Array.isArray(model.outputs)) {
    throw new PhalanxConfigError(
      COMPONENT,
      'model',
      'a built model (a sequential model needs an inputShape)',
      model.name,
    );
  }
  for (const weight of model.weights) {
    try {
      weight.read();
    } catch {
      throw new PhalanxConfigError(COMPONENT, 'model', 'a model that is not disposed', model.name);
    }
  }
}

/** The functional config of `model` (a copy, free to edit) and its layers by name. */
function graphOf(model: tfl.LayersModel): { config: ModelConfig; layers: Map<string, tfl.layers.Layer> } {
  // A sequential model's config lists layers only; a functional view of its graph has the full topology.
  const graph =
    model instanceof tfl.Sequential
      ? tfl.model({ inputs: model.inputs, outputs: model.outputs, name: model.name })
      : model;
  let config: ModelConfig;
  try {
    config = structuredClone(graph.getConfig()) as unknown as ModelConfig;
  } catch (error) {
    throw new PhalanxConfigError(COMPONENT, 'model', 'a model whose layer configs are plain data', String(error));
  }
  return { config, layers: new Map(graph.layers.map((l) => [l.name, l])) };
}

const tensorKey = (ref: TensorRef) => JSON.stringify([ref[0], ref[1], ref[2]]);
/** The key of the one output tensor of a layer called once. */
const outputKey = (layer: string) => tensorKey([layer, 0, 0]);
const calledOnce = (entry: LayerEntry) => entry.inboundNodes.length === 1 && entry.inboundNodes[0].length === 1;
const float32 = (layer: tfl.layers.Layer) => layer.weights.every((w) => w.dtype === 'float32');

/** The layers of `config` by name, and the one layer reading a layer's output when there is exactly one. */
function consumersOf(config: ModelConfig): {
  entries: Map<string, LayerEntry>;
  outputs: Set<string>;
  soleConsumer: (layer: string) => LayerEntry | null;
} {
  const entries = new Map(config.layers.map((e) => [e.name, e]));
  const consumers = new Map<string, string[]>();
  for (const entry of config.layers) {
    for (const ref of entry.inboundNodes.flat()) {
      const key = tensorKey(ref);
      consumers.set(key, [...(consumers.get(key) ?? []), entry.name]);
    }
  }
  const outputs = new Set(config.outputLayers.map(tensorKey));
  /** The one layer reading `layer`'s output, when there is exactly one and the output is not a model output. */
  const soleConsumer = (layer: string): LayerEntry | null => {
    const key = outputKey(layer);
    const users = consumers.get(key) ?? [];
    if (outputs.has(key) || users.length !== 1) return null;
    const entry = entries.get(users[0]);
    return entry !== undefined && calledOnce(entry) ? entry : null;
  };
  return { entries, outputs, soleConsumer };
}

/** The plain ReLU that alone reads `layer`'s output, when neither output is a model output. */
function fusableRelu(layer: string, graph: ReturnType<typeof consumersOf>): string | null {
  if (graph.outputs.has(outputKey(layer))) return null;
  const next = graph.soleConsumer(layer);
  return next !== null && isPlainRelu(next) && !graph.outputs.has(outputKey(next.name)) ? next.name : null;
}

/** Every foldable chain of `config`, in layer order (see {@link foldBatchNorm} for the conditions). */
function findChains(config: ModelConfig, layers: Map<string, tfl.layers.Layer>): FoldChain[] {
  const graph = consumersOf(config);
  const chains: FoldChain[] = [];
  for (const entry of config.layers) {
    if (!isFoldableConv(entry, layers.get(entry.name))) continue;
    const bn = graph.soleConsumer(entry.name);
    if (bn === null || !isFoldableBatchNorm(bn, layers.get(bn.name)) || graph.outputs.has(outputKey(bn.name))) continue;
    chains.push({ conv: entry.name, batchNorm: bn.name, relu: fusableRelu(bn.name, graph) });
  }
  return chains;
}

/**
 * Every batch norm of `config` that no chain folds and that normalises the last axis of its one input,
 * with the plain ReLU after it when that can fuse (see {@link FoldBatchNormOptions.standalone}).
 */
function findAffineChains(
  config: ModelConfig,
  layers: Map<string, tfl.layers.Layer>,
  chains: FoldChain[],
): AffineChain[] {
  const graph = consumersOf(config);
  const folded = new Set(chains.map((c) => c.batchNorm));
  const affines: AffineChain[] = [];
  for (const entry of config.layers) {
    const layer = layers.get(entry.name);
    if (folded.has(entry.name) || !calledOnce(entry) || !BATCH_NORM_CLASSES.has(entry.className)) continue;
    if (layer === undefined || !float32(layer) || !normalisesLastAxis(entry, layer)) continue;
    affines.push({ batchNorm: entry.name, relu: fusableRelu(entry.name, graph) });
  }
  return affines;
}

/** Whether the batch norm's axis is the last axis of its (one) input. */
function normalisesLastAxis(entry: LayerEntry, layer: tfl.layers.Layer): boolean {
  const axis = entry.config.axis ?? -1;
  const input = layer.input;
  const rank = Array.isArray(input) ? -1 : input.shape.length;
  return rank >= 2 && (axis === -1 || axis === rank - 1);
}

function isFoldableConv(entry: LayerEntry, layer: tfl.layers.Layer | undefined): boolean {
  const c = entry.config;
  return (
    entry.className === 'Conv2D' &&
    calledOnce(entry) &&
    layer !== undefined &&
    float32(layer) &&
    (c.dataFormat ?? 'channelsLast') === 'channelsLast' &&
    (c.activation ?? 'linear') === 'linear'
  );
}

function isFoldableBatchNorm(entry: LayerEntry, layer: tfl.layers.Layer | undefined): boolean {
  const axis = entry.config.axis ?? -1;
  // The input is a Conv2D output, [B, H, W, C]: the last axis is −1 or 3.
  return (
    BATCH_NORM_CLASSES.has(entry.className) && layer !== undefined && float32(layer) && (axis === -1 || axis === 3)
  );
}

function isPlainRelu(entry: LayerEntry): boolean {
  const c = entry.config;
  if (entry.className === 'Activation') return c.activation === 'relu';
  return entry.className === 'ReLU' && c.maxValue == null && (c.threshold ?? 0) === 0 && (c.negativeSlope ?? 0) === 0;
}

/**
 * Removes the folded batch norms and the fused ReLUs from `config`, relinks their consumers, turns each
 * conv into the folded one and each standalone batch norm into a `ChannelAffine`.
 */
function rewriteConfig(config: ModelConfig, chains: FoldChain[], affines: AffineChain[]): void {
  const removed = new Set([
    ...chains.flatMap((c) => (c.relu === null ? [c.batchNorm] : [c.batchNorm, c.relu])),
    ...affines.flatMap((a) => (a.relu === null ? [] : [a.relu])),
  ]);
  const replacement = new Map([
    ...chains.map((c) => [c.relu ?? c.batchNorm, c.conv] as const),
    ...affines.flatMap((a) => (a.relu === null ? [] : [[a.relu, a.batchNorm] as const])),
  ]);
  const relink = (ref: TensorRef): TensorRef => {
    const into = replacement.get(ref[0]);
    if (into === undefined) return ref;
    return ref.length > 3 ? [into, 0, 0, ref[3]] : [into, 0, 0];
  };
  const convs = new Map(chains.map((c) => [c.conv, c]));
  const affineByName = new Map(affines.map((a) => [a.batchNorm, a]));
  config.layers = config.layers
    .filter((entry) => !removed.has(entry.name))
    .map((entry) => {
      const chain = convs.get(entry.name);
      const affine = affineByName.get(entry.name);
      const inboundNodes = entry.inboundNodes.map((node) => node.map(relink));
      if (affine !== undefined) {
        const { name, trainable, dtype } = entry.config;
        const activation = affine.relu === null ? 'linear' : 'relu';
        const affineConfig: Json = { name, trainable: trainable ?? true, activation, ...(dtype ? { dtype } : {}) };
        return { ...entry, className: ChannelAffine.className, config: affineConfig, inboundNodes };
      }
      const conv: Json =
        chain === undefined
          ? entry.config
          : {
              ...entry.config,
              useBias: true,
              activation: chain.relu === null ? 'linear' : 'relu',
              biasInitializer: { className: 'Zeros', config: {} },
              kernelRegularizer: null,
              biasRegularizer: null,
              activityRegularizer: null,
              kernelConstraint: null,
              biasConstraint: null,
            };
      return { ...entry, config: conv, inboundNodes };
    });
  config.outputLayers = config.outputLayers.map(relink);
}

/** Builds the model of `config` (weights zero-filled: they are all set next). */
function rebuild(config: ModelConfig): tfl.LayersModel {
  try {
    return tfl.LayersModel.fromConfig(
      tfl.LayersModel,
      config as unknown as tf.serialization.ConfigDict,
      {},
      true,
    ) as tfl.LayersModel;
  } catch (error) {
    throw new PhalanxConfigError(
      COMPONENT,
      'model',
      'a model whose layers are registered classes (as for saving)',
      error instanceof Error ? error.message : error,
    );
  }
}

/** The weights of `layer` by their own name (`kernel`, `gamma`, `moving_mean`, …). */
function weightsByName(layer: tfl.layers.Layer): Map<string, tf.Tensor> {
  return new Map(layer.weights.map((w) => [w.originalName.split('/').pop() ?? '', w.read()]));
}

/**
 * A batch norm's inference map applied after an optional bias `b`: `[s, (b − μ)·s + β]` with
 * `s = γ / √(σ² + ε)` (γ = 1 without `scale`, β = 0 without `center`, b = 0 when absent).
 */
function batchNormAffine(bn: tfl.layers.Layer, bias?: tf.Tensor): [tf.Tensor, tf.Tensor] {
  const epsilon = bn.getConfig().epsilon as number;
  const n = weightsByName(bn);
  return tf.tidy(() => {
    const mean = n.get('moving_mean')!;
    const inverseStd = tf.rsqrt(tf.add(n.get('moving_variance')!, epsilon));
    const gamma = n.get('gamma');
    const scale = gamma === undefined ? inverseStd : tf.mul(gamma, inverseStd);
    const shifted = tf.mul(bias === undefined ? tf.neg(mean) : tf.sub(bias, mean), scale);
    const beta = n.get('beta');
    return [scale, beta === undefined ? shifted : tf.add(shifted, beta)];
  });
}

/** `[W', b']` of a conv and the batch norm after it (see {@link foldBatchNorm}). */
function foldedWeights(conv: tfl.layers.Layer, bn: tfl.layers.Layer): tf.Tensor[] {
  const c = weightsByName(conv);
  const [scale, shift] = batchNormAffine(bn, c.get('bias'));
  const kernel = tf.mul(c.get('kernel')!, scale);
  scale.dispose();
  return [kernel, shift];
}

/** Sets every weight of `folded`: shared from the source layer of the same name, or folded. */
function copyWeights(
  source: Map<string, tfl.layers.Layer>,
  folded: tfl.LayersModel,
  chains: FoldChain[],
  affines: AffineChain[],
): void {
  const convs = new Map(chains.map((c) => [c.conv, c]));
  const affineNames = new Set(affines.map((a) => a.batchNorm));
  for (const layer of folded.layers) {
    const from = source.get(layer.name)!;
    const chain = convs.get(layer.name);
    if (chain !== undefined || affineNames.has(layer.name)) {
      // A standalone batch norm's ChannelAffine takes [s, t] (see FoldBatchNormOptions).
      const weights = chain !== undefined ? foldedWeights(from, source.get(chain.batchNorm)!) : batchNormAffine(from);
      layer.setWeights(weights);
      tf.dispose(weights);
    } else if (layer.weights.length > 0) {
      layer.setWeights(from.getWeights());
    }
  }
}
