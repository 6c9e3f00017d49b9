/**
 * The whole EHPE network (Ma et al., "EHPE: A Segmented Architecture for Enhanced Hand Pose
 * Estimation"): backbone → TW-stage → initial 21-joint layout → joint feature sampling → PG-stage
 * (SPI graph branch ∥ FEM transformer branch → fusion → output head).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { checkInteger, checkOptions, PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import {
  checkNoiseSeed,
  deriveNoiseSeed,
  dualBranchFusion,
  dynamicEdgeGAT,
  jointFeatureSampler,
  resizeBilinear,
  type GATAttention,
} from '@phalanx/layers';
import {
  addAll,
  relu,
  resolvedResNetBackbone,
  torchBatchNorm,
  torchConv2d,
  torchLinear,
  torchName,
} from '@phalanx/blocks';
import {
  attachEhpeRecord,
  EHPE_OUTPUTS,
  PG_OUTPUTS,
  resolveEhpeConfig,
  type EhpeConfig,
  type ResolvedEhpeConfig,
} from './config';
import { fem } from './fem';
import { init21Layout, initialLayoutMatrix } from './init21';
import { twStage } from './tw-stage';

type SymbolicTensor = tfl.SymbolicTensor;

/** Index of the SPI's seed among those derived from `dropoutSeed` (the FEM's is 1, see `resolveEhpeConfig`). */
const SPI_DROPOUT_SITE = 0;

/** Options of {@link spiBlock}. */
export interface SpiBlockOptions {
  /** Node width D of input and output (an integer ≥ 1): the input must be `[B, 21, D]`. Required. */
  dim: number;
  /** Heads K per graph-attention layer (units per head D/K). Default 8. */
  heads?: number;
  /** Attention score. Default `'additive'`. */
  attention?: GATAttention;
  /** Dropout on the attention weights, training only. Default 0. */
  attentionDropout?: number;
  /**
   * Seed of the attention-dropout masks (an integer): layer l gets `deriveNoiseSeed(dropoutSeed, l)`.
   * `null` or absent (default): unseeded masks.
   */
  dropoutSeed?: number | null;
  /** Module path (`pg.spi`). Required. */
  name: string;
}

/** The keys of {@link SpiBlockOptions}: any other key is a named error. */
const SPI_KEYS = {
  dim: true,
  heads: true,
  attention: true,
  attentionDropout: true,
  dropoutSeed: true,
  name: true,
} satisfies Record<keyof SpiBlockOptions, true>;

/**
 * Structural Prior based Inference (EHPE §3.3.2): two {@link @phalanx/layers!DynamicEdgeGAT} layers on
 * the hand skeleton, the first over 1-hop, the second over 2-hop neighbourhoods (Eq. 8–9, heads concatenated),
 * each with the cross-layer skip of Eq. 10: `h⁽ˡ⁺¹⁾ = ReLU(GAT_l(h⁽ˡ⁾) + W_skip⁽ˡ⁾ h⁽⁰⁾)`.
 * Layers `<name>.gat.0`, `.gat.1`, `<name>.skip.0`, `.skip.1` (linear, no bias).
 *
 * **Shapes**: `[B, 21, D]` → `output [B, 21, D]`, `attention` two `[B, K, 21, 21]` (for the edge loss). An input
 * of another width than `dim` is a `PhalanxShapeError` when the block is built.
 *
 * @example
 * const nodes = tfl.input({ shape: [21, 512] });
 * const { output, attention } = spiBlock(nodes, { dim: 512, heads: 8, name: 'pg.spi' });
 */
export function spiBlock(
  h0: SymbolicTensor,
  options: SpiBlockOptions,
): {
  /** `[B, 21, D]`: the node features after both layers. */
  output: SymbolicTensor;
  /** The two layers' attention α, each `[B, K, 21, 21]` (for the edge loss). */
  attention: SymbolicTensor[];
} {
  const expected = 'an options object {dim, heads?, attention?, attentionDropout?, dropoutSeed?, name}';
  checkOptions('spiBlock', 'options', options, SPI_KEYS, expected);
  const { dim, heads = 8, attention = 'additive', attentionDropout = 0, name } = options;
  checkInteger('spiBlock', 'options.dim', dim, 1);
  // The skip W_skip h⁽⁰⁾ and GAT_0 map any width to dim, so another width would build and change the width.
  const shape = h0 instanceof tfl.SymbolicTensor ? h0.shape : null;
  if (shape === null || shape.length !== 3 || shape[2] !== dim) {
    const received = h0 instanceof tf.Tensor ? h0.shape : (shape ?? h0);
    throw new PhalanxShapeError(
      'spiBlock',
      'h0',
      `[B, 21, ${dim}] (options.dim is the input and output width)`,
      received,
    );
  }
  const dropoutSeed = checkNoiseSeed('spiBlock', 'dropoutSeed', options.dropoutSeed);
  let h = h0;
  const alphas: SymbolicTensor[] = [];
  for (let l = 0; l < 2; l++) {
    const [g, alpha] = dynamicEdgeGAT({
      units: dim / heads,
      heads,
      hops: (l + 1) as 1 | 2,
      attention,
      attentionDropout,
      dropoutSeed: dropoutSeed === null ? null : deriveNoiseSeed(dropoutSeed, l),
      concatHeads: true,
      returnAttention: true,
      name: torchName(name, 'gat', l),
    }).apply(h) as SymbolicTensor[];
    const skip = torchLinear(h0, { units: dim, useBias: false, name: torchName(name, 'skip', l) });
    h = relu(addAll([g, skip], torchName(name, 'add', l)), torchName(name, 'relu', l));
    alphas.push(alpha);
  }
  return { output: h, attention: alphas };
}

/**
 * Builds the EHPE network as a functional `tf.LayersModel`:
 *
 * 1. `backbone`: ResNet (torchvision names, stride 32) → `F [B, h, w, C]`;
 * 2. `tw`: the TW-stage ({@link twStage}) → heatmaps, volume, `(x, y, z)` of the `tipWristJoints` in
 *    heatmap pixels and depth bins;
 * 3. `init21`: x, y scaled to input pixels (`(S_in − 1)/(S_hm − 1)`), then the 21-joint layout
 *    ({@link Init21Layout}; the release's `init_21_from_tw` for wrist + tips);
 * 4. `img_token_proj`: 1×1 conv (no bias) → BN → ReLU on F → image tokens `[B, h·w, nodeDim]`; the same
 *    map, resized to `featureSampleSize`, is sampled at the layout's x, y
 *    ({@link @phalanx/layers!JointFeatureSampler});
 * 5. PG-stage: `pg.node_proj` (linear on `[x, y, z, features]`), SPI ({@link spiBlock}) and FEM
 *    ({@link fem}) on the projected nodes, {@link @phalanx/layers!DualBranchFusion} (`pg`, Eq. 11),
 *    `pg.out_head` (linear to 3).
 *
 * **Shapes**: input `[B, S, S, 3]` (normalised RGB as the backbone expects). Outputs, in order
 * ({@link EHPE_OUTPUTS}; `ehpeOutputIndex(model, name)` finds one):
 * `twHeatmaps [B, S_hm, S_hm, n]`, `twCoords [B, n, 3]` (heatmap pixels, bins), `joints [B, 21, 3]`
 * (the PG-stage's prediction, in the units of its training target), `attention1 [B, K, 21, 21]`,
 * `attention2 [B, K, 21, 21]` (1-hop and 2-hop graph attention, for the edge-stability loss).
 *
 * The model keeps its resolved configuration ({@link ResolvedEhpeConfig}) and output names in its
 * user-defined metadata ({@link ehpeRecordOf}); `model.save` writes them and a reloaded model has them.
 *
 * @example
 * const model = createEhpe({ imageSize: 256 }); // ResNet-50, the release's sizes
 * const [heatmaps, tw, joints] = model.predict(tf.zeros([1, 256, 256, 3])) as tf.Tensor[];
 */
export function createEhpe(config: EhpeConfig = {}): tfl.LayersModel {
  const c = resolveEhpeConfig(config);
  // Ratios that would make the layout NaN for these joints are refused before any layer is built.
  initialLayoutMatrix(c.tipWristJoints, c.layout, 'createEhpe');
  const image = tfl.input({ shape: [c.imageSize, c.imageSize, 3], name: 'image' });
  const features = resolvedResNetBackbone(image, c.backbone);
  const out = twStage(features, c.tw, 'tw');

  const xyScale = (c.imageSize - 1) / (c.heatmapSize - 1);
  const init = init21Layout({ tipWristJoints: c.tipWristJoints, xyScale, ...c.layout, name: 'init21' }).apply(
    out.coords25d,
  ) as SymbolicTensor; // [B, 21, 3]: input pixels, bins

  const pg = pgStageOnLayout(features, init, c, 'init21');
  const model = tfl.model({
    inputs: image,
    outputs: [out.heatmaps2d, out.coords25d, pg.joints, ...pg.attention],
    name: c.name,
  });
  attachEhpeRecord(model, { kind: 'ehpe', config: c, outputs: EHPE_OUTPUTS });
  return model;
}

/**
 * The PG-stage's inputs and the PG-stage itself, from backbone features and a 21-joint layout: image
 * tokens (`img_token_proj`, 1×1 conv + BN + ReLU, flattened), joint features sampled at the layout's x, y
 * (rescaled to the `featureSampleSize` map, `img_feat_up` + `sample`), node features `[layout, sampled]`
 * (`node_feat`), then {@link pgStage} under `pg`. Shared by {@link createEhpe} (layout = `init21`) and
 * `createPgOnly` (layout = an input); `layoutName` prefixes the weightless layers that split the layout.
 *
 * **Shapes**: `features [B, h, h, C]` (h = `featureSize`), `layout [B, 21, 3]` (input pixels, bins) →
 * `joints [B, 21, 3]`, `attention` two `[B, K, 21, 21]`. With `c.pgOutput = 'residual'` the joints are
 * `layout + out_head(fused)` (layer `pg.refine`).
 */
export function pgStageOnLayout(
  features: SymbolicTensor,
  layout: SymbolicTensor,
  c: ResolvedEhpeConfig,
  layoutName: string,
): ReturnType<typeof pgStage> {
  const featureSize = c.tw.featureSize;
  let img = torchConv2d(features, { filters: c.nodeDim, kernelSize: 1, useBias: false, name: 'img_token_proj.0' });
  img = relu(torchBatchNorm(img, 'img_token_proj.1'), 'img_token_proj.2');
  const tokens = tfl.layers
    .reshape({ targetShape: [featureSize * featureSize, c.nodeDim], name: 'img_tokens' })
    .apply(img) as SymbolicTensor;

  // Sampling positions: x, y of the layout in the pixels of the resized feature map.
  const s = c.featureSampleSize;
  const asImage = tfl.layers
    .reshape({ targetShape: [21, 3, 1], name: `${layoutName}.split` })
    .apply(layout) as SymbolicTensor;
  const xyCrop = tfl.layers
    .cropping2D({
      cropping: [
        [0, 0],
        [0, 1],
      ],
      name: `${layoutName}.xy_crop`,
    })
    .apply(asImage) as SymbolicTensor;
  const xy = tfl.layers.reshape({ targetShape: [21, 2], name: `${layoutName}.xy` }).apply(xyCrop) as SymbolicTensor;
  const points = tfl.layers
    .rescaling({ scale: (s - 1) / (c.imageSize - 1), offset: 0, name: 'sample_points' })
    .apply(xy) as SymbolicTensor;
  const map = resizeBilinear({ height: s, width: s, name: 'img_feat_up' }).apply(img) as SymbolicTensor;
  const sampled = jointFeatureSampler({ name: 'sample' }).apply([map, points]) as SymbolicTensor; // [B, 21, D]

  const nodes = tfl.layers.concatenate({ axis: -1, name: 'node_feat' }).apply([layout, sampled]) as SymbolicTensor;
  const pg = pgStage(nodes, tokens, c, 'pg');
  if (c.pgOutput === 'absolute') return pg;
  const joints = tfl.layers.add({ name: 'pg.refine' }).apply([layout, pg.joints]) as SymbolicTensor;
  return { ...pg, joints };
}

/**
 * The PG-stage (EHPE §3.3) on node features and image tokens, with the release's names under `name`
 * (`pg`): `node_proj` (linear D+3 → D), SPI ({@link spiBlock}, `spi`) and FEM ({@link fem}, `fem`) on
 * the projected nodes, {@link @phalanx/layers!DualBranchFusion} (named `name`: `omega_g`, `omega_e`,
 * Eq. 11) and `out_head` (linear D → 3).
 *
 * **Shapes**: `nodes [B, 21, 3 + D]` (x, y, z of the layout and the sampled features), `imageTokens
 * [B, T, D]` → `joints [B, 21, 3]`, `attention` two `[B, K, 21, 21]`.
 *
 * @example
 * const nodes = tfl.input({ shape: [21, 512] });
 * const tokens = tfl.input({ shape: [64, 512] });
 * const { joints, attention } = pgStage(nodes, tokens, resolveEhpeConfig(), 'pg');
 */
export function pgStage(
  nodes: SymbolicTensor,
  imageTokens: SymbolicTensor,
  c: ResolvedEhpeConfig,
  name = 'pg',
): {
  /** `[B, 21, 3]`: the PG-stage's joints, in the units of its training target. */
  joints: SymbolicTensor;
  /** The SPI layers' attention α, two `[B, K, 21, 21]`. */
  attention: SymbolicTensor[];
} {
  const x = torchLinear(nodes, { units: c.nodeDim, name: torchName(name, 'node_proj') });
  const spi = spiBlock(x, {
    dim: c.nodeDim,
    heads: c.gatHeads,
    attention: c.gatAttention,
    attentionDropout: c.dropout,
    dropoutSeed: c.dropoutSeed == null ? null : deriveNoiseSeed(c.dropoutSeed, SPI_DROPOUT_SITE),
    name: torchName(name, 'spi'),
  });
  const femOut = fem(x, imageTokens, c.fem, torchName(name, 'fem'));
  const fused = dualBranchFusion({ numJoints: 21, visualWeight: c.fusionVisualWeight, name }).apply([
    spi.output,
    femOut,
  ]) as SymbolicTensor;
  return { joints: torchLinear(fused, { units: 3, name: torchName(name, 'out_head') }), attention: spi.attention };
}

/**
 * The PG-stage alone as a model (for benchmarks, or to train it on cached TW-stage outputs), from
 * `[nodes [B, 21, 3 + nodeDim], imageTokens [B, numImageTokens, nodeDim]]` to `[joints [B, 21, 3],
 * attention1, attention2]`; layer names as in {@link createEhpe} (`pg.*`), so weights transfer by name.
 * Only for `pgOutput: 'absolute'` (a residual stage needs its layout: use `createEhpe` or `createPgOnly`).
 *
 * @example
 * const pg = createPgStage({ nodeDim: 512 }, 64);
 * const [joints] = pg.predict([tf.zeros([1, 21, 515]), tf.zeros([1, 64, 512])]) as tf.Tensor[];
 */
export function createPgStage(config: EhpeConfig = {}, numImageTokens = 64): tfl.LayersModel {
  const c = resolveEhpeConfig(config);
  checkInteger('createPgStage', 'numImageTokens', numImageTokens, 1);
  if (c.pgOutput !== 'absolute') {
    // Its nodes carry the layout only mixed with the sampled features: there is no layout to refine.
    throw new PhalanxConfigError(
      'createPgStage',
      'pgOutput',
      "'absolute' (the stage alone has no layout input)",
      c.pgOutput,
    );
  }
  const nodes = tfl.input({ shape: [21, 3 + c.nodeDim], name: 'nodes' });
  const tokens = tfl.input({ shape: [numImageTokens, c.nodeDim], name: 'image_tokens' });
  const pg = pgStage(nodes, tokens, c, 'pg');
  const model = tfl.model({
    inputs: [nodes, tokens],
    outputs: [pg.joints, ...pg.attention],
    name: `${c.name}_pg_stage`,
  });
  attachEhpeRecord(model, { kind: 'pg-stage', config: c, outputs: PG_OUTPUTS });
  return model;
}
