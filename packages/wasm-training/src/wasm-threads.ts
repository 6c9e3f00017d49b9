/**
 * Multi-threaded `wasm` backend, opt-in: {@link enableWasmThreads} makes `tf.setBackend('wasm')` build the
 * backend on tfjs-backend-wasm's threaded SIMD binary (XNNPACK's thread pool) in Node and in
 * cross-origin-isolated pages, sized by tfjs-backend-wasm's own `setThreadsCount`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BackendWasm, getThreadsCount, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { checkOptions, PhalanxConfigError } from '@phalanx/errors';
import { WASM } from './kernel-scope';
import { attachSimdKernelPool } from './simd';
import {
  type BackendWasmModule,
  inNode,
  loadThreadedWasmModule,
  MAX_WASM_THREADS,
  nodeBuiltins,
  releasePoolThreads,
} from './threaded-module';

export { MAX_WASM_THREADS } from './threaded-module';

/** Options of {@link enableWasmThreads}. */
export interface WasmThreadsOptions {
  /**
   * Browser only: the URL of `tfjs-backend-wasm-threaded-simd.wasm` (e.g. a bundler's asset URL of
   * `@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm`). Default: beside the glue
   * script, where Emscripten looks. Node reads the installed file and ignores it.
   */
  threadedWasmUrl?: string;
}

/** The keys of {@link WasmThreadsOptions}: any other key is a named error. */
const WASM_THREADS_KEYS = { threadedWasmUrl: true } satisfies Record<keyof WasmThreadsOptions, true>;

/** tfjs-backend-wasm registers `wasm` with this priority; kept, so `tf.ready()` picks the same backend. */
const WASM_PRIORITY = 2;

type BackendFactory = () => tf.KernelBackend | Promise<tf.KernelBackend>;

/** tfjs-backend-wasm's own factory while threads are enabled (`null`: not enabled). */
let stockFactory: BackendFactory | null = null;
let enabledOptions: WasmThreadsOptions = {};

/**
 * The number of threads the threaded backend uses when `setThreadsCount` was not called: every core the
 * process may use — `os.availableParallelism()` in Node, `navigator.hardwareConcurrency` in a browser —
 * at most {@link MAX_WASM_THREADS}.
 *
 * @example
 * import { defaultWasmThreadsCount } from '@phalanx/wasm-training';
 * console.log(defaultWasmThreadsCount()); // 2 on a 2-core machine
 */
export function defaultWasmThreadsCount(): number {
  const node = nodeBuiltins();
  const cores = node
    ? (node.os.availableParallelism?.() ?? node.os.cpus().length)
    : ((globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1);
  return Math.max(1, Math.min(MAX_WASM_THREADS, cores));
}

/**
 * Whether this environment can run the threaded backend: Node ≥ 20.16, or a page or worker that is
 * cross-origin isolated (served with `Cross-Origin-Opener-Policy: same-origin` and
 * `Cross-Origin-Embedder-Policy: require-corp`), with `SharedArrayBuffer`. Where it is false, the
 * enabled `wasm` backend is tfjs-backend-wasm's own (one thread in Node).
 *
 * @example
 * import { wasmThreadsSupported } from '@phalanx/wasm-training';
 * if (!wasmThreadsSupported()) console.warn('wasm runs on one thread here');
 */
export function wasmThreadsSupported(): boolean {
  if (typeof SharedArrayBuffer !== 'function' || typeof WebAssembly !== 'object') return false;
  if (inNode()) return nodeBuiltins() !== null;
  return (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
}

/**
 * The count given to tfjs-backend-wasm's `setThreadsCount` (−1 when never called). tfjs keeps it private
 * and hands it only to `BackendWasm`'s constructor, which passes it to `module.tfjs.initWithThreadsCount`:
 * a `BackendWasm` built on a stand-in module that records that call reads it (the stand-in's pool
 * reports −1, so `getThreadsCount()` still says "not initialised" until the real backend exists).
 */
function requestedThreadsCount(): number {
  let requested = -1;
  const standIn = {
    tfjs: {
      initWithThreadsCount: (count: number) => {
        requested = count;
      },
      getThreadsCount: () => -1,
    },
  };
  const probe = new BackendWasm(standIn as unknown as BackendWasmModule);
  void probe;
  return requested;
}

/** The pool size for a requested count: as asked (whole, at most 8), or the default when ≤ 0. */
function poolSize(requested: number): number {
  if (!(requested >= 1)) return defaultWasmThreadsCount();
  return Math.min(MAX_WASM_THREADS, Math.floor(requested));
}

/**
 * The `wasm` backend factory while threads are enabled: tfjs-backend-wasm's own (its single-threaded SIMD
 * binary in Node) for a pool of one thread or where threads are not supported, else `BackendWasm` on the
 * threaded SIMD binary with a pool of exactly `poolSize(setThreadsCount's value)` threads.
 */
async function createWasmBackend(stock: BackendFactory, options: WasmThreadsOptions): Promise<tf.KernelBackend> {
  const threads = poolSize(requestedThreadsCount());
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  if (threads < 2 || !simd || !wasmThreadsSupported()) return stock();
  const module = await loadThreadedWasmModule(threads, options.threadedWasmUrl);
  const backend = new BackendWasm(module);
  releasePoolThreads(module);
  await attachSimdKernelPool(backend, threads);
  return backend;
}

/** Re-registers `wasm` with `factory`; an initialised `wasm` backend is disposed (tf.removeBackend). */
function registerWasmFactory(factory: BackendFactory): void {
  tf.removeBackend(WASM);
  tf.registerBackend(WASM, factory, WASM_PRIORITY);
}

/**
 * Makes the `wasm` backend multi-threaded: from the next `tf.setBackend('wasm')` on, the backend runs on
 * tfjs-backend-wasm's threaded SIMD binary, and `setThreadsCount(n)` / `getThreadsCount()` of
 * `@tensorflow/tfjs-backend-wasm` work in Node as they do in a cross-origin-isolated page:
 *
 * - threads = n when `setThreadsCount(n)` was called (n ≥ 1, at most {@link MAX_WASM_THREADS}; the stock
 *   loader gives min(n, 8, logical cores / 2)), else {@link defaultWasmThreadsCount} (every core);
 * - one thread is tfjs-backend-wasm's own single-threaded SIMD backend, exactly as without this call;
 * - `getThreadsCount()` reports the pool that runs.
 *
 * Every kernel this package registers runs on it. The pool's workers never keep a Node process alive;
 * the worker script lives in a temporary folder only while they start. Call it before
 * `tf.setBackend('wasm')`. It changes one thing, tfjs's
 * factory for the `wasm` backend (undone by {@link disableWasmThreads}); calling it again is harmless,
 * except that an already initialised `wasm` backend is disposed (with its tensors) so that the next
 * `tf.setBackend('wasm')` builds it anew — the way to apply a new `setThreadsCount`.
 *
 * @example
 * import * as tf from '@tensorflow/tfjs-core';
 * import { getThreadsCount, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
 * import { enableWasmThreads } from '@phalanx/wasm-training';
 *
 * enableWasmThreads();
 * setThreadsCount(2); // optional: default every core
 * await tf.setBackend('wasm');
 * console.log(getThreadsCount()); // 2
 */
export function enableWasmThreads(options: WasmThreadsOptions = {}): void {
  const name = 'enableWasmThreads';
  checkOptions(name, 'options', options, WASM_THREADS_KEYS, 'an object {threadedWasmUrl?}');
  const url = options.threadedWasmUrl;
  if (url !== undefined && (typeof url !== 'string' || url === '')) {
    throw new PhalanxConfigError(name, 'threadedWasmUrl', 'a non-empty string (URL of the threaded SIMD binary)', url);
  }
  enabledOptions = { ...options };
  if (stockFactory !== null) {
    if (tf.findBackend(WASM) != null) registerWasmFactory(threadedFactory);
    return;
  }
  const stock = tf.findBackendFactory(WASM);
  if (stock == null) {
    throw new PhalanxConfigError(
      name,
      "the 'wasm' backend",
      'registered (by @tensorflow/tfjs-backend-wasm; it was removed)',
      'no such backend',
    );
  }
  stockFactory = stock;
  registerWasmFactory(threadedFactory);
}

function threadedFactory(): Promise<tf.KernelBackend> {
  if (stockFactory === null) throw new Error('@phalanx/wasm-training: wasm threads are not enabled.');
  return createWasmBackend(stockFactory, enabledOptions);
}

/**
 * Puts tfjs-backend-wasm's own `wasm` factory back (an initialised `wasm` backend is disposed, as
 * `tf.removeBackend` does, and made again by the next `tf.setBackend('wasm')`). No-op when not enabled.
 *
 * @example
 * import { disableWasmThreads } from '@phalanx/wasm-training';
 * disableWasmThreads();
 */
export function disableWasmThreads(): void {
  if (stockFactory === null) return;
  const stock = stockFactory;
  stockFactory = null;
  registerWasmFactory(stock);
}

/**
 * Whether {@link enableWasmThreads} is in effect.
 *
 * @example
 * import { wasmThreadsEnabled } from '@phalanx/wasm-training';
 * console.log(wasmThreadsEnabled()); // false until enableWasmThreads()
 */
export function wasmThreadsEnabled(): boolean {
  return stockFactory !== null;
}

/**
 * The usual start of a training script in one call: {@link enableWasmThreads}, `setThreadsCount(threads)`
 * of tfjs-backend-wasm (when given; else every core, {@link defaultWasmThreadsCount}), then
 * `tf.setBackend('wasm')`. Resolves to `getThreadsCount()`, the pool that runs.
 *
 * @example
 * import '@tensorflow/tfjs-backend-wasm';
 * import { setThreadedWasmBackend } from '@phalanx/wasm-training';
 * const threads = await setThreadedWasmBackend(); // every core
 * console.log(`wasm, ${threads} threads`);
 */
export async function setThreadedWasmBackend(threads?: number, options: WasmThreadsOptions = {}): Promise<number> {
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) {
    throw new PhalanxConfigError('setThreadedWasmBackend', 'threads', 'an integer ≥ 1', threads);
  }
  enableWasmThreads(options);
  setThreadsCount(threads ?? -1);
  if (!(await tf.setBackend(WASM))) throw new Error("@phalanx/wasm-training: the 'wasm' backend failed to start.");
  await tf.ready();
  return getThreadsCount();
}
