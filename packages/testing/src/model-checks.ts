import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { fileSystem } from '@phalanx/layers';
import { expectClose } from './close';
import { IN_BROWSER, nodeBuiltins } from './environment';
import { expectNoTensorLeak } from './leaks';

type AnyLayer = tfl.layers.Layer;

/**
 * Wraps one layer in a functional model: one `tfl.input` per entry of `inputShapes` (without the batch
 * axis), the layer applied to them (a single input is passed alone, several as a list).
 */
export function modelAround(layer: AnyLayer, inputShapes: number[][]): tfl.LayersModel {
  const inputs = inputShapes.map((shape) => tfl.input({ shape }));
  const out = layer.apply(inputs.length === 1 ? inputs[0] : inputs) as tfl.SymbolicTensor | tfl.SymbolicTensor[];
  return tfl.model({ inputs, outputs: out });
}

function asList(x: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
  return Array.isArray(x) ? x : [x];
}

let saveCounter = 0;

/**
 * A fresh place to save a model: a temporary directory on disk through `fileSystem` in Node, an
 * `indexeddb://` key in the browser. `cleanup` removes it.
 */
async function temporaryModelStore(): Promise<{
  handler: () => tf.io.IOHandler | string;
  cleanup: () => Promise<void>;
}> {
  const tag = `phalanx-save-${Date.now()}-${saveCounter++}-${Math.random().toString(36).slice(2, 8)}`;
  if (IN_BROWSER) {
    const url = `indexeddb://${tag}`;
    return {
      handler: () => url,
      cleanup: async () => {
        await tf.io.removeModel(url);
      },
    };
  }
  const { fs, os, path } = nodeBuiltins();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${tag}-`));
  return {
    handler: () => fileSystem(dir),
    cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * Saves `model` and loads it back with `tf.loadLayersModel` — in Node into a fresh temporary directory
 * on disk (model.json + weights.bin, through `fileSystem`), in the browser into IndexedDB
 * (`indexeddb://…`) — and asserts that `predict(inputs)` gives the same numbers (to the last bit
 * unless `atol` says otherwise). Returns the loaded model.
 */
export async function expectSaveLoadIdentical(
  model: tfl.LayersModel,
  inputs: tf.Tensor[],
  atol = 0,
): Promise<tfl.LayersModel> {
  const store = await temporaryModelStore();
  try {
    await model.save(store.handler());
    const loaded = await tfl.loadLayersModel(store.handler());
    const feed = inputs.length === 1 ? inputs[0] : inputs;
    const before = asList(model.predict(feed) as tf.Tensor | tf.Tensor[]);
    const after = asList(loaded.predict(feed) as tf.Tensor | tf.Tensor[]);
    after.forEach((t, k) => expectClose(t, before[k], { rtol: 0, atol }, `loaded output ${k}`));
    tf.dispose([...before, ...after]);
    return loaded;
  } finally {
    await store.cleanup();
  }
}

/**
 * Asserts that neither `predict` nor an optimizer step on `Σ outputs²` (mean) leaks tensors: the live
 * tensor count is the same before and after each (after warm-up runs that create optimizer slots).
 */
export async function expectNoLeakInPredictAndTrain(model: tfl.LayersModel, inputs: tf.Tensor[]): Promise<void> {
  const feed = inputs.length === 1 ? inputs[0] : inputs;
  await expectNoTensorLeak(() => {
    const out = model.predict(feed) as tf.Tensor | tf.Tensor[];
    tf.dispose(out);
  }, 'predict');
  const optimizer = tf.train.adam(1e-3);
  await expectNoTensorLeak(() => {
    const cost = optimizer.minimize(() => {
      const outs = asList(model.apply(feed, { training: true }) as tf.Tensor | tf.Tensor[]);
      return tf.addN(outs.map((o) => tf.mean(tf.square(o)))) as tf.Scalar;
    }, true);
    cost?.dispose();
  }, 'training step');
  optimizer.dispose();
}
