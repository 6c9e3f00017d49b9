/**
 * Property-based fuzzing of the `.pth` reader (fast-check): every input gives either the correct tensors
 * or a `PhalanxFileError`, leaves no tensor allocated beyond those it returns, and runs in bounded time.
 *
 * - Views: random storages of every dtype and random (valid or out-of-bounds) offsets, shapes and strides,
 *   pickled by a small writer here; values are checked against a plain nested-loop gather.
 * - Round trips through writeTorchStateDict.
 * - Mutations of checkpoints PyTorch wrote (zip and legacy), of whole files and of the pickle inside a
 *   valid zip.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { PhalanxFileError } from '@phalanx/errors';
import fc from 'fast-check';
import { unzipSync, zipSync } from 'fflate';
import { beforeAll, describe, expect, it } from 'vitest';
import { readTorchStateDict } from './read';
import { writeTorchStateDict } from './write';

/** Generous bound on reading a checkpoint of a few KB (it takes about a millisecond); not a benchmark. */
const BOUND_MS = 2000;
const dir = fileURLToPath(new URL('../../../test/fixtures/pth/', import.meta.url));
const torchFiles = [
  'zip.pth',
  'legacy.pth',
  'dtypes.pth',
  'dtypes-legacy.pth',
  'noncontiguous.pth',
  'shared.pth',
  'nested.pth',
].map((f) => new Uint8Array(readFileSync(join(dir, f))));

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// ---- a small checkpoint writer for arbitrary views, independent of writeTorchStateDict ----

type Dtype = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';
const STORAGE_CLASS: Record<Dtype, [string, number]> = {
  float32: ['FloatStorage', 4],
  float16: ['HalfStorage', 2],
  bfloat16: ['BFloat16Storage', 2],
  float64: ['DoubleStorage', 8],
  int64: ['LongStorage', 8],
  int32: ['IntStorage', 4],
  int16: ['ShortStorage', 2],
  int8: ['CharStorage', 1],
  uint8: ['ByteStorage', 1],
  bool: ['BoolStorage', 1],
};

/** Integer n with |n| ≤ 2048 → IEEE half bits (exact for these). */
function halfBits(n: number): number {
  if (n === 0) return 0;
  const sign = n < 0 ? 0x8000 : 0;
  const a = Math.abs(n);
  const e = Math.floor(Math.log2(a));
  return sign | ((e + 15) << 10) | ((a / 2 ** e - 1) * 1024);
}

/** Storage bytes for `values` (the numbers the reader must return for each element). */
function storageBytes(dtype: Dtype, values: number[]): Uint8Array {
  const size = STORAGE_CLASS[dtype][1];
  const b = new Uint8Array(values.length * size);
  const v = new DataView(b.buffer);
  values.forEach((x, i) => {
    const o = i * size;
    if (dtype === 'float32') v.setFloat32(o, x, true);
    else if (dtype === 'float16') v.setUint16(o, halfBits(x), true);
    else if (dtype === 'bfloat16') v.setUint16(o, new Uint32Array(new Float32Array([x]).buffer)[0] >>> 16, true);
    else if (dtype === 'float64') v.setFloat64(o, x, true);
    else if (dtype === 'int64') v.setBigInt64(o, BigInt(x), true);
    else if (dtype === 'int32') v.setInt32(o, x, true);
    else if (dtype === 'int16') v.setInt16(o, x, true);
    else if (dtype === 'int8') v.setInt8(o, x);
    else v.setUint8(o, x);
  });
  return b;
}

interface View {
  storage: number;
  offset: number;
  shape: number[];
  stride: number[];
}

function pickleOf(storages: Array<{ dtype: Dtype; numel: number }>, views: View[]): Uint8Array {
  const out: number[] = [];
  const text = (s: string) => out.push(...Array.from(new TextEncoder().encode(s)));
  const str = (s: string) => {
    const b = new TextEncoder().encode(s);
    out.push(0x58, b.length & 0xff, (b.length >> 8) & 0xff, 0, 0, ...b);
  };
  const int = (n: number) => out.push(0x4a, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff);
  const tuple = (xs: number[]) => {
    out.push(0x28);
    xs.forEach(int);
    out.push(0x74);
  };
  out.push(0x80, 2);
  text('ccollections\nOrderedDict\n');
  out.push(0x29, 0x52, 0x28);
  views.forEach((view, i) => {
    str(`t${i}`);
    text('ctorch._utils\n_rebuild_tensor_v2\n');
    out.push(0x28, 0x28);
    str('storage');
    text(`ctorch\n${STORAGE_CLASS[storages[view.storage].dtype][0]}\n`);
    str(String(view.storage));
    str('cpu');
    int(storages[view.storage].numel);
    out.push(0x74, 0x51);
    int(view.offset);
    tuple(view.shape);
    tuple(view.stride);
    out.push(0x89);
    text('ccollections\nOrderedDict\n');
    out.push(0x29, 0x52, 0x74, 0x52);
  });
  out.push(0x75, 0x2e);
  return Uint8Array.from(out);
}

/** Element `view[i]` by nested loops over the shape (row-major), or `undefined` when out of bounds. */
function gather(values: number[], view: View): number[] | undefined {
  const out: number[] = [];
  const size = view.shape.reduce((a, b) => a * b, 1);
  if (size === 0) return out;
  const walk = (d: number, at: number): boolean => {
    if (d === view.shape.length) {
      if (at >= values.length) return false;
      out.push(values[at]);
      return true;
    }
    for (let k = 0; k < view.shape[d]; k++) if (!walk(d + 1, at + k * view.stride[d])) return false;
    return true;
  };
  return walk(0, view.offset) ? out : undefined;
}

const dtypeArb = fc.constantFrom<Dtype>(
  'float32',
  'float16',
  'bfloat16',
  'float64',
  'int64',
  'int32',
  'int16',
  'int8',
  'uint8',
  'bool',
);
/** Values each dtype stores exactly, with the number the reader returns (as float32 / int32 / 0–1). */
function valueArb(dtype: Dtype): fc.Arbitrary<number> {
  switch (dtype) {
    case 'float32':
      return fc.float({ noNaN: true });
    case 'float16':
      return fc.integer({ min: -2048, max: 2048 });
    case 'bfloat16':
      return fc
        .float({ noNaN: true })
        .map(
          (x) =>
            new Float32Array(
              new Uint32Array([new Uint32Array(new Float32Array([x]).buffer)[0] & 0xffff0000]).buffer,
            )[0],
        );
    case 'float64':
      return fc.double({ min: -3e38, max: 3e38, noNaN: true });
    case 'int64':
      return fc.integer();
    case 'int32':
      return fc.integer();
    case 'int16':
      return fc.integer({ min: -32768, max: 32767 });
    case 'int8':
      return fc.integer({ min: -128, max: 127 });
    case 'uint8':
      return fc.integer({ min: 0, max: 255 });
    case 'bool':
      return fc.integer({ min: 0, max: 1 });
  }
}
const storageArb = dtypeArb.chain((dtype) =>
  fc.array(valueArb(dtype), { maxLength: 40 }).map((values) => ({ dtype, values })),
);
const viewArb = (storages: number) =>
  fc.integer({ min: 0, max: 3 }).chain((rank) =>
    fc.record({
      storage: fc.integer({ min: 0, max: storages - 1 }),
      offset: fc.integer({ min: 0, max: 12 }),
      shape: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: rank, maxLength: rank }),
      stride: fc.array(fc.integer({ min: 0, max: 7 }), { minLength: rank, maxLength: rank }),
    }),
  );

/** Reads `bytes`, disposing what it returns; must return or throw a PhalanxFileError, within the bound. */
function readOrNamedError(bytes: Uint8Array): void {
  const before = tf.memory().numTensors;
  const t0 = performance.now();
  try {
    tf.dispose(Object.values(readTorchStateDict(bytes, { file: 'fuzz.pth' })));
  } catch (e) {
    if (!(e instanceof PhalanxFileError)) throw e;
    expect(e.message.startsWith('fuzz.pth')).toBe(true);
  }
  expect(performance.now() - t0).toBeLessThan(BOUND_MS);
  expect(tf.memory().numTensors).toBe(before);
}

const edits = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 });

describe('readTorchStateDict (fuzz)', () => {
  it('gathers any view of any storage type as a nested loop does, or names the tensor out of bounds (600 cases)', () => {
    const caseArb = fc
      .array(storageArb, { minLength: 1, maxLength: 3 })
      .chain((storages) => fc.tuple(fc.constant(storages), fc.array(viewArb(storages.length), { maxLength: 4 })));
    fc.assert(
      fc.property(caseArb, ([storages, views]) => {
        const files: Record<string, Uint8Array> = {
          'archive/data.pkl': pickleOf(
            storages.map((s) => ({ dtype: s.dtype, numel: s.values.length })),
            views,
          ),
        };
        storages.forEach((s, i) => (files[`archive/data/${i}`] = storageBytes(s.dtype, s.values)));
        const bytes = zipSync(files, { level: 0 });
        const expected = views.map((v) => {
          const s = storages[v.storage];
          const got = gather(s.dtype === 'float64' ? s.values.map(Math.fround) : s.values, v);
          const outOfInt32 = s.dtype === 'int64' && got?.some((x) => x > 2147483647 || x < -2147483648);
          return outOfInt32 ? undefined : got;
        });
        const before = tf.memory().numTensors;
        const t0 = performance.now();
        if (expected.some((e) => e === undefined)) {
          expect(() => readTorchStateDict(bytes, { file: 'fuzz.pth' })).toThrow(PhalanxFileError);
        } else {
          const tensors = readTorchStateDict(bytes, { file: 'fuzz.pth' });
          views.forEach((v, i) => {
            expect(tensors[`t${i}`].shape).toEqual(v.shape);
            expect(Array.from(tensors[`t${i}`].dataSync())).toEqual(expected[i]);
          });
          tf.dispose(Object.values(tensors));
        }
        expect(performance.now() - t0).toBeLessThan(BOUND_MS);
        expect(tf.memory().numTensors).toBe(before);
      }),
      { numRuns: 600 },
    );
  });

  it('reads back what writeTorchStateDict wrote (200 cases)', () => {
    const tensorArb = fc.record({
      dtype: fc.constantFrom('float32', 'int32', 'bool'),
      shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }),
      seed: fc.integer(),
    });
    const name = fc.string({ minLength: 1, maxLength: 10 });
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(name, tensorArb), { selector: ([n]) => n, maxLength: 5 }), (entries) => {
        const input: Record<string, tf.Tensor> = {};
        for (const [n, { dtype, shape, seed }] of entries) {
          const size = shape.reduce((a, b) => a * b, 1);
          const values = Array.from({ length: size }, (_, i) =>
            dtype === 'bool' ? (seed >> (i % 31)) & 1 : ((seed * (i + 1)) | 0) / (dtype === 'float32' ? 7 : 1),
          );
          Object.defineProperty(input, n, { value: tf.tensor(values, shape, dtype as tf.DataType), enumerable: true });
        }
        const before = tf.memory().numTensors;
        const back = readTorchStateDict(writeTorchStateDict(input));
        expect(Object.keys(back)).toEqual(Object.keys(input));
        for (const n of Object.keys(input)) {
          expect([back[n].dtype, back[n].shape]).toEqual([input[n].dtype, input[n].shape]);
          expect(Array.from(back[n].dataSync())).toEqual(Array.from(input[n].dataSync()));
        }
        tf.dispose(Object.values(back));
        expect(tf.memory().numTensors).toBe(before);
        tf.dispose(Object.values(input));
      }),
      { numRuns: 200 },
    );
  });

  it('gives tensors or a named error for mutated PyTorch checkpoints (1000 cases)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...torchFiles), edits, fc.boolean(), (file, list, truncate) => {
        const b = file.slice();
        for (const [at, value] of list) b[at % b.length] = value;
        readOrNamedError(truncate ? b.subarray(0, list[0][0] % b.length) : b);
      }),
      { numRuns: 1000 },
    );
  });

  it('gives tensors or a named error for mutated pickles inside valid archives (1000 cases)', () => {
    const zips = torchFiles.filter((f) => f[0] === 0x50).map((f) => unzipSync(f));
    fc.assert(
      fc.property(fc.constantFrom(...zips), edits, (records, list) => {
        const name = Object.keys(records).find((n) => n.endsWith('/data.pkl')) as string;
        const pickle = records[name].slice();
        for (const [at, value] of list) pickle[at % pickle.length] = value;
        readOrNamedError(zipSync({ ...records, [name]: pickle }, { level: 0 }));
      }),
      { numRuns: 1000 },
    );
  });
});
