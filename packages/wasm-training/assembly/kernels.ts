// SIMD kernels of @phalanx/wasm-training, in AssemblyScript. They run inside the wasm backend's own
// memory (imported), on buffers the backend allocated: every pointer is a byte offset into that memory.
// No allocation, no static data: the module writes nothing at instantiation.
// Build: `pnpm --filter @phalanx/wasm-training build:simd` (writes src/generated/simd-binary.ts).

/** K is swept in blocks of this many steps so that a block of B stays in cache across row tiles. */
const KC: i32 = 256;

// ---------------------------------------------------------------------------------------------------
// GEMM: C[i, j] (+)= Σ_k A(i, k) · B[k, j]
// A(i, k) lives at a + i·ars + k·acs (byte strides: row-major A has ars = 4K, acs = 4; a transposed
// A has ars = 4, acs = 4M). B is row-major with unit column stride and rows `ldb` bytes apart; C rows
// are `ldc` bytes apart. `init` starts the tile from zero instead of C.

function start(c: usize, off: usize, init: bool): v128 {
  return init ? f32x4.splat(0) : v128.load(c + off);
}

function tile4x8(
  a: usize,
  ars: usize,
  acs: usize,
  b: usize,
  ldb: usize,
  c: usize,
  ldc: usize,
  kc: i32,
  init: bool,
): void {
  let c0a = start(c, 0, init);
  let c0b = start(c, 16, init);
  let c1a = start(c + ldc, 0, init);
  let c1b = start(c + ldc, 16, init);
  let c2a = start(c + 2 * ldc, 0, init);
  let c2b = start(c + 2 * ldc, 16, init);
  let c3a = start(c + 3 * ldc, 0, init);
  let c3b = start(c + 3 * ldc, 16, init);
  let pa = a;
  let pb = b;
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    const a0 = f32x4.splat(load<f32>(pa));
    const a1 = f32x4.splat(load<f32>(pa + ars));
    const a2 = f32x4.splat(load<f32>(pa + 2 * ars));
    const a3 = f32x4.splat(load<f32>(pa + 3 * ars));
    c0a = f32x4.add(c0a, f32x4.mul(a0, b0));
    c0b = f32x4.add(c0b, f32x4.mul(a0, b1));
    c1a = f32x4.add(c1a, f32x4.mul(a1, b0));
    c1b = f32x4.add(c1b, f32x4.mul(a1, b1));
    c2a = f32x4.add(c2a, f32x4.mul(a2, b0));
    c2b = f32x4.add(c2b, f32x4.mul(a2, b1));
    c3a = f32x4.add(c3a, f32x4.mul(a3, b0));
    c3b = f32x4.add(c3b, f32x4.mul(a3, b1));
    pa += acs;
    pb += ldb;
  }
  v128.store(c, c0a);
  v128.store(c, c0b, 16);
  v128.store(c + ldc, c1a);
  v128.store(c + ldc, c1b, 16);
  v128.store(c + 2 * ldc, c2a);
  v128.store(c + 2 * ldc, c2b, 16);
  v128.store(c + 3 * ldc, c3a);
  v128.store(c + 3 * ldc, c3b, 16);
}

function tile4x4(
  a: usize,
  ars: usize,
  acs: usize,
  b: usize,
  ldb: usize,
  c: usize,
  ldc: usize,
  kc: i32,
  init: bool,
): void {
  let c0 = start(c, 0, init);
  let c1 = start(c + ldc, 0, init);
  let c2 = start(c + 2 * ldc, 0, init);
  let c3 = start(c + 3 * ldc, 0, init);
  let pa = a;
  let pb = b;
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(pb);
    c0 = f32x4.add(c0, f32x4.mul(f32x4.splat(load<f32>(pa)), b0));
    c1 = f32x4.add(c1, f32x4.mul(f32x4.splat(load<f32>(pa + ars)), b0));
    c2 = f32x4.add(c2, f32x4.mul(f32x4.splat(load<f32>(pa + 2 * ars)), b0));
    c3 = f32x4.add(c3, f32x4.mul(f32x4.splat(load<f32>(pa + 3 * ars)), b0));
    pa += acs;
    pb += ldb;
  }
  v128.store(c, c0);
  v128.store(c + ldc, c1);
  v128.store(c + 2 * ldc, c2);
  v128.store(c + 3 * ldc, c3);
}

function tile1x8(a: usize, acs: usize, b: usize, ldb: usize, c: usize, kc: i32, init: bool): void {
  let ca = start(c, 0, init);
  let cb = start(c, 16, init);
  let pa = a;
  let pb = b;
  for (let k = 0; k < kc; k++) {
    const a0 = f32x4.splat(load<f32>(pa));
    ca = f32x4.add(ca, f32x4.mul(a0, v128.load(pb)));
    cb = f32x4.add(cb, f32x4.mul(a0, v128.load(pb, 16)));
    pa += acs;
    pb += ldb;
  }
  v128.store(c, ca);
  v128.store(c, cb, 16);
}

function tile1x4(a: usize, acs: usize, b: usize, ldb: usize, c: usize, kc: i32, init: bool): void {
  let c0 = start(c, 0, init);
  let pa = a;
  let pb = b;
  for (let k = 0; k < kc; k++) {
    c0 = f32x4.add(c0, f32x4.mul(f32x4.splat(load<f32>(pa)), v128.load(pb)));
    pa += acs;
    pb += ldb;
  }
  v128.store(c, c0);
}

function tile1x1(a: usize, acs: usize, b: usize, ldb: usize, c: usize, kc: i32, init: bool): void {
  let s: f32 = init ? 0 : load<f32>(c);
  let pa = a;
  let pb = b;
  for (let k = 0; k < kc; k++) {
    s += load<f32>(pa) * load<f32>(pb);
    pa += acs;
    pb += ldb;
  }
  store<f32>(c, s);
}

/** One block of kc steps of K for all of C (m × n). */
function gemmBlock(
  a: usize,
  ars: usize,
  acs: usize,
  b: usize,
  ldb: usize,
  c: usize,
  ldc: usize,
  m: i32,
  n: i32,
  kc: i32,
  init: bool,
): void {
  let i = 0;
  for (; i + 4 <= m; i += 4) {
    const ai = a + <usize>i * ars;
    const ci = c + <usize>i * ldc;
    let j = 0;
    for (; j + 8 <= n; j += 8) tile4x8(ai, ars, acs, b + ((<usize>j) << 2), ldb, ci + ((<usize>j) << 2), ldc, kc, init);
    for (; j + 4 <= n; j += 4) tile4x4(ai, ars, acs, b + ((<usize>j) << 2), ldb, ci + ((<usize>j) << 2), ldc, kc, init);
    for (; j < n; j++) {
      for (let r = 0; r < 4; r++) {
        tile1x1(
          ai + <usize>r * ars,
          acs,
          b + ((<usize>j) << 2),
          ldb,
          ci + <usize>r * ldc + ((<usize>j) << 2),
          kc,
          init,
        );
      }
    }
  }
  for (; i < m; i++) {
    const ai = a + <usize>i * ars;
    const ci = c + <usize>i * ldc;
    let j = 0;
    for (; j + 8 <= n; j += 8) tile1x8(ai, acs, b + ((<usize>j) << 2), ldb, ci + ((<usize>j) << 2), kc, init);
    for (; j + 4 <= n; j += 4) tile1x4(ai, acs, b + ((<usize>j) << 2), ldb, ci + ((<usize>j) << 2), kc, init);
    for (; j < n; j++) tile1x1(ai, acs, b + ((<usize>j) << 2), ldb, ci + ((<usize>j) << 2), kc, init);
  }
}

/**
 * `batch` products C_t (+)= A_t · B_t, t = 0 … batch−1, each m × n with inner size k; the operands of
 * product t start `t·aStride`, `t·bStride`, `t·cStride` bytes after a, b, c (a stride of 0 repeats an
 * operand: broadcasting). A(i, k) at a + i·ars + k·acs; B rows `ldb` bytes apart (unit columns); C rows
 * `ldc` bytes apart. `accumulate` ≠ 0 adds to C instead of overwriting it. All strides in bytes.
 */
export function gemm(
  batch: i32,
  a: usize,
  aStride: usize,
  ars: usize,
  acs: usize,
  b: usize,
  bStride: usize,
  ldb: usize,
  c: usize,
  cStride: usize,
  ldc: usize,
  m: i32,
  n: i32,
  k: i32,
  accumulate: i32,
): void {
  for (let t = 0; t < batch; t++) {
    const at = a + <usize>t * aStride;
    const bt = b + <usize>t * bStride;
    const ct = c + <usize>t * cStride;
    if (k == 0) {
      if (accumulate == 0) for (let i = 0; i < m; i++) memory.fill(ct + <usize>i * ldc, 0, (<usize>n) << 2);
      continue;
    }
    for (let k0 = 0; k0 < k; k0 += KC) {
      const kc = min(KC, k - k0);
      gemmBlock(
        at + <usize>k0 * acs,
        ars,
        acs,
        bt + <usize>k0 * ldb,
        ldb,
        ct,
        ldc,
        m,
        n,
        kc,
        accumulate == 0 && k0 == 0,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Transpose: dst_t[c][r] = src_t[r][c] for `batch` row-major rows × cols matrices, in 32 × 32 tiles of
// 4 × 4 SIMD blocks.

function block4(src: usize, cols: usize, dst: usize, rows: usize): void {
  const r0 = v128.load(src);
  const r1 = v128.load(src + (cols << 2));
  const r2 = v128.load(src + (cols << 3));
  const r3 = v128.load(src + 3 * (cols << 2));
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
  const t1 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
  const t2 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
  const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  v128.store(dst, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
  v128.store(dst + (rows << 2), v128.shuffle<f32>(t0, t2, 2, 3, 6, 7));
  v128.store(dst + (rows << 3), v128.shuffle<f32>(t1, t3, 0, 1, 4, 5));
  v128.store(dst + 3 * (rows << 2), v128.shuffle<f32>(t1, t3, 2, 3, 6, 7));
}

function transposeOne(src: usize, rows: i32, cols: i32, dst: usize): void {
  const R = <usize>rows;
  const C = <usize>cols;
  for (let r0 = 0; r0 < rows; r0 += 32) {
    const r1 = min(r0 + 32, rows);
    for (let c0 = 0; c0 < cols; c0 += 32) {
      const c1 = min(c0 + 32, cols);
      let r = r0;
      for (; r + 4 <= r1; r += 4) {
        let c = c0;
        for (; c + 4 <= c1; c += 4)
          block4(src + ((<usize>r * C + <usize>c) << 2), C, dst + ((<usize>c * R + <usize>r) << 2), R);
        for (; c < c1; c++) {
          for (let q = r; q < r + 4; q++)
            store<f32>(dst + ((<usize>c * R + <usize>q) << 2), load<f32>(src + ((<usize>q * C + <usize>c) << 2)));
        }
      }
      for (; r < r1; r++) {
        for (let c = c0; c < c1; c++)
          store<f32>(dst + ((<usize>c * R + <usize>r) << 2), load<f32>(src + ((<usize>r * C + <usize>c) << 2)));
      }
    }
  }
}

/** `batch` transposes of row-major rows × cols 4-byte matrices, src_t and dst_t `rows·cols·4` bytes apart. */
export function transpose(batch: i32, src: usize, rows: i32, cols: i32, dst: usize): void {
  const size = (<usize>rows * <usize>cols) << 2;
  for (let t = 0; t < batch; t++) transposeOne(src + <usize>t * size, rows, cols, dst + <usize>t * size);
}

// ---------------------------------------------------------------------------------------------------
// Column sums: dst_t[c] = Σ_r src_t[r][c] for `batch` row-major rows × cols float32 matrices (a sum over a
// leading axis, e.g. a bias gradient), 16 columns at a time, summed in row order.

export function sumRows(batch: i32, src: usize, rows: i32, cols: i32, dst: usize): void {
  const C = (<usize>cols) << 2;
  for (let t = 0; t < batch; t++) {
    const s = src + <usize>t * <usize>rows * C;
    const d = dst + <usize>t * C;
    let c = 0;
    for (; c + 16 <= cols; c += 16) {
      let s0 = f32x4.splat(0);
      let s1 = f32x4.splat(0);
      let s2 = f32x4.splat(0);
      let s3 = f32x4.splat(0);
      let p = s + ((<usize>c) << 2);
      for (let r = 0; r < rows; r++) {
        s0 = f32x4.add(s0, v128.load(p));
        s1 = f32x4.add(s1, v128.load(p, 16));
        s2 = f32x4.add(s2, v128.load(p, 32));
        s3 = f32x4.add(s3, v128.load(p, 48));
        p += C;
      }
      const q = d + ((<usize>c) << 2);
      v128.store(q, s0);
      v128.store(q, s1, 16);
      v128.store(q, s2, 32);
      v128.store(q, s3, 48);
    }
    for (; c + 4 <= cols; c += 4) {
      let s0 = f32x4.splat(0);
      let p = s + ((<usize>c) << 2);
      for (let r = 0; r < rows; r++) {
        s0 = f32x4.add(s0, v128.load(p));
        p += C;
      }
      v128.store(d + ((<usize>c) << 2), s0);
    }
    for (; c < cols; c++) {
      let acc: f32 = 0;
      let p = s + ((<usize>c) << 2);
      for (let r = 0; r < rows; r++) {
        acc += load<f32>(p);
        p += C;
      }
      store<f32>(d + ((<usize>c) << 2), acc);
    }
  }
}
