import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { PhalanxConfigError } from '@phalanx/errors';

/**
 * Loading PyTorch `state_dict` tensors (e.g. from {@link readSafetensors}) into tfjs layers: name
 * mapping (`<prefix>.weight` → `kernel`, `running_mean` → `moving_mean`, …) and layout conversion
 * (PyTorch `[out, in, kh, kw]` → tfjs `[kh, kw, in, out]`, …), with a report of what did not match.
 */

type AnyLayer = tfl.layers.Layer;

/** How a PyTorch module's parameters map onto one tfjs layer. */
export type TorchLayerKind =
  'conv2d' | 'conv2dTranspose' | 'dense' | 'batchNorm' | 'layerNorm' | 'depthwiseConv2d' | 'raw';

/**
 * PyTorch `nn.Conv2d` weight `[out, in, kh, kw]` → tfjs `conv2d` kernel `[kh, kw, in, out]`.
 *
 * **Shapes**: `[O, I, kh, kw]` → `[kh, kw, I, O]`.
 *
 * @example
 * torchConv2dKernel(tf.zeros([8, 3, 5, 5])).shape; // [5, 5, 3, 8]
 */
export function torchConv2dKernel(weight: tf.Tensor): tf.Tensor4D {
  return tf.transpose(weight as tf.Tensor4D, [2, 3, 1, 0]);
}

/**
 * PyTorch `nn.ConvTranspose2d` weight `[in, out, kh, kw]` → tfjs `conv2dTranspose` kernel
 * `[kh, kw, out, in]`. Both frameworks compute the adjoint of a cross-correlation, so no spatial flip
 * is needed (padding conventions still differ: PyTorch `padding`/`output_padding` crop the full
 * output, tfjs offers `'valid'`/`'same'`).
 *
 * **Shapes**: `[I, O, kh, kw]` → `[kh, kw, O, I]`.
 *
 * @example
 * torchConv2dTransposeKernel(tf.zeros([16, 8, 4, 4])).shape; // [4, 4, 8, 16]
 */
export function torchConv2dTransposeKernel(weight: tf.Tensor): tf.Tensor4D {
  return tf.transpose(weight as tf.Tensor4D, [2, 3, 1, 0]);
}

/**
 * PyTorch `nn.Linear` weight `[out, in]` → tfjs `dense` kernel `[in, out]`.
 *
 * **Shapes**: `[O, I]` → `[I, O]`.
 *
 * @example
 * torchDenseKernel(tf.zeros([10, 4])).shape; // [4, 10]
 */
export function torchDenseKernel(weight: tf.Tensor): tf.Tensor2D {
  return tf.transpose(weight as tf.Tensor2D, [1, 0]);
}

/**
 * PyTorch depthwise `nn.Conv2d` (`groups = in`) weight `[in·m, 1, kh, kw]` → tfjs
 * `depthwiseConv2d` kernel `[kh, kw, in, m]` (m = depth multiplier). Both order the output channels
 * as `c·m + j` for input channel `c` and multiplier index `j`.
 *
 * **Shapes**: `[I·m, 1, kh, kw]` → `[kh, kw, I, m]`.
 *
 * @example
 * torchDepthwiseKernel(tf.zeros([6, 1, 3, 3]), 3).shape; // [3, 3, 3, 2]
 */
export function torchDepthwiseKernel(weight: tf.Tensor, inChannels: number): tf.Tensor4D {
  const [outChannels, one, kh, kw] = weight.shape;
  if (weight.rank !== 4 || one !== 1 || outChannels % inChannels !== 0) {
    throw new PhalanxConfigError(
      'torchDepthwiseKernel',
      'weight',
      `of shape [${inChannels}·m, 1, kh, kw] (a depthwise PyTorch conv with groups = ${inChannels})`,
      weight.shape,
    );
  }
  return tf.tidy(() =>
    tf.reshape(tf.transpose(weight as tf.Tensor4D, [2, 3, 0, 1]), [kh, kw, inChannels, outChannels / inChannels]),
  );
}

/** tfjs weight base name → PyTorch parameter name, and the layout conversion. */
interface ParamRule {
  torch: string;
  convert?: (w: tf.Tensor, tfjsShape: number[]) => tf.Tensor;
}

const RULES: Record<Exclude<TorchLayerKind, 'raw'>, Record<string, ParamRule>> = {
  conv2d: { kernel: { torch: 'weight', convert: torchConv2dKernel }, bias: { torch: 'bias' } },
  conv2dTranspose: { kernel: { torch: 'weight', convert: torchConv2dTransposeKernel }, bias: { torch: 'bias' } },
  dense: { kernel: { torch: 'weight', convert: torchDenseKernel }, bias: { torch: 'bias' } },
  batchNorm: {
    gamma: { torch: 'weight' },
    beta: { torch: 'bias' },
    moving_mean: { torch: 'running_mean' },
    moving_variance: { torch: 'running_var' },
  },
  layerNorm: { gamma: { torch: 'weight' }, beta: { torch: 'bias' } },
  depthwiseConv2d: {
    depthwise_kernel: {
      torch: 'weight',
      convert: (w, shape) => {
        // Convert only when the torch shape fits; otherwise report the raw shape as a mismatch.
        const [kh, kw, inC, m] = shape;
        const [o, one, h, k] = w.shape;
        return w.rank === 4 && o === inC * m && one === 1 && h === kh && k === kw ? torchDepthwiseKernel(w, inC) : w;
      },
    },
    bias: { torch: 'bias' },
  },
};

/** One PyTorch module → one tfjs layer. */
export interface TorchWeightMapping {
  /** The module's `state_dict` prefix, e.g. `'layer1.0.conv1'` (keys are `<prefix>.<param>`); `''` for top-level keys. */
  torch: string;
  /** The tfjs layer's `name` (searched recursively through nested models). */
  layer: string;
  /**
   * The conversion: `'conv2d'` (weight, bias), `'conv2dTranspose'`, `'dense'` (nn.Linear),
   * `'batchNorm'` (weight→gamma, bias→beta, running_mean→moving_mean, running_var→moving_variance;
   * `num_batches_tracked` ignored), `'layerNorm'` (weight→gamma, bias→beta), `'depthwiseConv2d'`
   * (Conv2d with groups = in channels), or `'raw'` (the tensors named in `params`, copied as they are,
   * onto `layer.weights` in order).
   */
  kind: TorchLayerKind;
  /** For `'raw'` only: the PyTorch parameter names after `<prefix>.`, in `layer.weights` order (`''` = the prefix itself). */
  params?: string[];
}

/** Options of {@link importTorchWeights}. */
export interface TorchImportOptions {
  /**
   * When `true` (default), any missing key, unexpected key, shape mismatch or mapping problem throws
   * a `PhalanxConfigError` listing all of them, and no weight is changed. When `false`, every
   * weight that matches is loaded and the problems are only reported.
   */
  strict?: boolean;
}

/** What {@link importTorchWeights} did. */
export interface TorchImportReport {
  /** The weights that were (or, when strict checks failed, would have been) written. */
  loaded: Array<{
    /** PyTorch key, e.g. `conv1.weight`. */
    torch: string;
    /** tfjs weight it was written to, e.g. `conv1/kernel`. */
    tfjs: string;
  }>;
  /** PyTorch keys the mapping needs but `tensors` lacks. */
  missing: string[];
  /** Keys of `tensors` that no mapping uses (`num_batches_tracked` keys are ignored, not unexpected). */
  unexpected: string[];
  /** Keys whose converted shape differs from the tfjs weight: `expected` is the tfjs shape. */
  mismatched: Array<{
    /** PyTorch key. */
    torch: string;
    /** tfjs weight the key maps to. */
    tfjs: string;
    /** Shape of the tfjs weight. */
    expected: number[];
    /** Shape of the PyTorch tensor after conversion to the tfjs layout. */
    received: number[];
  }>;
  /** Mapping errors: unknown or unbuilt layer, a tfjs weight the kind cannot fill, a raw mapping of the wrong length. */
  problems: string[];
}

function collectLayers(target: tfl.LayersModel | AnyLayer | readonly AnyLayer[]): Map<string, AnyLayer> {
  const found = new Map<string, AnyLayer>();
  const visit = (layer: AnyLayer): void => {
    if (!found.has(layer.name)) found.set(layer.name, layer);
    const inner = (layer as unknown as { layers?: AnyLayer[] }).layers;
    if (Array.isArray(inner)) inner.forEach(visit);
  };
  (Array.isArray(target) ? target : [target as AnyLayer]).forEach(visit);
  return found;
}

function baseName(v: tfl.LayerVariable): string {
  const parts = v.originalName.split('/');
  return parts[parts.length - 1];
}

const sameShape = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * Loads PyTorch `state_dict` tensors into tfjs layers, converting names and layouts per
 * {@link TorchWeightMapping}. Layers must be built (have their weights) first — e.g. call the model
 * once, or build it with the functional API. Tensors are read, converted and written with
 * `LayerVariable.write`; the input tensors are not disposed.
 *
 * PyTorch parity beyond the weights is the model's job: batch norm epsilon 1e-5 and momentum 0.9
 * (PyTorch's 0.1), layer norm epsilon 1e-5 (tfjs defaults to 1e-3), explicit zero padding for
 * strided convolutions (docs/pytorch-import.md).
 *
 * **Shapes**: see {@link torchConv2dKernel}, {@link torchConv2dTransposeKernel},
 * {@link torchDenseKernel}, {@link torchDepthwiseKernel}; vectors (bias, norms) are unchanged.
 *
 * @param target A model (searched recursively), one layer, or a list of layers.
 * @param tensors PyTorch tensors by `state_dict` key, e.g. `readSafetensors(bytes)`.
 * @param mapping One entry per PyTorch module.
 * @param options `strict` (default `true`).
 * @returns The report (also in non-strict mode).
 * @throws PhalanxConfigError in strict mode, listing missing, unexpected and mismatched keys and
 *   mapping problems by name.
 *
 * @example
 * import { readFileSync } from 'node:fs';
 * import * as tfl from '@tensorflow/tfjs-layers';
 * import { importTorchWeights, readSafetensors } from '@phalanx/layers';
 * const model = tfl.sequential({
 *   layers: [
 *     tfl.layers.conv2d({ filters: 8, kernelSize: 3, inputShape: [32, 32, 3], name: 'conv1' }),
 *     tfl.layers.batchNormalization({ name: 'bn1' }),
 *     tfl.layers.flatten(),
 *     tfl.layers.dense({ units: 10, name: 'fc' }),
 *   ],
 * });
 * const tensors = readSafetensors(readFileSync('head.safetensors'));
 * importTorchWeights(model, tensors, [
 *   { torch: 'conv1', layer: 'conv1', kind: 'conv2d' },
 *   { torch: 'bn1', layer: 'bn1', kind: 'batchNorm' },
 *   { torch: 'fc', layer: 'fc', kind: 'dense' },
 * ]);
 */
export function importTorchWeights(
  target: tfl.LayersModel | AnyLayer | readonly AnyLayer[],
  tensors: Readonly<Record<string, tf.Tensor>>,
  mapping: readonly TorchWeightMapping[],
  options: TorchImportOptions = {},
): TorchImportReport {
  const strict = options.strict ?? true;
  if (typeof strict !== 'boolean') throw new PhalanxConfigError('importTorchWeights', 'strict', 'a boolean', strict);
  const layers = collectLayers(target);
  const report: TorchImportReport = { loaded: [], missing: [], unexpected: [], mismatched: [], problems: [] };
  const used = new Set<string>();
  const writes: Array<{ variable: tfl.LayerVariable; value: tf.Tensor; owned: boolean }> = [];
  const seenLayers = new Set<string>();
  const key = (prefix: string, param: string) => (prefix === '' ? param : param === '' ? prefix : `${prefix}.${param}`);

  for (const entry of mapping) {
    const layer = layers.get(entry.layer);
    if (layer === undefined) {
      report.problems.push(`no tfjs layer named '${entry.layer}' (for '${entry.torch}')`);
      continue;
    }
    if (seenLayers.has(entry.layer)) report.problems.push(`layer '${entry.layer}' is mapped more than once`);
    seenLayers.add(entry.layer);
    const weights = layer.weights;
    if (weights.length === 0) {
      report.problems.push(`layer '${entry.layer}' has no weights (not built yet, or weightless)`);
      continue;
    }
    const pairs: Array<{ variable: tfl.LayerVariable; torchKey: string; convert?: ParamRule['convert'] }> = [];
    if (entry.kind === 'raw') {
      const params = entry.params ?? [];
      if (params.length !== weights.length) {
        report.problems.push(
          `raw mapping of '${entry.layer}' lists ${params.length} params for ${weights.length} weights (${weights.map(baseName).join(', ')})`,
        );
        continue;
      }
      weights.forEach((variable, i) => pairs.push({ variable, torchKey: key(entry.torch, params[i]) }));
    } else {
      const rules = RULES[entry.kind];
      if (rules === undefined) {
        report.problems.push(`unknown kind '${String(entry.kind)}' for layer '${entry.layer}'`);
        continue;
      }
      for (const variable of weights) {
        const rule = rules[baseName(variable)];
        if (rule === undefined) {
          report.problems.push(
            `tfjs weight '${variable.originalName}' has no PyTorch counterpart for kind '${entry.kind}'`,
          );
          continue;
        }
        pairs.push({ variable, torchKey: key(entry.torch, rule.torch), convert: rule.convert });
      }
      if (entry.kind === 'batchNorm') used.add(key(entry.torch, 'num_batches_tracked'));
    }
    for (const { variable, torchKey, convert } of pairs) {
      const source = tensors[torchKey];
      if (source === undefined) {
        report.missing.push(torchKey);
        continue;
      }
      used.add(torchKey);
      const shape = variable.shape as number[];
      const converted = convert ? convert(source, shape) : source;
      const owned = converted !== source;
      if (!sameShape(converted.shape, shape)) {
        report.mismatched.push({
          torch: torchKey,
          tfjs: variable.originalName,
          expected: [...shape],
          received: [...converted.shape],
        });
        if (owned) converted.dispose();
        continue;
      }
      report.loaded.push({ torch: torchKey, tfjs: variable.originalName });
      writes.push({ variable, value: converted, owned });
    }
  }
  report.unexpected = Object.keys(tensors).filter((k) => !used.has(k) && !k.endsWith('num_batches_tracked'));

  const failed =
    report.missing.length + report.unexpected.length + report.mismatched.length + report.problems.length > 0;
  try {
    if (strict && failed) {
      const found: Record<string, unknown> = {};
      if (report.missing.length) found.missing = report.missing;
      if (report.unexpected.length) found.unexpected = report.unexpected;
      if (report.mismatched.length) {
        found.mismatched = report.mismatched.map(
          (m) => `${m.torch} → ${m.tfjs}: expected [${m.expected}], got [${m.received}]`,
        );
      }
      if (report.problems.length) found.problems = report.problems;
      throw new PhalanxConfigError(
        'importTorchWeights',
        'tensors',
        'a state_dict that matches the mapping exactly (strict)',
        found,
      );
    }
    for (const { variable, value } of writes) {
      if (value.dtype === variable.dtype) {
        variable.write(value);
      } else {
        const cast = tf.cast(value, variable.dtype);
        variable.write(cast);
        cast.dispose();
      }
    }
  } finally {
    writes.forEach(({ value, owned }) => owned && value.dispose());
  }
  return report;
}
