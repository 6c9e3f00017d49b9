import type * as tf from '@tensorflow/tfjs-core';
import { checkBoolean } from '@phalanx/errors';
import { SIMD_PLAIN, SIMD_SHARED } from './generated/simd-binary';
import { createSimdKernelPool, type SimdKernelPool } from './kernel-pool';

/**
 * The SIMD kernels of `assembly/kernels.ts` (AssemblyScript, wasm SIMD128), instantiated on the wasm
 * backend's own memory so they read and write the backend's tensor buffers in place. Pointers and
 * strides are in bytes.
 */
export interface SimdKernels {
  /**
   * `batch` products C_t (+)= A_t·B_t (m × n, inner k); A(i, k) at `a + t·aStride + i·ars + k·acs`,
   * B row-major with rows `ldb` apart, C rows `ldc` apart; `accumulate` ≠ 0 adds to C.
   */
  gemm(
    batch: number,
    a: number,
    aStride: number,
    ars: number,
    acs: number,
    b: number,
    bStride: number,
    ldb: number,
    c: number,
    cStride: number,
    ldc: number,
    m: number,
    n: number,
    k: number,
    accumulate: number,
  ): void;
  /**
   * Winograd F(2×2, 3×3) input transform `V = Bᵀ d B` of the tiles in tile rows `r0 ≤ b·th + i < r1`:
   * xp [n, hp, wp, c] → v [16, n·th·tw, c] (c a multiple of 4).
   */
  winogradInput(
    xp: number,
    n: number,
    hp: number,
    wp: number,
    c: number,
    th: number,
    tw: number,
    v: number,
    r0: number,
    r1: number,
  ): void;
  /**
   * Winograd output transform `Y = Aᵀ M A` (+ `bias [k]` when ≠ 0, then ReLU when `relu` ≠ 0) of the tiles
   * in tile rows `[r0, r1)`: m [16, n·th·tw, k] → y [n, ho, wo, k].
   */
  winogradOutput(
    m: number,
    n: number,
    th: number,
    tw: number,
    k: number,
    ho: number,
    wo: number,
    y: number,
    bias: number,
    relu: number,
    r0: number,
    r1: number,
  ): void;
  /** Winograd F(4×4, 3×3) input transform of tile rows `[r0, r1)`: xp [n, hp, wp, c] → v [36, n·th·tw, c]. */
  winograd4Input(
    xp: number,
    n: number,
    hp: number,
    wp: number,
    c: number,
    th: number,
    tw: number,
    v: number,
    r0: number,
    r1: number,
  ): void;
  /** Winograd F(4×4, 3×3) output transform (+ bias, ReLU) of tile rows `[r0, r1)`: m [36, n·th·tw, k] → y. */
  winograd4Output(
    m: number,
    n: number,
    th: number,
    tw: number,
    k: number,
    ho: number,
    wo: number,
    y: number,
    bias: number,
    relu: number,
    r0: number,
    r1: number,
  ): void;
  /** The transpose of the output transform, `∂M = A ∂Y Aᵀ`: dy [n, ho, wo, k] → dm [16, n·th·tw, k]. */
  winogradOutputGrad(
    dy: number,
    n: number,
    th: number,
    tw: number,
    k: number,
    ho: number,
    wo: number,
    dm: number,
  ): void;
  /** `batch` transposes of row-major rows × cols matrices of 4-byte elements. */
  transpose(batch: number, src: number, rows: number, cols: number, dst: number): void;
  /**
   * `batch` transposes of row-major rows × cols matrices of blocks of `inner` 4-byte elements (the block,
   * the innermost axis, is copied whole): `[B, R, C, inner] → [B, C, R, inner]`.
   */
  transposeBlocks(batch: number, src: number, rows: number, cols: number, inner: number, dst: number): void;
  /** `rows` copies of `width` 4-byte elements from rows `srcStride` apart to rows `dstStride` apart. */
  copyRows(rows: number, src: number, srcStride: number, dst: number, dstStride: number, width: number): void;
  /** `batch` column sums of row-major rows × cols float32 matrices: dst_t[c] = Σ_r src_t[r][c]. */
  sumRows(batch: number, src: number, rows: number, cols: number, dst: number): void;
  /**
   * Batch-norm training forward over the rows of x [rows, cols]: mean, biased variance, `scale` (scratch,
   * gamma/√(variance + eps)) and y = (x − mean)·scale + beta; gamma, beta, mean, variance, scale [cols].
   */
  batchNormForward(
    x: number,
    rows: number,
    cols: number,
    gamma: number,
    beta: number,
    eps: number,
    mean: number,
    variance: number,
    scale: number,
    y: number,
  ): void;
  /**
   * Batch-norm training backward over the rows of dy, x [rows, cols]: dGamma, dBeta [cols] and dx like x;
   * `scratch` holds 3·cols floats.
   */
  batchNormBackward(
    dy: number,
    x: number,
    rows: number,
    cols: number,
    mean: number,
    variance: number,
    gamma: number,
    eps: number,
    dGamma: number,
    dBeta: number,
    scratch: number,
    dx: number,
  ): void;
  /**
   * Max-pool gradient, NHWC: zeroes dx `[n, h, w, c]` and adds each dy `[n, oh, ow, c]` at the first
   * maximum (row-major window order) of its `fh × fw` window at strides `sh, sw`, offset by the pads.
   */
  maxPoolGrad(
    x: number,
    dy: number,
    n: number,
    h: number,
    w: number,
    c: number,
    oh: number,
    ow: number,
    fh: number,
    fw: number,
    sh: number,
    sw: number,
    padTop: number,
    padLeft: number,
    dx: number,
  ): void;
}

/** What this file needs of tfjs-backend-wasm 4.22's `BackendWasm`. */
interface WasmBackendLike {
  wasm: { asm?: { memory?: WebAssembly.Memory }; wasmMemory?: WebAssembly.Memory };
  dataIdMap: { get(dataId: tf.DataId): { memoryOffset: number } | undefined };
}

const instances = new WeakMap<object, SimdKernels | null>();
/** Worker pools running the kernels on more threads, by backend (see `kernel-pool.ts`). */
const pools = new WeakMap<object, SimdKernelPool>();

function decode(base64: string): Uint8Array<ArrayBuffer> {
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

let disabled = false;

/** Compiled modules by memory kind; browsers refuse to compile > 4 KB synchronously on the main thread. */
const compiled: { plain?: WebAssembly.Module; shared?: WebAssembly.Module } = {};
const pending = new Set<'plain' | 'shared'>();

/** The compiled module for a memory kind: synchronously where allowed, else compiled in the background. */
function compiledModule(kind: 'plain' | 'shared'): WebAssembly.Module | null {
  const ready = compiled[kind];
  if (ready != null) return ready;
  const bytes = decode(kind === 'shared' ? SIMD_SHARED : SIMD_PLAIN);
  try {
    return (compiled[kind] = new WebAssembly.Module(bytes));
  } catch {
    if (!pending.has(kind)) {
      pending.add(kind);
      void WebAssembly.compile(bytes).then(
        (module) => {
          compiled[kind] = module;
        },
        () => undefined, // no SIMD here: callers keep their previous routes
      );
    }
    return null;
  }
}

/**
 * Turns the package's SIMD kernels off (`false`) or back on (default on): with them off every kernel
 * takes the route it took before they existed (used by the benchmark and the tests to compare). Anything
 * but a boolean (`'false'`, `0`) is a `PhalanxConfigError` and changes nothing.
 */
export function setSimdKernelsEnabled(enabled: boolean): void {
  disabled = !checkBoolean('setSimdKernelsEnabled', 'enabled', enabled);
}

/**
 * Dtypes of 4-byte elements, which the SIMD copies (`copyRows`, `transposeBlocks`) move bit for bit: a
 * `float32` or `int32` element is one 32-bit lane.
 */
export const FOUR_BYTE_DTYPES: ReadonlySet<tf.DataType> = new Set(['float32', 'int32']);

/**
 * The SIMD kernels bound to `backend`'s memory, or `null` when they cannot run there (not the wasm
 * backend, no SIMD, the memory not reachable, or turned off with {@link setSimdKernelsEnabled}).
 * Instantiated once per backend; the module has no data segment and writes nothing when it starts. Where
 * the runtime refuses a synchronous compile (a browser's main thread, > 4 KB), it is compiled in the
 * background and used from the next kernel call on.
 */
export function simdKernels(backend: tf.KernelBackend): SimdKernels | null {
  if (disabled) return null;
  const cached = instances.get(backend);
  if (cached !== undefined) return cached;
  let kernels: SimdKernels | null = null;
  try {
    const module = (backend as unknown as WasmBackendLike).wasm;
    const memory = module?.asm?.memory ?? module?.wasmMemory;
    if (memory != null) {
      const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
      const kind = shared ? 'shared' : 'plain';
      const compiledKernels = compiledModule(kind);
      // Still compiling in the background (browser main thread): not cached, asked again next time.
      if (compiledKernels == null) return pending.has(kind) && compiled[kind] == null ? null : cache(backend, null);
      kernels = new WebAssembly.Instance(compiledKernels, { env: { memory } }).exports as unknown as SimdKernels;
      const pool = pools.get(backend);
      if (pool) kernels = pool.kernels(kernels);
    }
  } catch {
    kernels = null; // e.g. a runtime without wasm SIMD: every caller keeps its previous route
  }
  return cache(backend, kernels);
}

function cache(backend: tf.KernelBackend, kernels: SimdKernels | null): SimdKernels | null {
  instances.set(backend, kernels);
  return kernels;
}

/** Byte offset of a tensor's buffer in the wasm memory. */
export function pointer(backend: tf.KernelBackend, info: tf.TensorInfo): number {
  const data = (backend as unknown as WasmBackendLike).dataIdMap.get(info.dataId);
  if (data == null) throw new Error('@phalanx/wasm-training: a tensor without a wasm buffer reached a SIMD kernel.');
  return data.memoryOffset;
}

/** The kernels' compiled module for a shared (`true`) or plain memory, or `null` where it cannot be compiled. */
export function simdKernelModule(shared: boolean): WebAssembly.Module | null {
  return compiledModule(shared ? 'shared' : 'plain');
}

/** The wasm memory of `backend`, if it is tfjs-backend-wasm's. */
export function backendMemory(backend: tf.KernelBackend): WebAssembly.Memory | undefined {
  const module = (backend as unknown as Partial<WasmBackendLike>).wasm;
  return module?.asm?.memory ?? module?.wasmMemory;
}

/**
 * Runs the SIMD kernels of `backend` on `threads` threads: `threads − 1` Node worker threads, each with
 * an instance of the kernels on the backend's shared memory, take parts of every large call (see
 * `kernel-pool.ts`). Resolves to the threads that run the kernels: 1 where no pool can be made (a
 * browser, a memory that is not shared, SIMD kernels off or unavailable). The pool closes with the
 * backend's `dispose()`.
 */
export async function attachSimdKernelPool(backend: tf.KernelBackend, threads: number): Promise<number> {
  const memory = backendMemory(backend);
  if (disabled || threads < 2 || memory == null || pools.has(backend)) return pools.get(backend)?.threads ?? 1;
  const module =
    typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer
      ? compiledModule('shared')
      : null;
  const pool = module ? await createSimdKernelPool(module, memory, threads - 1) : null;
  if (!pool) return 1;
  pools.set(backend, pool);
  instances.delete(backend);
  const dispose = backend.dispose.bind(backend);
  backend.dispose = () => {
    pool.close();
    dispose();
  };
  return pool.threads;
}

/** Threads that run the SIMD kernels of `backend` (1 without a pool). */
export function simdKernelThreads(backend: tf.KernelBackend): number {
  return pools.get(backend)?.threads ?? 1;
}
