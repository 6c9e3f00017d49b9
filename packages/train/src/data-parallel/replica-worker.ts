/**
 * The worker-thread side of `runDataParallel`: imports the user's module, runs its default export with
 * a {@link ReplicaContext} whose `reduceGradients` exchanges each step's gradients with the other
 * replicas through the main thread, and reports the result or the error.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import type { GradientReducer } from '../step';
import type { ReplicaContext, ReplicaMain } from './index';
import type { FailedMessage, ReducedMessage, ReplicaMessage, ReplicaWorkerData } from './protocol';

const port = parentPort!;
const setup = workerData as ReplicaWorkerData;
const waiting = new Map<number, (values: Float32Array) => void>();

port.on('message', (message: ReducedMessage) => {
  if (message.kind !== 'reduced') return;
  const resolve = waiting.get(message.step);
  waiting.delete(message.step);
  resolve?.(message.values);
});

function post(message: ReplicaMessage, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

/** Sends this replica's gradients (and loss) of a step; resolves to the replicas' mean gradients. */
const reduceGradients: GradientReducer = async (grads, context) => {
  const names = Object.keys(grads);
  const flat = tf.tidy(() =>
    tf.concat([...names.map((n) => tf.reshape(grads[n], [-1])), tf.reshape(context.loss, [1])]),
  );
  let values: Float32Array;
  try {
    values = new Float32Array((await flat.data()) as Float32Array); // an own copy: its buffer is moved
  } finally {
    flat.dispose();
  }
  const reduced = new Promise<Float32Array>((resolve) => waiting.set(context.step, resolve));
  post({ kind: 'gradients', step: context.step, names, values }, [values.buffer as ArrayBuffer]);
  const mean = await reduced;
  lastMeanLoss = mean[mean.length - 1];
  return tf.tidy(() => {
    let offset = 0;
    return Object.fromEntries(
      names.map((n) => {
        const g = grads[n];
        const t = tf.tensor(mean.subarray(offset, offset + g.size), g.shape, 'float32');
        offset += g.size;
        return [n, t];
      }),
    );
  });
};

let lastMeanLoss = Number.NaN;
const context: ReplicaContext<unknown> = {
  get meanLoss() {
    return lastMeanLoss;
  },
  replica: setup.replica,
  replicas: setup.replicas,
  data: setup.data,
  reduceGradients,
  shard: <T>(items: readonly T[]) => items.filter((_, i) => i % setup.replicas === setup.replica),
};

/** Loads the user's module and runs it (no top-level await: the package also builds as CommonJS). */
async function run(): Promise<void> {
  try {
    const loaded = (await import(setup.module)) as { default?: ReplicaMain<unknown, unknown> };
    if (typeof loaded.default !== 'function') {
      throw new TypeError(`runDataParallel: module ${setup.module} must export default a function (context) → Promise`);
    }
    post({ kind: 'done', result: await loaded.default(context) });
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    const failed: FailedMessage = { kind: 'failed', name: e.name, message: e.message, stack: e.stack };
    post(failed);
  }
}

void run();
