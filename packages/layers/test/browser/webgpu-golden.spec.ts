import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import {
  browserBackendStatus,
  expectLayerMatchesGoldenAsync,
  expectNoTensorLeak,
  readJson,
  toKwargs,
  toTensor,
  type GoldenLayerCase,
} from '@phalanx/testing';
import { beforeAll, describe, expect, it } from 'vitest';
// Registers every layer class (the golden cases are built from their class names and configs).
import '../../src/index';

// Browser project only. forEachBackend does not offer webgpu (its synchronous readback is broken in
// headless Chromium, see environment.spec.ts), so every golden case of the layer suite runs here on
// webgpu with asynchronous reads: outputs, input gradients and weight gradients, then a leak check.
const CASES = [
  'concrete_joint_selector.hard',
  'concrete_joint_selector.soft',
  'concrete_joint_selector.st',
  'dual_branch_fusion',
  'dynamic_edge_gat.additive',
  'dynamic_edge_gat.mean2hop',
  'group_fusion',
  'joint_feature_sampler',
  'multi_head_attention.cross',
  'resize_bilinear.corners',
  'resize_bilinear.down',
  'resize_bilinear.up',
  'soft_argmax_25d.latent',
  'soft_argmax_25d.volumetric',
];

function layerFromGolden(golden: GoldenLayerCase): tfl.layers.Layer {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[golden.layer];
  expect(entry, `${golden.layer} is registered`).toBeDefined();
  const ctor = entry![0] as unknown as new (config: Record<string, unknown>) => tfl.layers.Layer;
  return new ctor({ ...golden.config });
}

const status = browserBackendStatus();

describe.runIf(status?.webgpu.available === true)('on webgpu (asynchronous reads)', () => {
  beforeAll(async () => {
    expect(await tf.setBackend('webgpu')).toBe(true);
    await tf.ready();
  });

  for (const name of CASES) {
    const golden = readJson<GoldenLayerCase>(new URL(`../fixtures/${name}.json`, import.meta.url));
    it(`${name}: golden outputs and gradients; no leak in repeated calls`, async () => {
      expect(tf.getBackend()).toBe('webgpu');
      const layer = layerFromGolden(golden);
      await expectLayerMatchesGoldenAsync(layer, golden);
      const inputs = golden.inputs.map(toTensor);
      const kwargs = toKwargs(golden.kwargs);
      await expectNoTensorLeak(() => {
        tf.dispose(layer.apply(inputs.length === 1 ? inputs[0] : inputs, kwargs) as tf.Tensor | tf.Tensor[]);
      }, `${name} on webgpu`);
      tf.dispose([...inputs, ...Object.values(kwargs).filter((v): v is tf.Tensor => v instanceof tf.Tensor)]);
    });
  }
});
