/**
 * Child process of `src/prefetch/prefetch.test.ts`: consumes two batches of an unbounded prefetched stream,
 * leaves the loop early and prints `done`; the process must then end by itself (the pool is shut down).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { disposeBatch } from '../src/dataset';
import { prefetchBatches } from '../src/prefetch/index';

await tf.setBackend('cpu');
let seen = 0;
for await (const batch of prefetchBatches({ seed: 5, size: 32, batchSize: 2, workers: 2 })) {
  disposeBatch(batch);
  if (++seen === 2) break;
}
console.log(`done ${seen}`);
