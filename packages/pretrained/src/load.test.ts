import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { PhalanxFileError } from '@phalanx/errors';
import { fileSystem } from '@phalanx/layers';
import { useBackend } from '@phalanx/testing';
import { HAND_POSE_MODELS, type HandPoseModelName } from './card';
import { loadHandPoseEstimator, loadHandPoseModel } from './load';
import { shippedModelUrl } from './package-files';

/** A layer of a stored topology, as model.json writes it. */
interface LayerJson {
  name: string;
  class_name: string;
  config: Record<string, unknown>;
  inbound_nodes: [string, number, number, object][][];
}

/** The shipped files of `name`, with their topology changed by `edit`, behind an IOHandler. */
async function editedHandler(name: HandPoseModelName, edit: (layers: LayerJson[]) => void): Promise<tf.io.IOHandler> {
  const artifacts = await fileSystem(fileURLToPath(shippedModelUrl(name))).load!();
  const topology = structuredClone(artifacts.modelTopology) as { config: { layers: LayerJson[] } };
  edit(topology.config.layers);
  return { load: async () => ({ ...artifacts, modelTopology: topology }) };
}

/** One input channel instead of three: every layer builds, the first kernel no longer fits weights.bin. */
const oneChannel = (layers: LayerJson[]) => {
  const shape = layers[0].config.batch_input_shape as number[];
  layers[0].config.batch_input_shape = [...shape.slice(0, 3), 1];
};

/**
 * The convolution that feeds the last residual sum (directly or through a batch norm) gets one channel too
 * many: the layers before the sum are built (their variables exist) when the sum cannot be.
 */
const brokenSum = (layers: LayerJson[]) => {
  const byName = new Map(layers.map((l) => [l.name, l]));
  const source = (l: LayerJson | undefined) =>
    l?.class_name === 'LeanBatchNormalization' ? byName.get(l.inbound_nodes[0][0][0]) : l;
  const conv = layers
    .filter((l) => l.class_name === 'Add')
    .flatMap((l) => l.inbound_nodes[0].map(([inbound]) => source(byName.get(inbound))))
    .filter((l) => l?.class_name === 'Conv2D')
    .at(-1);
  expect(conv, 'a convolution that feeds a sum').toBeDefined();
  conv!.config.filters = (conv!.config.filters as number) + 1;
};

const variableCount = () => Object.keys(tf.engine().registeredVariables).length;

beforeAll(async () => {
  await useBackend('cpu');
});

describe('loading files whose topology does not fit the weights', () => {
  it('mismatched topology: a named error naming the weight, and no tensor or variable left', async () => {
    for (const name of HAND_POSE_MODELS) {
      const handler = await editedHandler(name, oneChannel);
      for (const load of [loadHandPoseModel, loadHandPoseEstimator]) {
        const [tensors, variables] = [tf.memory().numTensors, variableCount()];
        const error = await load(name, { handler }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error, `${name}: ${load.name}`).toBeInstanceOf(PhalanxFileError);
        expect((error as Error).message).toMatch(
          /^options\.handler: model cannot be loaded: the weight '.+' is \[.*,3,.*\] in the weights but \[.*,1,.*\] in the model$/,
        );
        expect([tf.memory().numTensors, variableCount()], `${name}: ${load.name}`).toEqual([tensors, variables]);
      }
    }
  });

  it('a layer that cannot be built after others were: no variable of the built ones is left', async () => {
    for (const name of HAND_POSE_MODELS) {
      const handler = await editedHandler(name, brokenSum);
      const [tensors, variables] = [tf.memory().numTensors, variableCount()];
      await expect(loadHandPoseModel(name, { handler })).rejects.toThrow(/^options\.handler: model cannot be loaded: /);
      expect([tf.memory().numTensors, variableCount()], name).toEqual([tensors, variables]);
    }
  });

  it('weight data shorter than its specs: a named error, no decoded weight left', async () => {
    const artifacts = await fileSystem(fileURLToPath(shippedModelUrl('ehpe'))).load!();
    const data = artifacts.weightData as ArrayBuffer;
    const handler = { load: async () => ({ ...artifacts, weightData: data.slice(0, data.byteLength / 2) }) };
    const [tensors, variables] = [tf.memory().numTensors, variableCount()];
    await expect(loadHandPoseModel('ehpe', { handler })).rejects.toThrow(PhalanxFileError);
    expect([tf.memory().numTensors, variableCount()]).toEqual([tensors, variables]);
  });

  it('a failing load beside a good one disposes only its own: the good model keeps every weight', async () => {
    const [tensors, variables] = [tf.memory().numTensors, variableCount()];
    const bad = await editedHandler('learnable-groups', brokenSum);
    const worse = await editedHandler('ehpe', oneChannel);
    const [good, failed, failedToo] = await Promise.allSettled([
      loadHandPoseModel('learnable-groups'),
      loadHandPoseModel('learnable-groups', { handler: bad }),
      loadHandPoseModel('ehpe', { handler: worse }),
    ]);
    expect([failed.status, failedToo.status]).toEqual(['rejected', 'rejected']);
    if (good.status !== 'fulfilled') throw good.reason;
    const model = good.value;
    expect(model.weights.every((w) => !w.read().isDisposed)).toBe(true);
    const input = tf.zeros([1, 64, 64, 3]);
    const out = model.predict(input) as tf.Tensor[];
    expect(out.length).toBeGreaterThan(0);
    tf.dispose([input, ...out]);
    model.dispose();
    expect([tf.memory().numTensors, variableCount()]).toEqual([tensors, variables]);
  });
});

/**
 * The artifacts `model.save` writes for a dense layer compiled with Adam and trained `epochs` epochs, optimizer
 * state included; the model itself is disposed.
 */
async function trainedDenseArtifacts(epochs: number): Promise<tf.io.ModelArtifacts> {
  const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 2, inputShape: [3] })] });
  model.compile({ optimizer: 'adam', loss: 'meanSquaredError' });
  const [x, y] = [tf.ones([4, 3]), tf.zeros([4, 2])];
  await model.fit(x, y, { epochs, verbose: 0 });
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
    { includeOptimizer: true },
  );
  tf.dispose([x, y]);
  model.dispose();
  return saved!;
}

describe('loading what tfl.loadLayersModel loads', () => {
  it("a compiled model's training config and optimizer state come back, as with tfjs's loader", async () => {
    const saved = await trainedDenseArtifacts(2);
    const handler = tf.io.fromMemory(saved);
    const [tensors, variables] = [tf.memory().numTensors, variableCount()];
    const ours = await loadHandPoseModel('ehpe', { handler });
    const theirs = await tfl.loadLayersModel(handler);
    expect(ours.optimizer?.getClassName()).toBe('Adam');
    const [a, b] = [await ours.optimizer.getWeights(), await theirs.optimizer.getWeights()];
    expect(a.map((w) => w.name)).toEqual(b.map((w) => w.name));
    expect(await Promise.all(a.map((w) => w.tensor.array()))).toEqual(
      await Promise.all(b.map((w) => w.tensor.array())),
    );
    expect(await ours.weights[0].read().array()).toEqual(await theirs.weights[0].read().array());
    tf.dispose([a[0].tensor, b[0].tensor]); // the iteration counts getWeights made
    for (const loaded of [ours, theirs]) {
      loaded.optimizer.dispose(); // a deserialized optimizer is not the model's to dispose, in tfjs
      loaded.dispose();
    }
    expect([tf.memory().numTensors, variableCount()]).toEqual([tensors, variables]);
  });

  it('a compiled model whose weights do not fit leaves nothing either (its optimizer included)', async () => {
    const saved = await trainedDenseArtifacts(1);
    // The kernel stored as [2, 3] (the same bytes): refused after the training config made the optimizer.
    const specs = saved.weightSpecs!.map((s, i) => (i === 0 ? { ...s, shape: [2, 3] } : s));
    const handler = tf.io.fromMemory({ ...saved, weightSpecs: specs });
    const [tensors, variables] = [tf.memory().numTensors, variableCount()];
    await expect(loadHandPoseModel('ehpe', { handler })).rejects.toThrow(/^options\.handler: model cannot be loaded: /);
    expect([tf.memory().numTensors, variableCount()]).toEqual([tensors, variables]);
  });
});
