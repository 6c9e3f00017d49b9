import * as tf from '@tensorflow/tfjs-core';
import { IN_BROWSER, nodeBuiltins } from './environment';

/** A tensor as the golden files store it: row-major data with its shape. */
export interface TensorJson {
  shape: number[];
  data: number[];
}

/**
 * One golden case of a layer (format: docs/testing.md): configuration, weights in `layer.weights` order, inputs,
 * keyword arguments (tensor-valued ones stored as {@link TensorJson}), outputs, the upstream gradient
 * (loss = Σ_k Σ outputs_k ⊙ upstream_k) and the resulting input and weight gradients.
 */
export interface GoldenLayerCase {
  layer: string;
  config: Record<string, unknown>;
  weights: TensorJson[];
  inputs: TensorJson[];
  kwargs: Record<string, unknown>;
  outputs: TensorJson[];
  upstream: TensorJson[];
  inputGrads: TensorJson[];
  weightGrads: TensorJson[];
}

/**
 * Reads and parses a JSON fixture, usually given as `new URL('../../test/fixtures/x.json',
 * import.meta.url)`. In Node it reads the file; in the browser suite the same URL points at the test
 * server (vite serves the package's files), and the fixture is fetched with a synchronous request so
 * that test files can load fixtures at module level in both environments.
 */
export function readJson<T>(path: string | URL): T {
  if (!IN_BROWSER) return JSON.parse(nodeBuiltins().fs.readFileSync(path, 'utf8')) as T;
  const request = new XMLHttpRequest();
  request.open('GET', String(path), false);
  request.send();
  if (request.status !== 200) {
    throw new Error(`readJson: GET ${String(path)} answered ${request.status} ${request.statusText}`);
  }
  return JSON.parse(request.responseText) as T;
}

/** True for a `{shape, data}` object. */
export function isTensorJson(value: unknown): value is TensorJson {
  return (
    typeof value === 'object' &&
    value !== null &&
    Array.isArray((value as TensorJson).shape) &&
    Array.isArray((value as TensorJson).data)
  );
}

/** Makes a float32 tensor from a {@link TensorJson}. */
export function toTensor(json: TensorJson): tf.Tensor {
  return tf.tensor(json.data, json.shape, 'float32');
}

/** Converts the tensor-valued entries of a kwargs object to tensors, leaving the others as they are. */
export function toKwargs(kwargs: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(kwargs)) {
    out[key] = isTensorJson(value) ? toTensor(value) : value;
  }
  return out;
}
