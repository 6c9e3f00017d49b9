/**
 * Pre-norm transformer blocks over token sequences `[B, T, D]` (Vaswani et al.), as the EHPE release's
 * `fem_transformer.TransformerBlock` (self-attention) and `CrossAttentionBlock` (queries attend to a
 * second sequence), with PyTorch's names and arithmetic: `nn.LayerNorm` (ε = 1e-5),
 * `nn.MultiheadAttention(batch_first=True)` ({@link @phalanx/layers!MultiHeadAttention}), an MLP with the
 * exact (erf) GELU of `nn.GELU()` (tfjs' `'gelu'`; `'gelu_new'` is the tanh approximation).
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { checkInteger, checkIntegerIn, checkOneOf, PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import {
  checkNoiseSeed,
  deriveNoiseSeed,
  lastAxisLayerNormalization,
  multiHeadAttention,
  seededDropout,
} from '@phalanx/layers';
import { MODEL_LIMITS } from './limits';
import { torchName } from './naming';
import { checkBuilderOptions } from './options';
import { addAll, torchBiasInitializer, torchKernelInitializer } from './torch-ops';

type SymbolicTensor = tfl.SymbolicTensor;

/** Epsilon of PyTorch's `nn.LayerNorm`. */
export const TORCH_LN_EPSILON = 1e-5;

/** Options of {@link transformerBlock} and {@link crossAttentionBlock}. */
export interface TransformerBlockOptions {
  /** Number of attention heads; must divide the token width D. Required. */
  heads: number;
  /** MLP hidden width = `mlpRatio · D`, an integer in [1, 64]. Default 4. */
  mlpRatio?: number;
  /** Dropout rate in [0, 1) on the attention weights and after each MLP layer, training only. Default 0.1 (the release). */
  dropout?: number;
  /**
   * Seed of the block's dropout masks (an integer): the attention (`.attn`) and the two MLP dropouts
   * (`.mlp.2`, `.mlp.4`) get the seeds `deriveNoiseSeed(dropoutSeed, 0 | 1 | 2)`, and each draws a
   * reproducible stream of masks ({@link @phalanx/layers!SeededDropout}). `null` or absent (default):
   * unseeded masks, with tfjs-layers' `Dropout` as before.
   */
  dropoutSeed?: number | null;
  /** Module path (`fem.sa_blocks.0`). Required. */
  name: string;
}

function tokenWidth(x: SymbolicTensor, component: string): number {
  const d = x.shape[2];
  if (x.shape.length !== 3 || d == null) {
    throw new PhalanxShapeError(component, 'input', 'a [B, T, D] tensor with a known D', x.shape);
  }
  return d;
}

/** The keys of {@link TransformerBlockOptions}: any other key is a named error. */
const TRANSFORMER_BLOCK_KEYS = {
  heads: true,
  mlpRatio: true,
  dropout: true,
  dropoutSeed: true,
  name: true,
} satisfies Record<keyof TransformerBlockOptions, true>;

function checkOptions(component: string, d: number, o: TransformerBlockOptions): Required<TransformerBlockOptions> {
  checkBuilderOptions(component, o, TRANSFORMER_BLOCK_KEYS, '{heads, mlpRatio?, dropout?, dropoutSeed?, name}');
  const heads = checkInteger(component, 'heads', o.heads, 1);
  if (d % heads !== 0) throw new PhalanxConfigError(component, 'heads', `a divisor of the token width ${d}`, heads);
  // Bounded as createFem's femMlpRatio: 1e9 built the attention, then failed allocating the MLP kernel.
  const mlpRatio = checkIntegerIn(component, 'mlpRatio', o.mlpRatio ?? 4, 1, MODEL_LIMITS.repeats);
  const dropout = o.dropout ?? 0.1;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) {
    throw new PhalanxConfigError(component, 'dropout', 'a number in [0, 1)', dropout);
  }
  const dropoutSeed = checkNoiseSeed(component, 'dropoutSeed', o.dropoutSeed);
  return { heads, mlpRatio, dropout, dropoutSeed, name: o.name };
}

/**
 * `nn.LayerNorm(D)` over the last axis, ε = 1e-5, as {@link @phalanx/layers!LastAxisLayerNormalization}
 * (tfjs-layers' layer norm with broadcasting); weights `gamma` (PyTorch `weight`), `beta` (`bias`).
 *
 * **Shapes**: `[B, T, D]` → same.
 *
 * @example
 * const tokens = tfl.input({ shape: [21, 512] });
 * const y = torchLayerNorm(tokens, 'fem.sa_blocks.0.ln1');
 */
export function torchLayerNorm(x: SymbolicTensor, name: string): SymbolicTensor {
  return lastAxisLayerNormalization({ axis: -1, epsilon: TORCH_LN_EPSILON, name }).apply(x) as SymbolicTensor;
}

/** Options of {@link torchLinear}. */
export interface TorchLinearOptions {
  /** Output width, an integer ≥ 1. Required. */
  units: number;
  /** Add a bias. Default true. */
  useBias?: boolean;
  /** Activation after the affine map. Default `'linear'`. */
  activation?: 'linear' | 'relu' | 'gelu';
  /** Layer name (the PyTorch module path). Required. */
  name: string;
}

/** The keys of {@link TorchLinearOptions}: any other key is a named error. */
const TORCH_LINEAR_KEYS = { units: true, useBias: true, activation: true, name: true } satisfies Record<
  keyof TorchLinearOptions,
  true
>;

/**
 * `nn.Linear(C, units)` on the last axis with PyTorch's default initialisation. Options that are not an
 * object of its keys, `units` that is not an integer ≥ 1 and another activation are `PhalanxConfigError`s.
 *
 * **Shapes**: `[…, C]` → `[…, units]`.
 *
 * @example
 * const nodes = tfl.input({ shape: [21, 515] });
 * const y = torchLinear(nodes, { units: 512, name: 'pg.node_proj' }); // [B, 21, 512]
 */
export function torchLinear(x: SymbolicTensor, options: TorchLinearOptions): SymbolicTensor {
  const component = 'torchLinear';
  checkBuilderOptions(component, options, TORCH_LINEAR_KEYS, '{units, useBias?, activation?, name}');
  const units = checkInteger(component, 'units', options.units, 1);
  const activation = checkOneOf(component, 'activation', options.activation ?? 'linear', [
    'linear',
    'relu',
    'gelu',
  ] as const);
  const fanIn = x.shape[x.shape.length - 1] as number;
  const useBias = options.useBias ?? true;
  return tfl.layers
    .dense({
      units,
      useBias,
      activation,
      kernelInitializer: torchKernelInitializer(),
      biasInitializer: useBias ? torchBiasInitializer(fanIn) : undefined,
      name: options.name,
    })
    .apply(x) as SymbolicTensor;
}

/** Dropout site `site` of a block: 0 the attention, 1 and 2 the MLP's. */
type DropoutSite = 0 | 1 | 2;

/** The seed of a block's dropout site, or `null` when the block is unseeded. */
function siteSeed(o: Required<TransformerBlockOptions>, site: DropoutSite): number | null {
  return o.dropoutSeed === null ? null : deriveNoiseSeed(o.dropoutSeed, site);
}

/** A dropout layer: {@link @phalanx/layers!SeededDropout} with a seed, tfjs-layers' `Dropout` without. */
function dropoutLayer(x: SymbolicTensor, o: Required<TransformerBlockOptions>, site: 1 | 2): SymbolicTensor {
  const name = torchName(o.name, 'mlp', 2 * site);
  const seed = siteSeed(o, site);
  const layer =
    seed === null ? tfl.layers.dropout({ rate: o.dropout, name }) : seededDropout({ rate: o.dropout, seed, name });
  return layer.apply(x) as SymbolicTensor;
}

/** `mlp = Linear(D, rD) → GELU → Dropout → Linear(rD, D) → Dropout` (`<name>.mlp.0`, `.mlp.3`). */
function mlp(x: SymbolicTensor, d: number, o: Required<TransformerBlockOptions>): SymbolicTensor {
  let y = torchLinear(x, { units: d * o.mlpRatio, activation: 'gelu', name: torchName(o.name, 'mlp', 0) });
  y = dropoutLayer(y, o, 1);
  y = torchLinear(y, { units: d, name: torchName(o.name, 'mlp', 3) });
  return dropoutLayer(y, o, 2);
}

/**
 * Pre-norm self-attention block (the release's `TransformerBlock`):
 * `x = x + MHA(LN₁(x))`, `x = x + MLP(LN₂(x))`, MLP = Linear(D, rD) → GELU → Linear(rD, D).
 * Layers: `<name>.ln1`, `.attn` ({@link @phalanx/layers!MultiHeadAttention}), `.ln2`, `.mlp.0`, `.mlp.3`;
 * weightless `.mlp.2`, `.mlp.4` (dropout: `SeededDropout` with a `dropoutSeed`), `.add1`, `.add2`.
 *
 * **Shapes**: `[B, T, D]` → `[B, T, D]`.
 *
 * @example
 * const tokens = tfl.input({ shape: [64, 512] }); // [B, N, D]
 * const y = transformerBlock(tokens, { heads: 8, name: 'fem.sa_blocks.0' });
 */
export function transformerBlock(x: SymbolicTensor, options: TransformerBlockOptions): SymbolicTensor {
  const component = 'transformerBlock';
  const d = tokenWidth(x, component);
  const o = checkOptions(component, d, options);
  const h = torchLayerNorm(x, torchName(o.name, 'ln1'));
  const attn = multiHeadAttention({
    numHeads: o.heads,
    units: d,
    attentionDropout: o.dropout,
    dropoutSeed: siteSeed(o, 0),
    name: torchName(o.name, 'attn'),
  }).apply(h) as SymbolicTensor;
  const y = addAll([x, attn], torchName(o.name, 'add1'));
  return addAll([y, mlp(torchLayerNorm(y, torchName(o.name, 'ln2')), d, o)], torchName(o.name, 'add2'));
}

/**
 * Pre-norm cross-attention block (the release's `CrossAttentionBlock`): queries `q` attend to
 * `kv` — `q = q + MHA(LN_q(q), LN_k(kv), LN_k(kv))`, `q = q + MLP(LN₂(q))`. Layers: `<name>.lnq`,
 * `.lnk`, `.attn`, `.ln2`, `.mlp.0`, `.mlp.3`.
 *
 * **Shapes**: `q [B, Tq, D]`, `kv [B, Tk, D]` → `[B, Tq, D]`.
 *
 * @example
 * const jointTokens = tfl.input({ shape: [21, 512] });
 * const imageTokens = tfl.input({ shape: [64, 512] });
 * const joints = crossAttentionBlock(jointTokens, imageTokens, { heads: 8, name: 'fem.ca_blocks.0' });
 */
export function crossAttentionBlock(
  q: SymbolicTensor,
  kv: SymbolicTensor,
  options: TransformerBlockOptions,
): SymbolicTensor {
  const component = 'crossAttentionBlock';
  const d = tokenWidth(q, component);
  const dk = tokenWidth(kv, component);
  if (dk !== d) throw new PhalanxShapeError(component, 'kv', `[B, Tk, D = ${d}]`, kv.shape);
  const o = checkOptions(component, d, options);
  const qn = torchLayerNorm(q, torchName(o.name, 'lnq'));
  const kvn = torchLayerNorm(kv, torchName(o.name, 'lnk'));
  const attn = multiHeadAttention({
    numHeads: o.heads,
    units: d,
    attentionDropout: o.dropout,
    dropoutSeed: siteSeed(o, 0),
    name: torchName(o.name, 'attn'),
  }).apply([qn, kvn]) as SymbolicTensor;
  const y = addAll([q, attn], torchName(o.name, 'add1'));
  return addAll([y, mlp(torchLayerNorm(y, torchName(o.name, 'ln2')), d, o)], torchName(o.name, 'add2'));
}
