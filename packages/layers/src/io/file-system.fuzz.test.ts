/**
 * Property-based fuzzing of the model loader of `fileSystem` (fast-check): every `model.json` + weights on
 * disk gives either the right artifacts (weights read only from inside the folder, exactly as long as the
 * manifest says) or a `PhalanxFileError`; a full load leaks no tensor; each case runs in bounded time.
 */
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { PhalanxFileError } from '@phalanx/errors';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileSystem } from './file-system';

/** Generous bound on one load of a few hundred bytes (milliseconds); model building included. */
const BOUND_MS = 5000;
const root = mkdtempSync(join(tmpdir(), 'phalanx-fs-fuzz-'));
const template = join(root, 'template');
let serial = 0;

beforeAll(async () => {
  await tf.setBackend('cpu');
  const input = tfl.input({ shape: [3] });
  const out = tfl.layers.dense({ units: 2, name: 'd' }).apply(input) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: out });
  await model.save(fileSystem(template));
  model.dispose();
  mkdirSync(join(template, 'sub'));
  writeFileSync(join(template, 'sub', 'w.bin'), new Uint8Array(32));
  // Names that start with two dots but are files in the folder, not '..' segments.
  writeFileSync(join(template, '..w.bin'), new Uint8Array(32));
  writeFileSync(join(template, 'sub', '..w.bin'), new Uint8Array(32));
  // A file outside the model folder, of a size that would satisfy the manifest.
  writeFileSync(join(root, 'outside.bin'), readFileSync(join(template, 'weights.bin')));
  symlinkSync(join(root, 'outside.bin'), join(template, 'link.bin'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A fresh copy of the saved model to mutate. */
function copy(): string {
  const dir = join(root, `case-${serial++}`);
  cpSync(template, dir, { recursive: true, verbatimSymlinks: true });
  return dir;
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8 };
const QUANTIZED: Record<string, number> = { uint8: 1, uint16: 2, float16: 2 };

/** Weight bytes the manifest describes, computed here independently (undefined: not a valid manifest). */
function expectedBytes(weights: unknown[]): number | undefined {
  let total = 0;
  for (const w of weights) {
    const { shape, dtype, quantization } = (w ?? {}) as {
      shape?: unknown;
      dtype?: unknown;
      quantization?: { dtype?: unknown };
    };
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) return undefined;
    const per = quantization
      ? Object.hasOwn(QUANTIZED, String(quantization.dtype))
        ? QUANTIZED[String(quantization.dtype)]
        : undefined
      : Object.hasOwn(BYTES, String(dtype))
        ? BYTES[String(dtype)]
        : undefined;
    if (per === undefined) return undefined;
    total += shape.reduce((a: number, b: number) => a * b, 1) * per;
  }
  return total;
}

/** True when `p` (relative to `dir`) is a file inside `dir` once symbolic links are resolved. */
function staysInside(dir: string, p: unknown): boolean {
  if (typeof p !== 'string' || p === '' || isAbsolute(p) || /^[a-z][a-z0-9+.-]*:/i.test(p) || p.includes('\\'))
    return false;
  try {
    const real = realpathSync(resolve(dir, p));
    const rel = relative(realpathSync(dir), real);
    return rel !== '' && !isAbsolute(rel) && rel.split(sep)[0] !== '..';
  } catch {
    return false;
  }
}

const pathArb = fc.oneof(
  fc.constantFrom('weights.bin', './weights.bin', 'sub/w.bin', 'sub/../weights.bin', '..w.bin', 'sub/..w.bin'),
  fc.constantFrom('../outside.bin', 'sub/../../outside.bin', `${'../'.repeat(12)}etc/hostname`, 'link.bin'),
  fc.constantFrom(
    '/etc/hostname',
    'C:\\weights.bin',
    '\\\\server\\share\\w.bin',
    'file:///etc/hostname',
    '..\\outside.bin',
  ),
  fc.constantFrom('', 'missing.bin', 'sub', '.', 'weights.bin\u0000.txt'),
  fc.string({ maxLength: 12 }),
  fc.constantFrom(null, 7, [], {}),
);
const dimArb = fc.oneof(fc.integer({ min: 0, max: 4 }), fc.constantFrom(-1, 1.5, 2 ** 53, 1e308, '3', null));
const weightArb = fc.record(
  {
    name: fc.oneof(fc.constant('d/kernel'), fc.string({ maxLength: 8 }), fc.constantFrom('__proto__', 'constructor')),
    shape: fc.oneof(fc.array(dimArb, { maxLength: 3 }), fc.constantFrom(null, 'x')),
    dtype: fc.constantFrom('float32', 'int32', 'bool', 'complex64', 'float16', 'toString', '__proto__', 7),
    quantization: fc.option(fc.record({ dtype: fc.constantFrom('uint8', 'uint16', 'float16', 'int4') }), {
      nil: undefined,
    }),
  },
  { requiredKeys: ['name', 'shape', 'dtype'] },
);

/** Runs the loader on `dir`; it must give correct artifacts or a PhalanxFileError, within the bound. */
async function loadOrNamedError(dir: string, manifest: unknown, weightsBytes: number): Promise<void> {
  const t0 = performance.now();
  let artifacts: tf.io.ModelArtifacts | undefined;
  try {
    artifacts = await fileSystem(dir).load?.();
  } catch (e) {
    if (!(e instanceof PhalanxFileError)) throw e;
  }
  expect(performance.now() - t0).toBeLessThan(BOUND_MS);
  if (artifacts === undefined || !Array.isArray(manifest)) return;
  // Loaded: every path stayed inside, and the bytes are the files', exactly as many as the manifest needs.
  const groups = manifest as Array<{ paths: unknown[]; weights: unknown[] }>;
  for (const g of groups) for (const p of g.paths) expect(staysInside(dir, p), String(p)).toBe(true);
  const data = artifacts.weightData ? tf.io.CompositeArrayBuffer.join(artifacts.weightData) : new ArrayBuffer(0);
  const expected = expectedBytes(groups.flatMap((g) => g.weights));
  if (groups.flatMap((g) => g.weights).every((w) => (w as { dtype?: unknown }).dtype !== 'string')) {
    expect(data.byteLength).toBe(expected);
  }
  expect(data.byteLength).toBeLessThanOrEqual(weightsBytes + 64);
}

describe('fileSystem loader (fuzz)', () => {
  it('loads what it saved, bit for bit, leaking nothing (30 cases)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer(),
        async (units, inputs, seed) => {
          const input = tfl.input({ shape: [inputs] });
          let x: tfl.SymbolicTensor = input;
          for (const u of units) x = tfl.layers.dense({ units: u }).apply(x) as tfl.SymbolicTensor;
          const model = tfl.model({ inputs: input, outputs: x });
          model.setWeights(model.getWeights().map((w, i) => tf.randomNormal(w.shape, 0, 1, 'float32', seed + i)));
          const dir = join(root, `save-${serial++}`);
          await model.save(fileSystem(dir));
          const before = tf.memory().numTensors;
          const t0 = performance.now();
          const loaded = await tfl.loadLayersModel(fileSystem(dir));
          expect(performance.now() - t0).toBeLessThan(BOUND_MS);
          const a = model.getWeights().map((w) => Array.from(w.dataSync()));
          const b = loaded.getWeights().map((w) => Array.from(w.dataSync()));
          expect(b).toEqual(a);
          loaded.dispose();
          expect(tf.memory().numTensors).toBe(before);
          model.dispose();
          rmSync(dir, { recursive: true, force: true });
        },
      ),
      { numRuns: 30 },
    );
  });

  it('refuses hostile manifests by name: paths, shapes, dtypes, lengths (200 cases)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({ paths: fc.array(pathArb, { maxLength: 3 }), weights: fc.array(weightArb, { maxLength: 3 }) }),
          {
            maxLength: 2,
          },
        ),
        fc.integer({ min: -8, max: 8 }),
        async (manifest, resize) => {
          const dir = copy();
          const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as Record<string, unknown>;
          json.weightsManifest = manifest;
          writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
          const weights = readFileSync(join(dir, 'weights.bin'));
          const length = Math.max(0, weights.length + resize);
          writeFileSync(
            join(dir, 'weights.bin'),
            new Uint8Array(length).map((_, i) => weights[i] ?? 0),
          );
          await loadOrNamedError(
            dir,
            manifest,
            Math.max(length, 32 * 3, readFileSync(join(root, 'outside.bin')).length),
          );
          rmSync(dir, { recursive: true, force: true });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses a model.json that is not a model by name (150 cases)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.jsonValue().map((v) => JSON.stringify(v)),
          fc.string({ maxLength: 40 }),
          fc.constantFrom(
            '{"weightsManifest": 5}',
            '{"weightsManifest": [null]}',
            '{"weightsManifest": [{"paths": "x"}]}',
          ),
        ),
        async (text) => {
          const dir = copy();
          writeFileSync(join(dir, 'model.json'), text);
          let manifest: unknown;
          try {
            manifest = (JSON.parse(text) as { weightsManifest?: unknown })?.weightsManifest;
          } catch {
            manifest = undefined;
          }
          await loadOrNamedError(dir, manifest, 64);
          rmSync(dir, { recursive: true, force: true });
        },
      ),
      { numRuns: 150 },
    );
  });
});
