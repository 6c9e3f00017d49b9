/**
 * The objectives of EHPE's two training stages (paper §3.2–3.3, Eq. 3–6 and 12–14), built from the
 * losses of `@phalanx/losses`.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  checkInteger,
  checkOptions,
  checkPositiveFloat32,
  describe,
  describeCompact,
  PhalanxConfigError,
  PhalanxShapeError,
} from '@phalanx/errors';
import {
  edgeStabilityLoss,
  heatmapMSE,
  l1Penalty,
  mpjpeLoss,
  squaredDistanceLoss,
  type Adjacency,
  type WeightLike,
} from '@phalanx/losses';
import { handAdjacency, hopNeighborhood } from '@phalanx/layers';
import { lossWeight } from './loss-weights';
import { PG_STAGE_LOSS_KEYS, TW_STAGE_LOSS_KEYS } from './option-keys';
import { checkTensorShape } from './tensor-checks';
import { volumeDepthCrossEntropy, volumeScoremapCrossEntropy } from './volume-losses';
import type { TwStageTargets } from './training-targets';

/** The weight of each term of EHPE's two training losses (see {@link EHPE_LOSS_WEIGHTS}). */
export interface EhpeLossWeights {
  /** λ_H of the TW-stage heatmap term (Eq. 3). */
  heatmap: number;
  /** λ_ED of the TW-stage 2.5D distance term (Eq. 4). */
  distance: number;
  /** λ_R of the TW-stage L1 weight penalty (Eq. 5), as the paper states it. */
  l1: number;
  /** Weight of the PG-stage position term (Eq. 12). */
  position: number;
  /** Weight of the PG-stage edge-stability term (Eq. 13). */
  edge: number;
}

/**
 * The loss weights of the paper (and of the release's `configs/default.yaml`): TW-stage λ_H = 3,
 * λ_ED = 1e-2, λ_R = 1e-2; PG-stage λ_P = 2e-2, λ_E = 2e-1. The release multiplies the L1 sum by a
 * further 1e-8 before λ_R (`train/train_tw.py`), so its effective weight is {@link RELEASE_L1_WEIGHT}.
 */
export const EHPE_LOSS_WEIGHTS: Readonly<EhpeLossWeights> = Object.freeze({
  heatmap: 3,
  distance: 1e-2,
  l1: 1e-2,
  position: 2e-2,
  edge: 2e-1,
});

/**
 * The release's effective L1 weight, `λ_R · 1e-8 = 1e-10` — the default of {@link twStageLoss}. The
 * paper's bare λ_R = 1e-2 on Σ|W| of a 30 M-parameter network (Σ|W| ≈ 10⁵) would outweigh the other
 * terms by orders of magnitude.
 */
export const RELEASE_L1_WEIGHT = 1e-2 * 1e-8;

/** A loss with named parts for the logs (the shape `Trainer` of `@phalanx/train` accepts). */
export interface LossWithParts {
  /** The scalar to minimise. */
  total: tf.Scalar;
  /** Each weighted term's unweighted value. */
  parts: Record<string, tf.Scalar>;
}

/** Options of {@link twStageLoss}. */
export interface TwStageLossOptions {
  /** λ_H, weight of the heatmap MSE. Default 3. */
  heatmapWeight?: number;
  /** λ_ED, weight of the coordinate distance. Default 1e-2. */
  distanceWeight?: number;
  /** Weight of the L1 penalty Σ|W| (λ_R, times the release's 1e-8). Default {@link RELEASE_L1_WEIGHT} = 1e-10. */
  l1Weight?: number;
  /**
   * The coordinate term: `'squared'` (default) — the mean squared distance of Eq. 4 (`squaredDistanceLoss`);
   * `'euclidean'` — the mean Euclidean distance the release uses (`Euclidean3DLoss`, `mpjpeLoss`).
   */
  distance?: 'squared' | 'euclidean';
  /** The weights W_k of the L1 penalty (Eq. 5), e.g. the trainable weights of backbone and TW-stage. Default: none. */
  weights?: readonly WeightLike[];
  /**
   * Weight of an extra term, not in the paper: {@link volumeScoremapCrossEntropy} of the volume's 2D
   * marginal against the normalised target heatmaps. Needs `prediction.volume` and `depthBins`. Default 0
   * (the paper's objective).
   */
  scoremapWeight?: number;
  /**
   * Weight of an extra term, not in the paper: {@link volumeDepthCrossEntropy} of the volume's depth
   * marginal against the target depth as two neighbouring bins. Needs `prediction.volume` and
   * `depthBins`. Default 0 (the paper's objective).
   */
  depthMarginalWeight?: number;
  /** Depth bins D of the volume (its channels are `n·D`). Needed when either volume term's weight is > 0. */
  depthBins?: number;
  /**
   * Inverse temperature β of the volume's softmax (the model's soft-argmax β): a positive normal float32
   * (1.1754944e-38 ≤ β ≤ 3.4028235e38). Default 1.
   */
  beta?: number;
}

function distanceLoss(kind: 'squared' | 'euclidean', target: tf.Tensor, prediction: tf.Tensor): tf.Scalar {
  return kind === 'squared' ? squaredDistanceLoss(target, prediction) : mpjpeLoss(target, prediction);
}

/** Throws unless `target` and `prediction` are live tensors of rank `rank`, last axis `last` (if given), the same shape. */
function checkTensorPair(
  name: string,
  [targetName, target]: [string, unknown],
  [predictionName, prediction]: [string, unknown],
  { rank, expected, last }: { rank: number; expected: string; last?: number },
): void {
  const hasShape = (shape: number[]) => shape.length === rank && (last === undefined || shape[rank - 1] === last);
  const t = checkTensorShape(name, targetName, target, `a tensor ${expected}`, hasShape);
  const same = (shape: number[]) => shape.length === rank && shape.every((d, i) => d === t.shape[i]);
  checkTensorShape(
    name,
    predictionName,
    prediction,
    `a tensor of the shape of ${targetName} ${describe(t.shape)}`,
    same,
  );
}

/** Throws unless `weights` (the L1 penalty's) is absent or a list of tensors or objects with `read()`. */
function checkWeightList(name: string, weights: unknown): readonly WeightLike[] {
  if (weights === undefined) return [];
  if (!Array.isArray(weights)) {
    throw new PhalanxConfigError(name, 'weights', 'a list of tensors or LayerVariables', weights);
  }
  weights.forEach((w: unknown, i) => {
    if (!(w instanceof tf.Tensor) && typeof (w as { read?: unknown } | null)?.read !== 'function') {
      throw new PhalanxConfigError(
        name,
        `weights[${i}]`,
        'a tf.Tensor or an object with read()',
        w === null ? null : typeof w,
      );
    }
  });
  return weights as readonly WeightLike[];
}

/**
 * Checks the volume terms' arguments of {@link twStageLoss} before anything is computed: the volume must be
 * `[B, S, S, n·D]` for the heatmaps `[B, S, S, n]` (scoremap term) and the coordinates `[B, n, 3]` (depth term).
 */
function checkVolumeTerms(
  name: string,
  volume: unknown,
  target: TwStageTargets,
  { scoremap, depth, depthBins }: { scoremap: boolean; depth: boolean; depthBins: number | undefined },
): void {
  const needs = 'when scoremapWeight or depthMarginalWeight > 0';
  if (!scoremap && !depth) return;
  if (!volume) throw new PhalanxConfigError(name, 'prediction.volume', `the volume ${needs}`, undefined);
  if (depthBins === undefined) throw new PhalanxConfigError(name, 'depthBins', `the depth bins ${needs}`, undefined);
  const [B, H, W, n] = target.heatmaps.shape;
  const m = target.coords25d.shape[1];
  const fits = (shape: number[]) =>
    shape.length === 4 &&
    (!scoremap || (shape[0] === B && shape[1] === H && shape[2] === W && shape[3] === n * depthBins)) &&
    (!depth || (shape[0] === target.coords25d.shape[0] && shape[3] === m * depthBins));
  const expected = scoremap ? `[${B}, ${H}, ${W}, ${n * depthBins}]` : `[${B}, S, S, ${m * depthBins}]`;
  checkTensorShape(name, 'prediction.volume', volume, `a tensor ${expected} (n·D, D = ${depthBins})`, fits);
}

/**
 * The TW-stage objective (EHPE Eq. 6):
 *
 *     L_total1 = λ_H · L_H + λ_ED · L_ED + λ_R · L_R
 *
 * with `L_H` = `heatmapMSE` of the heatmaps (Eq. 3 up to the constant S²), `L_ED` the mean squared
 * distance of the 2.5D coordinates (Eq. 4; x, y in heatmap pixels, z in bins) and `L_R = Σ_k |W_k|₁`
 * (Eq. 5) over `weights`. Weights default to the paper's λ_H = 3, λ_ED = 1e-2 and the release's
 * effective λ_R = 1e-10.
 *
 * Every argument is checked before anything is computed, and everything but the returned scalars is
 * disposed (inside `tf.tidy`), on success and on error alike.
 *
 * **Shapes**: `target` / `prediction` heatmaps `[B, S, S, n]`, coords `[B, n, 3]` → a scalar and its
 * parts `heatmap`, `distance`, `l1` (unweighted).
 *
 * @throws PhalanxShapeError for tensors of other ranks or shapes (prediction and target differing), or disposed.
 * @throws PhalanxConfigError for options that are not an object of {@link TwStageLossOptions}' keys (a
 *   misspelt key included) or have a bad value.
 *
 * @example
 * const model = createTwStage({ backboneChannels: 64, hourglassChannels: 32 });
 * const batch = { uv: tf.randomUniform([2, 21, 2], 0, 255), xyz: tf.randomUniform([2, 21, 3], 400, 600) };
 * const [heatmaps, , coords25d] = model.predict(tf.zeros([2, 8, 8, 64])) as tf.Tensor[];
 * const opts = { inputSize: 256, heatmapSize: heatmaps.shape[1] as number, depthBins: 8 };
 * const { total, parts } = twStageLoss(twStageTargets(batch, opts), { heatmaps, coords25d }, {
 *   weights: model.trainableWeights.map((w) => w.read()),
 * });
 */
export function twStageLoss(
  target: TwStageTargets,
  prediction: { heatmaps: tf.Tensor; coords25d: tf.Tensor; volume?: tf.Tensor },
  options: TwStageLossOptions = {},
): LossWithParts {
  const name = 'twStageLoss';
  checkOptions(name, 'options', options, TW_STAGE_LOSS_KEYS, 'an options object {heatmapWeight?, …, beta?}');
  const wH = lossWeight(name, 'heatmapWeight', options.heatmapWeight, EHPE_LOSS_WEIGHTS.heatmap);
  const wD = lossWeight(name, 'distanceWeight', options.distanceWeight, EHPE_LOSS_WEIGHTS.distance);
  const wR = lossWeight(name, 'l1Weight', options.l1Weight, RELEASE_L1_WEIGHT);
  const kind = checkDistanceKind(name, 'distance', options.distance);
  const wS = lossWeight(name, 'scoremapWeight', options.scoremapWeight, 0);
  const wZ = lossWeight(name, 'depthMarginalWeight', options.depthMarginalWeight, 0);
  const depthBins = options.depthBins === undefined ? undefined : checkInteger(name, 'depthBins', options.depthBins, 1);
  const beta = checkPositiveFloat32(name, 'beta', options.beta ?? 1); // it scales float32 logits
  const weights = checkWeightList(name, options.weights);
  const t: Partial<TwStageTargets> = target ?? {};
  const p: Partial<typeof prediction> = prediction ?? {};
  const heatmapShape = { rank: 4, expected: '[B, S, S, n]' };
  checkTensorPair(name, ['target.heatmaps', t.heatmaps], ['prediction.heatmaps', p.heatmaps], heatmapShape);
  const coordShape = { rank: 3, expected: '[B, n, 3]', last: 3 };
  checkTensorPair(name, ['target.coords25d', t.coords25d], ['prediction.coords25d', p.coords25d], coordShape);
  const volume = p.volume;
  checkVolumeTerms(name, volume, target, { scoremap: wS > 0, depth: wZ > 0, depthBins });
  const { total, parts } = tf.tidy(() => {
    const heatmap = heatmapMSE(target.heatmaps, prediction.heatmaps);
    const distance = distanceLoss(kind, target.coords25d, prediction.coords25d);
    const l1 = weights.length > 0 ? l1Penalty([...weights]) : tf.scalar(0);
    const terms = [tf.mul(heatmap, wH), tf.mul(distance, wD), tf.mul(l1, wR)];
    const parts: Record<string, tf.Scalar> = { heatmap, distance, l1 };
    if (wS > 0 && volume && depthBins !== undefined) {
      parts.scoremap = volumeScoremapCrossEntropy(volume, target.heatmaps, depthBins, beta);
      terms.push(tf.mul(parts.scoremap, wS));
    }
    if (wZ > 0 && volume && depthBins !== undefined) {
      const depths = tf.squeeze(tf.slice(target.coords25d, [0, 0, 2], [-1, -1, 1]), [2]);
      parts.depthMarginal = volumeDepthCrossEntropy(volume, depths, depthBins, beta);
      terms.push(tf.mul(parts.depthMarginal, wZ));
    }
    return { total: tf.addN(terms) as tf.Scalar, parts };
  });
  return { total, parts };
}

/** `value` (or `'squared'` when absent) if it names a distance of the stage losses; a named error otherwise. */
function checkDistanceKind(name: string, argument: string, value: unknown): 'squared' | 'euclidean' {
  const kind = value ?? 'squared';
  if (kind !== 'squared' && kind !== 'euclidean') {
    throw new PhalanxConfigError(name, argument, "'squared' or 'euclidean'", kind);
  }
  return kind;
}

/** Options of {@link pgStageLoss}. */
export interface PgStageLossOptions {
  /** λ_P, weight of the position loss. Default 2e-2. */
  positionWeight?: number;
  /** λ_E, weight of the edge-stability loss. Default 2e-1. */
  edgeWeight?: number;
  /**
   * The position term: `'squared'` (default) — Eq. 12, the mean squared distance; `'euclidean'` — the
   * release's `MPJPELoss` (mean Euclidean distance).
   */
  position?: 'squared' | 'euclidean';
  /**
   * Reduction of Eq. 13 over the edges of each attention map: `'mean'` (default; divided by the number
   * of edges) or `'sum'` (the paper's literal Σ over E). The attention of each node is a softmax over
   * its neighbours, so `Σ_E (α − 1)²` cannot fall below `Σ_i (n_i − 1)²/n_i` (≈ 40 for the 1-hop and
   * 2-hop skeleton): with `'sum'` and λ_E = 0.2 a constant ≈ 8 dominates the total, 40× the gradient of
   * `'mean'`, whose floor (≈ 0.2 after λ_E) is of the order of the release's mean over all J² entries.
   * See `edgeStabilityLoss` of `@phalanx/losses`.
   */
  edgeReduction?: 'sum' | 'mean';
  /**
   * The edge set E of each attention map, in order. Default: the support of each SPI layer — the
   * hand skeleton's 1-hop adjacency for the first, the 2-hop adjacency for the second (no self-loops).
   */
  adjacency?: readonly Adjacency[];
  /**
   * w_z, weight of the depth coordinate in the position term: each joint's distance becomes
   * `√(Δx² + Δy² + w_z·Δz²)` (x, y in input pixels, z in depth bins). Default 1 (the paper's). The two
   * units differ: with 8 bins over ±100 mm a bin is 25 mm, a pixel of a 96-px crop a few mm, so at
   * w_z = 1 a millimetre of depth costs far less than a millimetre in the image plane.
   */
  depthWeight?: number;
}

/**
 * The default edge sets of {@link pgStageLoss}: the support of each SPI layer without self-loops, i.e.
 * the neighbourhood the graph attention of {@link spiBlock} uses (`hopNeighborhood(handAdjacency(), l)`
 * of `@phalanx/layers`, hops 1 then 2, on the skeleton of `@phalanx/skeleton`) with its diagonal set to
 * 0 — the graph layer and its edge loss read the same edges.
 *
 * **Shapes**: two `[21][21]` 0/1 matrices.
 *
 * @example
 * const [oneHop, twoHop] = spiEdgeSets(); // oneHop[0][1] = 1 (wrist – thumb CMC), oneHop[0][0] = 0
 */
export function spiEdgeSets(): number[][][] {
  return [1, 2].map((hops) =>
    hopNeighborhood(handAdjacency(), hops).map((row, i) => row.map((v, j) => (i === j ? 0 : v))),
  );
}

/**
 * The PG-stage objective (EHPE Eq. 14):
 *
 *     L_total2 = λ_P · L_P + λ_E · L_E
 *
 * with `L_P` the mean squared distance of the 21 joints (Eq. 12) and `L_E` the edge-stability loss
 * `(α_ij − 1)²` (Eq. 13) of each SPI layer's attention over its own edge set — by default the mean over
 * the edges (`edgeReduction: 'sum'` for Eq. 13's sum) — averaged over batch, heads and the layers (the
 * release averages over layers too). Weights default to the paper's λ_P = 2e-2, λ_E = 2e-1.
 *
 * Every argument is checked before anything is computed, and everything but the returned scalars is
 * disposed (inside `tf.tidy`), on success and on error alike.
 *
 * **Shapes**: `target`, `joints` `[B, 21, 3]`; `attention` a list of `[B, K, 21, 21]` → a scalar and
 * its parts `position`, `edge` (unweighted).
 *
 * @throws PhalanxShapeError for tensors of other ranks or shapes (`joints` and `target` differing), or disposed.
 * @throws PhalanxConfigError for options that are not an object of {@link PgStageLossOptions}' keys (a
 *   misspelt key included), a bad value, or edge sets that do not match the attention maps.
 *
 * @example
 * const batch = { uv: tf.randomUniform([2, 21, 2], 0, 127), xyz: tf.randomUniform([2, 21, 3], 400, 600) };
 * const joints = tf.randomUniform([2, 21, 3], 0, 7); // the PG-stage's [B, 21, 3]
 * const [a1, a2] = [0, 1].map(() => tf.softmax(tf.randomNormal([2, 8, 21, 21]))); // both SPI layers' α
 * const { total } = pgStageLoss(pgStageTargets(batch, { depthBins: 8 }), joints, [a1, a2]);
 */
export function pgStageLoss(
  target: tf.Tensor,
  joints: tf.Tensor,
  attention: readonly tf.Tensor[],
  options: PgStageLossOptions = {},
): LossWithParts {
  const name = 'pgStageLoss';
  checkOptions(name, 'options', options, PG_STAGE_LOSS_KEYS, 'an options object {positionWeight?, …, depthWeight?}');
  const wP = lossWeight(name, 'positionWeight', options.positionWeight, EHPE_LOSS_WEIGHTS.position);
  const wE = lossWeight(name, 'edgeWeight', options.edgeWeight, EHPE_LOSS_WEIGHTS.edge);
  const reduction = options.edgeReduction ?? 'mean';
  if (reduction !== 'sum' && reduction !== 'mean') {
    throw new PhalanxConfigError(name, 'edgeReduction', "'sum' or 'mean'", reduction);
  }
  const kind = checkDistanceKind(name, 'position', options.position);
  const wZ = lossWeight(name, 'depthWeight', options.depthWeight, 1);
  checkTensorPair(name, ['target', target], ['joints', joints], { rank: 3, expected: '[B, J, 3]', last: 3 });
  const sets = checkAttention(name, attention, options.adjacency ?? spiEdgeSets());
  const { total, parts } = tf.tidy(() => {
    const scale = wZ === 1 ? null : tf.tensor1d([1, 1, Math.sqrt(wZ)]);
    const position = scale
      ? distanceLoss(kind, tf.mul(target, scale), tf.mul(joints, scale))
      : distanceLoss(kind, target, joints);
    const terms = attention.map((a, l) => edgeStabilityLoss(a, sets[l], { reduction }));
    const edge = tf.div(tf.addN(terms), terms.length) as tf.Scalar;
    const total = tf.add(tf.mul(position, wP), tf.mul(edge, wE)) as tf.Scalar;
    return { total, parts: { position, edge } };
  });
  return { total, parts };
}

/** The size J of an edge set: its rows for a nested array whose rows all have its length, else `null`. */
function edgeSetSize(set: unknown): number | null {
  if (set instanceof tf.Tensor) return set.rank === 2 && set.shape[0] === set.shape[1] ? set.shape[0] : null;
  if (!Array.isArray(set)) return null;
  return set.every((row) => Array.isArray(row) && row.length === set.length) ? set.length : null;
}

/**
 * Checks {@link pgStageLoss}'s attention maps (a non-empty list of live `[…, J, J]` tensors) and their edge
 * sets (one `J × J` matrix or tensor per map) before anything is computed; returns the edge sets.
 */
function checkAttention(name: string, attention: readonly tf.Tensor[], sets: unknown): readonly Adjacency[] {
  if (!Array.isArray(attention) || attention.length === 0) {
    throw new PhalanxShapeError(name, 'attention', 'a non-empty list of [B, K, J, J] tensors', attention);
  }
  if (!Array.isArray(sets)) {
    throw new PhalanxConfigError(name, 'adjacency', 'a list of edge sets (one per attention map)', sets);
  }
  if (sets.length !== attention.length) {
    throw new PhalanxConfigError(
      name,
      'adjacency',
      `${attention.length} edge sets (one per attention map)`,
      sets.length,
    );
  }
  attention.forEach((a: unknown, l) => {
    const square = (shape: number[]) => shape.length >= 2 && shape[shape.length - 1] === shape[shape.length - 2];
    const size = checkTensorShape(name, `attention[${l}]`, a, 'a tensor [B, K, J, J]', square).shape.at(-1);
    if (edgeSetSize(sets[l]) !== size) {
      const set: unknown = sets[l];
      const received = set instanceof tf.Tensor ? set.shape : set;
      const expected = `a ${size} × ${size} edge set (attention[${l}]'s J)`;
      throw new PhalanxConfigError(name, `adjacency[${l}]`, expected, received, describeCompact);
    }
  });
  return sets as readonly Adjacency[];
}
