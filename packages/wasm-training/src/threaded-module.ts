// eslint-disable-next-line @typescript-eslint/triple-slash-reference -- the untyped tfjs worker file, declared for every project that compiles this module
/// <reference path="./wasm-out.d.ts" />
/**
 * Loads the multi-threaded SIMD build that `@tensorflow/tfjs-backend-wasm` 4.22 ships
 * (`wasm-out/tfjs-backend-wasm-threaded-simd.{js,wasm}` and its pthread worker script) with a thread pool
 * of exactly the size asked for, in Node (`worker_threads`) and in a cross-origin-isolated page.
 *
 * tfjs's own loader cannot do either in Node: it decides `WASM_HAS_MULTITHREAD_SUPPORT` is false there, and
 * it hands the worker and main scripts to Emscripten as Blob URLs, which Node's `Worker` does not load.
 * And the backend's C++ side sizes its pool as min(requested, 8, logical cores / 2), reading the logical
 * cores through the `emscripten_num_logical_cores` import (Node: `os.cpus().length`, browser:
 * `navigator.hardwareConcurrency`): on a 2-core machine every request ends as 1 thread. Here that import
 * answers 2 × the wanted size, so the backend's own formula gives exactly that size.
 */
import type * as NodeFs from 'node:fs';
import type * as NodeOs from 'node:os';
import type * as NodePath from 'node:path';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { WasmFactoryConfig } from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js';

/** The Emscripten module `BackendWasm` runs on (its constructor's argument). */
export type BackendWasmModule = ConstructorParameters<typeof BackendWasm>[0];

/** The backend's own upper limit on its pool (its C++ side never makes more threads). */
export const MAX_WASM_THREADS = 8;

const LOGICAL_CORES_IMPORT = 'emscripten_num_logical_cores';

/** A pthread worker of the module: a Node `Worker` (which has `unref`) or a browser `Worker`. */
interface PthreadWorker {
  unref?: () => void;
}

/** The parts of the threaded build's Emscripten module used here. */
export interface ThreadedWasmModule {
  cwrap(name: string, returnType: 'number' | null, argTypes: 'number'[]): (...args: number[]) => number;
  PThread: { runningWorkers: PthreadWorker[]; unusedWorkers: PthreadWorker[] };
  HEAPU8: Uint8Array;
}

type ModuleFactory = (config: WasmFactoryConfig) => Promise<unknown>;

/**
 * The threaded build's Emscripten factory and its worker script, loaded on demand (≈ 60 kB that only
 * threads need). The specifiers stay literal so that bundlers include both files.
 */
async function loadGlue(): Promise<{ factory: ModuleFactory; workerContents: string }> {
  const [glue, worker] = await Promise.all([
    import('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js'),
    import('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js'),
  ]);
  return { factory: glue.default as ModuleFactory, workerContents: worker.wasmWorkerContents };
}
type Instantiate = (imports: WebAssembly.Imports) => Promise<WebAssembly.WebAssemblyInstantiatedSource>;

/** Where the code runs: Node (worker_threads) or a page / web worker. */
export function inNode(): boolean {
  const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof proc?.versions?.node === 'string' && typeof (globalThis as { window?: unknown }).window === 'undefined';
}

type NodeBuiltins = { fs: typeof NodeFs; os: typeof NodeOs; path: typeof NodePath };

/**
 * Node's `fs`, `os` and `path`, loaded through `process.getBuiltinModule` (Node ≥ 20.16) so that no module
 * of this package imports a Node built-in statically (it runs in browsers too); `null` elsewhere.
 */
export function nodeBuiltins(): NodeBuiltins | null {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  if (!inNode() || typeof proc?.getBuiltinModule !== 'function') return null;
  return {
    fs: proc.getBuiltinModule('node:fs') as NodeBuiltins['fs'],
    os: proc.getBuiltinModule('node:os') as NodeBuiltins['os'],
    path: proc.getBuiltinModule('node:path') as NodeBuiltins['path'],
  };
}

/**
 * The glue's `wasmWorkerContents` is the worker's source inside a template literal, so its escaped `\n`s
 * arrived as newlines; put the escapes back (tfjs's loader does the same before making its Blob).
 */
function workerSource(contents: string): string {
  return contents.replace(/\n/g, '\\n');
}

/** Binds the module's C functions the way `BackendWasm` expects them (`module.tfjs`). */
function bindTfjsFunctions(module: ThreadedWasmModule): BackendWasmModule {
  const bound = module as unknown as BackendWasmModule;
  bound.tfjs = {
    init: module.cwrap('init', null, []),
    initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
    getThreadsCount: module.cwrap('get_threads_count', 'number', []),
    registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
    disposeData: module.cwrap('dispose_data', null, ['number']),
    dispose: module.cwrap('dispose', null, []),
  };
  return bound;
}

/**
 * Runs the Emscripten factory with `config`, instantiating the binary through `instantiate` with the
 * logical-core import answering `2 · threads`; resolves once the module and its pool of workers are ready.
 */
function runFactory(
  factory: ModuleFactory,
  config: WasmFactoryConfig,
  threads: number,
  instantiate: Instantiate,
): Promise<ThreadedWasmModule> {
  return new Promise<ThreadedWasmModule>((resolve, reject) => {
    const fail = (reason: unknown) =>
      reject(reason instanceof Error ? reason : new Error(`@phalanx/wasm-training: ${String(reason)}`));
    config.onAbort = (what) => fail(`the threaded wasm module aborted (${what})`);
    config.instantiateWasm = (
      imports: WebAssembly.Imports,
      receive: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void,
    ) => {
      const env = imports.env as Record<string, unknown>;
      if (typeof env[LOGICAL_CORES_IMPORT] !== 'function') {
        fail(`the threaded wasm module has no '${LOGICAL_CORES_IMPORT}' import to size its pool with`);
        return {};
      }
      env[LOGICAL_CORES_IMPORT] = () => 2 * threads;
      instantiate(imports).then(({ instance, module }) => receive(instance, module), fail);
      return {};
    };
    factory(config).then((module) => resolve(module as ThreadedWasmModule), fail);
  });
}

/**
 * Node: the worker script goes into a fresh temporary folder (Node's `Worker` loads files, not Blob URLs),
 * which is deleted as soon as the pool's workers have started; the main script is the glue's own file.
 * The glue sets `globalThis.Worker` to Node's `Worker` for its own use; the previous value is put back.
 */
async function loadInNode(threads: number, node: NodeBuiltins): Promise<ThreadedWasmModule> {
  const { fs, os, path } = node;
  const { factory, workerContents } = await loadGlue();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'phalanx-wasm-threads-'));
  const workerFile = path.join(dir, 'tfjs-backend-wasm-threaded-simd.worker.js');
  const globalWorker = Object.getOwnPropertyDescriptor(globalThis, 'Worker');
  let wasmFile = '';
  try {
    fs.writeFileSync(workerFile, workerSource(workerContents));
    const config: WasmFactoryConfig = {
      locateFile: (file, prefix) => {
        if (file.endsWith('.worker.js')) return workerFile;
        if (file.endsWith('.wasm')) wasmFile = prefix + file;
        return prefix + file;
      },
    };
    return await runFactory(factory, config, threads, (imports) =>
      WebAssembly.instantiate(fs.readFileSync(wasmFile), imports),
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    if (globalWorker) Object.defineProperty(globalThis, 'Worker', globalWorker);
    else delete (globalThis as { Worker?: unknown }).Worker;
  }
}

async function instantiateStreaming(url: string, imports: WebAssembly.Imports) {
  const response = fetch(url, { credentials: 'same-origin' });
  try {
    return await WebAssembly.instantiateStreaming(response, imports);
  } catch {
    // A server that does not send `application/wasm`: compile from the bytes instead.
    return WebAssembly.instantiate(await (await response).arrayBuffer(), imports);
  }
}

/**
 * Browser: worker and main scripts as Blob URLs (as tfjs's loader does), the binary fetched from `wasmUrl`
 * (default: beside the glue script, as Emscripten would look for it).
 */
async function loadInBrowser(threads: number, wasmUrl: string | undefined): Promise<ThreadedWasmModule> {
  const { factory, workerContents } = await loadGlue();
  const blob = new Blob([workerSource(workerContents)], { type: 'application/javascript' });
  const workerUrl = URL.createObjectURL(blob);
  let located = '';
  try {
    const config: WasmFactoryConfig = {
      locateFile: (file, prefix) => {
        if (file.endsWith('.worker.js')) return workerUrl;
        if (file.endsWith('.wasm')) located = prefix + file;
        return prefix + file;
      },
      mainScriptUrlOrBlob: new Blob([`var WasmBackendModuleThreadedSimd = ${String(factory)}`], {
        type: 'text/javascript',
      }),
    };
    return await runFactory(factory, config, threads, (imports) => instantiateStreaming(wasmUrl ?? located, imports));
  } finally {
    URL.revokeObjectURL(workerUrl);
  }
}

/**
 * Loads the threaded SIMD module with a pool sized for `threads` (2 ≤ threads ≤ {@link MAX_WASM_THREADS})
 * and binds its functions as `BackendWasm` expects. `wasmUrl` locates the binary in a browser.
 */
export async function loadThreadedWasmModule(threads: number, wasmUrl?: string): Promise<BackendWasmModule> {
  const node = nodeBuiltins();
  const module = node ? await loadInNode(threads, node) : await loadInBrowser(threads, wasmUrl);
  return bindTfjsFunctions(module);
}

/**
 * Lets the process exit when its work is done: Emscripten keeps a reference on each worker that runs a
 * thread of the pool (they sleep between jobs), which would keep Node's event loop alive for ever.
 */
export function releasePoolThreads(module: BackendWasmModule): void {
  const pthreads = (module as unknown as Partial<ThreadedWasmModule>).PThread;
  for (const worker of pthreads?.runningWorkers ?? []) worker.unref?.();
}
