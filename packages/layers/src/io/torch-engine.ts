/**
 * The machinery behind every PyTorch import and export of Phalanx: layers bound to PyTorch module
 * paths, each through the converter of the registry. An import is planned first — names, shapes and
 * dtypes matched, values checked (finite, variances ≥ 0) — and written only when the whole plan holds,
 * so a failed import changes nothing and leaks nothing. Internal: the public entry points are
 * `loadTorchStateDict`, `torchStateDict` and `importTorchWeights`.
 *
 * @internal
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { checkOptions, checkOptionsObject, PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { torchConverterOf, weightBaseName, type TorchConverter, type TorchParam } from './torch-converters';
import type { TorchImportReport } from './torch-state-dict';

type AnyLayer = tfl.layers.Layer;

/** One PyTorch module bound to one tfjs layer. @internal */
export interface TorchBinding {
  /** The layer whose weights the module's tensors fill. */
  layer: AnyLayer;
  /** The module path: keys are `<module>.<param>` (`''`: the param alone). */
  module: string;
  /** How the module's tensors map onto the layer's weights. */
  converter: TorchConverter;
}

/** A planned import: what was matched, and everything wrong, before anything is written. @internal */
export interface TorchImportPlan {
  /** The report (also returned when nothing is wrong). */
  report: TorchImportReport;
  /** Per binding, its params and the matched tensor of each (`undefined`: missing or mismatched). */
  slots: { binding: TorchBinding; params: TorchParam[]; tensors: (tf.Tensor | undefined)[] }[];
  /** Keys whose tensor is not a float32 or int32 tensor, with the dtype. */
  badDtypes: { key: string; dtype: string }[];
  /** Buffers present in the state_dict, to be checked against what their layer computes. */
  buffers: { key: string; tensor: tf.Tensor; check: (t: tf.Tensor) => { expected: string; received: string } | null }[];
}

/**
 * Named errors (`PhalanxConfigError` of `component`) for the arguments every import takes: `tensors` must be
 * an object whose values are tensors that are not disposed, and `options` an object whose keys are among
 * `known`. @internal
 */
export function checkImportArgs(
  component: string,
  tensors: unknown,
  options: unknown,
  known: Readonly<Record<string, true>>,
): void {
  const record = checkOptionsObject(component, 'tensors', tensors, 'a record of PyTorch name → tf.Tensor');
  for (const [key, t] of Object.entries(record)) {
    if (!(t instanceof tf.Tensor))
      throw new PhalanxConfigError(component, `tensors['${key}']`, 'a tf.Tensor', typeof t);
    if (t.isDisposed) {
      throw new PhalanxConfigError(
        component,
        `tensors['${key}']`,
        'a tensor that is not disposed',
        'a disposed tensor',
      );
    }
  }
  checkOptions(component, 'options', options, known, `an object {${Object.keys(known).join('?, ')}?}`);
}

/** `<module>.<name>`, or either alone when the other is empty. @internal */
export function torchKey(module: string, name: string): string {
  return module === '' ? name : name === '' ? module : `${module}.${name}`;
}

/**
 * The bindings of a model whose layers are named after PyTorch module paths: each top-level layer with
 * a converter (and a name `keep` accepts), bound to its own name. Layers with weights but no converter are listed in `unconverted`
 * as `<name>.<weight> (<class>)`. @internal
 */
export function modelBindings(
  model: tfl.LayersModel,
  keep: (layerName: string) => boolean = () => true,
): { bindings: TorchBinding[]; unconverted: string[] } {
  const bindings: TorchBinding[] = [];
  const unconverted: string[] = [];
  for (const layer of model.layers) {
    if (!keep(layer.name)) continue;
    const converter = torchConverterOf(layer);
    if (converter) bindings.push({ layer, module: layer.name, converter });
    else if (layer.weights.length > 0) {
      unconverted.push(...layer.weights.map((w) => `${layer.name}.${weightBaseName(w)} (${layer.getClassName()})`));
    }
  }
  return { bindings, unconverted };
}

/**
 * Matches `tensors` (by key) against the params and buffers of `bindings`. Touches no weight and
 * creates no tensor. `num_batches_tracked` keys are never unexpected. @internal
 */
export function planImport(
  bindings: readonly TorchBinding[],
  tensors: ReadonlyMap<string, tf.Tensor>,
): TorchImportPlan {
  const report: TorchImportReport = { loaded: [], missing: [], unexpected: [], mismatched: [], problems: [] };
  const plan: TorchImportPlan = { report, slots: [], badDtypes: [], buffers: [] };
  const used = new Set<string>();
  for (const binding of bindings) {
    const params = binding.converter.params(binding.layer);
    const slot = params.map((param) => {
      const key = torchKey(binding.module, param.name);
      const t = tensors.get(key);
      if (t === undefined) {
        report.missing.push(key);
        return undefined;
      }
      used.add(key);
      if (!tf.util.arraysEqual(t.shape, param.shape)) {
        report.mismatched.push({
          torch: key,
          tfjs: param.tfjs ?? binding.layer.name,
          expected: param.shape,
          received: t.shape,
        });
        return undefined;
      }
      if (t.dtype !== 'float32' && t.dtype !== 'int32') plan.badDtypes.push({ key, dtype: t.dtype });
      report.loaded.push(key);
      return t;
    });
    plan.slots.push({ binding, params, tensors: slot });
    for (const buffer of binding.converter.buffers?.(binding.layer) ?? []) {
      const key = torchKey(binding.module, buffer.name);
      const t = tensors.get(key);
      if (t === undefined) continue; // optional: the layer computes it
      used.add(key);
      report.loaded.push(key);
      plan.buffers.push({ key, tensor: t, check: buffer.check });
    }
  }
  report.unexpected = [...tensors.keys()].filter((k) => !used.has(k) && !k.endsWith('num_batches_tracked'));
  return plan;
}

/**
 * Reads every matched tensor once (one reduction per tensor, one download) and throws a named
 * `PhalanxConfigError` for the first with a NaN or infinite value, or a negative value where the param
 * is a variance. Leaks nothing. @internal
 */
export function checkValues(component: string, plan: TorchImportPlan): void {
  const items = plan.slots.flatMap(({ binding, params, tensors }) =>
    params.flatMap((param, i) => {
      const t = tensors[i];
      return t && t.dtype === 'float32' ? [{ key: torchKey(binding.module, param.name), t, param }] : [];
    }),
  );
  if (items.length === 0) return;
  const counts = tf.tidy(() =>
    tf.stack(
      items.map(({ t, param }) =>
        tf.stack([
          tf.sum(tf.cast(tf.logicalNot(tf.isFinite(t)), 'int32')),
          param.nonNegative ? tf.sum(tf.cast(tf.less(t, 0), 'int32')) : tf.scalar(0, 'int32'),
        ]),
      ),
    ),
  );
  // eslint-disable-next-line no-restricted-syntax -- one read of the checks before any write, not a forward pass
  const n = counts.dataSync();
  counts.dispose();
  items.forEach(({ key }, i) => {
    if (n[2 * i] > 0) {
      throw new PhalanxConfigError(
        component,
        `tensor '${key}'`,
        'finite (no NaN or ±Infinity)',
        `${n[2 * i]} non-finite values`,
      );
    }
    if (n[2 * i + 1] > 0) {
      throw new PhalanxConfigError(
        component,
        `tensor '${key}'`,
        'a variance (every value ≥ 0)',
        `${n[2 * i + 1]} negative values`,
      );
    }
  });
}

/** Throws the first dtype or buffer problem of `plan` as a named `PhalanxConfigError`. @internal */
export function checkDtypesAndBuffers(component: string, plan: TorchImportPlan): void {
  for (const { key, dtype } of plan.badDtypes) {
    throw new PhalanxConfigError(component, `tensor '${key}'`, 'a float32 or int32 tensor', dtype);
  }
  for (const { key, tensor, check } of plan.buffers) {
    const problem = check(tensor);
    if (problem) throw new PhalanxConfigError(component, `tensor '${key}'`, problem.expected, problem.received);
  }
}

/** Throws the first shape mismatch of `plan` as a `PhalanxShapeError` naming the key. @internal */
export function throwFirstMismatch(component: string, plan: TorchImportPlan): void {
  const m = plan.report.mismatched[0];
  if (m)
    throw new PhalanxShapeError(component, `tensor '${m.torch}'`, `of shape [${m.expected.join(', ')}]`, m.received);
}

/**
 * Converts every matched tensor and writes the layers' weights — only after every conversion has
 * succeeded and matches its weight's shape, so either all planned weights are written or none.
 * Disposes every converted tensor, on success and on error. @internal
 */
export function applyPlan(component: string, plan: TorchImportPlan): void {
  const owned: tf.Tensor[] = [];
  try {
    const writes: { variable: tfl.LayerVariable; value: tf.Tensor }[] = [];
    tf.tidy(() => {
      for (const { binding, tensors } of plan.slots) {
        if (tensors.every((t) => t === undefined)) continue;
        const { layer, converter } = binding;
        const values = converter.toLayer(layer, tensors);
        values.forEach((value, k) => {
          if (value === null) return;
          const variable = layer.weights[k];
          if (!tf.util.arraysEqual(value.shape, variable.shape as number[])) {
            throw new PhalanxShapeError(
              component,
              `converted weight '${variable.originalName}'`,
              `of shape [${variable.shape.join(', ')}]`,
              value.shape,
            );
          }
          const cast = tf.keep(value.dtype === variable.dtype ? tf.clone(value) : tf.cast(value, variable.dtype));
          owned.push(cast);
          writes.push({ variable, value: cast });
        });
      }
    });
    for (const { variable, value } of writes) variable.write(value);
  } finally {
    tf.dispose(owned);
  }
}

/**
 * The PyTorch tensors of `bindings` (params and buffers) by key: new tensors the caller owns. Throws a
 * named error for a key produced twice, before making any tensor; disposes what it made when a
 * converter throws. @internal
 */
export function exportBindings(component: string, bindings: readonly TorchBinding[]): Record<string, tf.Tensor> {
  const seen = new Set<string>();
  for (const { layer, module, converter } of bindings) {
    const names = [...converter.params(layer), ...(converter.buffers?.(layer) ?? [])].map((p) => p.name);
    for (const key of names.map((name) => torchKey(module, name))) {
      if (seen.has(key)) {
        throw new PhalanxConfigError(component, 'model', 'layers whose PyTorch keys are distinct', `'${key}' twice`);
      }
      seen.add(key);
    }
  }
  const made: [string, tf.Tensor][] = [];
  try {
    for (const { layer, module, converter } of bindings) {
      const params = converter.params(layer);
      const tensors = tf.tidy(() => converter.toTorch(layer));
      tensors.forEach((t, i) => made.push([torchKey(module, params[i].name), t]));
      for (const buffer of converter.buffers?.(layer) ?? []) made.push([torchKey(module, buffer.name), buffer.value()]);
    }
  } catch (e) {
    tf.dispose(made.map(([, t]) => t));
    throw e;
  }
  const out: Record<string, tf.Tensor> = {};
  // defineProperty: any key, `__proto__` included, becomes an own property.
  for (const [key, t] of made)
    Object.defineProperty(out, key, { value: t, enumerable: true, writable: true, configurable: true });
  return out;
}
