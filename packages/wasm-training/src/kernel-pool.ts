/**
 * The package's SIMD kernels on every thread of the wasm backend's pool (Node). XNNPACK's kernels run on
 * tfjs-backend-wasm's own pthreads, but the package's kernels (`assembly/kernels.ts`) are called from
 * JavaScript on the main thread. A {@link SimdKernelPool} holds `threads − 1` Node worker threads, each with
 * its own instance of the same kernel module on the backend's **shared** memory. A large call is cut into
 * independent parts (the products of a batched GEMM, row or column blocks of one product, the matrices of
 * a batch), one per thread: the main thread runs the first and waits (`Atomics.wait`) for the others.
 *
 * Every part computes its outputs with exactly the operations of the single-threaded call (row blocks are
 * cut at multiples of the GEMM's 4-row tile, column blocks at its 8-column tile), so results are the same
 * bit for bit at any thread count. Kernels that reduce across the cut (batch norm) stay on one thread.
 */
import type { SimdKernels } from './simd';

/** The kernels a pool can split, by id (the order of the worker's table). */
const POOL_KERNELS = [
  'gemm',
  'transpose',
  'sumRows',
  'winogradInput',
  'winogradOutput',
  'winograd4Input',
  'winograd4Output',
] as const;
type PoolKernel = (typeof POOL_KERNELS)[number];

/** Int32 slots per worker in the control block: [sequence, done, kernel id, argument count, failed]. */
const CONTROL_SLOTS = 8;
/** Float64 argument slots per worker. */
const ARGUMENT_SLOTS = 16;
/** Multiply-adds below which a GEMM stays on the calling thread (≈ 0.3 ms: waking a worker would not pay). */
const MIN_PARALLEL_MACS = 1 << 22;
/** Elements below which a transpose or column sum stays on the calling thread. */
const MIN_PARALLEL_ELEMENTS = 1 << 20;
/** How long the main thread waits for a worker's part before giving up (ms). */
const PART_TIMEOUT_MS = 120_000;

/** The worker: instantiates the kernels on the shared memory, then runs parts until told to stop. */
const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const { module, memory, control, argumentsBuffer, slot, kernels } = workerData;
const ctrl = new Int32Array(control);
const args = new Float64Array(argumentsBuffer);
const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
const table = kernels.map((name) => exports[name]);
const base = slot * ${CONTROL_SLOTS};
const first = slot * ${ARGUMENT_SLOTS};
let seen = 0;
parentPort.postMessage('ready');
for (;;) {
  Atomics.wait(ctrl, base, seen);
  const sequence = Atomics.load(ctrl, base);
  if (sequence === seen) continue;
  seen = sequence;
  if (sequence < 0) break;
  let failed = 0;
  try {
    const count = ctrl[base + 3];
    const a = new Array(count);
    for (let i = 0; i < count; i++) a[i] = args[first + i];
    table[ctrl[base + 2]](...a);
  } catch (e) {
    failed = 1;
  }
  ctrl[base + 4] = failed;
  Atomics.store(ctrl, base + 1, sequence);
  Atomics.notify(ctrl, base + 1);
}
`;

/** What the pool needs of Node's `worker_threads.Worker`. */
interface PoolWorker {
  once(event: 'message' | 'error', listener: (value: unknown) => void): unknown;
  unref(): void;
  terminate(): Promise<number>;
}
type WorkerConstructor = new (source: string, options: { eval: true; workerData: unknown }) => PoolWorker;

/** Node's `Worker`, without a static import of a Node built-in (the package runs in browsers too). */
function nodeWorkerConstructor(): WorkerConstructor | null {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  if (typeof proc?.getBuiltinModule !== 'function') return null;
  const threads = proc.getBuiltinModule('node:worker_threads') as { Worker?: WorkerConstructor } | undefined;
  return threads?.Worker ?? null;
}

/** One call's arguments for each thread (the first runs on the calling thread). */
type Parts = number[][];

/**
 * A pool of worker threads running the package's SIMD kernels on a shared wasm memory; see the file's
 * comment. Made by {@link createSimdKernelPool}; {@link SimdKernelPool.kernels} wraps a main-thread
 * instance so that large calls are split over the pool.
 */
export class SimdKernelPool {
  private readonly control: Int32Array;
  private readonly args: Float64Array;
  private sequence = 0;
  private closed = false;

  /** @param workers the helper threads; `control` and `argumentsBuffer` shared with them. */
  constructor(
    private readonly workers: PoolWorker[],
    control: SharedArrayBuffer,
    argumentsBuffer: SharedArrayBuffer,
  ) {
    this.control = new Int32Array(control);
    this.args = new Float64Array(argumentsBuffer);
  }

  /** Threads that run parts: the calling thread and the helpers. */
  get threads(): number {
    return this.closed ? 1 : this.workers.length + 1;
  }

  /** Runs `parts[0]` with `local` on this thread and `parts[1…]` on the helpers; returns when all are done. */
  run(kernel: PoolKernel, parts: Parts, local: (...args: number[]) => void): void {
    if (this.closed) throw new Error('@phalanx/wasm-training: the SIMD kernel pool is closed.');
    const sequence = ++this.sequence;
    const id = POOL_KERNELS.indexOf(kernel);
    for (let w = 1; w < parts.length; w++) this.post(w - 1, sequence, id, parts[w]);
    local(...parts[0]);
    let failed = 0;
    for (let w = 1; w < parts.length; w++) failed += this.await(w - 1, sequence);
    if (failed > 0) throw new Error(`@phalanx/wasm-training: the SIMD kernel '${kernel}' failed on a worker thread.`);
  }

  private post(slot: number, sequence: number, id: number, values: number[]): void {
    const base = slot * CONTROL_SLOTS;
    this.args.set(values, slot * ARGUMENT_SLOTS);
    this.control[base + 2] = id;
    this.control[base + 3] = values.length;
    Atomics.store(this.control, base, sequence);
    Atomics.notify(this.control, base);
  }

  private await(slot: number, sequence: number): number {
    const done = slot * CONTROL_SLOTS + 1;
    const start = Date.now();
    for (;;) {
      const seen = Atomics.load(this.control, done);
      if (seen === sequence) return this.control[slot * CONTROL_SLOTS + 4];
      if (Date.now() - start > PART_TIMEOUT_MS) {
        throw new Error(`@phalanx/wasm-training: a SIMD kernel worker did not answer in ${PART_TIMEOUT_MS} ms.`);
      }
      Atomics.wait(this.control, done, seen, 1000);
    }
  }

  /** Stops and releases the helpers; later calls of {@link kernels}' functions run on one thread. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.workers.forEach((_, slot) => {
      Atomics.store(this.control, slot * CONTROL_SLOTS, -1);
      Atomics.notify(this.control, slot * CONTROL_SLOTS);
    });
    for (const w of this.workers) void w.terminate();
  }

  /**
   * `kernel` (whose last two arguments are a range `[r0, r1)` of tile rows of `rowWork(args)` elements each)
   * split over the pool into row ranges when the call is large enough.
   */
  private rowRanged<F extends (...args: number[]) => void>(
    name: PoolKernel,
    kernel: F,
    rowWork: (args: number[]) => number,
  ): F {
    return ((...args: number[]) => {
      const [r0, r1] = args.slice(-2);
      const parts = this.threads > 1 ? rowParts(r0, r1, rowWork(args), this.threads) : null;
      if (!parts) return kernel(...args);
      this.run(
        name,
        parts.map(([first, rows]) => [...args.slice(0, -2), first, first + rows]),
        kernel,
      );
    }) as F;
  }

  /** `local` with its splittable kernels running over the pool when a call is large enough. */
  kernels<K extends SimdKernels>(local: K): K {
    const wrapped = { ...local }; // wasm exports are frozen: copy them, then replace the splittable ones
    wrapped.gemm = (...a: Parameters<SimdKernels['gemm']>) => {
      const parts = this.threads > 1 ? gemmParts(a, this.threads) : null;
      if (parts) this.run('gemm', parts, local.gemm);
      else local.gemm(...a);
    };
    wrapped.transpose = (batch, src, rows, cols, dst) => {
      const parts = this.threads > 1 ? batchParts(batch, rows * cols, this.threads) : null;
      if (!parts) return local.transpose(batch, src, rows, cols, dst);
      const bytes = 4 * rows * cols;
      this.run(
        'transpose',
        parts.map(([t0, count]) => [count, src + t0 * bytes, rows, cols, dst + t0 * bytes]),
        local.transpose,
      );
    };
    wrapped.sumRows = (batch, src, rows, cols, dst) => {
      const parts = this.threads > 1 ? batchParts(batch, rows * cols, this.threads) : null;
      if (!parts) return local.sumRows(batch, src, rows, cols, dst);
      this.run(
        'sumRows',
        parts.map(([t0, count]) => [count, src + 4 * t0 * rows * cols, rows, cols, dst + 4 * t0 * cols]),
        local.sumRows,
      );
    };
    // The Winograd transforms take a range of tile rows as their last two arguments: cut into parts.
    wrapped.winogradInput = this.rowRanged('winogradInput', local.winogradInput, (a) => a[6] * a[4]);
    wrapped.winogradOutput = this.rowRanged('winogradOutput', local.winogradOutput, (a) => a[3] * a[4]);
    wrapped.winograd4Input = this.rowRanged('winograd4Input', local.winograd4Input, (a) => a[6] * a[4]);
    wrapped.winograd4Output = this.rowRanged('winograd4Output', local.winograd4Output, (a) => a[3] * a[4]);
    return wrapped;
  }
}

/**
 * `[first, count]` of the parts of the tile rows `[r0, r1)` of a Winograd transform (`work` elements a
 * row), or `null` when there are too few to be worth splitting.
 */
function rowParts(r0: number, r1: number, work: number, threads: number): [number, number][] | null {
  if (r1 - r0 < 2 || (r1 - r0) * work < MIN_PARALLEL_ELEMENTS / 64) return null;
  return cut(r1 - r0, threads).map(([first, count]) => [r0 + first, count]);
}

/** `[first, count]` of each part of `total` items cut into at most `parts` near-equal runs of multiples of `unit`. */
export function cut(total: number, parts: number, unit = 1): [number, number][] {
  const units = Math.ceil(total / unit);
  const n = Math.min(parts, units);
  const out: [number, number][] = [];
  let first = 0;
  for (let p = 0; p < n; p++) {
    const size = Math.min(total - first, (Math.floor((units * (p + 1)) / n) - Math.floor((units * p) / n)) * unit);
    out.push([first, size]);
    first += size;
  }
  return out.filter(([, size]) => size > 0);
}

/** The parts of a batch of `batch` items of `work` each, or `null` when it is not worth splitting. */
function batchParts(batch: number, work: number, threads: number): [number, number][] | null {
  if (batch < 2 || batch * work < MIN_PARALLEL_ELEMENTS) return null;
  return cut(batch, threads);
}

/**
 * The parts of one `gemm` call (its 15 arguments): the products of the batch; for one product, blocks of
 * 4-row multiples of C (or of 8-column multiples when C has few rows). `null`: too small, or the products
 * write the same C (`cStride` 0), so it stays whole.
 */
export function gemmParts(a: Parameters<SimdKernels['gemm']>, threads: number): Parts | null {
  const [batch, pa, aStride, ars, acs, pb, bStride, ldb, pc, cStride, ldc, m, n, k, accumulate] = a;
  if (batch * m * n * k < MIN_PARALLEL_MACS) return null;
  if (batch >= threads && cStride !== 0) {
    return cut(batch, threads).map(([t0, count]) => [
      count,
      pa + t0 * aStride,
      aStride,
      ars,
      acs,
      pb + t0 * bStride,
      bStride,
      ldb,
      pc + t0 * cStride,
      cStride,
      ldc,
      m,
      n,
      k,
      accumulate,
    ]);
  }
  if (batch !== 1) return null;
  if (m >= 8 * threads) {
    return cut(m, threads, 4).map(([i0, rows]) => [
      1,
      pa + i0 * ars,
      aStride,
      ars,
      acs,
      pb,
      bStride,
      ldb,
      pc + i0 * ldc,
      cStride,
      ldc,
      rows,
      n,
      k,
      accumulate,
    ]);
  }
  if (n >= 16 * threads) {
    return cut(n, threads, 8).map(([j0, cols]) => [
      1,
      pa,
      aStride,
      ars,
      acs,
      pb + 4 * j0,
      bStride,
      ldb,
      pc + 4 * j0,
      cStride,
      ldc,
      m,
      cols,
      k,
      accumulate,
    ]);
  }
  return null;
}

/**
 * A pool of `helpers` worker threads running `module` (the kernels' build for a shared memory) on
 * `memory`, or `null` outside Node or when `memory` is not shared. The helpers never keep the process
 * alive (`unref`).
 */
export async function createSimdKernelPool(
  module: WebAssembly.Module,
  memory: WebAssembly.Memory,
  helpers: number,
): Promise<SimdKernelPool | null> {
  const Worker = nodeWorkerConstructor();
  if (!Worker || helpers < 1 || !(memory.buffer instanceof SharedArrayBuffer)) return null;
  const control = new SharedArrayBuffer(4 * CONTROL_SLOTS * helpers);
  const argumentsBuffer = new SharedArrayBuffer(8 * ARGUMENT_SLOTS * helpers);
  const workers = Array.from(
    { length: helpers },
    (_, slot) =>
      new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { module, memory, control, argumentsBuffer, slot, kernels: POOL_KERNELS },
      }),
  );
  await Promise.all(
    workers.map(
      (w) =>
        new Promise<void>((resolve, reject) => {
          w.once('message', () => resolve());
          w.once('error', (e) => reject(e instanceof Error ? e : new Error(String(e))));
        }),
    ),
  );
  for (const w of workers) w.unref();
  return new SimdKernelPool(workers, control, argumentsBuffer);
}
