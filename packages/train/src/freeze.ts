/**
 * Freezing parts of a model by layer name: weights stop training, and frozen batch-normalisation layers
 * stop updating their moving statistics (they normalise with them, as Keras 2 does for
 * `trainable = false`).
 */
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { checkBoolean, PhalanxConfigError } from '@phalanx/errors';
import { checkLayer, isBatchNormalization } from '@phalanx/layers';
import { withoutStatefulFlags } from './patterns';

/** Selects layers: a RegExp tested on the layer name, an exact name, or a predicate. */
export type LayerPattern = RegExp | string | ((layer: tfl.layers.Layer) => boolean);

type CallFn = (inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];

/** The original `call` of each batch-norm layer frozen in inference mode. */
const originalCalls = new WeakMap<tfl.layers.Layer, CallFn>();

/** Every layer of `model`, nested models' layers included (each once, the containers themselves too). */
export function allLayers(model: tfl.layers.Layer): tfl.layers.Layer[] {
  checkLayer('allLayers', model);
  const out: tfl.layers.Layer[] = [];
  const seen = new Set<tfl.layers.Layer>();
  const visit = (layer: tfl.layers.Layer) => {
    if (seen.has(layer)) return;
    seen.add(layer);
    out.push(layer);
    const children = (layer as { layers?: unknown }).layers;
    if (Array.isArray(children)) children.forEach((c) => visit(c as tfl.layers.Layer));
  };
  visit(model);
  return out;
}

function matcher(pattern: LayerPattern): (layer: tfl.layers.Layer) => boolean {
  if (pattern instanceof RegExp) {
    const stateless = withoutStatefulFlags(pattern);
    return (layer) => stateless.test(layer.name);
  }
  if (typeof pattern === 'string') return (layer) => layer.name === pattern;
  if (typeof pattern === 'function') return pattern;
  throw new PhalanxConfigError('freezeLayers', 'pattern', 'a RegExp, a layer name or a predicate', pattern);
}

function isBatchNorm(layer: tfl.layers.Layer): boolean {
  return isBatchNormalization(layer); // tfjs' own and @phalanx/layers' LeanBatchNormalization
}

/**
 * Freezes (`frozen = true`) or unfreezes the layers of `model` (nested models included, the model
 * itself excluded) that match `pattern`: sets `layer.trainable`, and makes a frozen
 * `BatchNormalization` layer — also one inside a frozen nested model — run in inference mode
 * (`training: false`: moving statistics are used and left unchanged) by wrapping its `call` on the
 * instance; unfreezing restores the original `call` (of a batch norm not frozen by its own flag).
 * Returns the names of the layers changed.
 *
 * @example
 * const model = tfl.sequential({
 *   layers: [
 *     tfl.layers.dense({ units: 8, inputShape: [4], name: 'backbone.fc' }),
 *     tfl.layers.batchNormalization({ name: 'backbone.bn' }),
 *     tfl.layers.dense({ units: 2, name: 'head' }),
 *   ],
 * });
 * setFrozen(model, /^backbone\./, true); // the backbone stops learning, its BN statistics stay fixed
 */
export function setFrozen(model: tfl.layers.Layer, pattern: LayerPattern, frozen: boolean): string[] {
  checkLayer('setFrozen', model);
  checkBoolean('setFrozen', 'frozen', frozen);
  const test = matcher(pattern);
  const changed: string[] = [];
  for (const layer of allLayers(model)) {
    if (layer === model || !test(layer)) continue;
    layer.trainable = !frozen;
    changed.push(layer.name);
    setInferenceMode(layer, frozen);
  }
  return changed;
}

/**
 * Makes the batch norms of `layer` run in inference mode when they are frozen: `layer` itself, or — for a
 * nested model — every batch norm inside it that is frozen by it, by a model between them or by its own
 * flag (`frozenAbove`). tfjs freezes a nested model's weights through its `trainable` but leaves its batch
 * norms updating their moving statistics in training mode.
 */
function setInferenceMode(layer: tfl.layers.Layer, frozenAbove: boolean): void {
  const frozen = frozenAbove || !layer.trainable;
  const children = (layer as { layers?: unknown }).layers;
  if (Array.isArray(children)) {
    children.forEach((child: tfl.layers.Layer) => setInferenceMode(child, frozen));
    return;
  }
  if (!isBatchNorm(layer)) return;
  const mutable = layer as unknown as { call: CallFn };
  if (frozen && !originalCalls.has(layer)) {
    const original = mutable.call;
    originalCalls.set(layer, original);
    mutable.call = (inputs, kwargs) => original.call(layer, inputs, { ...kwargs, training: false });
  } else if (!frozen && originalCalls.has(layer)) {
    mutable.call = originalCalls.get(layer)!;
    originalCalls.delete(layer);
  }
}
