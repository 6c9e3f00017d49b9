import { disposeBatch, type HandBatch } from '@phalanx/data';
import { useBackend } from '@phalanx/testing';
import { defaultWasmThreadsCount } from '@phalanx/wasm-training';
import { beforeAll, describe, expect, it } from 'vitest';
import { MODEL_SIZES, trainingData } from './pipeline';
import { tinyJob } from './tiny-job';
import { dataWorkersFlag, threadsFlag, trainingSource } from './threads';

const config = tinyJob({ model: { ...MODEL_SIZES.tiny, imageSize: 32, heatmapSize: 8 }, dataSeed: 6 });

beforeAll(async () => {
  await useBackend('cpu');
});

async function firstBatches(source: AsyncIterable<HandBatch> | Iterable<HandBatch>, n: number) {
  const got: number[][] = [];
  for await (const b of source) {
    got.push([...(await b.images.data()), ...(await b.uv.data()), ...(await b.K.data())]);
    disposeBatch(b);
    if (got.length === n) break;
  }
  return got;
}

describe('train-ehpe data in worker threads', () => {
  it.each([true, false])(
    'the prefetched stream equals trainingData at a resume position (hand crop %s)',
    async (handCrop) => {
      const job = { ...config, handCrop };
      const position = { step: 5, batchesSeen: 5 };
      const inline = await firstBatches(trainingData(job)(position), 2);
      const prefetched = await firstBatches(trainingSource(job, 1)(position), 2);
      expect(prefetched).toEqual(inline);
    },
  );
});

describe('train-ehpe thread flags', () => {
  it('by default leaves a core to each data worker, and never goes below one thread', () => {
    const cores = defaultWasmThreadsCount();
    expect(threadsFlag(undefined)).toBe(cores);
    expect(threadsFlag(undefined, 1)).toBe(Math.max(1, cores - 1));
    expect(threadsFlag(undefined, cores + 3)).toBe(1);
  });

  it('an explicit --threads wins over the data workers', () => {
    expect(threadsFlag('3', 1)).toBe(3);
    expect(threadsFlag('1', 0)).toBe(1);
  });

  it.each(['0', '-1', '1.5', 'two', ''])('--threads %j is an error naming the flag', (bad) => {
    expect(() => threadsFlag(bad, 1)).toThrow(/--threads must be an integer ≥ 1/);
  });

  it.each(['-1', '0.5', 'x'])('--data-workers %j is an error naming the flag', (bad) => {
    expect(() => dataWorkersFlag(bad)).toThrow(/--data-workers must be an integer ≥ 0/);
  });
});
