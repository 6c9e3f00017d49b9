/**
 * Writes `test/fixtures/pth/written-by-phalanx.pth` with writeTorchStateDict, and `written-by-phalanx.json`
 * with what torch.load must return from it (names, torch dtypes, shapes, values; float32 as bit
 * patterns). Run from the repo root:
 *
 *   npx tsx --tsconfig tsconfig.base.json packages/layers/scripts/write-pth-fixture.ts
 *   /usr/bin/python3 packages/layers/scripts/check-written-pth.py     # torch.load reads it back
 *
 * The layers tests check that writeTorchStateDict still produces exactly these bytes.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { writtenFixtureTensors } from '../test/written-fixture';
import { writeTorchStateDict } from '../src/index';

const dir = fileURLToPath(new URL('../test/fixtures/pth/', import.meta.url));
await tf.setBackend('cpu');
const tensors = writtenFixtureTensors();
writeFileSync(`${dir}written-by-phalanx.pth`, writeTorchStateDict(tensors));
const expected = Object.fromEntries(
  Object.entries(tensors).map(([name, t]) => [
    name,
    {
      torch: { float32: 'float32', int32: 'int64', bool: 'bool' }[t.dtype as 'float32' | 'int32' | 'bool'],
      shape: t.shape,
      // float32 values as their IEEE bit patterns (JSON has no Infinity, NaN or −0).
      values:
        t.dtype === 'float32'
          ? Array.from(new Uint32Array(Float32Array.from(t.dataSync()).buffer))
          : Array.from(t.dataSync(), Number),
    },
  ]),
);
writeFileSync(`${dir}written-by-phalanx.json`, JSON.stringify(expected, null, 1));
console.log(`${Object.keys(tensors).length} tensors written to ${dir}written-by-phalanx.pth`);
tf.dispose(Object.values(tensors));
