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

/** Copies `bytes` (a multiple of 4) from s to d, 16 at a time. */
function copyBlock(s: usize, d: usize, bytes: usize): void {
  let i: usize = 0;
  for (; i + 16 <= bytes; i += 16) v128.store(d + i, v128.load(s + i));
  for (; i < bytes; i += 4) store<u32>(d + i, load<u32>(s + i));
}

/**
 * `batch` transposes of row-major rows × cols matrices whose elements are blocks of `inner` 4-byte values
 * (a transpose that keeps the innermost axis, e.g. `[G, N, C] → [N, G, C]`): each block is copied whole.
 */
export function transposeBlocks(batch: i32, src: usize, rows: i32, cols: i32, inner: i32, dst: usize): void {
  const block = (<usize>inner) << 2;
  const R = <usize>rows;
  const C = <usize>cols;
  const size = R * C * block;
  for (let t = 0; t < batch; t++) {
    const s = src + <usize>t * size;
    const d = dst + <usize>t * size;
    // The inner loop runs over the shorter axis, so one side is read or written sequentially and the other
    // as that many sequential streams: ≈ 3× faster than the other order for [3, 32768, 32] ↔ [32768, 3, 32].
    if (R <= C) {
      for (let c: usize = 0; c < C; c++) {
        for (let r: usize = 0; r < R; r++) copyBlock(s + (r * C + c) * block, d + (c * R + r) * block, block);
      }
    } else {
      for (let r: usize = 0; r < R; r++) {
        for (let c: usize = 0; c < C; c++) copyBlock(s + (r * C + c) * block, d + (c * R + r) * block, block);
      }
    }
  }
}

/**
 * `rows` copies of `width` 4-byte elements, from rows of src `srcStride` elements apart to rows of dst
 * `dstStride` apart (a slice or a concatenation along an inner axis).
 */
export function copyRows(rows: i32, src: usize, srcStride: i32, dst: usize, dstStride: i32, width: i32): void {
  const bytes = (<usize>width) << 2;
  const S = (<usize>srcStride) << 2;
  const D = (<usize>dstStride) << 2;
  for (let r: usize = 0; r < <usize>rows; r++) copyBlock(src + r * S, dst + r * D, bytes);
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

// ---------------------------------------------------------------------------------------------------
// Winograd F(2×2, 3×3) transforms (Lavin & Gray). Tile t = (b·th + i)·tw + j covers output rows 2i, 2i+1
// and columns 2j, 2j+1, and input rows 2i … 2i+3, columns 2j … 2j+3 of the padded input. The 16
// transformed values of a tile are stored as [16, T, channels] so that each of the 16 products is one
// GEMM. Channels are processed 4 at a time (channel counts must be multiples of 4).

/**
 * V = Bᵀ d B of the 4 × 4 input tiles in tile rows `r0 ≤ b·th + i < r1`: xp [n, hp, wp, c]
 * (hp ≥ 2·th + 2, wp ≥ 2·tw + 2) → v [16, T, c] (a range of rows, so that threads can share the work).
 */
export function winogradInput(
  xp: usize,
  n: i32,
  hp: i32,
  wp: i32,
  c: i32,
  th: i32,
  tw: i32,
  v: usize,
  r0: i32,
  r1: i32,
): void {
  const C = (<usize>c) << 2;
  const row = <usize>wp * C;
  const plane = <usize>n * <usize>th * <usize>tw * C; // bytes of one of the 16 slices
  for (let r = r0; r < r1; r++) {
    const b = r / th;
    const i = r % th;
    let t = <usize>r * <usize>tw;
    for (let j = 0; j < tw; j++) {
      const base = xp + (<usize>b * <usize>hp + 2 * <usize>i) * row + 2 * <usize>j * C;
      const out = v + t * C;
      for (let cc: usize = 0; cc < C; cc += 16) {
        const p = base + cc;
        // Bᵀ d: rows r0 − r2, r1 + r2, r2 − r1, r1 − r3 (per column q).
        const d00 = v128.load(p),
          d01 = v128.load(p + C),
          d02 = v128.load(p + 2 * C),
          d03 = v128.load(p + 3 * C);
        const d10 = v128.load(p + row),
          d11 = v128.load(p + row + C),
          d12 = v128.load(p + row + 2 * C),
          d13 = v128.load(p + row + 3 * C);
        const d20 = v128.load(p + 2 * row),
          d21 = v128.load(p + 2 * row + C),
          d22 = v128.load(p + 2 * row + 2 * C),
          d23 = v128.load(p + 2 * row + 3 * C);
        const d30 = v128.load(p + 3 * row),
          d31 = v128.load(p + 3 * row + C),
          d32 = v128.load(p + 3 * row + 2 * C),
          d33 = v128.load(p + 3 * row + 3 * C);
        const t00 = f32x4.sub(d00, d20),
          t01 = f32x4.sub(d01, d21),
          t02 = f32x4.sub(d02, d22),
          t03 = f32x4.sub(d03, d23);
        const t10 = f32x4.add(d10, d20),
          t11 = f32x4.add(d11, d21),
          t12 = f32x4.add(d12, d22),
          t13 = f32x4.add(d13, d23);
        const t20 = f32x4.sub(d20, d10),
          t21 = f32x4.sub(d21, d11),
          t22 = f32x4.sub(d22, d12),
          t23 = f32x4.sub(d23, d13);
        const t30 = f32x4.sub(d10, d30),
          t31 = f32x4.sub(d11, d31),
          t32 = f32x4.sub(d12, d32),
          t33 = f32x4.sub(d13, d33);
        // (Bᵀ d) B: columns q0 − q2, q1 + q2, q2 − q1, q1 − q3 (per row r).
        const o = out + cc;
        v128.store(o, f32x4.sub(t00, t02));
        v128.store(o + plane, f32x4.add(t01, t02));
        v128.store(o + 2 * plane, f32x4.sub(t02, t01));
        v128.store(o + 3 * plane, f32x4.sub(t01, t03));
        v128.store(o + 4 * plane, f32x4.sub(t10, t12));
        v128.store(o + 5 * plane, f32x4.add(t11, t12));
        v128.store(o + 6 * plane, f32x4.sub(t12, t11));
        v128.store(o + 7 * plane, f32x4.sub(t11, t13));
        v128.store(o + 8 * plane, f32x4.sub(t20, t22));
        v128.store(o + 9 * plane, f32x4.add(t21, t22));
        v128.store(o + 10 * plane, f32x4.sub(t22, t21));
        v128.store(o + 11 * plane, f32x4.sub(t21, t23));
        v128.store(o + 12 * plane, f32x4.sub(t30, t32));
        v128.store(o + 13 * plane, f32x4.add(t31, t32));
        v128.store(o + 14 * plane, f32x4.sub(t32, t31));
        v128.store(o + 15 * plane, f32x4.sub(t31, t33));
      }
      t++;
    }
  }
}

/**
 * Y = Aᵀ m A of the tiles in tile rows `r0 ≤ b·th + i < r1`: m [16, T, k] → y [n, ho, wo, k] (the 2 × 2
 * outputs inside ho × wo), plus `bias [k]` when `bias` ≠ 0, then max(·, 0) when `relu` ≠ 0 (a forward
 * convolution's epilogue).
 */
export function winogradOutput(
  m: usize,
  n: i32,
  th: i32,
  tw: i32,
  k: i32,
  ho: i32,
  wo: i32,
  y: usize,
  bias: usize,
  relu: i32,
  r0: i32,
  r1: i32,
): void {
  const K = (<usize>k) << 2;
  const plane = <usize>n * <usize>th * <usize>tw * K;
  const row = <usize>wo * K;
  const zeros = f32x4.splat(0);
  for (let r = r0; r < r1; r++) {
    const b = r / th;
    const i = r % th;
    let t = <usize>r * <usize>tw;
    for (let j = 0; j < tw; j++) {
      const src = m + t * K;
      const base = y + (<usize>b * <usize>ho + 2 * <usize>i) * row + 2 * <usize>j * K;
      const down = 2 * i + 1 < ho;
      const right = 2 * j + 1 < wo;
      for (let kk: usize = 0; kk < K; kk += 16) {
        const p = src + kk;
        const m00 = v128.load(p),
          m01 = v128.load(p + plane),
          m02 = v128.load(p + 2 * plane),
          m03 = v128.load(p + 3 * plane);
        const m10 = v128.load(p + 4 * plane),
          m11 = v128.load(p + 5 * plane),
          m12 = v128.load(p + 6 * plane),
          m13 = v128.load(p + 7 * plane);
        const m20 = v128.load(p + 8 * plane),
          m21 = v128.load(p + 9 * plane),
          m22 = v128.load(p + 10 * plane),
          m23 = v128.load(p + 11 * plane);
        const m30 = v128.load(p + 12 * plane),
          m31 = v128.load(p + 13 * plane),
          m32 = v128.load(p + 14 * plane),
          m33 = v128.load(p + 15 * plane);
        // Aᵀ m: rows r0 + r1 + r2 and r1 − r2 − r3.
        const s00 = f32x4.add(f32x4.add(m00, m10), m20),
          s01 = f32x4.add(f32x4.add(m01, m11), m21);
        const s02 = f32x4.add(f32x4.add(m02, m12), m22),
          s03 = f32x4.add(f32x4.add(m03, m13), m23);
        const s10 = f32x4.sub(f32x4.sub(m10, m20), m30),
          s11 = f32x4.sub(f32x4.sub(m11, m21), m31);
        const s12 = f32x4.sub(f32x4.sub(m12, m22), m32),
          s13 = f32x4.sub(f32x4.sub(m13, m23), m33);
        let y00 = f32x4.add(f32x4.add(s00, s01), s02),
          y01 = f32x4.sub(f32x4.sub(s01, s02), s03);
        let y10 = f32x4.add(f32x4.add(s10, s11), s12),
          y11 = f32x4.sub(f32x4.sub(s11, s12), s13);
        if (bias != 0) {
          const b = v128.load(bias + kk);
          y00 = f32x4.add(y00, b);
          y01 = f32x4.add(y01, b);
          y10 = f32x4.add(y10, b);
          y11 = f32x4.add(y11, b);
        }
        if (relu != 0) {
          y00 = f32x4.max(y00, zeros);
          y01 = f32x4.max(y01, zeros);
          y10 = f32x4.max(y10, zeros);
          y11 = f32x4.max(y11, zeros);
        }
        const q = base + kk;
        v128.store(q, y00);
        if (right) v128.store(q + K, y01);
        if (down) {
          v128.store(q + row, y10);
          if (right) v128.store(q + row + K, y11);
        }
      }
      t++;
    }
  }
}

/**
 * The transpose of {@link winogradOutput} (for the filter gradient): dm = A dy Aᵀ of every 2 × 2 tile of
 * dy [n, ho, wo, k] (zero outside ho × wo) → dm [16, T, k].
 */
export function winogradOutputGrad(dy: usize, n: i32, th: i32, tw: i32, k: i32, ho: i32, wo: i32, dm: usize): void {
  const K = (<usize>k) << 2;
  const plane = <usize>n * <usize>th * <usize>tw * K;
  const row = <usize>wo * K;
  const zero = f32x4.splat(0);
  let t: usize = 0;
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < th; i++) {
      for (let j = 0; j < tw; j++) {
        const base = dy + (<usize>b * <usize>ho + 2 * <usize>i) * row + 2 * <usize>j * K;
        const down = 2 * i + 1 < ho;
        const right = 2 * j + 1 < wo;
        const out = dm + t * K;
        for (let kk: usize = 0; kk < K; kk += 16) {
          const q = base + kk;
          const y00 = v128.load(q);
          const y01 = right ? v128.load(q + K) : zero;
          const y10 = down ? v128.load(q + row) : zero;
          const y11 = down && right ? v128.load(q + row + K) : zero;
          // A y: rows y0, y0 + y1, y0 − y1, −y1 (per column); then the same on columns.
          const r00 = y00,
            r01 = y01;
          const r10 = f32x4.add(y00, y10),
            r11 = f32x4.add(y01, y11);
          const r20 = f32x4.sub(y00, y10),
            r21 = f32x4.sub(y01, y11);
          const r30 = f32x4.neg(y10),
            r31 = f32x4.neg(y11);
          const o = out + kk;
          v128.store(o, r00);
          v128.store(o + plane, f32x4.add(r00, r01));
          v128.store(o + 2 * plane, f32x4.sub(r00, r01));
          v128.store(o + 3 * plane, f32x4.neg(r01));
          v128.store(o + 4 * plane, r10);
          v128.store(o + 5 * plane, f32x4.add(r10, r11));
          v128.store(o + 6 * plane, f32x4.sub(r10, r11));
          v128.store(o + 7 * plane, f32x4.neg(r11));
          v128.store(o + 8 * plane, r20);
          v128.store(o + 9 * plane, f32x4.add(r20, r21));
          v128.store(o + 10 * plane, f32x4.sub(r20, r21));
          v128.store(o + 11 * plane, f32x4.neg(r21));
          v128.store(o + 12 * plane, r30);
          v128.store(o + 13 * plane, f32x4.add(r30, r31));
          v128.store(o + 14 * plane, f32x4.sub(r30, r31));
          v128.store(o + 15 * plane, f32x4.neg(r31));
        }
        t++;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Winograd F(4×4, 3×3) (Lavin & Gray; interpolation points 0, ±1, ±2, ∞): tile t = (b·th + i)·tw + j covers
// output rows 4i … 4i+3 and columns 4j … 4j+3, and input rows 4i … 4i+5, columns 4j … 4j+5 of the padded
// input. The 36 transformed values of a tile are stored as [36, T, channels] (index u·6 + w), so each of the
// 36 products is one GEMM: 4× fewer multiply-adds than the direct method (F(2×2, 3×3): 2.25×). The
// transforms are unrolled: Bᵀ and Aᵀ applied to the columns, then to the rows, 4 channels per vector.

/**
 * V = Bᵀ d B of the 6 × 6 input tiles in tile rows `r0 ≤ b·th + i < r1`: xp [n, hp, wp, c]
 * (hp ≥ 4·th + 2, wp ≥ 4·tw + 2) → v [36, T, c].
 */
export function winograd4Input(
  xp: usize,
  n: i32,
  hp: i32,
  wp: i32,
  c: i32,
  th: i32,
  tw: i32,
  v: usize,
  r0: i32,
  r1: i32,
): void {
  const C = (<usize>c) << 2;
  const row = <usize>wp * C;
  const plane = <usize>n * <usize>th * <usize>tw * C; // bytes of one of the 36 slices
  const c2 = f32x4.splat(2),
    c4 = f32x4.splat(4),
    c5 = f32x4.splat(5);
  for (let r = r0; r < r1; r++) {
    const b = r / th;
    const i = r % th;
    let t = <usize>r * <usize>tw;
    for (let j = 0; j < tw; j++) {
      const base = xp + (<usize>b * <usize>hp + 4 * <usize>i) * row + 4 * <usize>j * C;
      const out = v + t * C;
      for (let cc: usize = 0; cc < C; cc += 16) {
        const p = base + cc;
        const o = out + cc;
        const d00 = v128.load(p);
        const d10 = v128.load(p + row);
        const d20 = v128.load(p + 2 * row);
        const d30 = v128.load(p + 3 * row);
        const d40 = v128.load(p + 4 * row);
        const d50 = v128.load(p + 5 * row);
        const e00 = f32x4.add(f32x4.sub(f32x4.mul(d00, c4), f32x4.mul(d20, c5)), d40);
        const e10 = f32x4.sub(f32x4.add(d30, d40), f32x4.mul(f32x4.add(d10, d20), c4));
        const e20 = f32x4.add(f32x4.sub(d40, d30), f32x4.mul(f32x4.sub(d10, d20), c4));
        const e30 = f32x4.add(f32x4.sub(d40, d20), f32x4.mul(f32x4.sub(d30, d10), c2));
        const e40 = f32x4.sub(f32x4.sub(d40, d20), f32x4.mul(f32x4.sub(d30, d10), c2));
        const e50 = f32x4.add(f32x4.sub(f32x4.mul(d10, c4), f32x4.mul(d30, c5)), d50);
        const d01 = v128.load(p + C);
        const d11 = v128.load(p + row + C);
        const d21 = v128.load(p + 2 * row + C);
        const d31 = v128.load(p + 3 * row + C);
        const d41 = v128.load(p + 4 * row + C);
        const d51 = v128.load(p + 5 * row + C);
        const e01 = f32x4.add(f32x4.sub(f32x4.mul(d01, c4), f32x4.mul(d21, c5)), d41);
        const e11 = f32x4.sub(f32x4.add(d31, d41), f32x4.mul(f32x4.add(d11, d21), c4));
        const e21 = f32x4.add(f32x4.sub(d41, d31), f32x4.mul(f32x4.sub(d11, d21), c4));
        const e31 = f32x4.add(f32x4.sub(d41, d21), f32x4.mul(f32x4.sub(d31, d11), c2));
        const e41 = f32x4.sub(f32x4.sub(d41, d21), f32x4.mul(f32x4.sub(d31, d11), c2));
        const e51 = f32x4.add(f32x4.sub(f32x4.mul(d11, c4), f32x4.mul(d31, c5)), d51);
        const d02 = v128.load(p + 2 * C);
        const d12 = v128.load(p + row + 2 * C);
        const d22 = v128.load(p + 2 * row + 2 * C);
        const d32 = v128.load(p + 3 * row + 2 * C);
        const d42 = v128.load(p + 4 * row + 2 * C);
        const d52 = v128.load(p + 5 * row + 2 * C);
        const e02 = f32x4.add(f32x4.sub(f32x4.mul(d02, c4), f32x4.mul(d22, c5)), d42);
        const e12 = f32x4.sub(f32x4.add(d32, d42), f32x4.mul(f32x4.add(d12, d22), c4));
        const e22 = f32x4.add(f32x4.sub(d42, d32), f32x4.mul(f32x4.sub(d12, d22), c4));
        const e32 = f32x4.add(f32x4.sub(d42, d22), f32x4.mul(f32x4.sub(d32, d12), c2));
        const e42 = f32x4.sub(f32x4.sub(d42, d22), f32x4.mul(f32x4.sub(d32, d12), c2));
        const e52 = f32x4.add(f32x4.sub(f32x4.mul(d12, c4), f32x4.mul(d32, c5)), d52);
        const d03 = v128.load(p + 3 * C);
        const d13 = v128.load(p + row + 3 * C);
        const d23 = v128.load(p + 2 * row + 3 * C);
        const d33 = v128.load(p + 3 * row + 3 * C);
        const d43 = v128.load(p + 4 * row + 3 * C);
        const d53 = v128.load(p + 5 * row + 3 * C);
        const e03 = f32x4.add(f32x4.sub(f32x4.mul(d03, c4), f32x4.mul(d23, c5)), d43);
        const e13 = f32x4.sub(f32x4.add(d33, d43), f32x4.mul(f32x4.add(d13, d23), c4));
        const e23 = f32x4.add(f32x4.sub(d43, d33), f32x4.mul(f32x4.sub(d13, d23), c4));
        const e33 = f32x4.add(f32x4.sub(d43, d23), f32x4.mul(f32x4.sub(d33, d13), c2));
        const e43 = f32x4.sub(f32x4.sub(d43, d23), f32x4.mul(f32x4.sub(d33, d13), c2));
        const e53 = f32x4.add(f32x4.sub(f32x4.mul(d13, c4), f32x4.mul(d33, c5)), d53);
        const d04 = v128.load(p + 4 * C);
        const d14 = v128.load(p + row + 4 * C);
        const d24 = v128.load(p + 2 * row + 4 * C);
        const d34 = v128.load(p + 3 * row + 4 * C);
        const d44 = v128.load(p + 4 * row + 4 * C);
        const d54 = v128.load(p + 5 * row + 4 * C);
        const e04 = f32x4.add(f32x4.sub(f32x4.mul(d04, c4), f32x4.mul(d24, c5)), d44);
        const e14 = f32x4.sub(f32x4.add(d34, d44), f32x4.mul(f32x4.add(d14, d24), c4));
        const e24 = f32x4.add(f32x4.sub(d44, d34), f32x4.mul(f32x4.sub(d14, d24), c4));
        const e34 = f32x4.add(f32x4.sub(d44, d24), f32x4.mul(f32x4.sub(d34, d14), c2));
        const e44 = f32x4.sub(f32x4.sub(d44, d24), f32x4.mul(f32x4.sub(d34, d14), c2));
        const e54 = f32x4.add(f32x4.sub(f32x4.mul(d14, c4), f32x4.mul(d34, c5)), d54);
        const d05 = v128.load(p + 5 * C);
        const d15 = v128.load(p + row + 5 * C);
        const d25 = v128.load(p + 2 * row + 5 * C);
        const d35 = v128.load(p + 3 * row + 5 * C);
        const d45 = v128.load(p + 4 * row + 5 * C);
        const d55 = v128.load(p + 5 * row + 5 * C);
        const e05 = f32x4.add(f32x4.sub(f32x4.mul(d05, c4), f32x4.mul(d25, c5)), d45);
        const e15 = f32x4.sub(f32x4.add(d35, d45), f32x4.mul(f32x4.add(d15, d25), c4));
        const e25 = f32x4.add(f32x4.sub(d45, d35), f32x4.mul(f32x4.sub(d15, d25), c4));
        const e35 = f32x4.add(f32x4.sub(d45, d25), f32x4.mul(f32x4.sub(d35, d15), c2));
        const e45 = f32x4.sub(f32x4.sub(d45, d25), f32x4.mul(f32x4.sub(d35, d15), c2));
        const e55 = f32x4.add(f32x4.sub(f32x4.mul(d15, c4), f32x4.mul(d35, c5)), d55);
        v128.store(o, f32x4.add(f32x4.sub(f32x4.mul(e00, c4), f32x4.mul(e02, c5)), e04));
        v128.store(o + plane, f32x4.sub(f32x4.add(e03, e04), f32x4.mul(f32x4.add(e01, e02), c4)));
        v128.store(o + 2 * plane, f32x4.add(f32x4.sub(e04, e03), f32x4.mul(f32x4.sub(e01, e02), c4)));
        v128.store(o + 3 * plane, f32x4.add(f32x4.sub(e04, e02), f32x4.mul(f32x4.sub(e03, e01), c2)));
        v128.store(o + 4 * plane, f32x4.sub(f32x4.sub(e04, e02), f32x4.mul(f32x4.sub(e03, e01), c2)));
        v128.store(o + 5 * plane, f32x4.add(f32x4.sub(f32x4.mul(e01, c4), f32x4.mul(e03, c5)), e05));
        v128.store(o + 6 * plane, f32x4.add(f32x4.sub(f32x4.mul(e10, c4), f32x4.mul(e12, c5)), e14));
        v128.store(o + 7 * plane, f32x4.sub(f32x4.add(e13, e14), f32x4.mul(f32x4.add(e11, e12), c4)));
        v128.store(o + 8 * plane, f32x4.add(f32x4.sub(e14, e13), f32x4.mul(f32x4.sub(e11, e12), c4)));
        v128.store(o + 9 * plane, f32x4.add(f32x4.sub(e14, e12), f32x4.mul(f32x4.sub(e13, e11), c2)));
        v128.store(o + 10 * plane, f32x4.sub(f32x4.sub(e14, e12), f32x4.mul(f32x4.sub(e13, e11), c2)));
        v128.store(o + 11 * plane, f32x4.add(f32x4.sub(f32x4.mul(e11, c4), f32x4.mul(e13, c5)), e15));
        v128.store(o + 12 * plane, f32x4.add(f32x4.sub(f32x4.mul(e20, c4), f32x4.mul(e22, c5)), e24));
        v128.store(o + 13 * plane, f32x4.sub(f32x4.add(e23, e24), f32x4.mul(f32x4.add(e21, e22), c4)));
        v128.store(o + 14 * plane, f32x4.add(f32x4.sub(e24, e23), f32x4.mul(f32x4.sub(e21, e22), c4)));
        v128.store(o + 15 * plane, f32x4.add(f32x4.sub(e24, e22), f32x4.mul(f32x4.sub(e23, e21), c2)));
        v128.store(o + 16 * plane, f32x4.sub(f32x4.sub(e24, e22), f32x4.mul(f32x4.sub(e23, e21), c2)));
        v128.store(o + 17 * plane, f32x4.add(f32x4.sub(f32x4.mul(e21, c4), f32x4.mul(e23, c5)), e25));
        v128.store(o + 18 * plane, f32x4.add(f32x4.sub(f32x4.mul(e30, c4), f32x4.mul(e32, c5)), e34));
        v128.store(o + 19 * plane, f32x4.sub(f32x4.add(e33, e34), f32x4.mul(f32x4.add(e31, e32), c4)));
        v128.store(o + 20 * plane, f32x4.add(f32x4.sub(e34, e33), f32x4.mul(f32x4.sub(e31, e32), c4)));
        v128.store(o + 21 * plane, f32x4.add(f32x4.sub(e34, e32), f32x4.mul(f32x4.sub(e33, e31), c2)));
        v128.store(o + 22 * plane, f32x4.sub(f32x4.sub(e34, e32), f32x4.mul(f32x4.sub(e33, e31), c2)));
        v128.store(o + 23 * plane, f32x4.add(f32x4.sub(f32x4.mul(e31, c4), f32x4.mul(e33, c5)), e35));
        v128.store(o + 24 * plane, f32x4.add(f32x4.sub(f32x4.mul(e40, c4), f32x4.mul(e42, c5)), e44));
        v128.store(o + 25 * plane, f32x4.sub(f32x4.add(e43, e44), f32x4.mul(f32x4.add(e41, e42), c4)));
        v128.store(o + 26 * plane, f32x4.add(f32x4.sub(e44, e43), f32x4.mul(f32x4.sub(e41, e42), c4)));
        v128.store(o + 27 * plane, f32x4.add(f32x4.sub(e44, e42), f32x4.mul(f32x4.sub(e43, e41), c2)));
        v128.store(o + 28 * plane, f32x4.sub(f32x4.sub(e44, e42), f32x4.mul(f32x4.sub(e43, e41), c2)));
        v128.store(o + 29 * plane, f32x4.add(f32x4.sub(f32x4.mul(e41, c4), f32x4.mul(e43, c5)), e45));
        v128.store(o + 30 * plane, f32x4.add(f32x4.sub(f32x4.mul(e50, c4), f32x4.mul(e52, c5)), e54));
        v128.store(o + 31 * plane, f32x4.sub(f32x4.add(e53, e54), f32x4.mul(f32x4.add(e51, e52), c4)));
        v128.store(o + 32 * plane, f32x4.add(f32x4.sub(e54, e53), f32x4.mul(f32x4.sub(e51, e52), c4)));
        v128.store(o + 33 * plane, f32x4.add(f32x4.sub(e54, e52), f32x4.mul(f32x4.sub(e53, e51), c2)));
        v128.store(o + 34 * plane, f32x4.sub(f32x4.sub(e54, e52), f32x4.mul(f32x4.sub(e53, e51), c2)));
        v128.store(o + 35 * plane, f32x4.add(f32x4.sub(f32x4.mul(e51, c4), f32x4.mul(e53, c5)), e55));
      }
      t++;
    }
  }
}

/**
 * The four outputs of F(4, 3)'s 1-D output transform Aᵀ·[t0 … t5] (Aᵀ rows: 1 1 1 1 1 0 · 0 1 −1 2 −2 0 ·
 * 0 1 1 4 4 0 · 0 1 −1 8 −8 1), one function per output, each small enough for the optimiser to inline into
 * {@link winograd4Output}. Output 0: t0 + t1 + t2 + t3 + t4.
 */
function aT0(t0: v128, t1: v128, t2: v128, t3: v128, t4: v128): v128 {
  return f32x4.add(f32x4.add(f32x4.add(t1, t2), f32x4.add(t3, t4)), t0);
}
/** Output 1 of F(4, 3)'s output transform: t1 − t2 + 2·(t3 − t4) (see {@link aT0}). */
function aT1(t1: v128, t2: v128, t3: v128, t4: v128): v128 {
  return f32x4.add(f32x4.sub(t1, t2), f32x4.mul(f32x4.sub(t3, t4), f32x4.splat(2)));
}
/** Output 2 of F(4, 3)'s output transform: t1 + t2 + 4·(t3 + t4) (see {@link aT0}). */
function aT2(t1: v128, t2: v128, t3: v128, t4: v128): v128 {
  return f32x4.add(f32x4.add(t1, t2), f32x4.mul(f32x4.add(t3, t4), f32x4.splat(4)));
}
/** Output 3 of F(4, 3)'s output transform: t1 − t2 + 8·(t3 − t4) + t5 (see {@link aT0}). */
function aT3(t1: v128, t2: v128, t3: v128, t4: v128, t5: v128): v128 {
  return f32x4.add(f32x4.add(f32x4.sub(t1, t2), f32x4.mul(f32x4.sub(t3, t4), f32x4.splat(8))), t5);
}

/**
 * `max(y + bias, floor)`, the fused epilogue of {@link winograd4Output}: `bias` is −0 for a convolution
 * without one and `floor` 0 for a fused ReLU, −∞ otherwise — `y + (−0)` and `max(y, −∞)` are `y`, bit for bit,
 * −0 and NaN included.
 */
function biasRelu(y: v128, bias: v128, floor: v128): v128 {
  return f32x4.max(f32x4.add(y, bias), floor);
}

/**
 * Stores the first `cols` of one row of an F(4×4, 3×3) output tile, `y0 … y3` (4 channels each), at `q`,
 * `q + K`, `q + 2K`, `q + 3K` (`cols` < 4 in the tiles the output's right edge cuts). Small enough for the
 * optimiser to inline into {@link winograd4Output}.
 */
function storeRow(q: usize, K: usize, cols: i32, y0: v128, y1: v128, y2: v128, y3: v128): void {
  v128.store(q, y0);
  if (1 < cols) v128.store(q + K, y1);
  if (2 < cols) v128.store(q + 2 * K, y2);
  if (3 < cols) v128.store(q + 3 * K, y3);
}

/**
 * Y = Aᵀ m A of the tiles in tile rows `r0 ≤ b·th + i < r1`: m [36, T, k] → y [n, ho, wo, k] (the 4 × 4
 * outputs inside ho × wo), plus `bias [k]` when `bias` ≠ 0, then max(·, 0) when `relu` ≠ 0.
 */
export function winograd4Output(
  m: usize,
  n: i32,
  th: i32,
  tw: i32,
  k: i32,
  ho: i32,
  wo: i32,
  y: usize,
  bias: usize,
  relu: i32,
  r0: i32,
  r1: i32,
): void {
  const K = (<usize>k) << 2;
  const plane = <usize>n * <usize>th * <usize>tw * K;
  const row = <usize>wo * K;
  const fused = bias != 0 || relu != 0;
  const minusZero = f32x4.splat(-0.0);
  const floor = relu != 0 ? f32x4.splat(0) : f32x4.splat(-Infinity);
  for (let r = r0; r < r1; r++) {
    const b = r / th;
    const i = r % th;
    const rows = min(4, ho - 4 * i);
    let t = <usize>r * <usize>tw;
    for (let j = 0; j < tw; j++) {
      const cols = min(4, wo - 4 * j);
      const src = m + t * K;
      const base = y + (<usize>b * <usize>ho + 4 * <usize>i) * row + 4 * <usize>j * K;
      for (let kk: usize = 0; kk < K; kk += 16) {
        const p = src + kk;
        const m00 = v128.load(p);
        const m10 = v128.load(p + 6 * plane);
        const m20 = v128.load(p + 12 * plane);
        const m30 = v128.load(p + 18 * plane);
        const m40 = v128.load(p + 24 * plane);
        const m50 = v128.load(p + 30 * plane);
        const s00 = aT0(m00, m10, m20, m30, m40);
        const s10 = aT1(m10, m20, m30, m40);
        const s20 = aT2(m10, m20, m30, m40);
        const s30 = aT3(m10, m20, m30, m40, m50);
        const m01 = v128.load(p + plane);
        const m11 = v128.load(p + 7 * plane);
        const m21 = v128.load(p + 13 * plane);
        const m31 = v128.load(p + 19 * plane);
        const m41 = v128.load(p + 25 * plane);
        const m51 = v128.load(p + 31 * plane);
        const s01 = aT0(m01, m11, m21, m31, m41);
        const s11 = aT1(m11, m21, m31, m41);
        const s21 = aT2(m11, m21, m31, m41);
        const s31 = aT3(m11, m21, m31, m41, m51);
        const m02 = v128.load(p + 2 * plane);
        const m12 = v128.load(p + 8 * plane);
        const m22 = v128.load(p + 14 * plane);
        const m32 = v128.load(p + 20 * plane);
        const m42 = v128.load(p + 26 * plane);
        const m52 = v128.load(p + 32 * plane);
        const s02 = aT0(m02, m12, m22, m32, m42);
        const s12 = aT1(m12, m22, m32, m42);
        const s22 = aT2(m12, m22, m32, m42);
        const s32 = aT3(m12, m22, m32, m42, m52);
        const m03 = v128.load(p + 3 * plane);
        const m13 = v128.load(p + 9 * plane);
        const m23 = v128.load(p + 15 * plane);
        const m33 = v128.load(p + 21 * plane);
        const m43 = v128.load(p + 27 * plane);
        const m53 = v128.load(p + 33 * plane);
        const s03 = aT0(m03, m13, m23, m33, m43);
        const s13 = aT1(m13, m23, m33, m43);
        const s23 = aT2(m13, m23, m33, m43);
        const s33 = aT3(m13, m23, m33, m43, m53);
        const m04 = v128.load(p + 4 * plane);
        const m14 = v128.load(p + 10 * plane);
        const m24 = v128.load(p + 16 * plane);
        const m34 = v128.load(p + 22 * plane);
        const m44 = v128.load(p + 28 * plane);
        const m54 = v128.load(p + 34 * plane);
        const s04 = aT0(m04, m14, m24, m34, m44);
        const s14 = aT1(m14, m24, m34, m44);
        const s24 = aT2(m14, m24, m34, m44);
        const s34 = aT3(m14, m24, m34, m44, m54);
        const m05 = v128.load(p + 5 * plane);
        const m15 = v128.load(p + 11 * plane);
        const m25 = v128.load(p + 17 * plane);
        const m35 = v128.load(p + 23 * plane);
        const m45 = v128.load(p + 29 * plane);
        const m55 = v128.load(p + 35 * plane);
        const s05 = aT0(m05, m15, m25, m35, m45);
        const s15 = aT1(m15, m25, m35, m45);
        const s25 = aT2(m15, m25, m35, m45);
        const s35 = aT3(m15, m25, m35, m45, m55);
        let y00 = aT0(s00, s01, s02, s03, s04);
        let y01 = aT1(s01, s02, s03, s04);
        let y02 = aT2(s01, s02, s03, s04);
        let y03 = aT3(s01, s02, s03, s04, s05);
        let y10 = aT0(s10, s11, s12, s13, s14);
        let y11 = aT1(s11, s12, s13, s14);
        let y12 = aT2(s11, s12, s13, s14);
        let y13 = aT3(s11, s12, s13, s14, s15);
        let y20 = aT0(s20, s21, s22, s23, s24);
        let y21 = aT1(s21, s22, s23, s24);
        let y22 = aT2(s21, s22, s23, s24);
        let y23 = aT3(s21, s22, s23, s24, s25);
        let y30 = aT0(s30, s31, s32, s33, s34);
        let y31 = aT1(s31, s32, s33, s34);
        let y32 = aT2(s31, s32, s33, s34);
        let y33 = aT3(s31, s32, s33, s34, s35);
        const q = base + kk;
        if (fused) {
          const bb = bias != 0 ? v128.load(bias + kk) : minusZero;
          y00 = biasRelu(y00, bb, floor);
          y01 = biasRelu(y01, bb, floor);
          y02 = biasRelu(y02, bb, floor);
          y03 = biasRelu(y03, bb, floor);
          y10 = biasRelu(y10, bb, floor);
          y11 = biasRelu(y11, bb, floor);
          y12 = biasRelu(y12, bb, floor);
          y13 = biasRelu(y13, bb, floor);
          y20 = biasRelu(y20, bb, floor);
          y21 = biasRelu(y21, bb, floor);
          y22 = biasRelu(y22, bb, floor);
          y23 = biasRelu(y23, bb, floor);
          y30 = biasRelu(y30, bb, floor);
          y31 = biasRelu(y31, bb, floor);
          y32 = biasRelu(y32, bb, floor);
          y33 = biasRelu(y33, bb, floor);
        }
        storeRow(q, K, cols, y00, y01, y02, y03);
        if (1 < rows) storeRow(q + row, K, cols, y10, y11, y12, y13);
        if (2 < rows) storeRow(q + 2 * row, K, cols, y20, y21, y22, y23);
        if (3 < rows) storeRow(q + 3 * row, K, cols, y30, y31, y32, y33);
      }
      t++;
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Batch normalisation over the rows of a row-major rows × cols float32 matrix (channels last: cols = C,
// rows = every other axis). Per-column accumulators live in the caller's [cols] buffers, so every pass
// streams the matrix row by row; sums run in row order, 4 columns per SIMD lane group, a scalar tail.

/** dst[i] = 0 for i < count, 4 at a time. */
function zero(dst: usize, count: i32): void {
  const bytes = (<usize>count) << 2;
  const vectorBytes = bytes & ~(<usize>15);
  const z = f32x4.splat(0);
  let o: usize = 0;
  for (; o < vectorBytes; o += 16) v128.store(dst + o, z);
  for (; o < bytes; o += 4) store<f32>(dst + o, 0);
}

/**
 * Training-mode batch norm forward: mean[c] = Σ_r x[r][c] / rows, variance[c] = Σ_r (x[r][c] − mean[c])² /
 * rows (biased), scale[c] = gamma[c] / √(variance[c] + eps) (scratch), y = (x − mean)·scale + beta.
 */
export function batchNormForward(
  x: usize,
  rows: i32,
  cols: i32,
  gamma: usize,
  beta: usize,
  eps: f32,
  mean: usize,
  variance: usize,
  scale: usize,
  y: usize,
): void {
  const C = (<usize>cols) << 2;
  const vectorBytes = (<usize>(cols & ~3)) << 2;
  const n = <f32>rows;
  zero(mean, cols);
  for (let r = 0; r < rows; r++) {
    const row = x + <usize>r * C;
    let o: usize = 0;
    for (; o < vectorBytes; o += 16) v128.store(mean + o, f32x4.add(v128.load(mean + o), v128.load(row + o)));
    for (; o < C; o += 4) store<f32>(mean + o, load<f32>(mean + o) + load<f32>(row + o));
  }
  for (let c = 0; c < cols; c++) {
    const o = (<usize>c) << 2;
    store<f32>(mean + o, load<f32>(mean + o) / n);
  }
  zero(variance, cols);
  for (let r = 0; r < rows; r++) {
    const row = x + <usize>r * C;
    let o: usize = 0;
    for (; o < vectorBytes; o += 16) {
      const d = f32x4.sub(v128.load(row + o), v128.load(mean + o));
      v128.store(variance + o, f32x4.add(v128.load(variance + o), f32x4.mul(d, d)));
    }
    for (; o < C; o += 4) {
      const d = load<f32>(row + o) - load<f32>(mean + o);
      store<f32>(variance + o, load<f32>(variance + o) + d * d);
    }
  }
  for (let c = 0; c < cols; c++) {
    const o = (<usize>c) << 2;
    const v = load<f32>(variance + o) / n;
    store<f32>(variance + o, v);
    store<f32>(scale + o, load<f32>(gamma + o) / Mathf.sqrt(v + eps));
  }
  for (let r = 0; r < rows; r++) {
    const row = x + <usize>r * C;
    const out = y + <usize>r * C;
    let o: usize = 0;
    for (; o < vectorBytes; o += 16) {
      const d = f32x4.sub(v128.load(row + o), v128.load(mean + o));
      v128.store(out + o, f32x4.add(f32x4.mul(d, v128.load(scale + o)), v128.load(beta + o)));
    }
    for (; o < C; o += 4) {
      store<f32>(out + o, (load<f32>(row + o) - load<f32>(mean + o)) * load<f32>(scale + o) + load<f32>(beta + o));
    }
  }
}

/**
 * Training-mode batch norm backward, with r = 1/√(variance + eps), x̂ = (x − mean)·r, N = rows:
 * dBeta = Σ_r dy, dGamma = Σ_r dy·(x − mean)·r, dx = ((dy − dBeta/N) − (x − mean)·r²·Σ_r dy·(x − mean)/N)·gamma·r.
 * `scratch` holds 3·cols floats.
 */
export function batchNormBackward(
  dy: usize,
  x: usize,
  rows: i32,
  cols: i32,
  mean: usize,
  variance: usize,
  gamma: usize,
  eps: f32,
  dGamma: usize,
  dBeta: usize,
  scratch: usize,
  dx: usize,
): void {
  const C = (<usize>cols) << 2;
  const vectorBytes = (<usize>(cols & ~3)) << 2;
  const n = <f32>rows;
  const shift = scratch; // dBeta / N
  const slope = scratch + C; // first Σ dy·(x − mean), then r²·Σ dy·(x − mean) / N
  const factor = scratch + 2 * C; // gamma·r
  zero(dBeta, cols);
  zero(slope, cols);
  for (let r = 0; r < rows; r++) {
    const g = dy + <usize>r * C;
    const row = x + <usize>r * C;
    let o: usize = 0;
    for (; o < vectorBytes; o += 16) {
      const d = v128.load(g + o);
      v128.store(dBeta + o, f32x4.add(v128.load(dBeta + o), d));
      const centred = f32x4.sub(v128.load(row + o), v128.load(mean + o));
      v128.store(slope + o, f32x4.add(v128.load(slope + o), f32x4.mul(d, centred)));
    }
    for (; o < C; o += 4) {
      const d = load<f32>(g + o);
      store<f32>(dBeta + o, load<f32>(dBeta + o) + d);
      store<f32>(slope + o, load<f32>(slope + o) + d * (load<f32>(row + o) - load<f32>(mean + o)));
    }
  }
  for (let c = 0; c < cols; c++) {
    const o = (<usize>c) << 2;
    const rstd: f32 = 1 / Mathf.sqrt(load<f32>(variance + o) + eps);
    const sumDyCentred = load<f32>(slope + o);
    store<f32>(dGamma + o, sumDyCentred * rstd);
    store<f32>(shift + o, load<f32>(dBeta + o) / n);
    store<f32>(slope + o, (rstd * rstd * sumDyCentred) / n);
    store<f32>(factor + o, load<f32>(gamma + o) * rstd);
  }
  for (let r = 0; r < rows; r++) {
    const g = dy + <usize>r * C;
    const row = x + <usize>r * C;
    const out = dx + <usize>r * C;
    let o: usize = 0;
    for (; o < vectorBytes; o += 16) {
      const centred = f32x4.sub(v128.load(row + o), v128.load(mean + o));
      const t = f32x4.sub(f32x4.sub(v128.load(g + o), v128.load(shift + o)), f32x4.mul(centred, v128.load(slope + o)));
      v128.store(out + o, f32x4.mul(t, v128.load(factor + o)));
    }
    for (; o < C; o += 4) {
      const centred = load<f32>(row + o) - load<f32>(mean + o);
      const t = load<f32>(g + o) - load<f32>(shift + o) - centred * load<f32>(slope + o);
      store<f32>(out + o, t * load<f32>(factor + o));
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Max-pool gradient, NHWC.

/**
 * dx = ∂L/∂x of a max pool: zeroes dx [n, h, w, c], then adds each dy[b, oy, ox, ch] at the maximum of
 * its window — rows `oy·sh − padTop` …, `fh` × `fw` taps, taps outside the input skipped — taking the
 * first tap in row-major window order on ties (a later tap replaces the candidate only when strictly
 * greater). As in tfjs's cpu kernel the search starts below every tap (−∞, no candidate): a NaN tap never
 * becomes the maximum, and a window with no value above −∞ passes its gradient nowhere. For windows
 * with a finite value that is the tap the first-tap start picked.
 */
export function maxPoolGrad(
  x: usize,
  dy: usize,
  n: i32,
  h: i32,
  w: i32,
  c: i32,
  oh: i32,
  ow: i32,
  fh: i32,
  fw: i32,
  sh: i32,
  sw: i32,
  padTop: i32,
  padLeft: i32,
  dx: usize,
): void {
  zero(dx, n * h * w * c);
  const C = (<usize>c) << 2;
  const vectorBytes = (<usize>(c & ~3)) << 2;
  let o: usize = dy;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      const y0 = max(oy * sh - padTop, 0);
      const y1 = min(oy * sh - padTop + fh, h);
      for (let ox = 0; ox < ow; ox++) {
        const x0 = max(ox * sw - padLeft, 0);
        const x1 = min(ox * sw - padLeft + fw, w);
        if (y0 >= y1 || x0 >= x1) {
          o += C;
          continue;
        }
        // 4 channels at a time: the running maximum and the byte offset of its tap, per lane
        let ch: usize = 0;
        for (; ch < vectorBytes; ch += 16) {
          let best = f32x4.splat(-Infinity);
          let at = i32x4.splat(NO_TAP);
          for (let iy = y0; iy < y1; iy++) {
            for (let ix = x0; ix < x1; ix++) {
              const tap: usize = <usize>((b * h + iy) * w + ix) * C;
              const v = v128.load(x + tap + ch);
              const greater = f32x4.gt(v, best);
              best = v128.bitselect(v, best, greater);
              at = v128.bitselect(i32x4.splat(<i32>tap), at, greater);
            }
          }
          const g = v128.load(o + ch);
          addAtTap(dx + ch, i32x4.extract_lane(at, 0), f32x4.extract_lane(g, 0));
          addAtTap(dx + ch + 4, i32x4.extract_lane(at, 1), f32x4.extract_lane(g, 1));
          addAtTap(dx + ch + 8, i32x4.extract_lane(at, 2), f32x4.extract_lane(g, 2));
          addAtTap(dx + ch + 12, i32x4.extract_lane(at, 3), f32x4.extract_lane(g, 3));
        }
        for (; ch < C; ch += 4) {
          let best: f32 = -Infinity;
          let at: i32 = NO_TAP;
          for (let iy = y0; iy < y1; iy++) {
            for (let ix = x0; ix < x1; ix++) {
              const tap: usize = <usize>((b * h + iy) * w + ix) * C;
              const v = load<f32>(x + tap + ch);
              if (v > best) {
                best = v;
                at = <i32>tap;
              }
            }
          }
          addAtTap(dx + ch, at, load<f32>(o + ch));
        }
        o += C;
      }
    }
  }
}

/** `*(base + offset) += value` for a float32. */
function addAt(base: usize, offset: usize, value: f32): void {
  store<f32>(base + offset, load<f32>(base + offset) + value);
}

/** No tap found (a byte offset of a float32 is a multiple of 4, so never this). */
const NO_TAP: i32 = -1;

/** {@link addAt} at a tap's byte offset, or nothing when no tap was found. */
function addAtTap(base: usize, tap: i32, value: f32): void {
  if (tap != NO_TAP) addAt(base, <usize>tap, value);
}
