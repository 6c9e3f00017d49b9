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
