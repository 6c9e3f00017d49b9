import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import * as tfl from '@tensorflow/tfjs-layers';
import { expect } from 'vitest';
import { expectClose, GOLDEN_TOLERANCE, type Tolerance } from './close';
import { toKwargs, toTensor, type GoldenLayerCase } from './golden';

type AnyLayer = tfl.layers.Layer;

function asList(x: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
  return Array.isArray(x) ? x : [x];
}

/**
 * Builds `layer` on the golden inputs, loads the golden weights, and returns the forward outputs
 * together with the gradients of `Σ_k Σ outputs_k ⊙ upstream_k` with respect to every input and every
 * *trainable* weight (in `layer.weights` order; non-trainable weights get `null`).
 */
export function runLayerCase(
  layer: AnyLayer,
  golden: GoldenLayerCase,
): { outputs: tf.Tensor[]; inputGrads: tf.Tensor[]; weightGrads: (tf.Tensor | null)[] } {
  const inputs = golden.inputs.map(toTensor);
  const kwargs = toKwargs(golden.kwargs);
  const callInputs = inputs.length === 1 ? inputs[0] : inputs;
  // First call builds the layer; then the golden weights are loaded.
  tf.tidy(() => {
    layer.apply(callInputs, { ...kwargs, training: false });
  });
  layer.setWeights(golden.weights.map(toTensor));
  const upstream = golden.upstream.map(toTensor);
  const outputs = asList(layer.apply(callInputs, kwargs) as tf.Tensor | tf.Tensor[]);

  const inputVars = inputs.map((x, i) => tf.variable(x, true, `golden_input_${i}_${Date.now()}_${Math.random()}`));
  const trainable = layer.weights.map((w) => (w.trainable ? (w.read() as tf.Variable) : null));
  const varList = [...inputVars, ...(trainable.filter((v) => v !== null) as tf.Variable[])];
  const { grads } = tf.variableGrads(() => {
    const outs = asList(
      layer.apply(inputVars.length === 1 ? inputVars[0] : inputVars, kwargs) as tf.Tensor | tf.Tensor[],
    );
    let total = tf.scalar(0);
    outs.forEach((o, k) => {
      total = tf.add(total, tf.sum(tf.mul(o, upstream[k])));
    });
    return total as tf.Scalar;
  }, varList);
  const inputGrads = inputVars.map((v) => grads[v.name]);
  const weightGrads = trainable.map((v) => (v === null ? null : grads[v.name]));
  inputVars.forEach((v) => v.dispose());
  upstream.forEach((u) => u.dispose());
  return { outputs, inputGrads, weightGrads };
}

/**
 * Checks a layer against a golden case: forward outputs, input gradients and the gradients of the
 * trainable weights, within `tolerance` (default relative 2e-4, absolute 2e-5).
 */
export function expectLayerMatchesGolden(
  layer: AnyLayer,
  golden: GoldenLayerCase,
  tolerance: Tolerance = GOLDEN_TOLERANCE,
): void {
  const { outputs, inputGrads, weightGrads } = runLayerCase(layer, golden);
  expect(outputs.length, 'number of outputs').toBe(golden.outputs.length);
  outputs.forEach((o, k) => expectClose(o, golden.outputs[k], tolerance, `output ${k}`));
  inputGrads.forEach((g, k) => expectClose(g, golden.inputGrads[k], tolerance, `input gradient ${k}`));
  weightGrads.forEach((g, k) => {
    if (g !== null) expectClose(g, golden.weightGrads[k], tolerance, `gradient of weight ${layer.weights[k].name}`);
  });
  tf.dispose([...outputs, ...inputGrads, ...(weightGrads.filter((g) => g !== null) as tf.Tensor[])]);
}

/**
 * {@link expectLayerMatchesGolden} with asynchronous reads (`await tensor.data()`), for backends whose
 * synchronous readback is slow or broken (webgpu in headless Chromium): same computation, same checks.
 */
export async function expectLayerMatchesGoldenAsync(
  layer: AnyLayer,
  golden: GoldenLayerCase,
  tolerance: Tolerance = GOLDEN_TOLERANCE,
): Promise<void> {
  const { outputs, inputGrads, weightGrads } = runLayerCase(layer, golden);
  const read = async (t: tf.Tensor) => ({ shape: t.shape, data: Array.from(await t.data()) });
  expect(outputs.length, 'number of outputs').toBe(golden.outputs.length);
  for (const [k, o] of outputs.entries()) expectClose(await read(o), golden.outputs[k], tolerance, `output ${k}`);
  for (const [k, g] of inputGrads.entries()) {
    expectClose(await read(g), golden.inputGrads[k], tolerance, `input gradient ${k}`);
  }
  for (const [k, g] of weightGrads.entries()) {
    if (g !== null) {
      expectClose(await read(g), golden.weightGrads[k], tolerance, `gradient of weight ${layer.weights[k].name}`);
    }
  }
  tf.dispose([...outputs, ...inputGrads, ...(weightGrads.filter((g) => g !== null) as tf.Tensor[])]);
}

/**
 * Asserts that `layer.getConfig()` survives a JSON round trip and `fromConfig`: the rebuilt layer has
 * the same config.
 */
export function expectConfigRoundTrip(layer: AnyLayer): void {
  const cls = layer.constructor as unknown as { className: string };
  const config = JSON.parse(JSON.stringify(layer.getConfig())) as tf.serialization.ConfigDict;
  const rebuilt = tf.serialization.SerializationMap.getMap().classNameMap[cls.className];
  expect(rebuilt, `${cls.className} is registered`).toBeDefined();
  const [ctor, fromConfig] = rebuilt as unknown as [
    tf.serialization.SerializableConstructor<tf.serialization.Serializable>,
    (c: unknown, conf: tf.serialization.ConfigDict) => AnyLayer,
  ];
  const again = fromConfig(ctor, config);
  expect(again.getConfig()).toEqual(layer.getConfig());
}

/** Saves `model` with `model.save(url)` and loads it back with `tf.loadLayersModel(url)`. */
export async function saveAndLoad(model: LayersModel, url: string): Promise<LayersModel> {
  await model.save(url);
  return tfl.loadLayersModel(url);
}
