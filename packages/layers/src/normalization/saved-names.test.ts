import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { expect, it } from 'vitest';
import { expectClose, forEachBackend } from '@phalanx/testing';
import { lastAxisLayerNormalization } from './last-axis-layer-norm';
import { leanBatchNormalization } from './lean-batch-norm';

/** A model with one lean batch norm and one last-axis layer norm, with non-trivial weights and statistics. */
function build(): tfl.LayersModel {
  const input = tfl.input({ shape: [5, 4] });
  const bn = leanBatchNormalization({ axis: -1, epsilon: 1e-5, momentum: 0.9, name: 'bn' });
  const ln = lastAxisLayerNormalization({ axis: -1, epsilon: 1e-5, name: 'ln' });
  const model = tfl.model({ inputs: input, outputs: ln.apply(bn.apply(input)) as tfl.SymbolicTensor });
  const values = [
    [0.5, 1.5, 1],
    [-1, 1, 2],
    [-1, 1, 3],
    [0.5, 2, 4],
    [0.5, 1.5, 5],
    [-1, 1, 6],
  ].map(([lo, hi, seed]) => tf.randomUniform([4], lo, hi, 'float32', seed));
  bn.setWeights(values.slice(0, 4));
  ln.setWeights(values.slice(4));
  tf.dispose(values);
  return model;
}

/** Saves `model` to memory, lets `edit` change the topology JSON, loads it back. */
async function saveAndLoad(model: tfl.LayersModel, edit: (json: string) => string): Promise<tfl.LayersModel> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const topology = JSON.parse(edit(JSON.stringify(artifacts!.modelTopology))) as object;
  return tfl.loadLayersModel(
    tf.io.fromMemory({ ...artifacts!, modelTopology: topology, weightSpecs: artifacts!.weightSpecs }),
  );
}

forEachBackend((backend) => {
  it(`saved models reload as the Phalanx classes; models saved under the stock names load as the stock classes (${backend})`, async () => {
    const model = build();
    const x = tf.randomNormal([3, 5, 4], 0, 2, 'float32', 7);
    const y = model.predict(x) as tf.Tensor;

    const same = await saveAndLoad(model, (json) => json);
    expect(same.layers.slice(1).map((l) => l.getClassName())).toEqual([
      'LeanBatchNormalization',
      'LastAxisLayerNormalization',
    ]);
    const ySame = same.predict(x) as tf.Tensor;
    expect(Array.from(await ySame.data())).toEqual(Array.from(await y.data()));

    // A model.json written before these classes had names of their own.
    const older = await saveAndLoad(model, (json) =>
      json
        .replace(/"LeanBatchNormalization"/g, '"BatchNormalization"')
        .replace(/"LastAxisLayerNormalization"/g, '"LayerNormalization"'),
    );
    expect(older.layers.slice(1).map((l) => l.getClassName())).toEqual(['BatchNormalization', 'LayerNormalization']);
    const yOlder = older.predict(x) as tf.Tensor;
    expectClose(await yOlder.data(), await y.data(), { rtol: 0, atol: 2e-6 }, 'stock classes, same weights');
    tf.dispose([x, y, ySame, yOlder]);
    [model, same, older].forEach((m) => m.dispose());
  });
});
