/**
 * Importing a Phalanx package changes no global state of tfjs: every class tfjs-layers registered
 * (`BatchNormalization`, `LayerNormalization`, `Dense`, …) is still registered under its name, with the
 * same constructor and `fromConfig`, after importing every package. Phalanx may only add its own class
 * names. Runs in its own process (one fork per test file), so nothing imported it before.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { expect, it } from 'vitest';

type Entry = [unknown, unknown];

function snapshot(): Map<string, Entry> {
  const map = tf.serialization.SerializationMap.getMap().classNameMap as Record<string, Entry>;
  return new Map(Object.entries(map).map(([name, [cls, fromConfig]]) => [name, [cls, fromConfig]]));
}

const PACKAGES: [string, () => Promise<unknown>][] = [
  ['@phalanx/errors', () => import('@phalanx/errors')],
  ['@phalanx/skeleton', () => import('@phalanx/skeleton')],
  ['@phalanx/layers', () => import('@phalanx/layers')],
  ['@phalanx/losses', () => import('@phalanx/losses')],
  ['@phalanx/pose', () => import('@phalanx/pose')],
  ['@phalanx/data', () => import('@phalanx/data')],
  ['@phalanx/wasm-training', () => import('@phalanx/wasm-training')],
  ['@phalanx/blocks', () => import('@phalanx/blocks')],
  ['@phalanx/learnable-groups', () => import('@phalanx/learnable-groups')],
  ['@phalanx/ehpe', () => import('@phalanx/ehpe')],
  ['@phalanx/train', () => import('@phalanx/train')],
];

it("importing every Phalanx package leaves tfjs's class registry as it was, adding only Phalanx's own classes", async () => {
  const before = snapshot();
  expect(before.has('BatchNormalization') && before.has('LayerNormalization')).toBe(true);
  for (const [name, load] of PACKAGES) {
    await load();
    const now = snapshot();
    for (const [className, [cls, fromConfig]] of before) {
      const entry = now.get(className);
      expect(entry?.[0], `${name} replaced the registered class ${className}`).toBe(cls);
      expect(entry?.[1], `${name} replaced fromConfig of ${className}`).toBe(fromConfig);
    }
  }
  const added = [...snapshot().keys()].filter((k) => !before.has(k));
  // Phalanx's own layers, under their own names.
  expect(added).toEqual(
    expect.arrayContaining(['LeanBatchNormalization', 'LastAxisLayerNormalization', 'GroupFusion']),
  );
});
