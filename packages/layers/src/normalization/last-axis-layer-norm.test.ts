import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { expect, it } from 'vitest';
import { expectClose, expectSaveLoadIdentical, forEachBackend } from '@phalanx/testing';
import { PhalanxConfigError } from '@phalanx/errors';
import { LastAxisLayerNormalization, lastAxisLayerNormalization } from './last-axis-layer-norm';
import { isLayerNormalization } from './stock';

function values(shape: number[], seed: number): tf.Tensor {
  return tf.randomUniform(shape, -2, 3, 'float32', seed);
}

/** A model with one lean layer norm (ours, as blocks' `torchLayerNorm` builds it) and one stock tfjs-layers LayerNormalization sharing the same weights. */
function pair(d: number) {
  const input = tfl.input({ shape: [5, d] });
  const ln = lastAxisLayerNormalization({ axis: -1, epsilon: 1e-5, name: 'ln' });
  const ours = tfl.model({ inputs: input, outputs: ln.apply(input) as tfl.SymbolicTensor });
  const stockLayer = tfl.layers.layerNormalization({ axis: -1, epsilon: 1e-5, name: 'stock_ln' });
  const stock = tfl.model({ inputs: input, outputs: stockLayer.apply(input) as tfl.SymbolicTensor });
  const gamma = values([d], 3);
  const beta = values([d], 4);
  ours.layers[1].setWeights([gamma, beta]);
  stockLayer.setWeights([gamma, beta]);
  tf.dispose([gamma, beta]);
  return { ours, stock, layer: ours.layers[1] };
}

forEachBackend((backend) => {
  it(`LastAxisLayerNormalization equals tfjs-layers' LayerNormalization: output, input and weight gradients (${backend})`, async () => {
    const { ours, stock, layer } = pair(8);
    expect(layer.getClassName()).toBe('LastAxisLayerNormalization');
    expect(isLayerNormalization(layer) && isLayerNormalization(stock.layers[1])).toBe(true);
    const x = values([3, 5, 8], 1);
    const dy = values([3, 5, 8], 2);
    for (const [name, training] of [
      ['inference', false],
      ['training', true],
    ] as const) {
      const run = (m: tfl.LayersModel) => {
        const f = () => tf.sum(tf.mul(m.apply(x, { training }) as tf.Tensor, dy)) as tf.Scalar;
        const y = m.apply(x, { training }) as tf.Tensor;
        const gx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(m.apply(a, { training }) as tf.Tensor, dy)))(x);
        const { grads } = tf.variableGrads(
          f,
          m.trainableWeights.map((w) => w.read() as tf.Variable),
        );
        return [y, gx, ...Object.values(grads)];
      };
      const a = run(ours);
      const b = run(stock);
      const labels = ['output', '∂x', '∂gamma', '∂beta'];
      for (let i = 0; i < 4; i++) {
        expectClose(await a[i].data(), await b[i].data(), { rtol: 1e-5, atol: 1e-5 }, `${name} ${labels[i]}`);
      }
      expectClose(await a[0].data(), await b[0].data(), { rtol: 0, atol: 2e-6 }, `${name} output (1e-6 level)`);
      tf.dispose([...a, ...b]);
    }
    tf.dispose([x, dy]);
  });

  it(`runs no Tile kernel (the stock layer runs four per call) (${backend})`, async () => {
    const { ours, stock } = pair(8);
    const x = values([2, 5, 8], 5);
    const tiles = async (m: tfl.LayersModel) =>
      (await tf.profile(() => m.predict(x) as tf.Tensor)).kernels.filter((k) => k.name === 'Tile').length;
    expect(await tiles(ours)).toBe(0);
    expect(await tiles(stock)).toBe(4);
    x.dispose();
  });

  it(`a saved model reloads as the same class with identical outputs (${backend})`, async () => {
    const { ours } = pair(6);
    const x = values([2, 5, 6], 6);
    await expectSaveLoadIdentical(ours, [x]);
    x.dispose();
  });
});

it('refuses an epsilon that would give NaN outputs for a constant row, and non-object arguments, by name', () => {
  const cases: [unknown, string][] = [
    ['ln', "LastAxisLayerNormalization: args must be an object, but received 'ln'."],
    [{ epsilon: 0 }, 'LastAxisLayerNormalization: epsilon must be a finite number > 0, but received 0.'],
    [{ epsilon: Number.NaN }, 'LastAxisLayerNormalization: epsilon must be a finite number > 0, but received NaN.'],
    [{ epsilon: 1e-50 }, 'LastAxisLayerNormalization: epsilon must be a positive normal float32'],
  ];
  for (const [args, message] of cases) {
    const make = () => new LastAxisLayerNormalization(args as never);
    expect(make, message).toThrow(PhalanxConfigError);
    expect(make).toThrow(message);
  }
  expect(lastAxisLayerNormalization({ epsilon: 1e-5 }).getConfig()).toMatchObject({ epsilon: 1e-5 });
});
