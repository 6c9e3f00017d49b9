/**
 * The Feature Enhancement Module (EHPE §3.3.1): self-attention over the joint tokens, then
 * cross-attention from the joint tokens to the image tokens — the release's `FEM`
 * (`models/fem_transformer.py`).
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { checkIntegerIn, checkOptions, PhalanxConfigError } from '@phalanx/errors';
import { crossAttentionBlock, MODEL_LIMITS, torchName, transformerBlock } from '@phalanx/blocks';
import { checkNoiseSeed, deriveNoiseSeed } from '@phalanx/layers';

type SymbolicTensor = tfl.SymbolicTensor;

const COMPONENT = 'createFem';

/** Configuration of {@link createFem} (the release's `FEM` arguments). */
export interface FemConfig {
  /** Token width D. Default 512. */
  dim?: number;
  /** Number of self-attention blocks, and of cross-attention blocks. Default 2. */
  layers?: number;
  /** Attention heads; must divide `dim`. Default 8. */
  heads?: number;
  /** MLP width ratio. Default 4. */
  mlpRatio?: number;
  /** Dropout rate in [0, 1) (attention weights and MLP), training only. Default 0.1 (the release). */
  dropout?: number;
  /**
   * Seed of the dropout masks (an integer): block k (the self-attention blocks first, then the
   * cross-attention ones) gets the seed `deriveNoiseSeed(dropoutSeed, k)` (see `transformerBlock`).
   * `null` or absent (default): unseeded masks.
   */
  dropoutSeed?: number | null;
  /** Joint tokens J (model input). Default 21. */
  numJoints?: number;
  /** Image tokens T (model input; h·w of the backbone features). Default 64. */
  numImageTokens?: number;
  /** Model name, a string. Default `'fem'`. */
  name?: string;
}

/** The configuration with every default filled in. */
export type ResolvedFemConfig = Required<FemConfig>;

/** The keys of a {@link FemConfig}: any other key is a named error. */
const FEM_CONFIG_KEYS = {
  dim: true,
  layers: true,
  heads: true,
  mlpRatio: true,
  dropout: true,
  dropoutSeed: true,
  numJoints: true,
  numImageTokens: true,
  name: true,
} satisfies Record<keyof FemConfig, true>;

/** The most image tokens: a feature map as large as the largest input, `MODEL_LIMITS.imageSize²`. */
const MAX_IMAGE_TOKENS = MODEL_LIMITS.imageSize ** 2;

/** Fills in the defaults of a {@link FemConfig} and validates it (a key it does not know is a `PhalanxConfigError`). */
export function resolveFemConfig(config: FemConfig = {}, component = COMPONENT): ResolvedFemConfig {
  checkOptions(component, 'config', config, FEM_CONFIG_KEYS, 'an options object');
  const c: ResolvedFemConfig = {
    dim: checkIntegerIn(component, 'dim', config.dim ?? 512, 1, MODEL_LIMITS.channels),
    layers: checkIntegerIn(component, 'layers', config.layers ?? 2, 1, MODEL_LIMITS.repeats),
    heads: checkIntegerIn(component, 'heads', config.heads ?? 8, 1, MODEL_LIMITS.channels),
    mlpRatio: checkIntegerIn(component, 'mlpRatio', config.mlpRatio ?? 4, 1, MODEL_LIMITS.repeats),
    dropout: config.dropout ?? 0.1,
    dropoutSeed: checkNoiseSeed(component, 'dropoutSeed', config.dropoutSeed),
    numJoints: checkIntegerIn(component, 'numJoints', config.numJoints ?? 21, 1, MODEL_LIMITS.joints),
    numImageTokens: checkIntegerIn(component, 'numImageTokens', config.numImageTokens ?? 64, 1, MAX_IMAGE_TOKENS),
    name: config.name ?? 'fem',
  };
  if (c.dim % c.heads !== 0) throw new PhalanxConfigError(component, 'heads', `a divisor of dim = ${c.dim}`, c.heads);
  // A number or an object became the model's name, after every layer was built.
  if (typeof c.name !== 'string') throw new PhalanxConfigError(component, 'name', 'a string', c.name);
  if (typeof c.dropout !== 'number' || !(c.dropout >= 0 && c.dropout < 1)) {
    throw new PhalanxConfigError(component, 'dropout', 'a number in [0, 1)', c.dropout);
  }
  return c;
}

/**
 * Builds the FEM with the functional API: `layers` pre-norm self-attention blocks on the joint tokens
 * (`sa_blocks.i`: `x += MHA(LN(x))`, `x += MLP(LN(x))`), then `layers` cross-attention blocks
 * (`ca_blocks.i`: `x += MHA(LN_q(x), LN_k(img), LN_k(img))`, `x += MLP(LN(x))`), MLP = Linear → exact
 * (erf) GELU → Linear, as `nn.GELU()` (EHPE Eq. 7 per head).
 *
 * **Shapes**: `jointTokens [B, J, D]`, `imageTokens [B, T, D]` → `[B, J, D]`.
 *
 * @example
 * const jointTokens = tfl.input({ shape: [21, 512] });
 * const imageTokens = tfl.input({ shape: [64, 512] });
 * const out = fem(jointTokens, imageTokens, resolveFemConfig({ dim: 512 }), 'pg.fem');
 */
export function fem(
  jointTokens: SymbolicTensor,
  imageTokens: SymbolicTensor,
  c: ResolvedFemConfig,
  name = '',
): SymbolicTensor {
  let x = jointTokens;
  // Block `site` of the 2·layers blocks (self-attention first) seeds its dropouts with the site-th derived seed.
  const options = (kind: string, i: number, site: number) => ({
    heads: c.heads,
    mlpRatio: c.mlpRatio,
    dropout: c.dropout,
    dropoutSeed: c.dropoutSeed == null ? null : deriveNoiseSeed(c.dropoutSeed, site),
    name: torchName(name, kind, i),
  });
  for (let i = 0; i < c.layers; i++) x = transformerBlock(x, options('sa_blocks', i, i));
  for (let i = 0; i < c.layers; i++) x = crossAttentionBlock(x, imageTokens, options('ca_blocks', i, c.layers + i));
  return x;
}

/**
 * The release's `FEM(dim, layers, heads, mlp_ratio)` as a model, from
 * `[jointTokens [B, J, dim], imageTokens [B, T, dim]]` to `[B, J, dim]` (see {@link fem}). Layer names
 * are the `FEM` state_dict's module paths (`sa_blocks.0.attn`, `ca_blocks.1.lnk`, `ca_blocks.1.mlp.3`),
 * so {@link importTorchStateDict} loads its weights.
 *
 * **Shapes**: inputs `[B, numJoints, dim]`, `[B, numImageTokens, dim]` → `[B, numJoints, dim]`.
 *
 * @example
 * const model = createFem({ dim: 512, layers: 2, heads: 8, mlpRatio: 4 });
 * const out = model.predict([tf.zeros([1, 21, 512]), tf.zeros([1, 64, 512])]) as tf.Tensor; // [1, 21, 512]
 */
export function createFem(config: FemConfig = {}): tfl.LayersModel {
  const c = resolveFemConfig(config);
  const joints = tfl.input({ shape: [c.numJoints, c.dim], name: 'joint_tokens' });
  const image = tfl.input({ shape: [c.numImageTokens, c.dim], name: 'image_tokens' });
  return tfl.model({ inputs: [joints, image], outputs: fem(joints, image, c), name: c.name });
}
