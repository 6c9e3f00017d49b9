/**
 * Child process of `src/wasm-threads.test.ts`: `node --import tsx test/threads-child.ts <mode> [counts…]`.
 *
 * - `pools 2 3 1 -1`: for each count, `setThreadsCount(count)` + `enableWasmThreads()` + `tf.setBackend('wasm')`,
 *   then a conv2d forward and its gradients on wasm against cpu; prints one JSON line per count. The process
 *   must then end by itself (no `process.exit`): the pool's threads must not keep it alive.
 * - `sigint N`: a pool of N threads runs convolutions in a loop (yielding to the event loop each time, as the
 *   Trainer does) until SIGINT; prints `ready` once running and `stopped after K` when the handler ran.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { getThreadsCount, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers'; // the gradients
import { enableWasmThreads } from '../src/index';

interface Pthreads {
  PThread?: { runningWorkers: unknown[] };
  HEAPU8: Uint8Array;
}

function convAndGradients(): tf.Tensor[] {
  return tf.tidy(() => {
    const x = tf.tensor4d(
      Float32Array.from({ length: 2 * 9 * 9 * 8 }, (_, i) => Math.sin(i)),
      [2, 9, 9, 8],
    );
    const w = tf.tensor4d(
      Float32Array.from({ length: 3 * 3 * 8 * 16 }, (_, i) => Math.cos(i) * 0.1),
      [3, 3, 8, 16],
    );
    const f = (a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same')));
    return [tf.conv2d(x, w, 1, 'same'), ...tf.grads(f)([x, w])];
  });
}

async function onBackend(name: string): Promise<Float32Array[]> {
  await tf.setBackend(name);
  const outs = convAndGradients();
  const data = await Promise.all(outs.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose(outs);
  return data;
}

async function pools(counts: number[]): Promise<void> {
  const expected = await onBackend('cpu');
  for (const count of counts) {
    setThreadsCount(count);
    enableWasmThreads();
    const actual = await onBackend('wasm');
    const wasm = (tf.backend() as unknown as { wasm: Pthreads }).wasm;
    let maxDiff = 0;
    actual.forEach((a, k) => a.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - expected[k][i])))));
    const line = {
      requested: count,
      threads: getThreadsCount(),
      runningPthreads: wasm.PThread?.runningWorkers.length ?? 0,
      sharedMemory: wasm.HEAPU8.buffer instanceof SharedArrayBuffer,
      workerGlobal: typeof (globalThis as { Worker?: unknown }).Worker,
      maxDiff,
    };
    console.log(JSON.stringify(line));
  }
}

async function untilSigint(threads: number): Promise<void> {
  setThreadsCount(threads);
  enableWasmThreads();
  await tf.setBackend('wasm');
  let stop = false;
  process.on('SIGINT', () => (stop = true));
  let steps = 0;
  while (!stop) {
    tf.dispose(convAndGradients());
    steps++;
    if (steps === 3) console.log(`ready ${getThreadsCount()}`);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  console.log(`stopped after ${steps}`);
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'pools') await pools(args.map(Number));
else if (mode === 'sigint') await untilSigint(Number(args[0]));
else throw new Error(`threads-child: unknown mode ${mode}`);
