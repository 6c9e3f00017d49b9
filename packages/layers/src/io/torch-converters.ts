/**
 * The one registry of PyTorch converters: for each layer class, which PyTorch tensors the module of a
 * layer holds (names after the module path, shapes) and how they map onto the layer's weights — in
 * both directions, so the same entry serves the import of a `state_dict` and its export. Phalanx's own
 * layers register their entry right under their `registerClass`; tfjs-layers' classes that PyTorch
 * models use (`Conv2D`, `Conv2DTranspose`, `Dense`, `DepthwiseConv2D`, `BatchNormalization`,
 * `LayerNormalization`) are registered here.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { torchDepthwiseKernel } from './torch-layout';

type AnyLayer = tfl.layers.Layer;

/** One tensor of a PyTorch module (a parameter or a persistent buffer) that fills weights of a layer. */
export interface TorchParam {
  /** The name after the module path: `weight`, `running_var`, `Conv_Task_List.0.0.weight`. */
  name: string;
  /** The PyTorch shape the layer implies. */
  shape: number[];
  /** Every value must be ≥ 0 (a variance): checked on import. */
  nonNegative?: boolean;
  /** The tfjs weight it fills, for messages (`conv1/kernel`). */
  tfjs?: string;
}

/**
 * A tensor a PyTorch module stores that the tfjs layer computes instead (a `SoftHeatmap`'s pixel
 * grids): written on export, checked when present on import, never stored in the layer.
 */
export interface TorchBuffer {
  /** The name after the module path: `wx`. */
  name: string;
  /** The value the layer implies (a new tensor; export writes it). */
  value(): tf.Tensor;
  /** Checks an imported value: `null` when it holds what the layer computes, else what was wrong. */
  check(t: tf.Tensor): {
    /** What the layer computes for this buffer. */
    expected: string;
    /** What the imported value holds instead. */
    received: string;
  } | null;
}

/**
 * How the weights of one layer class map onto the tensors of the PyTorch module it mirrors, both ways.
 * `toLayer(layer, tensors)` and `toTorch(layer)` are inverses: export after import gives back the
 * imported tensors bit for bit.
 */
export interface TorchConverter {
  /** The PyTorch tensors of the module bound to `layer` (built), in a fixed order. */
  params(layer: AnyLayer): TorchParam[];
  /**
   * New values for `layer.weights` (one per weight, `null` = leave as it is) from the PyTorch tensors
   * in {@link TorchConverter.params} order (`undefined` = not given). Runs inside `tf.tidy`.
   */
  toLayer(layer: AnyLayer, tensors: (tf.Tensor | undefined)[]): (tf.Tensor | null)[];
  /** New PyTorch tensors, in {@link TorchConverter.params} order, from the layer's current weights. */
  toTorch(layer: AnyLayer): tf.Tensor[];
  /** Buffers of the PyTorch module that the layer computes. Default: none. */
  buffers?(layer: AnyLayer): TorchBuffer[];
  /** Names of tfjs weights of `layer` this converter cannot fill (a mapping to the wrong kind of layer). */
  unmatched?(layer: AnyLayer): string[];
}

const REGISTRY = new Map<string, TorchConverter>();

/**
 * Registers the PyTorch converter of a layer class, keyed by its `className` — call it right under
 * `tf.serialization.registerClass(Cls)`. A later registration of the same class name replaces the
 * earlier one. Subclasses without an entry of their own use their nearest registered ancestor's.
 *
 * @example
 * registerTorchConverter(DualBranchFusion, perWeightConverter({
 *   structuralWeight: { torch: 'omega_g' },
 *   visualWeight: { torch: 'omega_e' },
 * }));
 */
export function registerTorchConverter(cls: { className: string }, converter: TorchConverter): void {
  REGISTRY.set(cls.className, converter);
}

/**
 * The converter of `layer`: the one registered for its class name, else for the nearest ancestor class
 * with one; `undefined` when none is.
 *
 * @example
 * const dense = tfl.layers.dense({ units: 2 });
 * dense.apply(tfl.input({ shape: [3] })); // built: kernel [3, 2], bias [2]
 * torchConverterOf(dense)?.params(dense); // [{name: 'weight', shape: [2, 3]}, {name: 'bias', shape: [2]}]
 */
export function torchConverterOf(layer: AnyLayer): TorchConverter | undefined {
  const own = REGISTRY.get(layer.getClassName());
  if (own) return own;
  for (let c = Object.getPrototypeOf(layer.constructor); c && c !== Function.prototype; c = Object.getPrototypeOf(c)) {
    const name = (c as { className?: string }).className;
    const found = name === undefined ? undefined : REGISTRY.get(name);
    if (found) return found;
  }
  return undefined;
}

/**
 * The converter registered for a class name (`'Conv2D'`, `'GroupFusion'`), or `undefined`.
 *
 * @example
 * torchConverterFor('BatchNormalization'); // gamma ↔ weight, beta ↔ bias, moving_* ↔ running_*
 */
export function torchConverterFor(className: string): TorchConverter | undefined {
  return REGISTRY.get(className);
}

/** How one tfjs weight maps onto one PyTorch tensor (see {@link perWeightConverter}). */
export interface TorchWeightRule {
  /** The PyTorch name after the module path. */
  torch: string;
  /** The PyTorch shape from the tfjs weight's shape. Default: the same shape. */
  shape?: (tfjsShape: number[]) => number[];
  /** The tfjs value from the PyTorch tensor (of the shape above). Default: as it is. */
  toTfjs?: (t: tf.Tensor, tfjsShape: number[]) => tf.Tensor;
  /** The PyTorch tensor from the tfjs value. Default: as it is. */
  toTorch?: (w: tf.Tensor) => tf.Tensor;
  /** Values must be ≥ 0. */
  nonNegative?: boolean;
}

/**
 * A rule whose PyTorch tensor is the tfjs weight transposed: `torch = transpose(tfjs, perm)`, e.g.
 * `[3, 2, 0, 1]` for a convolution kernel `[kh, kw, I, O]` ↔ weight `[O, I, kh, kw]`.
 *
 * @example
 * transposedRule('weight', [1, 0]); // nn.Linear weight [O, I] ↔ dense kernel [I, O]
 */
export function transposedRule(torch: string, perm: number[]): TorchWeightRule {
  const inverse = perm.map((_, i) => perm.indexOf(i));
  return {
    torch,
    shape: (s) => perm.map((p) => s[p]),
    toTfjs: (t) => tf.transpose(t, inverse),
    toTorch: (w) => tf.transpose(w, perm),
  };
}

/**
 * A rule whose PyTorch tensor holds the same values in another shape, e.g. `beta [J]` ↔
 * `beta.weight [J, 1, 1, 1]`.
 *
 * @example
 * reshapedRule('att_dst', (s) => [1, ...s]); // [K, U] ↔ [1, K, U]
 */
export function reshapedRule(torch: string, shape: (tfjsShape: number[]) => number[]): TorchWeightRule {
  return {
    torch,
    shape,
    toTfjs: (t, tfjsShape) => tf.reshape(t, tfjsShape),
    toTorch: (w) => tf.reshape(w, shape(w.shape)),
  };
}

/** The last part of a weight's name: `conv1/kernel` → `kernel`. */
export function weightBaseName(w: tfl.LayerVariable): string {
  const parts = w.originalName.split('/');
  return parts[parts.length - 1];
}

/**
 * A converter where each tfjs weight (by base name: `kernel`, `gamma`) is one PyTorch tensor. A rule
 * of `null` marks a weight that is not part of a `state_dict` (left as it is on import, not exported).
 *
 * @example
 * const dense = perWeightConverter({ kernel: transposedRule('weight', [1, 0]), bias: { torch: 'bias' } });
 */
export function perWeightConverter(
  rules: Record<string, TorchWeightRule | null> | ((layer: AnyLayer) => Record<string, TorchWeightRule | null>),
): TorchConverter {
  const rulesOf = typeof rules === 'function' ? rules : () => rules;
  const matched = (layer: AnyLayer) => {
    const r = rulesOf(layer);
    return layer.weights.map((w) => ({
      w,
      rule: Object.prototype.hasOwnProperty.call(r, weightBaseName(w)) ? r[weightBaseName(w)] : undefined,
    }));
  };
  return {
    params: (layer) =>
      matched(layer).flatMap(({ w, rule }) =>
        rule
          ? [
              {
                name: rule.torch,
                shape: (rule.shape ?? ((s) => s))(w.shape as number[]),
                nonNegative: rule.nonNegative,
                tfjs: w.originalName,
              },
            ]
          : [],
      ),
    toLayer: (layer, tensors) => {
      let k = 0;
      return matched(layer).map(({ w, rule }) => {
        if (!rule) return null;
        const t = tensors[k++];
        return t === undefined ? null : (rule.toTfjs ?? ((x) => x))(t, w.shape as number[]);
      });
    },
    toTorch: (layer) =>
      matched(layer).flatMap(({ w, rule }) => (rule ? [(rule.toTorch ?? ((x) => tf.clone(x)))(w.read())] : [])),
    unmatched: (layer) => matched(layer).flatMap(({ w, rule }) => (rule === undefined ? [w.originalName] : [])),
  };
}

const same = (torch: string): TorchWeightRule => ({ torch });
const CONV = { kernel: transposedRule('weight', [3, 2, 0, 1]), bias: same('bias') };

registerTorchConverter({ className: 'Conv2D' }, perWeightConverter(CONV));
// nn.ConvTranspose2d: weight [I, O, kh, kw] ↔ kernel [kh, kw, O, I], the same permutation, no flip.
registerTorchConverter({ className: 'Conv2DTranspose' }, perWeightConverter(CONV));
registerTorchConverter(
  { className: 'Dense' },
  perWeightConverter({ kernel: transposedRule('weight', [1, 0]), bias: same('bias') }),
);
registerTorchConverter(
  { className: 'DepthwiseConv2D' },
  perWeightConverter({
    depthwise_kernel: {
      torch: 'weight',
      shape: ([kh, kw, c, m]) => [c * m, 1, kh, kw],
      toTfjs: (t, [, , c]) => torchDepthwiseKernel(t, c),
      toTorch: (w) => {
        const [kh, kw, c, m] = w.shape;
        return tf.transpose(tf.reshape(w, [kh, kw, c * m, 1]), [2, 3, 0, 1]);
      },
    },
    bias: same('bias'),
  }),
);

/** `nn.BatchNorm2d`: `weight, bias, running_mean, running_var` ↔ `gamma, beta, moving_mean, moving_variance`. */
export const BATCH_NORM_CONVERTER: TorchConverter = perWeightConverter({
  gamma: same('weight'),
  beta: same('bias'),
  moving_mean: same('running_mean'),
  moving_variance: { torch: 'running_var', nonNegative: true },
});
registerTorchConverter({ className: 'BatchNormalization' }, BATCH_NORM_CONVERTER);

/** `nn.LayerNorm`: `weight, bias` ↔ `gamma, beta`. */
export const LAYER_NORM_CONVERTER: TorchConverter = perWeightConverter({ gamma: same('weight'), beta: same('bias') });
registerTorchConverter({ className: 'LayerNormalization' }, LAYER_NORM_CONVERTER);
