import { expectNoTensorLeak, useBackend } from '@phalanx/testing';
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { augment } from './augment';
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { packSamples } from './batch-pack';
import {
  batches,
  disposeBatch,
  shardBatch,
  shardBatches,
  syntheticHands,
  toBatch,
  toTfDataset,
  type HandBatch,
  type HandTensors,
} from './dataset';
import type { HandSample } from './types';

beforeAll(async () => {
  await useBackend('cpu');
});

describe('syntheticHands', () => {
  it('yields count samples; sample i depends only on (seed, i)', () => {
    const all = [...syntheticHands({ seed: 3, size: 32, count: 5 })];
    expect(all.length).toBe(5);
    const tail = [...syntheticHands({ seed: 3, size: 32, count: 2, start: 3 })];
    expect(tail[0].image).toEqual(all[3].image);
    expect(tail[1].uv).toEqual(all[4].uv);
    const other = [...syntheticHands({ seed: 4, size: 32, count: 1 })];
    expect(other[0].image).not.toEqual(all[0].image);
    expect(() => [...syntheticHands({ seed: 3, count: -1 })]).toThrow(
      'syntheticHands: count must be an integer ≥ 0, but received -1.',
    );
  });
});

describe('shardBatch', () => {
  it('takes rows j ≡ index (mod count) of every field, in order, and leaks nothing', async () => {
    const samples = [...syntheticHands({ seed: 6, size: 16, count: 5 })];
    const whole = toBatch(samples);
    for (const [index, rows] of [
      [0, [0, 2, 4]],
      [1, [1, 3]],
    ] as const) {
      const expected = toBatch(rows.map((r) => samples[r]));
      const before = tf.memory().numTensors;
      const mine = shardBatch(whole, { index, count: 2 });
      expect(tf.memory().numTensors - before, 'only the six returned tensors are new').toBe(6);
      for (const k of ['images', 'uv', 'xyz', 'K', 'scale', 'visible'] as const) {
        expect(mine[k].shape, k).toEqual(expected[k].shape);
        expect(await mine[k].data(), k).toEqual(await expected[k].data());
      }
      disposeBatch(mine);
      disposeBatch(expected);
    }
    const alone = shardBatch(whole, { index: 0, count: 1 });
    expect(await alone.uv.data()).toEqual(await whole.uv.data());
    disposeBatch(alone);
    expect(() => shardBatch(whole, { index: 2, count: 2 })).toThrow(PhalanxConfigError);
    expect(() => shardBatch(whole, { index: 0, count: 0 })).toThrow(/shard.count must be an integer ≥ 1/);
    expect(() => shardBatch(whole, { index: -1, count: 2 })).toThrow(/shard.index/);
    expect(() => shardBatch(null as never, { index: 0, count: 2 })).toThrow(PhalanxConfigError);
    disposeBatch(whole);
  });

  it('refuses an empty shard, fields of unequal rows and disposed tensors, by name', () => {
    const one = toBatch([...syntheticHands({ seed: 7, size: 16, count: 1 })]);
    expect(() => shardBatch(one, { index: 1, count: 2 })).toThrow(
      /shardBatch: batch must be at least 2 rows for shard 1, but received 1/,
    );
    expect(() => shardBatch(one, { index: 1, count: 2 })).toThrow(PhalanxShapeError);
    const two = toBatch([...syntheticHands({ seed: 7, size: 16, count: 2 })]);
    expect(() => shardBatch({ ...one, uv: two.uv }, { index: 0, count: 1 })).toThrow(PhalanxShapeError);
    expect(() => shardBatch({ ...one, K: undefined } as never, { index: 0, count: 1 })).toThrow(PhalanxConfigError);
    disposeBatch(two);
    expect(() => shardBatch({ ...one, uv: two.uv }, { index: 0, count: 1 })).toThrow(/live tensors/);
    disposeBatch(one);
  });

  it('splits any batch into disjoint shards that cover it, for any B ≥ count (fast-check)', async () => {
    const samples = [...syntheticHands({ seed: 8, size: 16, count: 9 })];
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 4 }), async (rows, count) => {
        fc.pre(rows >= count);
        const whole = toBatch(samples.slice(0, rows));
        const scales = await whole.scale.data();
        const seen: number[] = [];
        for (let index = 0; index < count; index++) {
          const mine = shardBatch(whole, { index, count });
          expect(mine.images.shape[0]).toBe(Math.ceil((rows - index) / count));
          seen.push(...(await mine.scale.data()));
          disposeBatch(mine);
        }
        disposeBatch(whole);
        expect(seen.sort()).toEqual([...scales].sort());
      }),
      { numRuns: 25, seed: 11 },
    );
  });
});

describe('shardBatches', () => {
  it("yields shardBatch's rows of every batch and frees each whole batch once cut", async () => {
    const source = [...syntheticHands({ seed: 7, size: 16, count: 6 })];
    const wholes = [toBatch(source.slice(0, 4)), toBatch(source.slice(4))];
    const before = tf.memory().numTensors;
    const got: HandBatch[] = [];
    for await (const b of shardBatches(wholes, { index: 1, count: 2 })) got.push(b);
    expect(tf.memory().numTensors - before, 'the two shards (12 tensors) kept, the two whole batches (12) freed').toBe(
      0,
    );
    expect(got.map((b) => b.images.shape[0])).toEqual([2, 1]);
    const expected = toBatch([source[1], source[3]]);
    expect(await got[0].uv.data()).toEqual(await expected.uv.data());
    disposeBatch(expected);
    got.forEach(disposeBatch);
    const bad = shardBatches([toBatch(source.slice(0, 2))], { index: 3, count: 2 });
    const before2 = tf.memory().numTensors;
    await expect(bad.next()).rejects.toThrow(PhalanxConfigError);
    expect(tf.memory().numTensors - before2, 'the whole batch is freed when the cut fails').toBe(-6);
  });

  it('ends the stream at a short last batch without rows of the shard, as prefetchBatches does', async () => {
    const source = [...syntheticHands({ seed: 9, size: 16, count: 5 })];
    const before = tf.memory().numTensors;
    const rows = async (index: number): Promise<number[]> => {
      const wholes = [toBatch(source.slice(0, 2)), toBatch(source.slice(2, 4)), toBatch(source.slice(4))];
      const got: number[] = [];
      for await (const b of shardBatches(wholes, { index, count: 2 })) {
        got.push(b.images.shape[0]);
        disposeBatch(b);
      }
      return got;
    };
    expect(await rows(0)).toEqual([1, 1, 1]);
    expect(await rows(1)).toEqual([1, 1]);
    expect(tf.memory().numTensors, 'every whole batch freed, the short one too').toBe(before);
    const malformed = shardBatches([{ ...toBatch(source.slice(0, 1)), xyz: null } as never], { index: 0, count: 1 });
    await expect(malformed.next()).rejects.toThrow(/shardBatches: batch must be a HandBatch/);
  });
});

describe('batches', () => {
  it('stacks samples into float32 tensors of the documented shapes', async () => {
    const got: number[] = [];
    for await (const b of batches({ seed: 1, size: 32, count: 5, batchSize: 2 })) {
      got.push(b.images.shape[0]);
      expect(b.images.shape.slice(1)).toEqual([32, 32, 3]);
      expect(b.uv.shape.slice(1)).toEqual([21, 2]);
      expect(b.xyz.shape.slice(1)).toEqual([21, 3]);
      expect(b.K.shape.slice(1)).toEqual([3, 3]);
      expect(b.scale.shape.length).toBe(1);
      expect(b.visible.shape.slice(1)).toEqual([21]);
      for (const t of [b.images, b.uv, b.xyz, b.K, b.scale, b.visible]) expect(t.dtype).toBe('float32');
      const px = await b.images.data();
      expect(Math.min(...px)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...px)).toBeLessThanOrEqual(1);
      disposeBatch(b);
    }
    expect(got).toEqual([2, 2, 1]);
    const dropped: number[] = [];
    for await (const b of batches({ seed: 1, size: 32, count: 5, batchSize: 2, dropRemainder: true })) {
      dropped.push(b.images.shape[0]);
      disposeBatch(b);
    }
    expect(dropped).toEqual([2, 2]);
  });

  it('matches the samples it was built from, and applies a transform', async () => {
    const samples = [...syntheticHands({ seed: 2, size: 32, count: 2 })];
    const b = toBatch(samples);
    const uv = await b.uv.data();
    expect(uv[2 * 21 + 5]).toBeCloseTo(samples[1].uv[5], 3);
    const img = await b.images.data();
    expect(img[7]).toBeCloseTo(samples[0].image[7] / 255, 6);
    disposeBatch(b);
    const it = batches({
      source: samples,
      batchSize: 2,
      transform: (s, i) => augment(s, { seed: i, outputSize: 16 }),
    });
    const first = (await it.next()).value!;
    expect(first.images.shape).toEqual([2, 16, 16, 3]);
    disposeBatch(first);
  });

  it('leaks no tensors', async () => {
    await expectNoTensorLeak(async () => {
      for await (const b of batches({ seed: 0, size: 32, count: 3, batchSize: 2 })) disposeBatch(b);
    });
  });

  it('rejects bad options with named errors', async () => {
    await expect(batches({ seed: 0, batchSize: 0 }).next()).rejects.toThrow(
      'batches: batchSize must be an integer ≥ 1, but received 0.',
    );
    await expect(batches({ batchSize: 2 }).next()).rejects.toThrow(
      'batches: seed must be a number when no source is given, but received undefined.',
    );
    // A misspelt key is refused under batches' own name, with the batching's options in the list — also
    // when a source is given, where the synthetic options are not read at all.
    const misspelt = { seed: 0, batchsize: 2 } as unknown as Parameters<typeof batches>[0];
    const error = await batches(misspelt)
      .next()
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(PhalanxConfigError);
    expect(String(error)).toMatch(/^PhalanxConfigError: batches: options\.batchsize must be an option \(one of /);
    for (const key of ['batchSize', 'source', 'transform', 'dropRemainder', 'seed', 'handExtent']) {
      expect(String(error)).toContain(key);
    }
    const withSource = { source: [], batchSize: 2, dropremainder: true } as unknown as Parameters<typeof batches>[0];
    await expect(batches(withSource).next()).rejects.toThrow('batches: options.dropremainder must be an option');
    await expect(batches(null as unknown as Parameters<typeof batches>[0]).next()).rejects.toThrow(
      'batches: options must be an options object {batchSize, …}, but received null.',
    );
    await expect(batches([] as unknown as Parameters<typeof batches>[0]).next()).rejects.toThrow(
      'batches: options must be an options object {batchSize, …}, but received [].',
    );
    expect(() =>
      toBatch([...syntheticHands({ seed: 0, size: 32, count: 1 }), ...syntheticHands({ seed: 0, size: 40, count: 1 })]),
    ).toThrow("toBatch: samples[1] image size must be 32×32 like samples[0], but received '40×40'.");
  });

  it('refuses a sample whose arrays are too short or too long, naming the sample and field, before any tensor', () => {
    const [a, b] = [...syntheticHands({ seed: 0, size: 16, count: 2 })];
    const cases: [Partial<HandSample>, string][] = [
      [{ uv: new Float64Array(3) }, 'samples[1].uv must be 42 values (21 joints × (u, v)), but received 3.'],
      [{ xyz: new Float64Array(64) }, 'samples[1].xyz must be 63 values (21 joints × (x, y, z)), but received 64.'],
      [{ K: new Float64Array(4) }, 'samples[1].K must be 9 values (a row-major 3×3 matrix), but received 4.'],
      [{ visible: new Uint8Array(20) }, 'samples[1].visible must be 21 values (one flag per joint), but received 20.'],
      [
        { image: new Uint8Array(5) },
        'samples[1].image must be 16 × 16 × 3 = 768 values (Uint8Array or Float32Array), but received 5.',
      ],
      [
        { image: new Float32Array(769) },
        'samples[1].image must be 16 × 16 × 3 = 768 values (Uint8Array or Float32Array), but received 769.',
      ],
    ];
    for (const [edit, message] of cases) {
      const broken = { ...b, ...edit };
      const before = tf.memory().numTensors;
      expect(() => toBatch([a, broken]), message).toThrow(PhalanxShapeError);
      expect(() => toBatch([a, broken])).toThrow(`toBatch: ${message}`);
      expect(() => packSamples([a, broken])).toThrow(`toBatch: ${message}`);
      expect(tf.memory().numTensors).toBe(before);
    }
    expect(() => toBatch([a, null as unknown as HandSample])).toThrow(
      'toBatch: samples[1] must be a HandSample object, but received null.',
    );
    const empty = { ...a, width: 0, height: 0, image: new Uint8Array(0) };
    expect(() => toBatch([empty])).toThrow(
      'toBatch: samples[0].width × height must be integers ≥ 1, but received [0, 0].',
    );
  });
});

describe('dataset entry points: arguments of the wrong type', () => {
  it('refuse them by name at once, not as a TypeError (or silently) when the data is read', async () => {
    const before = tf.memory().numTensors;
    const cases: [() => unknown, string][] = [
      [() => toBatch(null as never), 'toBatch: samples must be a non-empty list, but received null.'],
      [() => toBatch({ length: 1 } as never), 'toBatch: samples must be a non-empty list, but received {"length":1}.'],
      [
        () => disposeBatch(null as never),
        'disposeBatch: batch must be a HandBatch {images, uv, xyz, K, scale, visible}',
      ],
      [() => toTfDataset(null as never), 'toTfDataset: options must be an options object {seed, …} or {source, …}'],
      [
        () => toTfDataset({ seed: 1, batchSize: 8 } as never),
        'toTfDataset: options.batchSize must be an option (one of source, transform, seed,',
      ],
      [
        () => toTfDataset({ source: [] } as never),
        'toTfDataset: source must be a function () → Iterable<HandSample>, but received [].',
      ],
      [
        () => toTfDataset({ seed: 1, transform: 5 } as never),
        'toTfDataset: transform must be a function (sample, index) → sample, but received 5.',
      ],
    ];
    for (const [f, message] of cases) {
      expect(f, message).toThrow(PhalanxConfigError);
      expect(f).toThrow(message);
    }
    const batchCases: [unknown, string][] = [
      [
        { batchSize: 2, source: 5 },
        'batches: source must be an iterable or async iterable of samples, but received 5.',
      ],
      [
        { batchSize: 2, seed: 1, transform: 'flip' },
        "batches: transform must be a function (sample, index) → sample, but received 'flip'.",
      ],
    ];
    for (const [options, message] of batchCases) {
      await expect(batches(options as Parameters<typeof batches>[0]).next()).rejects.toThrow(PhalanxConfigError);
      await expect(batches(options as Parameters<typeof batches>[0]).next()).rejects.toThrow(message);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('batches: a batch too large to allocate', () => {
  it('is refused by name at once for synthetic samples, and when reached for a source, instead of rendering until memory runs out', async () => {
    const start = performance.now();
    const huge = batches({ seed: 1, size: 256, batchSize: 1e9 });
    await expect(huge.next()).rejects.toThrow(PhalanxConfigError);
    await expect(batches({ seed: 1, size: 256, batchSize: 1e9 }).next()).rejects.toThrow(
      "batches: batchSize must be at most 10922 for 256×256 images (a batch's images are one float32 array of at most 2³¹ − 1 values), but received 1000000000.",
    );
    expect(performance.now() - start).toBeLessThan(5000);
    // With a count, the batch holds at most count samples: a large batchSize is fine.
    const few = await batches({ seed: 1, size: 16, batchSize: 1e9, count: 3 }).next();
    expect(few.done).toBe(false);
    if (!few.done) {
      expect(few.value.images.shape).toEqual([3, 16, 16, 3]);
      disposeBatch(few.value);
    }
    // A source: refused when the samples received reach the limit (one 4096 × 4096 sample, yielded again and again).
    const [sample] = [...syntheticHands({ seed: 0, size: 16, count: 1 })];
    const big = { ...sample, width: 4096, height: 4096, image: new Uint8Array(4096 * 4096 * 3) };
    let yielded = 0;
    function* forever(): Generator<HandSample> {
      for (;;) {
        yielded++;
        yield big;
      }
    }
    await expect(batches({ source: forever(), batchSize: 1000 }).next()).rejects.toThrow(
      'batches: batchSize must be at most 42 for 4096×4096 images',
    );
    expect(yielded).toBe(43);
  });
});

describe('toTfDataset', () => {
  it('feeds tf.data pipelines with repeatable epochs and no leaks', async () => {
    const ds = toTfDataset({ seed: 7, size: 32, count: 4 })
      .map((s) => ({ xs: (s as HandTensors).image, ys: (s as HandTensors).uv }))
      .batch(2);
    const shapes: number[][] = [];
    const firstPixels: number[] = [];
    const run = async () => {
      await ds.forEachAsync((e) => {
        const { xs, ys } = e as { xs: tf.Tensor; ys: tf.Tensor };
        shapes.push([...xs.shape, ...ys.shape]);
        firstPixels.push(xs.dataSync()[0]);
        tf.dispose([xs, ys]);
      });
    };
    await run();
    expect(shapes).toEqual([
      [2, 32, 32, 3, 2, 21, 2],
      [2, 32, 32, 3, 2, 21, 2],
    ]);
    await run();
    expect(firstPixels[2]).toBe(firstPixels[0]);
    await expectNoTensorLeak(run, 'tf.data epoch');
  });
});
