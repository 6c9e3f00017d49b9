/**
 * Loading PyTorch `state_dict` tensors (e.g. from {@link readSafetensors}) into tfjs layers by an
 * explicit mapping — PyTorch module prefix → tfjs layer name and conversion kind — for models whose
 * layers are not named after PyTorch modules. Runs on the same converters and the same all-or-nothing
 * import as {@link loadTorchStateDict}.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { PhalanxConfigError } from '@phalanx/errors';
import { torchConverterFor, weightBaseName, type TorchConverter } from './torch-converters';
import {
  applyPlan,
  checkDtypesAndBuffers,
  checkImportArgs,
  checkValues,
  planImport,
  type TorchBinding,
} from './torch-engine';
import type { TorchImportReport } from './torch-state-dict';

type AnyLayer = tfl.layers.Layer;

/** How a PyTorch module's parameters map onto one tfjs layer. */
export type TorchLayerKind =
  'conv2d' | 'conv2dTranspose' | 'dense' | 'batchNorm' | 'layerNorm' | 'depthwiseConv2d' | 'raw';

/** The registered converter of each kind (by tfjs class name). */
const KIND_CLASS: Record<Exclude<TorchLayerKind, 'raw'>, string> = {
  conv2d: 'Conv2D',
  conv2dTranspose: 'Conv2DTranspose',
  dense: 'Dense',
  batchNorm: 'BatchNormalization',
  layerNorm: 'LayerNormalization',
  depthwiseConv2d: 'DepthwiseConv2D',
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

/** The keys of {@link TorchImportOptions}: any other key is a named error. */
const OPTION_KEYS = { strict: true } satisfies Record<keyof TorchImportOptions, true>;

/** Named errors for a `target` that is not a model, a layer or a list of layers, and a `mapping` that is not a list of objects. */
function checkTargetAndMapping(component: string, target: unknown, mapping: unknown): void {
  const isLayer = (t: unknown) => typeof (t as { name?: unknown } | null)?.name === 'string';
  if (Array.isArray(target) ? !target.every(isLayer) : !isLayer(target)) {
    const received = target === null || typeof target !== 'object' ? target : 'an object without a layer name';
    throw new PhalanxConfigError(component, 'target', 'a tf.LayersModel, a layer or a list of layers', received);
  }
  if (!Array.isArray(mapping)) {
    throw new PhalanxConfigError(component, 'mapping', 'a list of {torch, layer, kind} entries', mapping);
  }
  mapping.forEach((entry: unknown, i) => {
    if (entry === null || typeof entry !== 'object') {
      throw new PhalanxConfigError(component, `mapping[${i}]`, 'an object {torch, layer, kind}', entry);
    }
  });
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

/** `params[i]` ↔ `layer.weights[i]`, values as they are. */
function rawConverter(params: readonly string[]): TorchConverter {
  return {
    params: (layer) =>
      layer.weights.map((w, i) => ({ name: params[i], shape: w.shape as number[], tfjs: w.originalName })),
    toLayer: (_layer, tensors) => tensors.map((t) => t ?? null),
    toTorch: (layer) => layer.weights.map((w) => w.read().clone()),
  };
}

/** The converter of one mapping entry, or the problem that prevents it. */
function converterOf(entry: TorchWeightMapping, layer: AnyLayer, problems: string[]): TorchConverter | null {
  const weights = layer.weights;
  if (entry.kind === 'raw') {
    const params = entry.params ?? [];
    if (params.length === weights.length) return rawConverter(params);
    problems.push(
      `raw mapping of '${entry.layer}' lists ${params.length} params for ${weights.length} weights (${weights.map(weightBaseName).join(', ')})`,
    );
    return null;
  }
  const className = Object.prototype.hasOwnProperty.call(KIND_CLASS, entry.kind) ? KIND_CLASS[entry.kind] : undefined;
  const converter = className === undefined ? undefined : torchConverterFor(className);
  if (converter === undefined) {
    problems.push(`unknown kind '${String(entry.kind)}' for layer '${entry.layer}'`);
    return null;
  }
  for (const name of converter.unmatched?.(layer) ?? []) {
    problems.push(`tfjs weight '${name}' has no PyTorch counterpart for kind '${entry.kind}'`);
  }
  return converter;
}

function mappingBindings(
  target: tfl.LayersModel | AnyLayer | readonly AnyLayer[],
  mapping: readonly TorchWeightMapping[],
  problems: string[],
): TorchBinding[] {
  const layers = collectLayers(target);
  const seen = new Set<string>();
  const bindings: TorchBinding[] = [];
  for (const entry of mapping) {
    const layer = layers.get(entry.layer);
    if (layer === undefined) {
      problems.push(`no tfjs layer named '${entry.layer}' (for '${entry.torch}')`);
      continue;
    }
    if (seen.has(entry.layer)) problems.push(`layer '${entry.layer}' is mapped more than once`);
    seen.add(entry.layer);
    if (layer.weights.length === 0) {
      problems.push(`layer '${entry.layer}' has no weights (not built yet, or weightless)`);
      continue;
    }
    const converter = converterOf(entry, layer, problems);
    if (converter) bindings.push({ layer, module: entry.torch, converter });
  }
  return bindings;
}

function strictFailure(report: TorchImportReport): PhalanxConfigError {
  const found: Record<string, unknown> = {};
  if (report.missing.length) found.missing = report.missing;
  if (report.unexpected.length) found.unexpected = report.unexpected;
  if (report.mismatched.length) {
    found.mismatched = report.mismatched.map(
      (m) => `${m.torch} → ${m.tfjs}: expected [${m.expected}], got [${m.received}]`,
    );
  }
  if (report.problems.length) found.problems = report.problems;
  return new PhalanxConfigError(
    'importTorchWeights',
    'tensors',
    'a state_dict that matches the mapping exactly (strict)',
    found,
  );
}

/**
 * Loads PyTorch `state_dict` tensors into tfjs layers, converting names and layouts per
 * {@link TorchWeightMapping} with the converters of the registry (the same as
 * {@link loadTorchStateDict}). Layers must be built (have their weights) first — e.g. call the model
 * once, or build it with the functional API. The input tensors are not disposed.
 *
 * PyTorch parity beyond the weights is the model's job: batch norm epsilon 1e-5 and momentum 0.9
 * (PyTorch's 0.1), layer norm epsilon 1e-5 (tfjs defaults to 1e-3), explicit zero padding for
 * strided convolutions (see `docs/pytorch-import.md`).
 *
 * **All or nothing**: names, shapes, dtypes and values (finite; `running_var` ≥ 0) are checked
 * before any weight is written; a failure writes nothing and leaves no tensor behind.
 *
 * **Shapes**: see {@link torchConv2dKernel}, {@link torchConv2dTransposeKernel},
 * {@link torchDenseKernel}, {@link torchDepthwiseKernel}; vectors (bias, norms) are unchanged.
 * Mismatches are reported in PyTorch layout.
 *
 * @param target A model (searched recursively), one layer, or a list of layers.
 * @param tensors PyTorch tensors by `state_dict` key, e.g. `readSafetensors(bytes)`.
 * @param mapping One entry per PyTorch module.
 * @param options `strict` (default `true`).
 * @returns The report (also in non-strict mode).
 * @throws PhalanxConfigError in strict mode, listing missing, unexpected and mismatched keys and
 *   mapping problems by name; in any mode, naming a tensor that is not float32 / int32, holds a NaN or
 *   infinite value, or a negative `running_var`; for a `target`, `mapping`, `tensors` or `options` of the
 *   wrong type (not a model or layers, not a list of entries, not a record of tensors or holding a disposed
 *   one, not an object of its options).
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
  const component = 'importTorchWeights';
  checkTargetAndMapping(component, target, mapping);
  checkImportArgs(component, tensors, options, OPTION_KEYS);
  const strict = options.strict ?? true;
  if (typeof strict !== 'boolean') throw new PhalanxConfigError(component, 'strict', 'a boolean', strict);
  const problems: string[] = [];
  const bindings = mappingBindings(target, mapping, problems);
  const plan = planImport(bindings, new Map(Object.entries(tensors)));
  plan.report.problems = problems;
  const { missing, unexpected, mismatched } = plan.report;
  if (strict && missing.length + unexpected.length + mismatched.length + problems.length > 0) {
    throw strictFailure(plan.report);
  }
  checkDtypesAndBuffers(component, plan);
  checkValues(component, plan);
  applyPlan(component, plan);
  return plan.report;
}
