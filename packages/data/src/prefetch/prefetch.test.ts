import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { useBackend } from '@phalanx/testing';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { augment } from '../augment';
import { batches, disposeBatch, type BatchOptions, type HandBatch } from '../dataset';
import { PhalanxConfigError } from '@phalanx/errors';
import { sampleSeed } from '../sample-seed';
import { renderSyntheticHand, type SyntheticHandOptions } from '../synthetic/render';
import { prefetchBatches, type PrefetchOptions } from './index';

beforeAll(async () => {
  await useBackend('cpu');
});

type HostBatch = Record<keyof HandBatch, { shape: number[]; data: number[] }>;

async function collect(stream: AsyncIterable<HandBatch>): Promise<HostBatch[]> {
  const out: HostBatch[] = [];
  for await (const b of stream) {
    const host = {} as HostBatch;
    for (const key of Object.keys(b) as (keyof HandBatch)[]) {
      host[key] = { shape: b[key].shape, data: Array.from(await b[key].data()) };
    }
    out.push(host);
    disposeBatch(b);
  }
  return out;
}

describe('prefetchBatches', () => {
  it('yields, in order, exactly the batches of batches() for the same seed, start and count', async () => {
    const options = { seed: 3, size: 32, start: 5, count: 11, batchSize: 3 };
    const stream = prefetchBatches({ ...options, workers: 2, queueSize: 2 });
    const [expected, actual] = await Promise.all([collect(batches(options)), collect(stream)]);
    expect(actual.map((b) => b.images.shape[0])).toEqual([3, 3, 3, 2]);
    expect(actual).toEqual(expected);
    expect(stream.stats).toMatchObject({ requested: 4, batches: 4, samples: 11 });
    expect(stream.stats.renderMs).toBeGreaterThan(0);
  });

  it('resumes exactly: a stream started at batch k continues the stream from 0', async () => {
    const base = { seed: 8, size: 32, batchSize: 2 };
    const whole = await collect(prefetchBatches({ ...base, count: 8 }));
    const resumed = await collect(prefetchBatches({ ...base, start: 4, count: 4 }));
    expect(resumed).toEqual(whole.slice(2));
  });

  it('augments in the workers as a transform seeded by the sample index would', async () => {
    const opts = { outputSize: 32, margin: 0.125 };
    const base = { seed: 2, size: 48, start: 4, count: 5, batchSize: 2 };
    const prefetched = await collect(prefetchBatches({ ...base, augment: { ...opts, seed: 1000 } }));
    const options: BatchOptions = {
      ...base,
      transform: (s, i) => augment(s, { ...opts, seed: 1000 + base.start + i }),
    };
    expect(prefetched).toEqual(await collect(batches(options)));
    expect(prefetched[0].images.shape).toEqual([2, 32, 32, 3]);
  });

  it('renders a shard: rows j ≡ index (mod count) of every batch, bit for bit, with augmentation', async () => {
    const base = { seed: 5, size: 32, start: 6, count: 11, batchSize: 4, augment: { outputSize: 24, seed: 70 } };
    const whole = await collect(prefetchBatches(base));
    for (const index of [0, 1, 2]) {
      const stream = prefetchBatches({ ...base, shard: { index, count: 3 } });
      const part = await collect(stream);
      // Rows index, index + 3, … of each batch of 4, 4 and 3; the last batch has a row for every shard.
      const expected = whole.map((b) => {
        const rows = [...Array(b.images.shape[0]).keys()].filter((j) => j % 3 === index);
        const pick = (t: { shape: number[]; data: number[] }) => {
          const per = t.data.length / t.shape[0];
          return {
            shape: [rows.length, ...t.shape.slice(1)],
            data: rows.flatMap((j) => t.data.slice(j * per, (j + 1) * per)),
          };
        };
        return Object.fromEntries(Object.entries(b).map(([k, t]) => [k, pick(t)]));
      });
      expect(part).toEqual(expected);
      expect(stream.stats.samples).toBe(expected.reduce((n, b) => n + b.images.shape[0], 0));
    }
    // A short last batch without rows of the shard ends its stream: batches of 4, then 1 row (shard 0 only).
    const short = await collect(
      prefetchBatches({ seed: 5, size: 32, count: 5, batchSize: 4, shard: { index: 1, count: 2 } }),
    );
    expect(short.map((b) => b.images.shape[0])).toEqual([2]);
  });

  it('gives the bytes of the main thread for non-square float32 images and other render options', async () => {
    const render = {
      width: 40,
      height: 24,
      format: 'float32',
      handedness: 'random',
      maxTilt: 0.3,
      handExtent: [0.2, 0.5],
      background: 'stripes',
    } satisfies SyntheticHandOptions;
    const options = { seed: 11, start: 3, count: 7, batchSize: 3, ...render };
    const [prefetched, main] = await Promise.all([
      collect(prefetchBatches({ ...options, workers: 2 })),
      collect(batches(options)),
    ]);
    expect(prefetched).toEqual(main);
    expect(prefetched.map((b) => b.images.shape)).toEqual([
      [3, 24, 40, 3],
      [3, 24, 40, 3],
      [1, 24, 40, 3],
    ]);
    // Row r of the stream is sample start + r alone, rendered by itself (float32 of its float64 labels).
    const rows = (key: keyof HandBatch) => prefetched.flatMap((b) => b[key].data);
    for (let r = 0; r < 7; r++) {
      const s = renderSyntheticHand(sampleSeed(11, 3 + r), render);
      const at = (key: keyof HandBatch, per: number) => rows(key).slice(r * per, (r + 1) * per);
      expect(at('images', 24 * 40 * 3)).toEqual(Array.from(s.image));
      expect(at('uv', 42)).toEqual(Array.from(s.uv, Math.fround));
      expect(at('xyz', 63)).toEqual(Array.from(s.xyz, Math.fround));
      expect(at('K', 9)).toEqual(Array.from(s.K, Math.fround));
      expect(at('scale', 1)).toEqual([Math.fround(s.scale)]);
      expect(at('visible', 21)).toEqual(Array.from(s.visible));
    }
  });

  it('drops a short last batch on request', async () => {
    const got = await collect(prefetchBatches({ seed: 1, size: 16, count: 5, batchSize: 2, dropRemainder: true }));
    expect(got.map((b) => b.images.shape[0])).toEqual([2, 2]);
  });

  it('renders at most queueSize batches ahead of the consumer', async () => {
    const stream = prefetchBatches({ seed: 1, size: 16, batchSize: 1, queueSize: 3 });
    const first = await stream.next();
    disposeBatch(first.value as HandBatch);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(stream.stats.requested).toBe(1 + 3);
    await stream.return();
  });

  it('passes a worker error on to the consumer', async () => {
    await expect(collect(prefetchBatches({ seed: 1, size: 8, count: 2, batchSize: 1 }))).rejects.toThrow(
      /width must be an integer ≥ 16/,
    );
  });

  it('rejects options it cannot use, at the call', () => {
    const bad: Partial<PrefetchOptions>[] = [
      { seed: Number.NaN },
      { batchSize: 0 },
      { workers: 0 },
      { queueSize: 0 },
      { count: -1 },
      { start: 2 ** 53, count: 1 }, // start + count would round: no sample index past Number.MAX_SAFE_INTEGER
      { start: Number.MAX_SAFE_INTEGER - 1, count: 2 },
      { augment: { seed: Number.NaN } },
      { shard: { index: 2, count: 2 } },
      { shard: { index: -1, count: 2 } },
      { shard: { index: 0, count: 3 } }, // more shards than rows of a batch of 2
      { shard: { index: 0.5, count: 2 } },
      { shard: null as unknown as PrefetchOptions['shard'] },
    ];
    for (const b of bad) {
      expect(() => prefetchBatches({ seed: 1, batchSize: 2, ...b } as PrefetchOptions)).toThrow(PhalanxConfigError);
    }
    // A misspelt option is refused here, before a worker renders with the default.
    expect(() => prefetchBatches({ seed: 1, batchSize: 2, worker: 2 } as PrefetchOptions)).toThrow(
      /^prefetchBatches: options.worker must be an option \(one of seed, .*, workers, .*, maxTilt\), but received 2\.$/,
    );
    expect(tf.memory().numTensors).toBe(0);
  });

  it('a consumer that leaves early shuts the workers down: the process ends by itself', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/prefetch-child.ts'], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(stdout).toMatch(/^done 2$/m);
    expect(code).toBe(0);
  });
});
