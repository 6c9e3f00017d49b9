/**
 * The worker-thread side of `runDataParallel`: imports the user's module, runs its default export with
 * a {@link ReplicaContext} whose `reduceGradients` exchanges each step's gradients with the other
 * replicas through the main thread, and reports the result or the error.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import type { GradientReducer } from '../step';
import type { ReplicaContext, ReplicaMain } from './index';
import type { FailedMessage, GroupMessage, ReplicaMessage, ReplicaWorkerData } from './protocol';

const port = parentPort!;
const setup = workerData as ReplicaWorkerData;
/** Answers awaited from the main thread: `g<step>` (gradient exchanges), `a<round>` (averages). */
const waiting = new Map<string, (values: Float32Array) => void>();
let stopRequested = false;
let averageRounds = 0;

port.on('message', (message: GroupMessage) => {
  const key = message.kind === 'reduced' ? `g${message.step}` : `a${message.round}`;
  if (message.kind === 'reduced' && message.stop) stopRequested = true;
  const resolve = waiting.get(key);
  waiting.delete(key);
  resolve?.(message.values);
});

/** Posts `message` and resolves to the main thread's answer under `key`. */
function exchange(key: string, message: ReplicaMessage, values: Float32Array): Promise<Float32Array> {
  const answer = new Promise<Float32Array>((resolve) => waiting.set(key, resolve));
  post(message, [values.buffer as ArrayBuffer]);
  return answer;
}

function post(message: ReplicaMessage, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

/**
 * Sends this replica's gradients, loss and loss parts of a step; resolves to the replicas' mean gradients and
 * reports their mean loss and parts to the trainer, which judges the step's finiteness on them: non-finite
 * in any replica, so skipped (or stopped at) in every replica.
 */
const reduceGradients: GradientReducer = async (grads, context) => {
  const names = Object.keys(grads);
  const parts = Object.keys(context.parts);
  const flat = tf.tidy(() =>
    tf.concat([
      ...names.map((n) => tf.reshape(grads[n], [-1])),
      tf.reshape(context.loss, [1]),
      ...parts.map((n) => tf.reshape(context.parts[n], [1])),
    ]),
  );
  let values: Float32Array;
  try {
    values = new Float32Array((await flat.data()) as Float32Array); // an own copy: its buffer is moved
  } finally {
    flat.dispose();
  }
  const mean = await exchange(
    `g${context.step}`,
    { kind: 'gradients', step: context.step, names, parts, values, samples: context.samples },
    values,
  );
  const at = mean.length - 1 - parts.length; // the mean loss, then the mean parts
  lastMeanLoss = mean[at];
  const meanParts = Object.fromEntries(parts.map((n, i) => [n, mean[at + 1 + i]]));
  context.reportGroupMeasures({ loss: mean[at], ...(parts.length > 0 ? { parts: meanParts } : {}) });
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

/** The mean over the replicas of `values` (a copy is sent: the caller keeps its array). */
function averageAcrossReplicas(values: Float32Array): Promise<Float32Array> {
  const own = new Float32Array(values);
  const round = averageRounds++;
  return exchange(`a${round}`, { kind: 'average', round, values: own }, own);
}

let lastMeanLoss = Number.NaN;
const context: ReplicaContext<unknown> = {
  get meanLoss() {
    return lastMeanLoss;
  },
  get stopRequested() {
    return stopRequested;
  },
  averageAcrossReplicas,
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
