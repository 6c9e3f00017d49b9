import { disposeBatch, type HandBatch } from '@phalanx/data';
import { useBackend } from '@phalanx/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { MODEL_SIZES, trainingData } from './pipeline';
import { tinyJob } from './tiny-job';
import { trainingSource } from './threads';

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
