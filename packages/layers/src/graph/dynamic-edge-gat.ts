/**
 * DynamicEdgeGAT — multi-head graph attention over hand joints with attention restricted to a
 * neighbourhood N(i): the skeleton's `hops`-step neighbourhood or, per sample, the k nearest joints
 * (EHPE Eq. 8–9).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayerArgs } from '@tensorflow/tfjs-layers/dist/engine/topology';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';
import { perWeightConverter, registerTorchConverter, reshapedRule, transposedRule } from '../io/torch-converters';
import {
  checkBoolean,
  checkFloat32,
  checkInteger,
  checkOneOf,
  PhalanxConfigError,
  PhalanxShapeError,
} from '@phalanx/errors';
import { type ActivationIdentifier, applyActivation, checkActivation } from '../util/activations';
import {
  checkArgs,
  checkElements,
  checkRate,
  checkSize,
  checkTensor,
  checkWeightShape,
  type OwnArgsKeys,
} from '../util/checks';
import {
  nthInitializer,
  resolveInitializer,
  serializeInitializer,
  type Initializer,
  type InitializerSpec,
} from '../util/initializers';
import { NoiseStream, type NoiseStreamState } from '../util/noise-stream';
import { checkInputCount, PhalanxLayer, shapeList, tensorList, tensorShapes } from '../util/phalanx-layer';
import { handAdjacency, hopNeighborhood, validateAdjacency } from './adjacency';
import { maskedSoftmax } from './masked-softmax';

const COMPONENT = 'DynamicEdgeGAT';
const CORE = 'dynamicEdgeGATCore';

/** How attention scores `e_ij` are computed. */
export type GATAttention = 'additive' | 'dotProduct';
/** Where the neighbourhood N(i) comes from. */
export type GATNeighborhood = 'skeleton' | 'knn';

/**
 * The default of every optional argument of {@link DynamicEdgeGATArgs} (the adjacency's default is the
 * hand skeleton, {@link handAdjacency}); {@link dynamicEdgeGATCore} uses the same ones. The single place
 * these values are written.
 */
export const DYNAMIC_EDGE_GAT_DEFAULTS = Object.freeze({
  /** {@link DynamicEdgeGATArgs.heads} */
  heads: 8,
  /** {@link DynamicEdgeGATArgs.hops} */
  hops: 1,
  /** {@link DynamicEdgeGATArgs.attention} */
  attention: 'additive',
  /** {@link DynamicEdgeGATArgs.concatHeads} */
  concatHeads: true,
  /** {@link DynamicEdgeGATArgs.negativeSlope} */
  negativeSlope: 0.2,
  /** {@link DynamicEdgeGATArgs.attentionDropout} */
  attentionDropout: 0,
  /** {@link DynamicEdgeGATArgs.useBias} */
  useBias: true,
  /** {@link DynamicEdgeGATArgs.activation} */
  activation: 'linear',
  /** {@link DynamicEdgeGATArgs.returnAttention} */
  returnAttention: false,
  /** {@link DynamicEdgeGATArgs.neighborhood} */
  neighborhood: 'skeleton',
  /** {@link DynamicEdgeGATArgs.k}: the EHPE release's k. */
  k: 8,
  /** {@link DynamicEdgeGATArgs.kernelInitializer} */
  kernelInitializer: 'glorotUniform',
  /** {@link DynamicEdgeGATArgs.dropoutSeed} */
  dropoutSeed: null,
} as const);
const DEFAULTS = DYNAMIC_EDGE_GAT_DEFAULTS;

/**
 * The 0/1 k-nearest-neighbour mask of every sample: `mask[b, i, j] = 1` when j = i or j is one of the
 * `k` joints nearest to i (Euclidean distance between the first three features, e.g. x, y, z).
 * Recomputed per sample; not symmetric in general. Ties are broken by `tf.topk` (lower index first).
 *
 * The mask is piecewise constant in `x`; its gradient is defined as zero (computed inside a
 * `tf.customGrad`, so it can sit inside a differentiable graph without breaking the tape).
 *
 * **Shapes**: `x` `[B, J, F]` with F ≥ 3 → `[B, J, J]` float32 with `k + 1` ones per row.
 *
 * @example
 * const x = tf.tensor3d([[[0, 0, 0], [1, 0, 0], [5, 0, 0]]]);
 * knnNeighborhoodMask(x, 1).arraySync(); // [[[1,1,0],[1,1,0],[0,1,1]]]
 */
export function knnNeighborhoodMask(x: tf.Tensor, k: number): tf.Tensor {
  checkTensor('knnNeighborhoodMask', 'x', x);
  if (x.rank !== 3 || (x.shape as number[])[2] < 3) {
    throw new PhalanxShapeError('knnNeighborhoodMask', 'x', 'of shape [B, J, F] with F ≥ 3', x.shape);
  }
  const numJoints = (x.shape as number[])[1];
  checkInteger('knnNeighborhoodMask', 'k', k, 1);
  if (k > numJoints - 1) {
    throw new PhalanxConfigError('knnNeighborhoodMask', 'k', `an integer in [1, J − 1] = [1, ${numJoints - 1}]`, k);
  }
  const masked = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor;
    const value = tf.tidy(() => {
      const [batch, joints] = input.shape as number[];
      const coords = tf.slice(input, [0, 0, 0], [batch, joints, 3]);
      const diff = tf.sub(tf.expandDims(coords, 2), tf.expandDims(coords, 1)); // [B, J, J, 3]
      const d2 = tf.sum(tf.square(diff), -1); // [B, J, J]
      // Self first: its distance 0 is made strictly smaller than any other (≥ 0).
      const ranked = tf.neg(tf.sub(d2, tf.eye(joints)));
      const { indices } = tf.topk(ranked, k + 1); // [B, J, k + 1]
      return tf.sum(tf.cast(tf.oneHot(indices, joints), 'float32'), 2); // [B, J, J]
    });
    return { value, gradFunc: () => tf.zerosLike(input) };
  });
  return masked(x);
}

/** Weights of {@link dynamicEdgeGATCore}. K heads of U units, F input features. */
export interface DynamicEdgeGATWeights {
  /** `[F, K·U]`: `Wh = x · kernel`, reshaped to `[B, J, K, U]` (head k = columns k·U … (k+1)·U). */
  kernel: tf.Tensor;
  /** `[K, U]`, additive attention: the target node's vector (PyG `att_dst`). */
  attentionSelf?: tf.Tensor;
  /** `[K, U]`, additive attention: the neighbour's vector (PyG `att_src`). */
  attentionNeighbor?: tf.Tensor;
  /** `[F, K·U]`, dot-product attention: queries `q = x · queryKernel`. */
  queryKernel?: tf.Tensor;
  /** `[F, K·U]`, dot-product attention: keys `k = x · keyKernel`. */
  keyKernel?: tf.Tensor;
  /** `[K·U]` (heads concatenated) or `[U]` (heads averaged); omitted or `null`: no bias. */
  bias?: tf.Tensor | null;
}

/**
 * Options of {@link dynamicEdgeGATCore}; each means what the {@link DynamicEdgeGATArgs} field of the same
 * name means, with the default in {@link DYNAMIC_EDGE_GAT_DEFAULTS}.
 */
export interface DynamicEdgeGATOptions {
  /** Number of heads K (the kernel has K·U columns). */
  heads: number;
  /** `'additive'` (GAT) or `'dotProduct'` (scaled dot product). */
  attention?: GATAttention;
  /**
   * The neighbourhood N as a 0/1 mask, `[J, J]` (shared) or `[B, J, J]` (per sample), self included;
   * e.g. `hopNeighborhood(handAdjacency(), 1)` or {@link knnNeighborhoodMask}. Required unless `knn`
   * is given.
   */
  neighborhood?: tf.Tensor | number[][];
  /** When given, N(i) is i and its `knn` nearest joints by the first three input features. */
  knn?: number;
  /** `true`: concatenate heads to `[B, J, K·U]`; `false`: average them to `[B, J, U]`. */
  concatHeads?: boolean;
  /** LeakyReLU slope of the additive scores. */
  negativeSlope?: number;
  /** Dropout rate on α when `training` is true. */
  attentionDropout?: number;
  /** Training mode (attention dropout). Default false. */
  training?: boolean;
  /**
   * The tf seed of the dropout mask (a finite number or a string); the same seed gives the same mask.
   * Default: unseeded.
   */
  dropoutSeed?: number | string;
  /** tfjs activation identifier applied last. */
  activation?: ActivationIdentifier;
}

/**
 * Functional core of {@link DynamicEdgeGAT}: multi-head graph attention restricted to a neighbourhood
 * mask, computed densely (batched matmuls and a mask, no gathers).
 *
 * With `Wh = x · kernel` split into K heads of U units:
 * - additive: `e[b,k,i,j] = LeakyReLU(⟨Wh[b,i,k], attentionSelf[k]⟩ + ⟨Wh[b,j,k], attentionNeighbor[k]⟩)`
 * - dotProduct: `e[b,k,i,j] = ⟨q[b,i,k], k[b,j,k]⟩ / √U`
 *
 * `α[b,k,i,·] = softmax_j(e[b,k,i,·])` over j ∈ N(i) only (exactly 0 elsewhere; {@link maskedSoftmax}, so
 * rows sum to 1 for scores of any finite magnitude), and
 * `out[b,i,k] = Σ_j α[b,k,i,j] · Wh[b,j,k]` (EHPE Eq. 8–9); heads concatenated or averaged, plus bias,
 * then the activation.
 *
 * **Shapes**: `x` `[B, J, F]` → `output` `[B, J, K·U]` (concat) or `[B, J, U]` (mean), `attention` α
 * `[B, K, J, J]` (before dropout).
 *
 * The options are checked as {@link DynamicEdgeGAT} checks its arguments of the same names, and the
 * weights the chosen `attention` uses (and `bias`, when given) must be tensors of the shapes
 * {@link DynamicEdgeGATWeights} documents; anything else throws a `PhalanxConfigError` or
 * `PhalanxShapeError` naming the option or weight, before any computation.
 *
 * @example
 * const x = tf.randomNormal([2, 21, 16]);
 * const { output, attention } = dynamicEdgeGATCore(x, {
 *   kernel: tf.randomNormal([16, 8]), attentionSelf: tf.randomNormal([2, 4]),
 *   attentionNeighbor: tf.randomNormal([2, 4]),
 * }, { heads: 2, neighborhood: hopNeighborhood(handAdjacency(), 1) });
 * // output [2, 21, 8], attention [2, 2, 21, 21]
 */
export function dynamicEdgeGATCore(
  x: tf.Tensor,
  weights: DynamicEdgeGATWeights,
  options: DynamicEdgeGATOptions,
): {
  /** `[B, J, K·U]` (heads concatenated) or `[B, J, U]` (averaged), after bias and activation. */
  output: tf.Tensor;
  /** `[B, K, J, J]`: α of every head before dropout, rows summing to 1 over N(i), 0 elsewhere. */
  attention: tf.Tensor;
} {
  checkArgs(CORE, 'weights', weights);
  const { heads, attention, concatHeads, negativeSlope, attentionDropout, training, activation } = checkCoreOptions(
    checkArgs(CORE, 'options', options),
  );
  checkTensor(CORE, 'x', x);
  if (x.rank !== 3) throw new PhalanxShapeError(CORE, 'x', 'of rank 3 [B, J, F]', x.shape);
  const [batch, joints, features] = x.shape as number[];
  const kernel = checkWeightShape(CORE, 'kernel', weights.kernel, [features, null], {
    required: true,
    label: `[${features}, K·U]`,
  }) as tf.Tensor;
  const width = kernel.shape[1] as number;
  if (width % heads !== 0) {
    throw new PhalanxShapeError(CORE, 'kernel', `of shape [${features}, K·U] with K = ${heads}`, kernel.shape);
  }
  const units = width / heads;
  const dims: HeadDims = { batch, joints, features, heads, units };
  checkCoreWeights(weights, attention, concatHeads, dims);

  return tf.tidy(() => {
    const flat = tf.matMul(tf.reshape(x, [batch * joints, features]), weights.kernel); // [B·J, K·U]
    const wh = tf.transpose(tf.reshape(flat, [batch, joints, heads, units]), [0, 2, 1, 3]); // [B, K, J, U]
    const scores =
      attention === 'additive'
        ? additiveScores(flat, weights, dims, negativeSlope)
        : dotProductScores(x, weights, dims);
    const alpha = maskedSoftmax(scores, neighborhoodMask(x, options, joints)); // rows sum to 1 over N(i), 0 outside
    const used =
      training && attentionDropout > 0 ? tf.dropout(alpha, attentionDropout, undefined, options.dropoutSeed) : alpha;
    const perHead = tf.matMul(used, wh); // [B, K, J, U]
    let output = concatHeads
      ? tf.reshape(tf.transpose(perHead, [0, 2, 1, 3]), [batch, joints, width])
      : tf.mean(perHead, 1);
    if (weights.bias != null) output = tf.add(output, weights.bias);
    output = applyActivation(output, activation);
    return { output, attention: alpha };
  });
}

/**
 * The options of {@link dynamicEdgeGATCore} with defaults filled in, checked as {@link DynamicEdgeGAT}
 * checks its arguments of the same names (`knn` and `neighborhood` are checked where they are used).
 */
function checkCoreOptions(
  options: DynamicEdgeGATOptions,
): Required<
  Pick<
    DynamicEdgeGATOptions,
    'heads' | 'attention' | 'concatHeads' | 'negativeSlope' | 'attentionDropout' | 'training' | 'activation'
  >
> {
  const { dropoutSeed } = options;
  if (dropoutSeed !== undefined && typeof dropoutSeed !== 'string' && !Number.isFinite(dropoutSeed)) {
    throw new PhalanxConfigError(CORE, 'dropoutSeed', 'a finite number or a string', dropoutSeed);
  }
  return {
    heads: checkInteger(CORE, 'heads', options.heads, 1),
    attention: checkOneOf(CORE, 'attention', options.attention ?? DEFAULTS.attention, [
      'additive',
      'dotProduct',
    ] as const),
    concatHeads: checkBoolean(CORE, 'concatHeads', options.concatHeads ?? DEFAULTS.concatHeads),
    negativeSlope: checkFloat32(CORE, 'negativeSlope', options.negativeSlope ?? DEFAULTS.negativeSlope),
    attentionDropout: checkRate(CORE, 'attentionDropout', options.attentionDropout ?? DEFAULTS.attentionDropout),
    training: checkBoolean(CORE, 'training', options.training ?? false),
    activation: checkActivation(CORE, options.activation ?? DEFAULTS.activation),
  };
}

/**
 * Throws unless the weights the `attention` mode uses have their documented shapes (`kernel` is checked by
 * the caller): `attentionSelf`/`attentionNeighbor` `[K, U]` (additive), `queryKernel`/`keyKernel`
 * `[F, K·U]` (dotProduct), `bias` (when given) `[K·U]` or `[U]` as `concatHeads` says.
 */
function checkCoreWeights(
  weights: DynamicEdgeGATWeights,
  attention: GATAttention,
  concatHeads: boolean,
  dims: HeadDims,
): void {
  const { features, heads, units } = dims;
  const check = (name: keyof DynamicEdgeGATWeights, shape: number[], label: string): void => {
    const w: unknown = weights[name];
    if (w === undefined || (name === 'bias' && w === null)) return; // missing mode weights: named where used
    checkWeightShape(CORE, name, w, shape, { required: true, label });
  };
  if (attention === 'additive') {
    for (const name of ['attentionSelf', 'attentionNeighbor'] as const) {
      check(name, [heads, units], `[K, U] = [${heads}, ${units}]`);
    }
  } else {
    for (const name of ['queryKernel', 'keyKernel'] as const) {
      check(name, [features, heads * units], `[F, K·U] = [${features}, ${heads * units}]`);
    }
  }
  if (concatHeads) check('bias', [heads * units], `[K·U] = [${heads * units}] (heads concatenated)`);
  else check('bias', [units], `[U] = [${units}] (heads averaged)`);
}

/** Sizes of one attention call: B, J, F, K heads of U units. */
interface HeadDims {
  batch: number;
  joints: number;
  features: number;
  heads: number;
  units: number;
}

/**
 * Additive (GAT) scores `[B, K, J, J]`: `LeakyReLU(⟨Wh_i, attentionSelf⟩ + ⟨Wh_j, attentionNeighbor⟩)` per
 * head, from `flat = x · kernel` `[B·J, K·U]`.
 */
function additiveScores(flat: tf.Tensor, weights: DynamicEdgeGATWeights, dims: HeadDims, slope: number): tf.Tensor {
  const { batch, joints, heads, units } = dims;
  const { attentionSelf, attentionNeighbor } = weights;
  if (attentionSelf === undefined || attentionNeighbor === undefined) {
    throw new PhalanxConfigError(
      'dynamicEdgeGATCore',
      'weights',
      'to hold attentionSelf and attentionNeighbor',
      Object.keys(weights),
    );
  }
  // Block-diagonal [K·U, K] matrices turn the per-head dot products into one matmul each.
  const blocks = (a: tf.Tensor): tf.Tensor =>
    tf.reshape(tf.mul(tf.reshape(a, [heads, units, 1]), tf.reshape(tf.eye(heads), [heads, 1, heads])), [
      heads * units,
      heads,
    ]);
  const both = tf.concat([blocks(attentionSelf), blocks(attentionNeighbor)], 1); // [K·U, 2K]
  const s = tf.reshape(tf.matMul(flat, both), [batch, joints, 2 * heads]);
  const sSelf = tf.transpose(tf.slice(s, [0, 0, 0], [batch, joints, heads]), [0, 2, 1]); // [B, K, J]
  const sNeighbor = tf.transpose(tf.slice(s, [0, 0, heads], [batch, joints, heads]), [0, 2, 1]);
  return tf.leakyRelu(tf.add(tf.expandDims(sSelf, 3), tf.expandDims(sNeighbor, 2)), slope);
}

/** Scaled dot-product scores `[B, K, J, J]`: `⟨q_i, k_j⟩ / √U` per head, `q = x · queryKernel`, `k = x · keyKernel`. */
function dotProductScores(x: tf.Tensor, weights: DynamicEdgeGATWeights, dims: HeadDims): tf.Tensor {
  const { batch, joints, features, heads, units } = dims;
  const { queryKernel, keyKernel } = weights;
  if (queryKernel === undefined || keyKernel === undefined) {
    throw new PhalanxConfigError(
      'dynamicEdgeGATCore',
      'weights',
      'to hold queryKernel and keyKernel',
      Object.keys(weights),
    );
  }
  // [B, J, F] → [B, K, J, U] for one projection.
  const project = (kernel: tf.Tensor): tf.Tensor =>
    tf.transpose(
      tf.reshape(tf.matMul(tf.reshape(x, [batch * joints, features]), kernel), [batch, joints, heads, units]),
      [0, 2, 1, 3],
    );
  return tf.mul(tf.matMul(project(queryKernel), project(keyKernel), false, true), 1 / Math.sqrt(units));
}

/** The neighbourhood mask, broadcastable to `[B, K, J, J]`: from `knn` when given, else from `neighborhood`. */
function neighborhoodMask(x: tf.Tensor, options: DynamicEdgeGATOptions, joints: number): tf.Tensor {
  if (options.knn !== undefined) return tf.expandDims(knnNeighborhoodMask(x, options.knn), 1);
  if (options.neighborhood === undefined) {
    throw new PhalanxConfigError('dynamicEdgeGATCore', 'options', 'to give neighborhood or knn', 'neither');
  }
  const n =
    options.neighborhood instanceof tf.Tensor
      ? tf.cast(options.neighborhood, 'float32')
      : tf.tensor2d(options.neighborhood, undefined, 'float32');
  const nShape = n.shape as number[];
  if (nShape[n.rank - 1] !== joints || nShape[n.rank - 2] !== joints || n.rank > 3) {
    throw new PhalanxShapeError(
      'dynamicEdgeGATCore',
      'neighborhood',
      `of shape [${joints}, ${joints}] or [B, ${joints}, ${joints}]`,
      n.shape,
    );
  }
  return n.rank === 3 ? tf.expandDims(n, 1) : n;
}

/**
 * Configuration of {@link DynamicEdgeGAT}. Optional fields default to {@link DYNAMIC_EDGE_GAT_DEFAULTS};
 * sizes are at most {@link MAX_SIZE}.
 */
export interface DynamicEdgeGATArgs extends LayerArgs {
  /** Units U per head (an integer ≥ 1). Required. */
  units: number;
  /** Number of attention heads K (an integer ≥ 1). */
  heads?: number;
  /**
   * J × J adjacency of the joint graph: 0/1 entries, symmetric (self loops allowed, they change
   * nothing: i ∈ N(i) always). Default: the 21-joint hand skeleton, {@link handAdjacency}. Used when
   * `neighborhood` is `'skeleton'`.
   */
  adjacency?: number[][];
  /** 1: N(i) = i and its immediate neighbours; 2: also the neighbours' neighbours. */
  hops?: 1 | 2;
  /**
   * `'additive'` (GAT: `LeakyReLU(a_selfᵀ Wh_i + a_neighborᵀ Wh_j)`) or `'dotProduct'`
   * (`⟨q_i, k_j⟩ / √U` with separate query and key kernels).
   */
  attention?: GATAttention;
  /** `true`: concatenate the heads (`[B, J, K·U]`); `false`: average them (`[B, J, U]`). */
  concatHeads?: boolean;
  /** Slope of the LeakyReLU on additive scores for negative inputs (finite in float32). */
  negativeSlope?: number;
  /** Dropout rate in [0, 1) applied to α during training only. */
  attentionDropout?: number;
  /** Whether to add a bias (`[K·U]` or `[U]`) to the output. */
  useBias?: boolean;
  /** tfjs activation identifier applied to the output, e.g. `'relu'`. */
  activation?: ActivationIdentifier;
  /** When true the layer has a second output, the attention α `[B, K, J, J]`. */
  returnAttention?: boolean;
  /**
   * `'skeleton'`: N(i) from `adjacency` and `hops`. `'knn'`: N(i) = i and its `k` nearest joints by
   * the first three input features, per sample (the EHPE release's dynamic topology).
   */
  neighborhood?: GATNeighborhood;
  /** Neighbours per joint in `'knn'` mode: an integer in [1, J − 1]. */
  k?: number;
  /**
   * Initializer of `kernel` and of the attention weights (`attentionSelf`, `attentionNeighbor` or
   * `queryKernel`, `keyKernel`); default `'glorotUniform'`, the bias starts at 0. A seeded one gives the
   * k-th of them (in that order) the seed `seed + k`.
   */
  kernelInitializer?: InitializerSpec;
  /**
   * Seed of the attention-dropout mask stream (an integer): the k-th training call that drops draws its
   * mask from the tf seed `` `${dropoutSeed}:${k}` ``, so a new layer with the same seed repeats the
   * masks and `getNoiseState()` / `setNoiseState()` resume them. `null` (default): unseeded masks.
   */
  dropoutSeed?: number | null;
}

/**
 * The keys of {@link DynamicEdgeGATArgs} beyond tfjs's `LayerArgs`: the constructor accepts these, `getConfig()`
 * writes them.
 */
const ARGS_KEYS = {
  units: true,
  heads: true,
  adjacency: true,
  hops: true,
  attention: true,
  concatHeads: true,
  negativeSlope: true,
  attentionDropout: true,
  useBias: true,
  activation: true,
  returnAttention: true,
  neighborhood: true,
  k: true,
  kernelInitializer: true,
  dropoutSeed: true,
} satisfies OwnArgsKeys<DynamicEdgeGATArgs>;

/**
 * Graph attention layer with dynamic edge weights (EHPE Eq. 8–9): each joint attends to the joints of
 * its neighbourhood N(i) — the skeleton's `hops`-step neighbourhood, or per sample its `k` nearest
 * joints — with learned, input-dependent weights α; computed densely for all joints at once.
 *
 * `out_i = σ(‖_k Σ_{j∈N(i)} α^k_ij · W^k h_j + b)` with
 * `α^k_ij = softmax_{j∈N(i)} LeakyReLU(a^kᵀ_self W^k h_i + a^kᵀ_neighbor W^k h_j)` (additive) or
 * `softmax_{j∈N(i)} ⟨Q^k h_i, K^k h_j⟩/√U` (dotProduct); `‖` is concatenation or the mean over heads.
 *
 * Weights, in order: `kernel [F, K·U]`; additive: `attentionSelf [K, U]`, `attentionNeighbor [K, U]`;
 * dotProduct: `queryKernel [F, K·U]`, `keyKernel [F, K·U]`; then `bias` (`[K·U]` concat, `[U]` mean).
 *
 * **Shapes**: input `[B, J, F]` → output `[B, J, K·U]` (concat) or `[B, J, U]` (mean); with
 * `returnAttention`, a second output α `[B, K, J, J]` (rows sum to 1, 0 outside N(i)).
 *
 * @example
 * const gat = dynamicEdgeGAT({ units: 16, heads: 4, hops: 2, returnAttention: true });
 * const [out, alpha] = gat.apply(tf.randomNormal([2, 21, 32])) as tf.Tensor[];
 * // out [2, 21, 64], alpha [2, 4, 21, 21]
 */
export class DynamicEdgeGAT extends PhalanxLayer<DynamicEdgeGATArgs> {
  /** Name under which the class is registered for serialisation. */
  static className = 'DynamicEdgeGAT';

  /** Units U per head. */
  readonly units: number;
  /** Number of attention heads K. */
  readonly heads: number;
  /** J × J symmetric 0/1 adjacency of the joint graph. */
  readonly adjacency: number[][];
  /** Neighbourhood radius on `adjacency`: 1 (immediate neighbours) or 2 (also their neighbours). */
  readonly hops: 1 | 2;
  /** Attention score: `'additive'` (GAT) or `'dotProduct'` (⟨q_i, k_j⟩ / √U). */
  readonly attention: GATAttention;
  /** true: heads concatenated to `[B, J, K·U]`; false: averaged to `[B, J, U]`. */
  readonly concatHeads: boolean;
  /** Negative slope of the LeakyReLU on additive scores. */
  readonly negativeSlope: number;
  /** Dropout rate on α in training, in [0, 1). */
  readonly attentionDropout: number;
  /** Whether the layer has the weight `bias`. */
  readonly useBias: boolean;
  /** Activation applied to the output. */
  readonly activation: ActivationIdentifier;
  /** Whether the layer has a second output, α `[B, K, J, J]`. */
  readonly returnAttention: boolean;
  /** `'skeleton'` (N(i) from `adjacency` and `hops`) or `'knn'` (i and its `k` nearest joints per sample). */
  readonly neighborhood: GATNeighborhood;
  /** Neighbours per joint in `'knn'` mode. */
  readonly k: number;
  /** Initializer of the kernel and attention weights (the k-th of a seeded one: seed + k). */
  readonly kernelInitializer: Initializer;
  /** Seed of the attention-dropout mask stream, or `null` for unseeded masks. */
  readonly dropoutSeed: number | null;
  /** The attention-dropout mask stream: the seed and the number of masks drawn so far. */
  private readonly noise: NoiseStream;
  /** N as a 0/1 matrix (`hopNeighborhood(adjacency, hops)`), used in `'skeleton'` mode. */
  private readonly neighborhoodMatrix: number[][];
  /** The feature size F the layer was built for (`null` before `build`). */
  private features: number | null = null;

  private kernel: tfl.LayerVariable | null = null;
  private attentionSelf: tfl.LayerVariable | null = null;
  private attentionNeighbor: tfl.LayerVariable | null = null;
  private queryKernel: tfl.LayerVariable | null = null;
  private keyKernel: tfl.LayerVariable | null = null;
  private bias: tfl.LayerVariable | null = null;

  constructor(args: DynamicEdgeGATArgs) {
    super(args, ARGS_KEYS);
    this.units = checkSize(COMPONENT, 'units', args.units, 1);
    this.heads = checkSize(COMPONENT, 'heads', args.heads ?? DEFAULTS.heads, 1);
    checkElements(COMPONENT, 'bias [K·U] (heads·units)', [this.heads, this.units]);
    this.adjacency = args.adjacency == null ? handAdjacency() : validateAdjacency(args.adjacency, COMPONENT);
    const hops = args.hops ?? DEFAULTS.hops;
    if (hops !== 1 && hops !== 2) throw new PhalanxConfigError(COMPONENT, 'hops', '1 or 2', hops);
    this.hops = hops;
    this.attention = checkOneOf(COMPONENT, 'attention', args.attention ?? DEFAULTS.attention, [
      'additive',
      'dotProduct',
    ] as const);
    this.concatHeads = checkBoolean(COMPONENT, 'concatHeads', args.concatHeads ?? DEFAULTS.concatHeads);
    this.negativeSlope = checkFloat32(COMPONENT, 'negativeSlope', args.negativeSlope ?? DEFAULTS.negativeSlope);
    this.attentionDropout = checkRate(
      COMPONENT,
      'attentionDropout',
      args.attentionDropout ?? DEFAULTS.attentionDropout,
    );
    this.useBias = checkBoolean(COMPONENT, 'useBias', args.useBias ?? DEFAULTS.useBias);
    this.activation = checkActivation(COMPONENT, args.activation ?? DEFAULTS.activation);
    this.returnAttention = checkBoolean(COMPONENT, 'returnAttention', args.returnAttention ?? DEFAULTS.returnAttention);
    this.neighborhood = checkOneOf(COMPONENT, 'neighborhood', args.neighborhood ?? DEFAULTS.neighborhood, [
      'skeleton',
      'knn',
    ] as const);
    // k is checked against J where J is known: at build for 'knn'.
    this.k = checkSize(COMPONENT, 'k', args.k ?? DEFAULTS.k, 1);
    this.kernelInitializer = resolveInitializer(
      COMPONENT,
      'kernelInitializer',
      args.kernelInitializer ?? DEFAULTS.kernelInitializer,
    );
    this.noise = new NoiseStream(COMPONENT, 'dropoutSeed', args.dropoutSeed ?? DEFAULTS.dropoutSeed);
    this.dropoutSeed = this.noise.seed;
    this.neighborhoodMatrix = this.neighborhood === 'skeleton' ? hopNeighborhood(this.adjacency, this.hops) : [];
  }

  /** Width of the first output: K·U (concat) or U (mean). */
  private get outputWidth(): number {
    return this.concatHeads ? this.heads * this.units : this.units;
  }

  private checkJoints(joints: number | null): void {
    if (joints === null) return;
    if (this.neighborhood === 'skeleton' && joints !== this.adjacency.length) {
      throw new PhalanxShapeError(
        COMPONENT,
        'input',
        `[B, J, F] with J = ${this.adjacency.length} joints (the adjacency's size)`,
        `J = ${joints}`,
      );
    }
    if (this.neighborhood === 'knn' && this.k > joints - 1) {
      throw new PhalanxConfigError(
        COMPONENT,
        'k',
        `an integer in [1, J − 1] = [1, ${joints - 1}] for J = ${joints}`,
        this.k,
      );
    }
  }

  /** Checks the input shapes (one `[B, J, F]`) for `build`, `computeOutputShape` and `call`; returns it. */
  private checkShapes(shapes: tfl.Shape[]): tfl.Shape {
    checkInputCount(COMPONENT, shapes, [1], 'a single tensor [B, J, F]');
    const [shape] = shapes;
    if (shape.length !== 3) throw new PhalanxShapeError(COMPONENT, 'input', 'of rank 3 [B, J, F]', shape);
    const features = shape[2];
    if (features === null) {
      throw new PhalanxShapeError(COMPONENT, 'input', 'a known feature size F in [B, J, F]', shape);
    }
    if (this.features !== null && features !== this.features) {
      throw new PhalanxShapeError(COMPONENT, 'input', `[B, J, F] with F = ${this.features} (as built)`, shape);
    }
    if (this.neighborhood === 'knn' && features < 3) {
      throw new PhalanxShapeError(COMPONENT, 'input', "[B, J, F] with F ≥ 3 in 'knn' mode (x, y, z come first)", shape);
    }
    this.checkJoints(shape[1]);
    return shape;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const features = this.checkShapes(shapeList(inputShape))[2] as number;
    const width = this.heads * this.units;
    checkElements(COMPONENT, 'kernel [F, K·U] (features·heads·units)', [features, width]);
    const init = (k: number) => nthInitializer(this.kernelInitializer, k);
    this.kernel = this.addWeight('kernel', [features, width], 'float32', init(0), undefined, true);
    if (this.attention === 'additive') {
      const shape = [this.heads, this.units];
      this.attentionSelf = this.addWeight('attentionSelf', shape, 'float32', init(1), undefined, true);
      this.attentionNeighbor = this.addWeight('attentionNeighbor', shape, 'float32', init(2), undefined, true);
    } else {
      this.queryKernel = this.addWeight('queryKernel', [features, width], 'float32', init(1), undefined, true);
      this.keyKernel = this.addWeight('keyKernel', [features, width], 'float32', init(2), undefined, true);
    }
    if (this.useBias) {
      this.bias = this.addWeight('bias', [this.outputWidth], 'float32', tfl.initializers.zeros(), undefined, true);
    }
    this.features = features;
    this.built = true;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    const [batch, joints] = this.checkShapes(shapeList(inputShape));
    const out: tfl.Shape = [batch, joints, this.outputWidth];
    return this.returnAttention ? [out, [batch, this.heads, joints, joints]] : out;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    return tf.tidy(() => {
      this.checkShapes(tensorShapes(inputs));
      const [x] = tensorList(inputs);
      const training = kwargs?.training === true;
      const dropoutSeed = training && this.attentionDropout > 0 ? this.noise.next() : undefined;
      const { output, attention } = dynamicEdgeGATCore(
        x,
        {
          kernel: this.kernel!.read(),
          attentionSelf: this.attentionSelf?.read(),
          attentionNeighbor: this.attentionNeighbor?.read(),
          queryKernel: this.queryKernel?.read(),
          keyKernel: this.keyKernel?.read(),
          bias: this.bias?.read() ?? null,
        },
        {
          heads: this.heads,
          attention: this.attention,
          ...(this.neighborhood === 'knn' ? { knn: this.k } : { neighborhood: this.neighborhoodMatrix }),
          concatHeads: this.concatHeads,
          negativeSlope: this.negativeSlope,
          attentionDropout: this.attentionDropout,
          training,
          ...(dropoutSeed === undefined ? {} : { dropoutSeed }),
          activation: this.activation,
        },
      );
      return this.returnAttention ? [output, attention] : output;
    });
  }

  /**
   * The position of the attention-dropout mask stream: the seed and the number of masks drawn so far
   * (training calls with `attentionDropout > 0`).
   *
   * @example
   * const gat = dynamicEdgeGAT({ units: 8, heads: 2, attentionDropout: 0.1, dropoutSeed: 5 });
   * gat.getNoiseState(); // { seed: 5, calls: 0 }
   */
  getNoiseState(): NoiseStreamState {
    return this.noise.getState();
  }

  /**
   * Moves the attention-dropout mask stream to `state.calls` (an integer ≥ 0), e.g. when resuming from a
   * checkpoint; `state.seed`, when given, must be this layer's `dropoutSeed`.
   *
   * @example
   * const gat = dynamicEdgeGAT({ units: 8, heads: 2, attentionDropout: 0.1, dropoutSeed: 5 });
   * gat.setNoiseState({ calls: 300 }); // the next training call draws mask number 300
   */
  setNoiseState(state: Pick<NoiseStreamState, 'calls'> & Partial<Pick<NoiseStreamState, 'seed'>>): void {
    this.noise.setState(state);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      units: this.units,
      heads: this.heads,
      adjacency: this.adjacency.map((row) => row.slice()),
      hops: this.hops,
      attention: this.attention,
      concatHeads: this.concatHeads,
      negativeSlope: this.negativeSlope,
      attentionDropout: this.attentionDropout,
      useBias: this.useBias,
      activation: this.activation,
      returnAttention: this.returnAttention,
      neighborhood: this.neighborhood,
      k: this.k,
      kernelInitializer: serializeInitializer(this.kernelInitializer) as unknown as tf.serialization.ConfigDictValue,
      // Only when set, so that the topology of an unseeded layer is what it always was.
      ...(this.dropoutSeed === null ? {} : { dropoutSeed: this.dropoutSeed }),
      ...super.getConfig(),
    };
  }
}
tf.serialization.registerClass(DynamicEdgeGAT);
// PyTorch Geometric GATConv names: lin.weight [K·U, F], att_dst [1, K, U] (the node itself), att_src
// [1, K, U] (the neighbour), bias; dot-product attention: lin_q.weight, lin_k.weight.
registerTorchConverter(
  DynamicEdgeGAT,
  perWeightConverter({
    kernel: transposedRule('lin.weight', [1, 0]),
    attentionSelf: reshapedRule('att_dst', (s) => [1, ...s]),
    attentionNeighbor: reshapedRule('att_src', (s) => [1, ...s]),
    queryKernel: transposedRule('lin_q.weight', [1, 0]),
    keyKernel: transposedRule('lin_k.weight', [1, 0]),
    bias: { torch: 'bias' },
  }),
);

/**
 * Creates a {@link DynamicEdgeGAT} layer (like `tf.layers.dense`).
 *
 * @example
 * const gat = dynamicEdgeGAT({ units: 32, heads: 8 }); // hand skeleton, 1 hop, additive
 */
export function dynamicEdgeGAT(args: DynamicEdgeGATArgs): DynamicEdgeGAT {
  return new DynamicEdgeGAT(args);
}
