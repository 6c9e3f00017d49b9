/**
 * Property-based fuzzing of the unpickler (fast-check): every input gives either the correct value or a
 * `PhalanxFileError`, in bounded time. Values are checked against an independent pickle writer
 * (`test/pickler.ts`) in all six protocols; hostile inputs are mutations of valid pickles (the writer's and
 * Python's) and random bytes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PhalanxFileError } from '@phalanx/errors';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dumps, expectedValue, type Model } from '../test/pickler';
import { unpickle } from './index';

/** Generous bound on one decode of a few KB (it takes well under a millisecond); not a benchmark. */
const BOUND_MS = 2000;
const fixtures = fileURLToPath(new URL('../test/fixtures/numpy/', import.meta.url));
const pythonPickles = [0, 3, 4, 5].map((p) => new Uint8Array(readFileSync(join(fixtures, `proto${p}.pickle`))));

/** Any code point, lone surrogates included (Python strings may hold them). */
const char = fc.oneof(
  fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0x10000, max: 0x10ffff }).map((c) => String.fromCodePoint(c)),
);
const text = fc.string({ unit: char, maxLength: 12 });
const int = fc.oneof(
  fc.integer({ min: -300, max: 70_000 }).map(BigInt),
  fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }),
  fc.bigInt({ min: -(2n ** 600n), max: 2n ** 600n }),
);
const leaf: fc.Arbitrary<Model> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  int,
  fc.double().map((float) => ({ float })),
  text,
  fc.uint8Array({ maxLength: 300 }),
);
const key = fc.oneof(text, fc.integer({ min: -1000, max: 1000 }).map(BigInt));
const { model } = fc.letrec<{ model: Model; list: Model; tuple: Model; dict: Model; shared: Model }>((tie) => ({
  model: fc.oneof({ depthSize: 'small' }, leaf, tie('list'), tie('tuple'), tie('dict'), tie('shared')),
  list: fc.array(tie('model'), { maxLength: 6 }),
  tuple: fc.array(tie('model'), { maxLength: 5 }).map((tuple) => ({ tuple })),
  dict: fc
    .uniqueArray(fc.tuple(key, tie('model')), { selector: ([k]) => `${typeof k}:${String(k)}`, maxLength: 6 })
    .map((entries) => new Map<Model, Model>(entries)),
  // The same list or dict twice: written once, then fetched from the memo.
  shared: fc.oneof(tie('list'), tie('dict')).map((x) => [x, { tuple: [x] }]),
}));
const protocol = fc.integer({ min: 0, max: 5 });

/** Decodes `bytes`; the result must be a value or a `PhalanxFileError`, within the bound. */
function decodeOrNamedError(bytes: Uint8Array): void {
  const t0 = performance.now();
  try {
    unpickle(bytes, 'fuzz.pickle');
  } catch (e) {
    if (!(e instanceof PhalanxFileError)) throw e;
    expect(e.message.startsWith('fuzz.pickle: pickle')).toBe(true);
  }
  expect(performance.now() - t0).toBeLessThan(BOUND_MS);
}

/** Up to 4 edits of a valid pickle: overwrite, insert, delete, truncate. */
const edits = fc.array(
  fc.tuple(
    fc.constantFrom('set', 'insert', 'delete', 'truncate'),
    fc.nat(),
    fc.uint8Array({ minLength: 1, maxLength: 8 }),
  ),
  { minLength: 1, maxLength: 4 },
);
function mutate(bytes: Uint8Array, list: Array<[string, number, Uint8Array]>): Uint8Array {
  let b = Array.from(bytes);
  for (const [kind, at, data] of list) {
    const i = b.length === 0 ? 0 : at % b.length;
    if (kind === 'set') for (let k = 0; k < data.length && i + k < b.length; k++) b[i + k] = data[k];
    else if (kind === 'insert') b.splice(i, 0, ...data);
    else if (kind === 'delete') b.splice(i, data[0] % 16);
    else b = b.slice(0, i);
  }
  return Uint8Array.from(b);
}

describe('unpickle (fuzz)', () => {
  it('returns exactly the value an independent writer pickled, in every protocol (600 cases)', () => {
    fc.assert(
      fc.property(model, protocol, (v, p) => {
        const bytes = dumps(v, p);
        const t0 = performance.now();
        const decoded = unpickle(bytes, 'fuzz.pickle');
        expect(performance.now() - t0).toBeLessThan(BOUND_MS);
        expect(decoded).toEqual(expectedValue(v));
      }),
      { numRuns: 600 },
    );
  });

  it('gives a value or a named error for mutated pickles (1500 cases)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.tuple(model, protocol).map(([v, p]) => dumps(v, p)),
          fc.constantFrom(...pythonPickles),
        ),
        edits,
        (bytes, list) => decodeOrNamedError(mutate(bytes, list)),
      ),
      { numRuns: 1500 },
    );
  });

  it('gives a value or a named error for random bytes (1000 cases)', () => {
    const opcodeSoup = fc.array(
      fc.constantFrom(
        ...[0x28, 0x2e, 0x30, 0x31, 0x32, 0x4e, 0x5d, 0x61, 0x65, 0x7d, 0x73, 0x75, 0x29, 0x74, 0x85, 0x86, 0x87],
        ...[0x88, 0x89, 0x8f, 0x90, 0x91, 0x94, 0x68, 0x71, 0x62, 0x52, 0x81, 0x93, 0x8c, 0x4b, 0x8a, 0x47, 0x00],
      ),
      { maxLength: 200 },
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 400 }),
          opcodeSoup.map((a) => Uint8Array.from([0x80, 4, ...a])),
        ),
        decodeOrNamedError,
      ),
      { numRuns: 1000 },
    );
  });
});
