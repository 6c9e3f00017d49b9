/**
 * Float64 references of the layers' functional cores, written from the maths in plain JavaScript (no
 * tfjs), for the property tests: row-major flat arrays, explicit sizes, every sum in double precision.
 * Test-only: not exported from the package, so neither bundled nor documented.
 */

/** A seeded generator of uniform numbers in [0, 1) (mulberry32). */
export function uniformStream(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * `count` values uniform in [−scale, scale), each rounded to float32: the tensors built from them hold
 * exactly these numbers, so reference and layer see the same inputs and only the arithmetic differs.
 */
export function float32Values(next: () => number, count: number, scale = 1): number[] {
  return Array.from({ length: count }, () => Math.fround((2 * next() - 1) * scale));
}

/** `Σ_k up[k]·out[k]`: the scalar loss whose gradient the property tests compare. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * Central difference `(f(x + h·e_i) − f(x − h·e_i)) / 2h` of a float64 function at coordinate i. With a
 * smooth f and h ≈ 1e-5 its error is O(h²·f''') + O(ε₆₄/h) ≈ 1e-9 relative: exact at float32 scale.
 */
export function centralDifference(f: (x: number[]) => number, x: readonly number[], i: number, h = 1e-5): number {
  const plus = x.slice();
  const minus = x.slice();
  plus[i] += h;
  minus[i] -= h;
  return (f(plus) - f(minus)) / (2 * h);
}

/** Softmax of `x` (any length ≥ 1), stabilised by the maximum, in float64. */
export function softmax(x: readonly number[]): number[] {
  const max = Math.max(...x);
  const e = x.map((v) => Math.exp(v - max));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / total);
}

/** Sizes and options of {@link volumetricReference}. */
export interface VolumeSpec {
  batch: number;
  height: number;
  width: number;
  joints: number;
  depth: number;
  beta: number;
  normalized: boolean;
}

/** `1/(n − 1)` for normalised coordinates (0 for a single pixel or bin, whose coordinate is 0), else 1. */
function coordinateScale(n: number, normalized: boolean): number {
  return normalized ? 1 / Math.max(n - 1, 1) : 1;
}

/**
 * Volumetric soft-argmax: volume `[B, H, W, J·D]` (channel j·D + d); per joint p = softmax(β·V) over the
 * H×W×D volume, keypoint = Σ p·(w, h, d) (scaled in normalised mode). Returns keypoints `[B, J, 3]` and
 * the 2D maps `[B, H, W, J]` (p summed over d).
 */
export function volumetricReference(volume: readonly number[], s: VolumeSpec): { keypoints: number[]; maps: number[] } {
  const { batch, height, width, joints, depth, beta } = s;
  const keypoints: number[] = [];
  const maps = new Array<number>(batch * height * width * joints).fill(0);
  const scale = [coordinateScale(width, s.normalized), coordinateScale(height, s.normalized)];
  const zScale = coordinateScale(depth, s.normalized);
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < joints; j++) {
      const logits: number[] = [];
      for (let h = 0; h < height; h++) {
        for (let w = 0; w < width; w++) {
          for (let d = 0; d < depth; d++) {
            logits.push(beta * volume[((b * height + h) * width + w) * joints * depth + j * depth + d]);
          }
        }
      }
      const p = softmax(logits);
      const e = [0, 0, 0];
      p.forEach((pi, cell) => {
        const d = cell % depth;
        const w = Math.floor(cell / depth) % width;
        const h = Math.floor(cell / (depth * width));
        e[0] += pi * w * scale[0];
        e[1] += pi * h * scale[1];
        e[2] += pi * d * zScale;
        maps[((b * height + h) * width + w) * joints + j] += pi;
      });
      keypoints.push(...e);
    }
  }
  return { keypoints, maps };
}

/** Sizes and options of {@link latentReference}; `beta` has one entry per joint. */
export interface LatentSpec {
  batch: number;
  height: number;
  width: number;
  joints: number;
  beta: readonly number[];
  normalized: boolean;
}

/**
 * Latent soft-argmax: heatmaps and depth maps `[B, H, W, J]`; per joint p = softmax(β_j·h_j) over H×W,
 * (x, y) = Σ p·(w, h) (scaled in normalised mode), z = Σ p·depth_j. Returns keypoints `[B, J, 3]` and the
 * maps p `[B, H, W, J]`.
 */
export function latentReference(
  heatmaps: readonly number[],
  depthMaps: readonly number[],
  s: LatentSpec,
): { keypoints: number[]; maps: number[] } {
  const { batch, height, width, joints } = s;
  const keypoints: number[] = [];
  const maps = new Array<number>(batch * height * width * joints).fill(0);
  const sx = coordinateScale(width, s.normalized);
  const sy = coordinateScale(height, s.normalized);
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < joints; j++) {
      const at = (pixel: number): number => (b * height * width + pixel) * joints + j;
      const p = softmax(Array.from({ length: height * width }, (_, pixel) => s.beta[j] * heatmaps[at(pixel)]));
      const e = [0, 0, 0];
      p.forEach((pi, pixel) => {
        e[0] += pi * (pixel % width) * sx;
        e[1] += pi * Math.floor(pixel / width) * sy;
        e[2] += pi * depthMaps[at(pixel)];
        maps[at(pixel)] = pi;
      });
      keypoints.push(...e);
    }
  }
  return { keypoints, maps };
}

/** Concrete selection `S [J, G]`: each row softmax((logits + noise) / τ); `noise` null adds nothing. */
export function concreteSelectionReference(
  logits: readonly number[],
  noise: readonly number[] | null,
  tau: number,
  joints: number,
  groups: number,
): number[] {
  const out: number[] = [];
  for (let j = 0; j < joints; j++) {
    const row = Array.from(
      { length: groups },
      (_, g) => (logits[j * groups + g] + (noise?.[j * groups + g] ?? 0)) / tau,
    );
    out.push(...softmax(row));
  }
  return out;
}

/** One-hot of each row's argmax `[J, G]` (the first maximum on ties). */
export function hardSelectionReference(scores: readonly number[], joints: number, groups: number): number[] {
  const out = new Array<number>(joints * groups).fill(0);
  for (let j = 0; j < joints; j++) {
    let best = 0;
    for (let g = 1; g < groups; g++) if (scores[j * groups + g] > scores[j * groups + best]) best = g;
    out[j * groups + best] = 1;
  }
  return out;
}

/** `y[b, j, c] = Σ_g S[j, g]·x[b, g, j, c]` for `x [B, G, J, C]`, `S [J, G]` → `[B, J, C]`. */
export function selectJointsReference(
  x: readonly number[],
  selection: readonly number[],
  dims: { batch: number; groups: number; joints: number; channels: number },
): number[] {
  const { batch, groups, joints, channels } = dims;
  const out: number[] = [];
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < joints; j++) {
      for (let c = 0; c < channels; c++) {
        let s = 0;
        for (let g = 0; g < groups; g++)
          s += selection[j * groups + g] * x[((b * groups + g) * joints + j) * channels + c];
        out.push(s);
      }
    }
  }
  return out;
}

/**
 * NDDR fusion: G maps `[N, C]` (N = B·H·W pixels), `kernel [G·C, G·U]`, `bias [G·U]` or null → G maps
 * `[N, U]` with `y_i[n, u] = Σ_{g, c} x_g[n, c]·kernel[g·C + c, i·U + u] + bias[i·U + u]`.
 */
export function fuseGroupsReference(
  xs: readonly (readonly number[])[],
  kernel: readonly number[],
  bias: readonly number[] | null,
  dims: { pixels: number; channels: number; units: number },
): number[][] {
  const { pixels, channels, units } = dims;
  const groups = xs.length;
  const cols = groups * units;
  return xs.map((_, i) => {
    const y: number[] = [];
    for (let n = 0; n < pixels; n++) {
      for (let u = 0; u < units; u++) {
        let s = bias === null ? 0 : bias[i * units + u];
        for (let g = 0; g < groups; g++) {
          for (let c = 0; c < channels; c++)
            s += xs[g][n * channels + c] * kernel[(g * channels + c) * cols + i * units + u];
        }
        y.push(s);
      }
    }
    return y;
  });
}

/** `out[b, i, c] = Σ_k A[i, k]·x[b, k, c]` for `A [J, J]`, `x [B, J, C]`. */
function mixJoints(
  a: readonly number[],
  x: readonly number[],
  batch: number,
  joints: number,
  channels: number,
): number[] {
  const out: number[] = [];
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < joints; i++) {
      for (let c = 0; c < channels; c++) {
        let s = 0;
        for (let k = 0; k < joints; k++) s += a[i * joints + k] * x[(b * joints + k) * channels + c];
        out.push(s);
      }
    }
  }
  return out;
}

/**
 * Dual-branch fusion: `out[b] = W_s·structural[b] + W_v ⊙ visual[b]` (`W_v [J, 1]`, a scale per joint) or
 * `+ W_v·visual[b]` (`W_v [J, J]`), for `[B, J, C]` branches.
 */
export function dualBranchReference(
  structural: readonly number[],
  visual: readonly number[],
  ws: readonly number[],
  wv: readonly number[],
  dims: { batch: number; joints: number; channels: number; matrix: boolean },
): number[] {
  const { batch, joints, channels, matrix } = dims;
  const left = mixJoints(ws, structural, batch, joints, channels);
  const right = matrix
    ? mixJoints(wv, visual, batch, joints, channels)
    : visual.map((v, n) => v * wv[Math.floor(n / channels) % joints]);
  return left.map((v, n) => v + right[n]);
}

/**
 * Softmax of every row of `scores [R, J']` over the entries where `mask [R, J']` is 1, 0 elsewhere, with the
 * documented special values: a row without any 1 is all 0; outside the mask any score (±∞, NaN) is
 * ignored; inside, a NaN makes its row NaN, a −∞ neighbour weighs 0 (all −∞: the row is all 0), and +∞
 * neighbours share the row equally.
 */
export function maskedSoftmaxReference(scores: readonly number[], mask: readonly number[], cols: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < scores.length / cols; r++) {
    const row = scores.slice(r * cols, (r + 1) * cols);
    const inside = row.map((_, j) => mask[r * cols + j] === 1);
    if (row.some((v, j) => inside[j] && Number.isNaN(v))) {
      out.push(...row.map(() => Number.NaN));
      continue;
    }
    const plus = row.map((v, j) => inside[j] && v === Infinity);
    const count = plus.filter(Boolean).length;
    if (count > 0) {
      out.push(...plus.map((p) => (p ? 1 / count : 0)));
      continue;
    }
    const alive = row.map((v, j) => inside[j] && v !== -Infinity);
    const kept = row.filter((_, j) => alive[j]);
    const p = kept.length === 0 ? [] : softmax(kept);
    let k = 0;
    for (let j = 0; j < cols; j++) out.push(alive[j] ? p[k++] : 0);
  }
  return out;
}

/** `x [R, F] · w [F, N]` → `[R, N]`. */
function matmul(x: readonly number[], w: readonly number[], rows: number, inner: number, cols: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    for (let n = 0; n < cols; n++) {
      let s = 0;
      for (let f = 0; f < inner; f++) s += x[r * inner + f] * w[f * cols + n];
      out.push(s);
    }
  }
  return out;
}

/** Weights and options of {@link gatReference} (additive uses aSelf / aNeighbor, dot product query / key). */
export interface GatSpec {
  batch: number;
  joints: number;
  features: number;
  heads: number;
  units: number;
  additive: boolean;
  concat: boolean;
  slope: number;
  /** 0/1: `[J, J]` shared by every sample, or `[B, J, J]` one per sample. */
  mask: readonly number[];
  kernel: readonly number[];
  aSelf: readonly number[];
  aNeighbor: readonly number[];
  queryKernel: readonly number[];
  keyKernel: readonly number[];
  /** `[K·U]` (concat) or `[U]` (mean), or null. */
  bias: readonly number[] | null;
}

/** The attention scores `e [B, K, J, J]` of {@link gatReference}. */
function gatScores(x: readonly number[], s: GatSpec, wh: readonly number[]): number[] {
  const { batch, joints, features, heads, units } = s;
  const width = heads * units;
  const q = s.additive ? [] : matmul(x, s.queryKernel, batch * joints, features, width);
  const k = s.additive ? [] : matmul(x, s.keyKernel, batch * joints, features, width);
  const head = (m: readonly number[], b: number, i: number, h: number, u: number): number =>
    m[(b * joints + i) * width + h * units + u];
  const e: number[] = [];
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < joints; i++) {
        for (let j = 0; j < joints; j++) {
          let v = 0;
          for (let u = 0; u < units; u++) {
            v += s.additive
              ? head(wh, b, i, h, u) * s.aSelf[h * units + u] + head(wh, b, j, h, u) * s.aNeighbor[h * units + u]
              : (head(q, b, i, h, u) * head(k, b, j, h, u)) / Math.sqrt(units);
          }
          e.push(s.additive && v < 0 ? s.slope * v : v);
        }
      }
    }
  }
  return e;
}

/**
 * Dense graph attention: `Wh = x·kernel` as K heads of U units; scores additive
 * `LeakyReLU(⟨Wh_i, aSelf⟩ + ⟨Wh_j, aNeighbor⟩)` or dot product `⟨q_i, k_j⟩/√U`; α = softmax over the
 * mask's row; `out[b, i, h] = Σ_j α·Wh[b, j, h]`, heads concatenated `[B, J, K·U]` or averaged `[B, J, U]`,
 * plus bias (linear activation). Returns output and α `[B, K, J, J]`.
 */
export function gatReference(x: readonly number[], s: GatSpec): { output: number[]; attention: number[] } {
  const { batch, joints, features, heads, units } = s;
  const width = heads * units;
  const wh = matmul(x, s.kernel, batch * joints, features, width);
  const e = gatScores(x, s, wh);
  const jj = joints * joints;
  const maskOf = (b: number): readonly number[] => (s.mask.length === jj ? s.mask : s.mask.slice(b * jj, (b + 1) * jj));
  const mask = Array.from({ length: batch * heads }, (_, bh) => maskOf(Math.floor(bh / heads))).flat();
  const attention = maskedSoftmaxReference(e, mask, joints);
  const output: number[] = [];
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < joints; i++) {
      const perHead = Array.from({ length: heads }, (_, h) =>
        Array.from({ length: units }, (__, u) => {
          let v = 0;
          for (let j = 0; j < joints; j++) {
            v += attention[((b * heads + h) * joints + i) * joints + j] * wh[(b * joints + j) * width + h * units + u];
          }
          return v;
        }),
      );
      const row = s.concat
        ? perHead.flat()
        : Array.from({ length: units }, (_, u) => perHead.reduce((a, p) => a + p[u], 0) / heads);
      output.push(...row.map((v, n) => v + (s.bias === null ? 0 : s.bias[n])));
    }
  }
  return { output, attention };
}

/**
 * Bilinear sampling with align-corners pixel centres and zeros outside: `features [B, H, W, C]`, points
 * `[B, J, 2]` (x, y in pixels) → `[B, J, C]`, `out = Σ_{h,w} max(0, 1 − |x − w|)·max(0, 1 − |y − h|)·f[h, w]`.
 */
export function sampleReference(
  features: readonly number[],
  points: readonly number[],
  dims: { batch: number; height: number; width: number; channels: number; joints: number },
): number[] {
  const { batch, height, width, channels, joints } = dims;
  const out: number[] = [];
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < joints; j++) {
      const x = points[(b * joints + j) * 2];
      const y = points[(b * joints + j) * 2 + 1];
      const acc = new Array<number>(channels).fill(0);
      for (let h = 0; h < height; h++) {
        const wy = Math.max(0, 1 - Math.abs(y - h));
        if (wy === 0) continue;
        for (let w = 0; w < width; w++) {
          const wx = Math.max(0, 1 - Math.abs(x - w));
          if (wx === 0) continue;
          for (let c = 0; c < channels; c++)
            acc[c] += wx * wy * features[((b * height + h) * width + w) * channels + c];
        }
      }
      out.push(...acc);
    }
  }
  return out;
}

/** Layer norm over the last axis of `x [R, D]`: `(x − μ)/√(σ² + ε)·γ + β`, σ² the biased variance. */
export function layerNormReference(
  x: readonly number[],
  gamma: readonly number[] | null,
  beta: readonly number[] | null,
  width: number,
  epsilon: number,
): number[] {
  const out: number[] = [];
  for (let r = 0; r < x.length / width; r++) {
    const row = x.slice(r * width, (r + 1) * width);
    const mean = row.reduce((a, v) => a + v, 0) / width;
    const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / width;
    const inv = 1 / Math.sqrt(variance + epsilon);
    row.forEach((v, d) => out.push((v - mean) * inv * (gamma?.[d] ?? 1) + (beta?.[d] ?? 0)));
  }
  return out;
}

/** Weights of {@link mhaReference} (TensorFlow.js layout `y = x·W + b`; null biases are absent). */
export interface MhaSpec {
  batch: number;
  queryLength: number;
  keyLength: number;
  dq: number;
  dk: number;
  dv: number;
  units: number;
  heads: number;
  wq: readonly number[];
  wk: readonly number[];
  wv: readonly number[];
  wo: readonly number[];
  bq: readonly number[] | null;
  bk: readonly number[] | null;
  bv: readonly number[] | null;
  bo: readonly number[] | null;
}

/** `x [R, C]·W + b`. */
function affine(
  x: readonly number[],
  w: readonly number[],
  b: readonly number[] | null,
  rows: number,
  inner: number,
  cols: number,
): number[] {
  return matmul(x, w, rows, inner, cols).map((v, n) => v + (b === null ? 0 : b[n % cols]));
}

/**
 * Multi-head attention: Q, K, V projections, head h on columns h·d … (h+1)·d (d = D/H),
 * `head_h = softmax(Q_h K_hᵀ/√d) V_h`, output `[heads]·W_o + b_o` `[B, Tq, D]`; α `[B, H, Tq, Tk]`.
 */
export function mhaReference(
  query: readonly number[],
  key: readonly number[],
  value: readonly number[],
  s: MhaSpec,
): { output: number[]; attention: number[] } {
  const { batch, queryLength: tq, keyLength: tk, units, heads } = s;
  const d = units / heads;
  const q = affine(query, s.wq, s.bq, batch * tq, s.dq, units);
  const k = affine(key, s.wk, s.bk, batch * tk, s.dk, units);
  const v = affine(value, s.wv, s.bv, batch * tk, s.dv, units);
  const attention: number[] = [];
  const merged = new Array<number>(batch * tq * units).fill(0);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < tq; i++) {
        const scores = Array.from({ length: tk }, (_, j) => {
          let dotQK = 0;
          for (let c = h * d; c < (h + 1) * d; c++) dotQK += q[(b * tq + i) * units + c] * k[(b * tk + j) * units + c];
          return dotQK / Math.sqrt(d);
        });
        const p = softmax(scores);
        attention.push(...p);
        for (let c = h * d; c < (h + 1) * d; c++) {
          merged[(b * tq + i) * units + c] = p.reduce((a, pj, j) => a + pj * v[(b * tk + j) * units + c], 0);
        }
      }
    }
  }
  return { output: affine(merged, s.wo, s.bo, batch * tq, units, units), attention };
}

/**
 * The k-nearest-neighbour mask `[B, J, J]` of `x [B, J, F]`: row i has 1 at i and at the k joints nearest
 * to i by the Euclidean distance of the first three features (the lower index first on equal distances).
 */
export function knnMaskReference(
  x: readonly number[],
  batch: number,
  joints: number,
  features: number,
  k: number,
): number[] {
  const out: number[] = [];
  for (let b = 0; b < batch; b++) {
    const point = (i: number): number[] => [0, 1, 2].map((f) => x[(b * joints + i) * features + f]);
    for (let i = 0; i < joints; i++) {
      const others = Array.from({ length: joints }, (_, j) => j).filter((j) => j !== i);
      const distance = (j: number): number => point(i).reduce((s, v, f) => s + (v - point(j)[f]) ** 2, 0);
      others.sort((p, q) => distance(p) - distance(q) || p - q);
      const chosen = new Set([i, ...others.slice(0, k)]);
      for (let j = 0; j < joints; j++) out.push(chosen.has(j) ? 1 : 0);
    }
  }
  return out;
}

/**
 * The `hops`-step neighbourhood of a 0/1 adjacency `[J][J]` (i itself included), by breadth-first search
 * from every node.
 */
export function hopMaskReference(adjacency: readonly (readonly number[])[], hops: number): number[] {
  const n = adjacency.length;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const depth = new Array<number>(n).fill(Infinity);
    depth[i] = 0;
    const queue = [i];
    while (queue.length > 0) {
      const m = queue.shift() as number;
      for (let j = 0; j < n; j++) {
        if (adjacency[m][j] === 1 && depth[j] === Infinity) {
          depth[j] = depth[m] + 1;
          queue.push(j);
        }
      }
    }
    for (let j = 0; j < n; j++) out.push(depth[j] <= hops ? 1 : 0);
  }
  return out;
}
