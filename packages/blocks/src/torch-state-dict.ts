/**
 * Loading a PyTorch `state_dict` (read from safetensors) into a model built from these blocks, by the
 * PyTorch module paths that its layers carry as names (see `naming.ts`).
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import {
  ConcreteJointSelector,
  PhalanxConfigError,
  PhalanxShapeError,
  torchConv2dKernel,
  torchConv2dTransposeKernel,
  torchDenseKernel,
} from '@phalanx/layers';

const COMPONENT = 'loadTorchStateDict';

/** Options of {@link loadTorchStateDict}. */
export interface ImportTorchStateDictOptions {
  /**
   * Throw when a model weight has no tensor (missing) or a tensor matches no model weight
   * (unexpected), listing them all. `num_batches_tracked` buffers are always ignored. Default true.
   */
  strict?: boolean;
  /**
   * A prefix removed from every key first (e.g. `'module.'` for checkpoints saved from
   * `nn.DataParallel`). Default: `'module.'` when every key starts with it, else none.
   */
  stripPrefix?: string;
  /**
   * Concrete temperature to store in every ConcreteJointSelector (the Learnable-Groups checkpoint keeps it apart, as
   * `ckpt['Temperature']`). Default: leave the model's temperature unchanged.
   */
  temperature?: number;
}

/** What {@link loadTorchStateDict} did. */
export interface ImportTorchStateDictReport {
  /** State-dict keys that were loaded. */
  loaded: string[];
  /** Model weights (`layer/weight`) for which no tensor was given (only when `strict` is false). */
  missing: string[];
  /** Keys that matched no model weight (only when `strict` is false). */
  unexpected: string[];
}

type Converter = (
  layer: tfl.layers.Layer,
  take: (key: string, shape: number[]) => tf.Tensor | null,
) => (tf.Tensor | null)[];

const shapeOf = (layer: tfl.layers.Layer, k: number) => layer.weights[k].shape as number[];

/** The expected PyTorch shape of a tfjs conv kernel `[kh, kw, a, b]`: `[b, a, kh, kw]`. */
const torchConvShape = ([kh, kw, a, b]: number[]) => [b, a, kh, kw];

const CONVERTERS: Record<string, Converter> = {
  Conv2D: (layer, take) => {
    const name = layer.name;
    const kernel = take(`${name}.weight`, torchConvShape(shapeOf(layer, 0)));
    const out: (tf.Tensor | null)[] = [kernel && torchConv2dKernel(kernel)];
    if (layer.weights.length > 1) out.push(take(`${name}.bias`, shapeOf(layer, 1)));
    return out;
  },
  Conv2DTranspose: (layer, take) => {
    const name = layer.name;
    // tfjs [kh, kw, O, I] ← PyTorch [I, O, kh, kw].
    const kernel = take(`${name}.weight`, torchConvShape(shapeOf(layer, 0)));
    const out: (tf.Tensor | null)[] = [kernel && torchConv2dTransposeKernel(kernel)];
    if (layer.weights.length > 1) out.push(take(`${name}.bias`, shapeOf(layer, 1)));
    return out;
  },
  BatchNormalization: (layer, take) => {
    const params = ['weight', 'bias', 'running_mean', 'running_var'];
    return layer.weights.map((w, k) => take(`${layer.name}.${params[k]}`, w.shape as number[]));
  },
  Dense: (layer, take) => {
    const [i, o] = shapeOf(layer, 0);
    const kernel = take(`${layer.name}.weight`, [o, i]);
    const out: (tf.Tensor | null)[] = [kernel && torchDenseKernel(kernel)];
    if (layer.weights.length > 1) out.push(take(`${layer.name}.bias`, shapeOf(layer, 1)));
    return out;
  },
  GroupFusion: (layer, take) => {
    // nddr_layer: task i is Conv2d(G·C, U, 1) named `<name>.Conv_Task_List.i.0`; its weight
    // [U, G·C, 1, 1] is the transpose of kernel columns i·U … (i+1)·U.
    const [gc, gu] = shapeOf(layer, 0);
    const groups = (layer as unknown as { numGroups: number }).numGroups;
    const u = gu / groups;
    const kernels: tf.Tensor[] = [];
    const biases: tf.Tensor[] = [];
    let complete = true;
    for (let i = 0; i < groups; i++) {
      const w = take(`${layer.name}.Conv_Task_List.${i}.0.weight`, [u, gc, 1, 1]);
      if (w) kernels.push(tf.transpose(tf.reshape(w, [u, gc])));
      else complete = false;
      if (layer.weights.length > 1) {
        const b = take(`${layer.name}.Conv_Task_List.${i}.0.bias`, [u]);
        if (b) biases.push(b);
        else complete = false;
      }
    }
    const out: (tf.Tensor | null)[] = [complete ? tf.concat(kernels, 1) : null];
    if (layer.weights.length > 1) out.push(complete ? tf.concat(biases, 0) : null);
    return out;
  },
  ConcreteJointSelector: (layer, take) => {
    // meta_S = nn.Linear(G, J, bias=False): weight [J, G] is the logits as they are.
    const logits = take(`${layer.name}.weight`, shapeOf(layer, 0));
    return [logits, null]; // the temperature is not part of the state_dict
  },
  LayerNormalization: (layer, take) => {
    // nn.LayerNorm: weight, bias → gamma, beta.
    const params = ['weight', 'bias'];
    return layer.weights.map((w, k) => take(`${layer.name}.${params[k]}`, w.shape as number[]));
  },
  MultiHeadAttention: (layer, take) => {
    // nn.MultiheadAttention (equal q/k/v widths): in_proj_weight [3D, D] = [W_q; W_k; W_v] (rows),
    // in_proj_bias [3D], out_proj.weight [D, D], out_proj.bias [D]; tfjs kernels are the transposes.
    const [dq, d] = shapeOf(layer, 0);
    const w = take(`${layer.name}.in_proj_weight`, [3 * d, dq]);
    const b = take(`${layer.name}.in_proj_bias`, [3 * d]);
    const ow = take(`${layer.name}.out_proj.weight`, [d, d]);
    const ob = take(`${layer.name}.out_proj.bias`, [d]);
    const rows = (t: tf.Tensor | null, k: number) => (t ? tf.transpose(tf.slice(t, [k * d, 0], [d, dq])) : null);
    const part = (t: tf.Tensor | null, k: number) => (t ? tf.slice(t, [k * d], [d]) : null);
    return [rows(w, 0), part(b, 0), rows(w, 1), part(b, 1), rows(w, 2), part(b, 2), ow && tf.transpose(ow), ob];
  },
  DualBranchFusion: (layer, take) => {
    // EHPE PGStage: omega_g [J, J] (structural), omega_e [J, 1] (visual) — parameters of the module
    // the layer is named after (`pg.omega_g`).
    return [take(`${layer.name}.omega_g`, shapeOf(layer, 0)), take(`${layer.name}.omega_e`, shapeOf(layer, 1))];
  },
  DynamicEdgeGAT: (layer, take) => {
    // PyTorch Geometric GATConv names: lin.weight [K·U, F], att_dst [1, K, U] (the node itself),
    // att_src [1, K, U] (the neighbour), bias; dot-product attention: lin_q.weight, lin_k.weight.
    return layer.weights.map((w) => {
      const shape = w.shape as number[];
      const param = w.originalName.split('/').pop() as string;
      const linear = (key: string) => {
        const t = take(`${layer.name}.${key}.weight`, [shape[1], shape[0]]);
        return t && tf.transpose(t);
      };
      const att = (key: string) => {
        const t = take(`${layer.name}.${key}`, [1, ...shape]);
        return t && tf.reshape(t, shape);
      };
      switch (param) {
        case 'kernel':
          return linear('lin');
        case 'queryKernel':
          return linear('lin_q');
        case 'keyKernel':
          return linear('lin_k');
        case 'attentionSelf':
          return att('att_dst');
        case 'attentionNeighbor':
          return att('att_src');
        default:
          return take(`${layer.name}.${param}`, shape);
      }
    });
  },
  SoftArgmax25D: (layer, take) => {
    // SoftHeatmap: beta = grouped 1×1 conv [J, 1, 1, 1]; wx / wy are the fixed arange grids.
    if (layer.weights.length === 0) return [];
    const [j] = shapeOf(layer, 0);
    const beta = take(`${layer.name}.beta.weight`, [j, 1, 1, 1]);
    return [beta && tf.reshape(beta, [j])];
  },
};

/** Layer classes whose weights never come from a state_dict. */
const WEIGHTLESS_OK = new Set(['ConcreteJointSelector']);

/**
 * Loads a PyTorch `state_dict` into `model`, matching every tensor by name: the layer named
 * `backbone.r1.conv1` receives `backbone.r1.conv1.weight` and `.bias`. Conversions by layer class:
 * - `Conv2D`: `weight [O, I, kh, kw]` → kernel `[kh, kw, I, O]`, `bias`;
 * - `Conv2DTranspose`: `weight [I, O, kh, kw]` → kernel `[kh, kw, O, I]` (no spatial flip), `bias`;
 * - `BatchNormalization`: `weight, bias, running_mean, running_var` → `gamma, beta, moving_mean,
 *   moving_variance` (`num_batches_tracked` is ignored);
 * - `Dense`: `weight [O, I]` → kernel `[I, O]`, `bias`;
 * - `GroupFusion` named P (the NDDR block): `P.Conv_Task_List.i.0.weight [U, G·C, 1, 1]` → kernel
 *   columns `i·U … (i+1)·U`, the biases concatenated;
 * - `ConcreteJointSelector` named P: `P.weight [J, G]` (an `nn.Linear(G, J)`) → logits; the temperature
 *   is not part of a state_dict and is left as it is;
 * - `LayerNormalization`: `weight, bias` → `gamma, beta`;
 * - `MultiHeadAttention` named P (`nn.MultiheadAttention`): `P.in_proj_weight [3D, D]` rows
 *   `[W_q; W_k; W_v]` → the transposed query / key / value kernels, `P.in_proj_bias [3D]` → their
 *   biases, `P.out_proj.weight`, `P.out_proj.bias` → the output kernel (transposed) and bias;
 * - `DualBranchFusion` named P (EHPE's `PGStage`): `P.omega_g [J, J]`, `P.omega_e [J, 1]`;
 * - `DynamicEdgeGAT` named P (PyTorch Geometric's `GATConv` names): `P.lin.weight [K·U, F]` → kernel
 *   (transposed), `P.att_dst [1, K, U]` → attentionSelf, `P.att_src [1, K, U]` → attentionNeighbor,
 *   `P.lin_q.weight`, `P.lin_k.weight` (dot product), `P.bias`;
 * - `SoftArgmax25D` named P with a trainable β (a `SoftHeatmap`): `P.beta.weight [J, 1, 1, 1]` → β
 *   `[J]`; its buffers `P.wx`, `P.wy` must be the pixel grid `arange(0, size)` and are consumed.
 *
 * **Shapes**: every tensor must have exactly the PyTorch shape implied by the model; a mismatch throws
 * a `PhalanxShapeError` naming the key.
 *
 * @param model A model whose weighted layers are named after PyTorch modules.
 * @param tensors State-dict tensors keyed by PyTorch name (e.g. `readSafetensors(bytes)`); not disposed.
 * @throws PhalanxConfigError in strict mode, listing every missing and unexpected key.
 *
 * @example
 * import { readFileSync } from 'node:fs';
 * import * as tfl from '@tensorflow/tfjs-layers';
 * import { readSafetensors } from '@phalanx/layers';
 * import { loadTorchStateDict, res2dBlock } from '@phalanx/blocks';
 * const x = tfl.input({ shape: [8, 8, 4] });
 * const model = tfl.model({ inputs: x, outputs: res2dBlock(x, { outChannels: 6, name: 'block' }) });
 * loadTorchStateDict(model, readSafetensors(readFileSync('block.safetensors')));
 */
export function loadTorchStateDict(
  model: tfl.LayersModel,
  tensors: Record<string, tf.Tensor>,
  options: ImportTorchStateDictOptions = {},
): ImportTorchStateDictReport {
  const { strict = true, temperature } = options;
  const keys = Object.keys(tensors);
  const prefix =
    options.stripPrefix ?? (keys.length > 0 && keys.every((k) => k.startsWith('module.')) ? 'module.' : '');
  const byName = new Map<string, tf.Tensor>();
  for (const k of keys) {
    if (prefix && !k.startsWith(prefix)) {
      throw new PhalanxConfigError(COMPONENT, 'stripPrefix', `a prefix of every key (${k})`, prefix);
    }
    byName.set(k.slice(prefix.length), tensors[k]);
  }
  const used = new Set<string>();
  const missing: string[] = [];
  const take = (key: string, shape: number[]): tf.Tensor | null => {
    const t = byName.get(key);
    if (t === undefined) {
      missing.push(key);
      return null;
    }
    if (!tf.util.arraysEqual(t.shape, shape)) {
      throw new PhalanxShapeError(COMPONENT, `tensor '${key}'`, `of shape [${shape.join(', ')}]`, t.shape);
    }
    used.add(key);
    return t;
  };

  const assignments: { layer: tfl.layers.Layer; values: (tf.Tensor | null)[] }[] = [];
  tf.tidy(() => {
    for (const layer of model.layers) {
      const cls = layer.getClassName();
      const convert = CONVERTERS[cls];
      if (!convert) {
        if (layer.weights.length > 0) {
          missing.push(...layer.weights.map((w) => `${layer.name}.${w.originalName.split('/').pop()} (${cls})`));
        }
        continue;
      }
      if (cls === 'SoftArgmax25D') checkGrids(layer, byName, used);
      const values = convert(layer, take);
      if (values.length === 0 && !WEIGHTLESS_OK.has(cls)) continue;
      assignments.push({ layer, values: values.map((v) => (v ? tf.keep(tf.clone(v)) : null)) });
    }
  });

  for (const k of byName.keys()) if (k.endsWith('.num_batches_tracked')) used.add(k);
  const unexpected = [...byName.keys()].filter((k) => !used.has(k));
  try {
    if (strict && (missing.length > 0 || unexpected.length > 0)) {
      const parts: string[] = [];
      if (missing.length > 0) parts.push(`missing keys: ${missing.join(', ')}`);
      if (unexpected.length > 0) parts.push(`unexpected keys: ${unexpected.join(', ')}`);
      throw new PhalanxConfigError(COMPONENT, 'tensors', 'a state_dict matching the model exactly', parts.join('; '));
    }
    for (const { layer, values } of assignments) {
      const current = layer.getWeights();
      const next = values.map((v, k) => v ?? current[k]);
      layer.setWeights(next);
    }
    if (temperature !== undefined) {
      for (const layer of model.layers) {
        if (layer instanceof ConcreteJointSelector) layer.setTemperature(temperature);
      }
    }
  } finally {
    for (const { values } of assignments) tf.dispose(values.filter((v): v is tf.Tensor => v !== null));
  }
  return { loaded: [...used].filter((k) => !k.endsWith('.num_batches_tracked')), missing, unexpected };
}

/**
 * Consumes `<name>.wx` / `<name>.wy` of a `SoftHeatmap` after checking that they are the pixel grid
 * the layer uses (`wx[i][k] = k`, `wy[i][k] = i`).
 */
function checkGrids(layer: tfl.layers.Layer, byName: Map<string, tf.Tensor>, used: Set<string>): void {
  for (const axis of ['wx', 'wy'] as const) {
    const key = `${layer.name}.${axis}`;
    const grid = byName.get(key);
    if (grid === undefined) continue; // an optional buffer here: the layer computes its grid
    const [h, w] = grid.shape;
    // eslint-disable-next-line no-restricted-syntax -- a one-off check of imported buffers, not a forward pass
    const values = grid.dataSync();
    for (let i = 0; i < h; i++) {
      for (let k = 0; k < w; k++) {
        const expected = axis === 'wx' ? k : i;
        if (values[i * w + k] !== expected) {
          throw new PhalanxConfigError(
            COMPONENT,
            `tensor '${key}'`,
            'the pixel grid arange(0, size)',
            `${values[i * w + k]} at [${i}, ${k}]`,
          );
        }
      }
    }
    used.add(key);
  }
}
