/**
 * The Learnable Joint Groups network (Li, Gao, Sang — AAAI 2021), layer for layer as the official
 * `Learnable_Groups([G, nddr], inputSize, J, planes)` of `moranli-aca/LearnableGroups-Hand`
 * (`nets/Net.py`), so that the released PyTorch checkpoint imports by name.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import {
  checkBoolean,
  checkInteger,
  checkIntegerIn,
  checkOneOf,
  checkOptions,
  checkPositiveFloat32,
  PhalanxConfigError,
  PhalanxShapeError,
} from '@phalanx/errors';
import { checkNoiseSeed, concreteJointSelector, softArgmax25D } from '@phalanx/layers';
import {
  basic2dBlock,
  channelsOf,
  concatChannels,
  downsampleConv2dR,
  hourglassBackbone,
  MODEL_LIMITS,
  nddrBlock,
  relu,
  res2dBlock,
  torchConv2d,
  torchName,
  upsample2dBlockR,
} from '@phalanx/blocks';

type SymbolicTensor = tfl.SymbolicTensor;

const COMPONENT = 'createLearnableGroups';

/** Configuration of {@link createLearnableGroups}. */
export interface LearnableGroupsConfig {
  /** Number of joint groups G (branches), an integer in [2, J]: every group needs a joint. Default 3 (the paper's). */
  numGroups?: number;
  /** Share features between the branches with the NDDR block (Eq. 9). Default true. */
  fusion?: boolean;
  /** Input size S (square images `[B, S, S, 3]`), divisible by 64, at most 4 096. Default 256. */
  inputSize?: number;
  /** Number of joints J, an integer in [2, 4 096] (each of the ≥ 2 groups needs a joint). Default 21. */
  numJoints?: number;
  /** Branch channels `[P0, P1]` (`planes`). Default `[32, 32]`. */
  planes?: [number, number];
  /** Hourglass features of the backbone (`num_feats`; the release: 256), even. Default 256. */
  hourglassFeatures?: number;
  /** Channels of the backbone's stem `[conv1_, r1]` (the release: `[64, 128]`), the second even. Default `[64, 128]`. */
  stemChannels?: [number, number];
  /** Output channels of the first `backbone_conv` block (the release: 128). Default 128. */
  neckChannels?: number;
  /** Initial Concrete temperature of the selector, a positive normal float32 (≥ 1.1754944e-38). Default 5. */
  initialTemperature?: number;
  /** Selector at inference: `'hard'` (one group per joint, default) or `'soft'`. */
  inferenceMode?: 'hard' | 'soft';
  /** Seed of the selector's Gumbel noise stream, a safe integer. Default: unseeded. */
  seed?: number;
  /** Model name, a string. Default `'learnable_groups'`. */
  name?: string;
}

/** The keys of a {@link LearnableGroupsConfig}: any other key is a named error. */
const CONFIG_KEYS = {
  numGroups: true,
  fusion: true,
  inputSize: true,
  numJoints: true,
  planes: true,
  hourglassFeatures: true,
  stemChannels: true,
  neckChannels: true,
  initialTemperature: true,
  inferenceMode: true,
  seed: true,
  name: true,
} satisfies Record<keyof LearnableGroupsConfig, true>;

/** The configuration with every default filled in. */
export type ResolvedLearnableGroupsConfig = Required<Omit<LearnableGroupsConfig, 'seed'>> & {
  /** Seed of the selector's Gumbel noise stream; `undefined` for unseeded noise. */
  seed?: number;
};

/** Fills in the defaults of a {@link LearnableGroupsConfig} and validates it (a key it does not know is a `PhalanxConfigError`). */
export function resolveLearnableGroupsConfig(config: LearnableGroupsConfig = {}): ResolvedLearnableGroupsConfig {
  checkOptions(COMPONENT, 'config', config, CONFIG_KEYS, 'an options object');
  const resolved: ResolvedLearnableGroupsConfig = {
    numGroups: config.numGroups ?? 3,
    fusion: config.fusion ?? true,
    inputSize: config.inputSize ?? 256,
    numJoints: config.numJoints ?? 21,
    planes: config.planes ?? [32, 32],
    hourglassFeatures: config.hourglassFeatures ?? 256,
    stemChannels: config.stemChannels ?? [64, 128],
    neckChannels: config.neckChannels ?? 128,
    initialTemperature: config.initialTemperature ?? 5,
    inferenceMode: config.inferenceMode ?? 'hard',
    name: config.name ?? 'learnable_groups',
    seed: config.seed,
  };
  const { channels, imageSize, joints } = MODEL_LIMITS;
  // Every value the layers would reject is checked here, before the first weight is built.
  const numJoints = checkIntegerIn(COMPONENT, 'numJoints', resolved.numJoints, 2, joints); // ≥ numGroups ≥ 2
  checkIntegerIn(COMPONENT, 'numGroups', resolved.numGroups, 2, numJoints); // every group needs a joint
  checkBoolean(COMPONENT, 'fusion', resolved.fusion);
  checkIntegerIn(COMPONENT, 'inputSize', resolved.inputSize, 64, imageSize);
  if (resolved.inputSize % 64 !== 0) {
    // Stem /4, backbone hourglass /16 more; the branches' two stride-2 blocks need /16 too.
    throw new PhalanxConfigError(COMPONENT, 'inputSize', 'a multiple of 64', resolved.inputSize);
  }
  const pair = (arg: string, v: unknown) => {
    if (!Array.isArray(v) || v.length !== 2) throw new PhalanxConfigError(COMPONENT, arg, 'a pair of integers', v);
    v.forEach((c) => checkIntegerIn(COMPONENT, arg, c, 1, channels));
  };
  pair('planes', resolved.planes);
  pair('stemChannels', resolved.stemChannels);
  if (resolved.stemChannels[1] % 2 !== 0) {
    throw new PhalanxConfigError(COMPONENT, 'stemChannels[1]', 'an even integer', resolved.stemChannels[1]);
  }
  checkIntegerIn(COMPONENT, 'hourglassFeatures', resolved.hourglassFeatures, 2, channels);
  if (resolved.hourglassFeatures % 2 !== 0) {
    // The backbone's pre-activation residual modules halve it.
    throw new PhalanxConfigError(COMPONENT, 'hourglassFeatures', 'an even integer', resolved.hourglassFeatures);
  }
  checkIntegerIn(COMPONENT, 'neckChannels', resolved.neckChannels, 1, channels);
  checkPositiveFloat32(COMPONENT, 'initialTemperature', resolved.initialTemperature);
  checkOneOf(COMPONENT, 'inferenceMode', resolved.inferenceMode, ['hard', 'soft'] as const);
  checkNoiseSeed(COMPONENT, 'seed', resolved.seed); // the selector's noise stream takes a safe integer
  if (typeof resolved.name !== 'string') throw new PhalanxConfigError(COMPONENT, 'name', 'a string', resolved.name);
  return resolved;
}

/**
 * One group branch before fusion (the release's `b_conv0 … b_up0` of branch j): a small two-level
 * encoder–decoder over the shared features `f` (`[B, S/4, S/4, P0]`):
 *
 * `b0 = Basic(f)`, `b1 = Res(b0)`, `b2 = Down(b1)`, `b3 = Down(b2)`, `u2 = Up(b3)`,
 * `u1 = Up(Basic([u2, b2]))`, `out = Res(Basic([u1, b1, b0]))`.
 *
 * **Shapes**: `[B, H, W, P0]` → `[B, H, W, P1]` (H, W divisible by 4).
 *
 * `planes` (a pair of integers in [1, 8 192]), `j` (an integer ≥ 0) and the feature size are checked
 * before the first layer is built (`PhalanxConfigError`, `PhalanxShapeError`).
 */
export function groupBranch(features: SymbolicTensor, j: number, planes: [number, number]): SymbolicTensor {
  const component = 'groupBranch';
  if (!Array.isArray(planes) || planes.length !== 2) {
    throw new PhalanxConfigError(component, 'planes', 'a pair of integers', planes);
  }
  planes.forEach((c) => checkIntegerIn(component, 'planes', c, 1, MODEL_LIMITS.channels));
  checkInteger(component, 'j', j, 0);
  channelsOf(features, component);
  // Two stride-2 blocks and two ×2 upsamplings whose outputs are concatenated with the finer maps.
  if (features.shape.slice(1, 3).some((side) => side != null && side % 4 !== 0)) {
    throw new PhalanxShapeError(component, 'features', '[B, H, W, C] with H and W divisible by 4', features.shape);
  }
  const [p0, p1] = planes;
  const bf0 = basic2dBlock(features, { outChannels: p0, kernelSize: 1, name: torchName('b_conv0', j) });
  const bf1 = res2dBlock(bf0, { outChannels: p1, name: torchName('b_conv1', j) });
  const bf2 = downsampleConv2dR(bf1, { outChannels: p1, name: torchName('b_down1', j) });
  const bf3 = downsampleConv2dR(bf2, { outChannels: p1, name: torchName('b_down2', j) });
  const bf31 = upsample2dBlockR(bf3, { outChannels: p1, name: torchName('b_up2', j, 0) });
  let bf21 = concatChannels([bf31, bf2], torchName('b_up1', j, 'cat'));
  bf21 = basic2dBlock(bf21, { outChannels: p1, kernelSize: 1, name: torchName('b_up1', j, 0) });
  bf21 = upsample2dBlockR(bf21, { outChannels: p1, name: torchName('b_up1', j, 1) });
  let out = concatChannels([bf21, bf1, bf0], torchName('b_up0', j, 'cat'));
  out = basic2dBlock(out, { outChannels: 2 * p1, kernelSize: 1, name: torchName('b_up0', j, 0) });
  return res2dBlock(out, { outChannels: p1, name: torchName('b_up0', j, 1) });
}

/** A head `conv3×3 → ReLU → conv3×3` (the release's `b_htmaps_conv.j` / `b_depth_conv.j`). */
function head(x: SymbolicTensor, prefix: string, j: number, planes: [number, number], numJoints: number) {
  let y = torchConv2d(x, { filters: planes[0], kernelSize: 3, padding: 1, name: torchName(prefix, j, 0) });
  y = relu(y, torchName(prefix, j, 1));
  return torchConv2d(y, { filters: numJoints, kernelSize: 3, padding: 1, name: torchName(prefix, j, 2) });
}

/**
 * Builds the Learnable Joint Groups network (AAAI 2021, Fig. 2) as a functional `tf.LayersModel`:
 *
 * 1. backbone: single-stack hourglass (`Net_HG`, pre-activation residual modules) → heatmaps `h₀`
 *    `[B, S/4, S/4, J]` and features `T₀`;
 * 2. shared convolutions `backbone_conv` (two `Res2DBlock`s) on `[h₀, T₀]`;
 * 3. G branches (a small encoder–decoder each), optionally fused by the NDDR block (Eq. 9);
 * 4. per branch a heatmap head and a depth head, and a latent `SoftArgmax25D` (`b_get_uv.j`, per-joint
 *    trainable β — the release's `SoftHeatmap`): `(u, v, d)_{g,j}` with u, v in heatmap pixels (pixel
 *    centres at integer indices, exactly the release's `arange` grid);
 * 5. the `ConcreteJointSelector` `meta_S` over the stack `[B, G, J, 3]`: `y_j = Σ_g S[j,g]·(u,v,d)_{g,j}`
 *    (Eq. 4–8; training: a Concrete sample, inference: the hard one-hot of the logits' argmax);
 * 6. outputs `uv = 4·(u, v)` in input pixels and `depth = d` (relative, scale-normalised depth).
 *
 * Layer names are the PyTorch module paths, so {@link importTorchStateDict} maps the official
 * `state_dict` onto the model by name.
 *
 * **Shapes**: input `[B, S, S, 3]` — exactly what the official `forward` receives (RGB in [0, 1], see
 * {@link cropAndResize}), NHWC; outputs `[uv [B, J, 2], depth [B, J]]`.
 *
 * @example
 * const model = createLearnableGroups({ numGroups: 3, fusion: true, inputSize: 256 });
 * const [uv, depth] = model.predict(tf.zeros([1, 256, 256, 3])) as tf.Tensor[]; // [1, 21, 2], [1, 21]
 */
export function createLearnableGroups(config: LearnableGroupsConfig = {}): tfl.LayersModel {
  const c = resolveLearnableGroupsConfig(config);
  const { numGroups: G, numJoints: J, inputSize: S, planes } = c;
  const image = tfl.input({ shape: [S, S, 3], name: 'image' });
  const shared = sharedTrunk(image, c);
  const branches: SymbolicTensor[] = [];
  for (let j = 0; j < G; j++) branches.push(groupBranch(shared, j, planes));
  const fused = c.fusion ? nddrBlock(branches, { name: 'nddr_layer0' }) : branches;
  const perGroup = fused.map((branch, j) => groupKeypoints(branch, j, planes, J));
  const stacked = tfl.layers.concatenate({ axis: 1, name: 'groups.stack' }).apply(perGroup) as SymbolicTensor; // [B, G, J, 3]
  const selected = concreteJointSelector({
    numJoints: J,
    numGroups: G,
    initialTemperature: c.initialTemperature,
    inferenceMode: c.inferenceMode,
    seed: c.seed ?? null,
    name: 'meta_S',
  }).apply(stacked) as SymbolicTensor; // [B, J, 3]
  const { uv, depth } = splitUvDepth(selected, J);
  return tfl.model({ inputs: image, outputs: [uv, depth], name: c.name });
}

/** Steps 1–2: the hourglass backbone and the shared `backbone_conv` on `[h₀, T₀]` → `[B, S/4, S/4, planes[0]]`. */
function sharedTrunk(image: SymbolicTensor, c: ResolvedLearnableGroupsConfig): SymbolicTensor {
  const { heatmaps, encodings } = hourglassBackbone(image, {
    numJoints: c.numJoints,
    numStacks: 1,
    numModules: 2,
    features: c.hourglassFeatures,
    stemChannels: c.stemChannels,
    name: 'backbone',
  });
  let shared = concatChannels([heatmaps[0], encodings[0]], 'backbone_conv.cat');
  shared = res2dBlock(shared, { outChannels: c.neckChannels, name: 'backbone_conv.0' });
  return res2dBlock(shared, { outChannels: c.planes[0], name: 'backbone_conv.1' });
}

/** Step 4 for group `j`: heatmap and depth heads and the latent soft-argmax → `(u, v, d)` as `[B, 1, J, 3]`. */
function groupKeypoints(
  branch: SymbolicTensor,
  j: number,
  planes: ResolvedLearnableGroupsConfig['planes'],
  J: number,
): SymbolicTensor {
  const htmaps = head(branch, 'b_htmaps_conv', j, planes, J);
  const depthMaps = head(branch, 'b_depth_conv', j, planes, J);
  const uvd = softArgmax25D({
    mode: 'latent',
    numJoints: J,
    trainableBeta: true,
    beta: 1,
    coordinates: 'pixel',
    name: torchName('b_get_uv', j),
  }).apply([htmaps, depthMaps]) as SymbolicTensor; // [B, J, 3]
  return tfl.layers
    .reshape({ targetShape: [1, J, 3], name: torchName('b_get_uv', j, 'expand') })
    .apply(uvd) as SymbolicTensor;
}

/**
 * Step 6: splits the selected `(u, v, d)` `[B, J, 3]` into `uv = 4·(u, v)` `[B, J, 2]` and `depth` `[B, J]`,
 * with built-in layers only, so the model loads without extra registrations.
 */
function splitUvDepth(selected: SymbolicTensor, J: number): { uv: SymbolicTensor; depth: SymbolicTensor } {
  const asImage = tfl.layers
    .reshape({ targetShape: [J, 3, 1], name: 'output.split' })
    .apply(selected) as SymbolicTensor;
  const uvHeat = tfl.layers
    .cropping2D({
      cropping: [
        [0, 0],
        [0, 1],
      ],
      name: 'output.uv_crop',
    })
    .apply(asImage) as SymbolicTensor;
  const uvFlat = tfl.layers.reshape({ targetShape: [J, 2], name: 'output.uv_heatmap' }).apply(uvHeat) as SymbolicTensor;
  const uv = tfl.layers.rescaling({ scale: 4, offset: 0, name: 'uv' }).apply(uvFlat) as SymbolicTensor;
  const dCrop = tfl.layers
    .cropping2D({
      cropping: [
        [0, 0],
        [2, 0],
      ],
      name: 'output.depth_crop',
    })
    .apply(asImage) as SymbolicTensor;
  const depth = tfl.layers.reshape({ targetShape: [J], name: 'depth' }).apply(dCrop) as SymbolicTensor;
  return { uv, depth };
}
