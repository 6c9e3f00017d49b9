/**
 * writeTorchStateDict: torch.load reads what it writes (checked by scripts/check-written-pth.py on the
 * committed fixture, whose bytes this test pins), and readTorchStateDict reads it back bit for bit.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { PhalanxConfigError } from '@phalanx/errors';
import { beforeAll, describe, expect, it } from 'vitest';
import { writtenFixtureTensors } from '../../../test/written-fixture';
import type { PyValue } from '@phalanx/pickle';
import { parseTorchCheckpoint, readTorchStateDict } from './read';
import { isTorchTensor } from './torch-pickle';
import { writeTorchStateDict } from './write';

const dir = fileURLToPath(new URL('../../../test/fixtures/pth/', import.meta.url));

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Element-wise identity, bit for bit (NaN payloads aside, −0 kept). */
function expectSameTensors(a: Record<string, tf.Tensor>, b: Record<string, tf.Tensor>): void {
  expect(Object.keys(b)).toEqual(Object.keys(a));
  for (const name of Object.keys(a)) {
    expect([name, b[name].dtype, b[name].shape]).toEqual([name, a[name].dtype, a[name].shape]);
    const x = Array.from(a[name].dataSync());
    const y = Array.from(b[name].dataSync());
    expect(y.map((v, i) => Object.is(v, x[i]) || (v !== v && x[i] !== x[i]))).toEqual(x.map(() => true));
  }
}

describe('writeTorchStateDict', () => {
  it('writes exactly the fixture that check-written-pth.py loaded with torch.load', () => {
    const tensors = writtenFixtureTensors();
    const bytes = writeTorchStateDict(tensors);
    expect(Buffer.from(bytes).equals(readFileSync(join(dir, 'written-by-phalanx.pth')))).toBe(true);
    tf.dispose(Object.values(tensors));
  });

  it('is read back bit for bit by readTorchStateDict, __proto__ included, leaking nothing', () => {
    const tensors = writtenFixtureTensors();
    const before = tf.memory().numTensors;
    const back = readTorchStateDict(writeTorchStateDict(tensors));
    expectSameTensors(tensors, back);
    expect(Object.keys(back)).toContain('__proto__');
    tf.dispose(Object.values(back));
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(Object.values(tensors));
  });

  it('stores int32 as int64 by default (PyTorch integer type) or as int32, and aligns records to 64 bytes', () => {
    const t = { n: tf.tensor1d([-5, 7], 'int32') };
    const wide = parseTorchCheckpoint(writeTorchStateDict(t));
    const narrow = parseTorchCheckpoint(writeTorchStateDict(t, { integerDtype: 'int32', archiveName: 'fc' }));
    const dtypeOf = (c: typeof wide) => {
      const t = (c.root as Map<PyValue, PyValue>).get('n');
      return isTorchTensor(t) ? t.storage.dtype : undefined;
    };
    expect([dtypeOf(wide), dtypeOf(narrow)]).toEqual(['int64', 'int32']);
    const bytes = writeTorchStateDict(writtenFixtureTensors());
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let at = 0;
    let records = 0;
    while (view.getUint32(at, true) === 0x04034b50) {
      const dataStart = at + 30 + view.getUint16(at + 26, true) + view.getUint16(at + 28, true);
      expect(dataStart % 64).toBe(0);
      at = dataStart + view.getUint32(at + 18, true);
      records++;
    }
    expect(records).toBe(2 + 9 + 1);
    tf.dispose(t.n);
  });

  it('refuses other dtypes, malformed names and options by name', () => {
    const s = tf.tensor1d(['a'], 'string');
    expect(() => writeTorchStateDict({ s })).toThrow(PhalanxConfigError);
    expect(() => writeTorchStateDict({ s })).toThrow(
      "writeTorchStateDict: dtype of tensor 's' must be 'float32', 'int32' or 'bool', but received 'string'.",
    );
    const x = tf.scalar(1);
    expect(() => writeTorchStateDict({ ['\ud800']: x })).toThrow(/tensor names must be well-formed Unicode/);
    expect(() => writeTorchStateDict({ x }, { archiveName: '../x' })).toThrow(/options\.archiveName must be/);
    expect(Object.keys(readTorchStateDict(writeTorchStateDict({})))).toEqual([]);
    tf.dispose([s, x]);
  });

  it('refuses a disposed tensor and options that are not an object of its options, by name', () => {
    const x = tf.scalar(1);
    const gone = tf.ones([2]);
    gone.dispose();
    const cases: [() => unknown, string][] = [
      [
        () => writeTorchStateDict({ x, gone }),
        "writeTorchStateDict: tensors['gone'] must be a tensor that is not disposed, but received 'a disposed tensor'.",
      ],
      [
        () => writeTorchStateDict({ x }, null as never),
        'writeTorchStateDict: options must be an object {archiveName?, integerDtype?}, but received null.',
      ],
      [
        () => writeTorchStateDict({ x }, [] as never),
        'writeTorchStateDict: options must be an object {archiveName?, integerDtype?}, but received [].',
      ],
      [
        () => writeTorchStateDict({ x }, { integerType: 'int32' } as never),
        "writeTorchStateDict: options.integerType must be an option (one of archiveName, integerDtype), but received 'int32'.",
      ],
    ];
    for (const [f, message] of cases) {
      expect(f, message).toThrow(PhalanxConfigError);
      expect(f).toThrow(message);
    }
    x.dispose();
  });
});
