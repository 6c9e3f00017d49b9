/**
 * Property-based fuzzing of the safetensors reader and writer (fast-check): every input gives either the
 * correct tensors or a `PhalanxConfigError`, leaves no tensor allocated beyond those it returns, and runs
 * in bounded time.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { PhalanxConfigError } from '@phalanx/errors';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseSafetensors, readSafetensors, writeSafetensors } from './safetensors';

/** Generous bound on one read or write of a few KB (it takes about a millisecond); not a benchmark. */
const BOUND_MS = 2000;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const name = fc
  .oneof(
    fc.string({ maxLength: 12 }),
    fc.string({ unit: 'binary', maxLength: 8 }),
    fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', '0', '10', 'a.b.weight'),
  )
  .filter((n) => n !== '' && n !== '__metadata__');
const shape = fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 });
const spec = fc.record({ dtype: fc.constantFrom('float32', 'int32', 'bool'), shape, seed: fc.nat() });

/** Deterministic values for a tensor spec, including NaN, ±Infinity and −0 for floats. */
function valuesOf(dtype: string, size: number, seed: number): Float32Array | Int32Array | Uint8Array {
  const special = [Number.NaN, Infinity, -Infinity, -0, 3.4e38, -1e-40];
  if (dtype === 'float32')
    return Float32Array.from({ length: size }, (_, i) =>
      (seed + i) % 7 === 0 ? special[(seed + i) % 6] : (seed * 31 + i) / 7,
    );
  if (dtype === 'int32') return Int32Array.from({ length: size }, (_, i) => ((seed + i * 2654435761) | 0) ^ (i << 20));
  return Uint8Array.from({ length: size }, (_, i) => (seed >> (i % 16)) & 1);
}

/** Runs `f`: it must return or throw a PhalanxConfigError, within the bound. */
function valueOrNamedError(f: () => void): void {
  const t0 = performance.now();
  try {
    f();
  } catch (e) {
    if (!(e instanceof PhalanxConfigError)) throw e;
  }
  expect(performance.now() - t0).toBeLessThan(BOUND_MS);
}

/** Reads `bytes`, disposing what it returns; the live tensor count must not change either way. */
function readWithoutLeak(bytes: Uint8Array): void {
  const before = tf.memory().numTensors;
  valueOrNamedError(() => tf.dispose(Object.values(readSafetensors(bytes))));
  expect(tf.memory().numTensors).toBe(before);
}

const edits = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 });

describe('safetensors (fuzz)', () => {
  it('reads back every name, dtype, shape and bit it wrote (300 cases)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(name, spec), { selector: ([n]) => n, maxLength: 6 }), (entries) => {
        const input: Record<string, tf.Tensor> = {};
        for (const [n, s] of entries) {
          const size = s.shape.reduce((a, b) => a * b, 1);
          const t = tf.tensor(valuesOf(s.dtype, size, s.seed), s.shape, s.dtype as tf.DataType);
          Object.defineProperty(input, n, { value: t, enumerable: true, configurable: true, writable: true });
        }
        const before = tf.memory().numTensors;
        const t0 = performance.now();
        const back = readSafetensors(writeSafetensors(input));
        expect(performance.now() - t0).toBeLessThan(BOUND_MS);
        expect(Object.keys(back)).toEqual(Object.keys(input));
        for (const n of Object.keys(input)) {
          expect(back[n].dtype).toBe(input[n].dtype);
          expect(back[n].shape).toEqual(input[n].shape);
          const a = input[n].dataSync();
          const b = back[n].dataSync();
          expect(b.length).toBe(a.length);
          for (let i = 0; i < a.length; i++)
            expect(Object.is(a[i], b[i]) || (a[i] !== a[i] && b[i] !== b[i])).toBe(true);
        }
        tf.dispose(Object.values(back));
        expect(tf.memory().numTensors).toBe(before);
        tf.dispose(Object.values(input));
      }),
      { numRuns: 300 },
    );
  });

  it('gives tensors or a named error for corrupted files, leaking nothing (1000 cases)', () => {
    const file = fc
      .uniqueArray(fc.tuple(name, spec), { selector: ([n]) => n, minLength: 1, maxLength: 4 })
      .map((entries) => {
        const input = Object.fromEntries(
          entries.map(([n, s]) => [
            n,
            tf.tensor(
              valuesOf(
                s.dtype,
                s.shape.reduce((a, b) => a * b, 1),
                s.seed,
              ),
              s.shape,
              s.dtype as tf.DataType,
            ),
          ]),
        );
        const bytes = writeSafetensors(input);
        tf.dispose(Object.values(input));
        return bytes;
      });
    fc.assert(
      fc.property(file, edits, fc.boolean(), (bytes, list, inHeader) => {
        const b = bytes.slice();
        const headerEnd = 8 + Number(new DataView(b.buffer).getBigUint64(0, true));
        for (const [at, value] of list) b[inHeader ? at % headerEnd : at % b.length] = value;
        readWithoutLeak(b);
      }),
      { numRuns: 1000 },
    );
  });

  it('gives tensors or a named error for hostile headers, leaking nothing (1000 cases)', () => {
    const dimension = fc.oneof(
      fc.integer({ min: 0, max: 6 }),
      fc.integer({ min: -3, max: -1 }),
      fc.double({ min: 0, max: 4 }),
      fc.constantFrom(2 ** 53, 2 ** 60, 1e300, '2', null),
    );
    const entry = fc.record({
      dtype: fc.oneof(
        fc.constantFrom('F32', 'F64', 'F16', 'BF16', 'I64', 'U32', 'BOOL', 'U8', 'F8_E4M3'),
        fc.constantFrom('toString', '__proto__', 'constructor', 'f32', ''),
      ),
      shape: fc.oneof(fc.array(dimension, { maxLength: 3 }), fc.constant('3')),
      data_offsets: fc.oneof(
        fc.tuple(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 64 })),
        fc.array(fc.oneof(fc.integer({ min: -5, max: 70 }), fc.double()), { maxLength: 3 }),
      ),
    });
    const header = fc.dictionary(name, entry, { maxKeys: 4 });
    fc.assert(
      fc.property(header, fc.uint8Array({ maxLength: 64 }), (h, data) => {
        const json = new TextEncoder().encode(JSON.stringify(h));
        const b = new Uint8Array(8 + json.length + data.length);
        new DataView(b.buffer).setUint32(0, json.length, true);
        b.set(json, 8);
        b.set(data, 8 + json.length);
        readWithoutLeak(b);
        // Whatever parses must describe tensors that tile the data section exactly.
        valueOrNamedError(() => {
          const parsed = parseSafetensors(b);
          const covered = parsed.entries.reduce((s, e) => s + e.dataOffsets[1] - e.dataOffsets[0], 0);
          expect(covered).toBe(data.length);
        });
      }),
      { numRuns: 1000 },
    );
  });
});
