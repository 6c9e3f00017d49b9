import * as tf from '@tensorflow/tfjs-core';
import { PhalanxShapeError } from '@phalanx/errors';
import { input, type KernelScope, withScope } from './kernel-scope';
import { pointer, simdKernels } from './simd';

/** The component named in this kernel's errors. */
const KERNEL = '@phalanx/wasm-training MaxPoolGrad';

/** What the fallback route needs of tfjs-backend-wasm 4.22's `BackendWasm`: views of its heap. */
interface HeapBackend {
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** A max pool's geometry, NHWC: input `n × h × w × c`, output `oh × ow`, windows `fh × fw` at strides `sh, sw`. */
interface PoolGeometry {
  n: number;
  h: number;
  w: number;
  c: number;
  oh: number;
  ow: number;
  fh: number;
  fw: number;
  sh: number;
  sw: number;
  padTop: number;
  padLeft: number;
}

/**
 * `MaxPoolGrad` for wasm, replacing the backend's kernel: in tfjs-backend-wasm 4.22 it (and
 * `MaxPoolWithArgmax`) starts each window's maximum at FLT_MIN (the smallest *positive* float), so
 * windows whose values are all ≤ 0 get no gradient (or a wrong one).
 *
 * Here `dx = 0`, then each `dy[b, oy, ox, ch]` is added at the maximum of its window over `x`, taps
 * outside the input skipped, the first tap in row-major window order winning ties (TensorFlow's rule:
 * a later tap replaces the candidate only when strictly greater). As in tfjs's cpu kernel, a NaN tap is
 * never the maximum and a window with no value above −∞ (all NaN or −∞) passes its gradient nowhere. One pass of the package's SIMD module
 * (4 channels per lane group; ≈ 6 ms for `[16, 32, 32, 64]` 2×2/2 on one thread, against ≈ 30 ms for
 * the earlier `MaxPoolWithArgmax` + `ScatterNd` route), or the same loop in JavaScript over the heap
 * where the module cannot run.
 *
 * **Shapes**: `x: [N, H, W, C]`, `dy: [N, H', W', C]` → `[N, H, W, C]`.
 */
export function maxPoolGrad(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs: tf.NamedAttrMap;
}): tf.TensorInfo {
  const dy = input(args.inputs, 'dy');
  const x = input(args.inputs, 'input');
  const attrs = args.attrs as unknown as tf.MaxPoolGradAttrs;
  for (const [name, t] of [
    ['input', x],
    ['dy', dy],
  ] as const) {
    if (t.dtype !== 'float32') throw new PhalanxShapeError(KERNEL, name, 'float32', t.dtype);
  }
  const g = poolGeometry(x, dy, attrs);
  return withScope(args.backend, (scope) => {
    const dx = scope.output(x.shape);
    const simd = simdKernels(scope.backend);
    if (simd != null) {
      const ptr = (t: tf.TensorInfo) => pointer(scope.backend, t);
      const { n, h, w, c, oh, ow, fh, fw, sh, sw, padTop, padLeft } = g;
      simd.maxPoolGrad(ptr(x), ptr(dy), n, h, w, c, oh, ow, fh, fw, sh, sw, padTop, padLeft, ptr(dx));
    } else {
      maxPoolGradOnHeap(scope, x, dy, dx, g);
    }
    return dx;
  });
}

/** The pool's geometry from the attributes; throws a clear error when `dy` is not the pool's output shape. */
function poolGeometry(x: tf.TensorInfo, dy: tf.TensorInfo, attrs: tf.MaxPoolGradAttrs): PoolGeometry {
  if (x.shape.length !== 4) throw new PhalanxShapeError(KERNEL, 'input', 'of rank 4 [N, H, W, C]', x.shape);
  const [n, h, w, c] = x.shape;
  const info = tf.backend_util.computePool2DInfo(
    [n, h, w, c],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const expected = [n, info.outHeight, info.outWidth, c];
  if (dy.shape.length !== 4 || dy.shape.some((d, i) => d !== expected[i])) {
    throw new PhalanxShapeError(KERNEL, 'dy', `of shape [${expected.join(', ')}] (the pool's output)`, dy.shape);
  }
  return {
    n,
    h,
    w,
    c,
    oh: info.outHeight,
    ow: info.outWidth,
    fh: info.filterHeight,
    fw: info.filterWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

/** The SIMD kernel's loop in JavaScript, on views of the wasm heap (runtimes without wasm SIMD). */
function maxPoolGradOnHeap(
  scope: KernelScope,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  dx: tf.TensorInfo,
  g: PoolGeometry,
): void {
  const heap = scope.backend as unknown as HeapBackend;
  const [xs, dys, dxs] = [x, dy, dx].map((t) => heap.typedArrayFromHeap(t) as Float32Array);
  const { n, h, w, c, oh, ow, fh, fw, sh, sw, padTop, padLeft } = g;
  dxs.fill(0);
  let o = 0;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      const [y0, y1] = [Math.max(oy * sh - padTop, 0), Math.min(oy * sh - padTop + fh, h)];
      for (let ox = 0; ox < ow; ox++, o += c) {
        const [x0, x1] = [Math.max(ox * sw - padLeft, 0), Math.min(ox * sw - padLeft + fw, w)];
        if (y0 >= y1 || x0 >= x1) continue;
        for (let ch = 0; ch < c; ch++) {
          let [best, at] = [-Infinity, -1]; // as the cpu kernel: NaN never wins; no gradient without a value > −∞
          for (let iy = y0; iy < y1; iy++) {
            for (let ix = x0; ix < x1; ix++) {
              const tap = ((b * h + iy) * w + ix) * c;
              if (xs[tap + ch] > best) [best, at] = [xs[tap + ch], tap];
            }
          }
          if (at >= 0) dxs[at + ch] += dys[o + ch];
        }
      }
    }
  }
}
