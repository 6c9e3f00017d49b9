import * as tf from '@tensorflow/tfjs-core';
import { input, WASM, withScope, type KernelScope } from './kernel-scope';
import { pointer, simdKernels, type SimdKernels } from './simd';
import { requireStockKernel, stockKernel } from './stock-kernels';

/**
 * Below this many multiply-adds (batch·M·N·K) the stock kernel is kept: the extra kernel calls of
 * an explicit transpose (≈ 7 µs each) cost more than the strided loop saves (measured: 16×16×16
 * stock 11 µs vs 15 µs rewritten; 24³ 32 vs 27 µs; 32³ 27 vs 17 µs).
 */
export const MIN_REWRITE_MACS = 8192;

/**
 * A rewrite must do at least this many multiply-adds per element it copies (explicit transposes
 * cost ≈ 3–6 ns per element, the stock strided loop ≈ 0.5–1.4 ns per multiply-add, XNNPACK
 * ≈ 0.05). Keeps e.g. `[1, 512]·[512, 512]ᵀ` (a matrix–vector product, 0.16 ms stock, 1.7 ms with
 * the 512×512 transpose) on the stock kernel.
 */
export const MACS_PER_MOVED_ELEMENT = 16;

/**
 * How {@link batchMatMul} runs a product:
 * - `'stock'`: the wasm backend's own kernel, unchanged;
 * - `'fold'` (b has batch size 1): transposed operands are transposed explicitly, the batch of a is
 *   folded into its rows, and the stock kernel runs once with both flags cleared (its XNNPACK path);
 * - `'swap'` (a has batch size 1, b batched): Cᵢᵀ = Bᵢᵀ·Aᵀ folded the same way, then one transpose;
 * - `'flip'` (a large weight gradient `Aᵀ·B`, neither operand batched): Cᵀ = Bᵀ·A on XNNPACK with B
 *   transposed explicitly, then Cᵀ transposed (see {@link MIN_FLIP_MACS}).
 */
export type MatMulRoute = 'stock' | 'fold' | 'swap' | 'flip';

/**
 * `Aᵀ·B` products (weight gradients `xᵀ·dy`, neither operand batched) of at least this many
 * multiply-adds, at least {@link FLIP_MACS_PER_MOVED_ELEMENT} per element the two explicit transposes
 * move (K·N + M·N) and an inner size K of at most {@link MAX_FLIP_DEPTH} take the `'flip'` route
 * instead of the package's SIMD kernel: XNNPACK's
 * GEMM is faster per multiply-add and runs on the backend's threads, and the operand it packs is A (= x),
 * whose packed copy the stock kernel caches by tensor, so a layer that projects one input several times
 * (attention's query, key and value) packs it once per step. Measured on one thread (CPU time): `[672, 512]ᵀ·[672, 512]` 17.8 →
 * 14.9 ms, `[256, 1024]ᵀ·[256, 1024]` 40.7 → 25.3 ms; with fewer multiply-adds per moved element the SIMD
 * kernel stays faster (`[8192, 128]ᵀ·[8192, 128]` 10.9 vs 11.9 ms, `[32768, 96]ᵀ·[32768, 96]` 33.6 vs
 * 37.6 ms), and below the size the thread pool's overhead dominates (`[672, 512]ᵀ·[672, 16]`).
 */
export const MIN_FLIP_MACS = 1 << 24;

/** See {@link MIN_FLIP_MACS}: multiply-adds per element moved by the `'flip'` route's two transposes. */
export const FLIP_MACS_PER_MOVED_ELEMENT = 192;

/**
 * See {@link MIN_FLIP_MACS}: the largest inner size K (rows of x and dy) of a `'flip'` product. XNNPACK
 * does not block K, and the SIMD kernel (K in blocks of 256) is as fast or faster beyond a few thousand
 * (one thread: `[8192, 512]ᵀ·[8192, 512]` 199–263 ms SIMD vs 273–321 ms flipped, `[16384, 512]ᵀ·[16384,
 * 512]` 390–420 vs 540–570 ms), while K ≤ 2048 always gained.
 */
export const MAX_FLIP_DEPTH = 2048;

interface MatMulDims {
  batchA: number;
  batchB: number;
  m: number;
  k: number;
  n: number;
}

function matMulDims(
  aShape: readonly number[],
  bShape: readonly number[],
  transposeA: boolean,
  transposeB: boolean,
): MatMulDims | null {
  const ra = aShape.length;
  const rb = bShape.length;
  if (ra < 2 || rb < 2) return null;
  const k = transposeA ? aShape[ra - 2] : aShape[ra - 1];
  if (k !== (transposeB ? bShape[rb - 1] : bShape[rb - 2])) return null; // the stock kernel reports it
  return {
    batchA: tf.util.sizeFromShape(aShape.slice(0, -2)),
    batchB: tf.util.sizeFromShape(bShape.slice(0, -2)),
    m: transposeA ? aShape[ra - 1] : aShape[ra - 2],
    k,
    n: transposeB ? bShape[rb - 2] : bShape[rb - 1],
  };
}

/**
 * The route {@link batchMatMul} takes for `matMul(a, b, transposeA, transposeB)` (see
 * {@link MatMulRoute}). The stock wasm kernel uses XNNPACK only when neither flag is set and both
 * batch sizes are 1; everything else runs a scalar strided loop 10–30× slower. A rewrite is chosen
 * when it reaches XNNPACK, the product has ≥ {@link MIN_REWRITE_MACS} multiply-adds and
 * ≥ {@link MACS_PER_MOVED_ELEMENT} per element copied. Products with both operands batched stay on
 * the stock loop (no layout of it was measurably faster).
 *
 * @example
 * matMulRoute([672, 512], [512, 512], false, true); // 'fold' (dy·Wᵀ)
 * matMulRoute([672, 512], [672, 512], true, false); // 'flip' (xᵀ·dy: 365 ms stock → ≈ 15 ms)
 * matMulRoute([1, 512], [512, 512], false, true); // 'stock' (matrix–vector product)
 */
export function matMulRoute(
  aShape: readonly number[],
  bShape: readonly number[],
  transposeA: boolean,
  transposeB: boolean,
): MatMulRoute {
  const d = matMulDims(aShape, bShape, transposeA, transposeB);
  if (d == null) return 'stock';
  const macs = Math.max(d.batchA, d.batchB) * d.m * d.n * d.k;
  if (macs < MIN_REWRITE_MACS) return 'stock';
  const weightGradient = d.batchA === 1 && d.batchB === 1 && transposeA && !transposeB;
  if (weightGradient && d.k <= MAX_FLIP_DEPTH && macs >= MIN_FLIP_MACS) {
    if (macs >= FLIP_MACS_PER_MOVED_ELEMENT * (d.k + d.m) * d.n) return 'flip';
  }
  if (d.batchB === 1) {
    if (!transposeA && !transposeB && d.batchA === 1) return 'stock'; // already XNNPACK
    const moved = (transposeA ? d.batchA * d.m * d.k : 0) + (transposeB ? d.n * d.k : 0);
    return macs >= MACS_PER_MOVED_ELEMENT * moved ? 'fold' : 'stock';
  }
  if (d.batchA === 1) {
    const moved = (transposeB ? 0 : d.batchB * d.k * d.n) + (transposeA ? 0 : d.m * d.k) + d.batchB * d.m * d.n;
    return macs >= MACS_PER_MOVED_ELEMENT * moved ? 'swap' : 'stock';
  }
  return 'stock';
}

/** `[…, 0, 1, …, r−1, r−2]`: swaps the two innermost axes of a rank-r tensor. */
function innerSwap(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return perm;
}

/** The batch shape of the output (tfjs's broadcasting of the outer axes). */
function outShape(a: tf.TensorInfo, b: tf.TensorInfo, d: MatMulDims): number[] {
  const outer = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  return [...outer, d.m, d.n];
}

function runStock(
  scope: KernelScope,
  name: string,
  inputs: tf.NamedTensorInfoMap,
  attrs: tf.NamedAttrMap,
): tf.TensorInfo {
  const out = requireStockKernel(name).kernelFunc({ inputs, backend: scope.backend, attrs });
  if (Array.isArray(out)) throw new Error(`@phalanx/wasm-training: '${name}' returned several outputs.`);
  return scope.adopt(out);
}

/**
 * `'fold'`: `a` (batch `batchA`, transposed explicitly if `transposeA`) as `[1, batchA·M, K]`, `b`
 * (batch 1, transposed explicitly if `transposeB`) as `[1, K, N]`, one stock call `name` with both
 * flags cleared (XNNPACK), result `[batchA, M, N]`.
 */
function fold(
  scope: KernelScope,
  name: string,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
  d: MatMulDims,
  extraInputs: tf.NamedTensorInfoMap = {},
  extraAttrs: tf.NamedAttrMap = {},
): tf.TensorInfo {
  const aPlain = transposeA ? scope.transpose(a, innerSwap(a.shape.length)) : a;
  const bPlain = transposeB ? scope.transpose(b, innerSwap(b.shape.length)) : b;
  const a2 = scope.reshape(aPlain, [1, d.batchA * d.m, d.k]);
  const b2 = scope.reshape(bPlain, [1, d.k, d.n]);
  const out = runStock(
    scope,
    name,
    { ...extraInputs, a: a2, b: b2 },
    { ...extraAttrs, transposeA: false, transposeB: false },
  );
  return scope.reshape(out, [d.batchA, d.m, d.n]);
}

/** `'swap'` (batch of a is 1): Cᵢᵀ = Bᵢᵀ·Aᵀ folded, then the two inner axes swapped back: `[batchB, M, N]`. */
function swap(
  scope: KernelScope,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
  d: MatMulDims,
) {
  const swapped: MatMulDims = { batchA: d.batchB, batchB: 1, m: d.n, k: d.k, n: d.m };
  const ct = fold(scope, tf.BatchMatMul, b, a, !transposeB, !transposeA, swapped);
  return scope.transpose(ct, [0, 2, 1]);
}

/**
 * `'flip'`: C = Aᵀ·B (A `[K, M]`, B `[K, N]`, no batch) as Cᵀ = Bᵀ·A — B transposed explicitly, one
 * stock call with both flags cleared (XNNPACK, which packs A), and Cᵀ transposed back: `[M, N]`.
 */
function flip(scope: KernelScope, a: tf.TensorInfo, b: tf.TensorInfo, d: MatMulDims): tf.TensorInfo {
  const bt = scope.transpose(scope.reshape(b, [d.k, d.n]), [1, 0]);
  const ct = runStock(
    scope,
    tf.BatchMatMul,
    { a: scope.reshape(bt, [1, d.n, d.k]), b: scope.reshape(a, [1, d.k, d.m]) },
    { transposeA: false, transposeB: false },
  );
  return scope.transpose(scope.reshape(ct, [d.n, d.m]), [1, 0]);
}

/**
 * Whether {@link batchMatMul} runs `matMul(a, b, transposeA, transposeB)` with the package's SIMD kernel
 * (float32, at least {@link MIN_SIMD_MACS} multiply-adds):
 * - products with both operands batched (equal batch sizes), which {@link matMulRoute} leaves on the
 *   stock scalar loop — attention's `[B·H, T, d]·[B·H, T, d]ᵀ` and its gradients;
 * - products with `transposeA` (every weight gradient `xᵀ·dy`), whose batches are equal or one of them
 *   1: the kernel reads Aᵀ through its strides, with no transpose and no packing of B (2–2.4× less CPU
 *   time than the explicit transpose + XNNPACK, e.g. `[32768, 96]ᵀ·[32768, 96]` 61 → 26 ms) — except
 *   the large ones {@link matMulRoute} sends the `'flip'` way.
 * Products with only `transposeB` keep the XNNPACK route (as fast on one thread, and threaded with
 * the backend).
 */
export function usesSimdProduct(
  aShape: readonly number[],
  bShape: readonly number[],
  transposeA: boolean,
  transposeB: boolean,
): boolean {
  const d = matMulDims(aShape, bShape, transposeA, transposeB);
  if (d == null || Math.max(d.batchA, d.batchB) * d.m * d.n * d.k < MIN_SIMD_MACS) return false;
  if (d.batchA > 1 && d.batchB > 1) return d.batchA === d.batchB;
  return transposeA && matMulRoute(aShape, bShape, transposeA, transposeB) !== 'flip';
}

/** Below this many multiply-adds a both-batched product stays on the stock loop (call overhead). */
export const MIN_SIMD_MACS = 4096;

interface MakeOutput {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

/**
 * The batched product on the SIMD kernel: every C_t = op(A_t)·op(B_t) in one call (4 × 8 register
 * tiles, K in blocks of 256); a transposed A is read with swapped strides, a transposed B is first
 * transposed into a scratch buffer (the kernel streams rows of B).
 */
function simdProduct(
  scope: KernelScope,
  simd: SimdKernels,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
  d: MatMulDims,
): tf.TensorInfo {
  const backend = scope.backend as unknown as MakeOutput;
  let bRows = b;
  if (transposeB) {
    bRows = scope.adopt(backend.makeOutput([d.batchB, d.k, d.n], 'float32'));
    simd.transpose(d.batchB, pointer(scope.backend, b), d.n, d.k, pointer(scope.backend, bRows));
  }
  const out = scope.adopt(backend.makeOutput(outShape(a, b, d), 'float32'));
  const { m, n, k } = d;
  simd.gemm(
    Math.max(d.batchA, d.batchB),
    pointer(scope.backend, a),
    d.batchA === 1 ? 0 : 4 * m * k,
    transposeA ? 4 : 4 * k,
    transposeA ? 4 * m : 4,
    pointer(scope.backend, bRows),
    d.batchB === 1 ? 0 : 4 * k * n,
    4 * n,
    pointer(scope.backend, out),
    4 * m * n,
    4 * n,
    m,
    n,
    k,
    0,
  );
  return out;
}

/** The product through `route` (never `'stock'` with flags the caller wants removed). */
function product(
  scope: KernelScope,
  route: MatMulRoute,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
  d: MatMulDims,
): tf.TensorInfo {
  if (route === 'stock') return runStock(scope, tf.BatchMatMul, { a, b }, { transposeA, transposeB });
  if (route === 'flip') return scope.reshape(flip(scope, a, b, d), outShape(a, b, d));
  const out =
    route === 'fold'
      ? fold(scope, tf.BatchMatMul, a, b, transposeA, transposeB, d)
      : swap(scope, a, b, transposeA, transposeB, d);
  return scope.reshape(out, outShape(a, b, d));
}

/**
 * `BatchMatMul` for wasm, replacing the backend's kernel: C = op(A)·op(B) with op = transpose when
 * the flag is set, batch axes broadcast as tfjs does. The stock kernel reaches XNNPACK only for
 * un-transposed, un-batched products and otherwise runs a scalar strided loop (e.g.
 * `[672, 512]ᵀ·[672, 512]`: 365 ms vs 17.5 ms). Here, where {@link matMulRoute} finds it faster,
 * the flagged operands are transposed explicitly with the backend's Transpose kernel, a batch
 * against an un-batched operand is folded into the rows, and the stock kernel runs with both flags
 * cleared. Every output is the same length-K dot product as before (only the summation order, i.e.
 * float32 rounding, differs). This speeds up the gradients of every dense layer and matMul.
 *
 * **Shapes**: `a: [...batchA, M, K]` (`[..., K, M]` if transposeA), `b: [...batchB, K, N]`
 * (`[..., N, K]` if transposeB) → `[...broadcast(batchA, batchB), M, N]`.
 */
export function batchMatMul(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs: tf.NamedAttrMap;
}): tf.TensorInfo {
  const a = input(args.inputs, 'a');
  const b = input(args.inputs, 'b');
  const { transposeA, transposeB } = args.attrs as unknown as tf.BatchMatMulAttrs;
  const tA = transposeA === true;
  const tB = transposeB === true;
  const d = matMulDims(a.shape, b.shape, tA, tB);
  const float = a.dtype === 'float32' && b.dtype === 'float32';
  const empty = float && d != null ? emptyProduct(args, d, (_, y) => y) : null;
  if (empty != null) return empty;
  const simd = float && d != null && usesSimdProduct(a.shape, b.shape, tA, tB) ? simdKernels(args.backend) : null;
  if (simd != null && d != null) return withScope(args.backend, (scope) => simdProduct(scope, simd, a, b, tA, tB, d));
  const route = float ? matMulRoute(a.shape, b.shape, tA, tB) : 'stock';
  if (route === 'stock' || d == null) return requireStockKernel(tf.BatchMatMul).kernelFunc(args) as tf.TensorInfo;
  return withScope(args.backend, (scope) => product(scope, route, a, b, tA, tB, d));
}

/**
 * Products the stock kernels get wrong, or `null`: an empty output (a batch, M or N of 0) is returned
 * empty — against an un-batched operand the stock kernel traps ("remainder by zero") — and a product
 * over K = 0 is zeros, then `epilogue` (a fused product's bias and activation), as on cpu: the stock
 * kernels leave that output unwritten. Costs one size check when the product is not empty.
 */
function emptyProduct(
  args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend },
  d: MatMulDims,
  epilogue: (scope: KernelScope, y: tf.TensorInfo) => tf.TensorInfo,
): tf.TensorInfo | null {
  const shape = outShape(input(args.inputs, 'a'), input(args.inputs, 'b'), d);
  const emptyOutput = tf.util.sizeFromShape(shape) === 0;
  if (!emptyOutput && d.k > 0) return null;
  return withScope(args.backend, (scope) => {
    if (emptyOutput) return scope.output(shape);
    return epilogue(scope, scope.run(tf.Fill, {}, { shape, value: 0, dtype: 'float32' }));
  });
}

/** The activation of a fused kernel as separate wasm kernels. */
function activate(
  scope: KernelScope,
  x: tf.TensorInfo,
  activation: string,
  preluWeights: tf.TensorInfo | undefined,
  leakyreluAlpha: number,
): tf.TensorInfo {
  switch (activation) {
    case 'linear':
      return x;
    case 'relu':
      return scope.run(tf.Relu, { x });
    case 'relu6':
      return scope.run(tf.Relu6, { x });
    case 'elu':
      return scope.run(tf.Elu, { x });
    case 'sigmoid':
      return scope.run(tf.Sigmoid, { x });
    case 'leakyrelu':
      return scope.run(tf.LeakyRelu, { x }, { alpha: leakyreluAlpha });
    case 'prelu':
      if (preluWeights == null)
        throw new Error('@phalanx/wasm-training _FusedMatMul: prelu needs preluActivationWeights.');
      return scope.run(tf.Prelu, { x, alpha: preluWeights });
    default:
      throw new Error(`@phalanx/wasm-training _FusedMatMul: unsupported activation '${activation}'.`);
  }
}

/**
 * `_FusedMatMul` for wasm, replacing the backend's kernel: activation(op(A)·op(B) + bias) with the
 * routes of {@link batchMatMul}. The stock fused kernel is used only where it runs on XNNPACK (no
 * flags, no batch, or a `'fold'` product) with a bias of size N; otherwise the product, the bias
 * `Add` and the activation run as separate wasm kernels, because the stock scalar loop (used for
 * every transposed or batched product) is wrong with a bias or relu/relu6: it adds the bias and
 * clamps once per block of 48 along K (so partial sums are clamped), and gives every row after the
 * first `bias[N−1]`; its XNNPACK path also reads N values from a bias of size 1.
 *
 * **Shapes**: as {@link batchMatMul}; `bias` broadcastable to the output, `preluActivationWeights`
 * of size N (or 1).
 */
export function fusedMatMul(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs: tf.NamedAttrMap;
}): tf.TensorInfo {
  const a = input(args.inputs, 'a');
  const b = input(args.inputs, 'b');
  const bias = args.inputs.bias as tf.TensorInfo | undefined;
  const preluWeights = args.inputs.preluActivationWeights as tf.TensorInfo | undefined;
  const { transposeA, transposeB, activation, leakyreluAlpha } = args.attrs as unknown as tf._FusedMatMulAttrs;
  const tA = transposeA === true;
  const tB = transposeB === true;
  const d = matMulDims(a.shape, b.shape, tA, tB);
  const stock = requireStockKernel(tf._FusedMatMul);
  if (d == null || a.dtype !== 'float32' || b.dtype !== 'float32') return stock.kernelFunc(args) as tf.TensorInfo;
  const empty = emptyProduct(args, d, (scope, y) => {
    const biased = bias != null ? scope.run(tf.Add, { a: y, b: bias }) : y;
    return activate(scope, biased, activation, preluWeights, leakyreluAlpha ?? 0);
  });
  if (empty != null) return empty;
  const route = matMulRoute(a.shape, b.shape, tA, tB);
  const biasPerColumn = bias == null || (bias.shape.length === 1 && bias.shape[0] === d.n);
  const onXnnpack = !tA && !tB && d.batchA === 1 && d.batchB === 1;
  if (onXnnpack && biasPerColumn) return stock.kernelFunc(args) as tf.TensorInfo;
  return withScope(args.backend, (scope) => {
    if (route === 'fold' && biasPerColumn) {
      const extra: tf.NamedTensorInfoMap = {};
      if (bias != null) extra.bias = bias;
      if (preluWeights != null) extra.preluActivationWeights = preluWeights;
      const out = fold(scope, tf._FusedMatMul, a, b, tA, tB, d, extra, {
        activation,
        leakyreluAlpha,
      } as unknown as tf.NamedAttrMap);
      return scope.reshape(out, outShape(a, b, d));
    }
    const simd = usesSimdProduct(a.shape, b.shape, tA, tB) ? simdKernels(args.backend) : null;
    let y = simd != null ? simdProduct(scope, simd, a, b, tA, tB, d) : product(scope, route, a, b, tA, tB, d);
    if (bias != null) y = scope.run(tf.Add, { a: y, b: bias });
    return activate(scope, y, activation, preluWeights, leakyreluAlpha ?? 0);
  });
}

/** Binds the stock kernel's wasm function (its setup) when the backend starts with ours registered. */
function setupStock(name: string): tf.KernelSetupFunc {
  return (backend) => stockKernel(name)?.setupFunc?.(backend);
}

/** Replacement of the wasm backend's `BatchMatMul` (see {@link batchMatMul}). */
export const batchMatMulConfig: tf.KernelConfig = {
  kernelName: tf.BatchMatMul,
  backendName: WASM,
  kernelFunc: batchMatMul as unknown as tf.KernelFunc,
  setupFunc: setupStock(tf.BatchMatMul),
};

/** Replacement of the wasm backend's `_FusedMatMul` (see {@link fusedMatMul}). */
export const fusedMatMulConfig: tf.KernelConfig = {
  kernelName: tf._FusedMatMul,
  backendName: WASM,
  kernelFunc: fusedMatMul as unknown as tf.KernelFunc,
  setupFunc: setupStock(tf._FusedMatMul),
};
