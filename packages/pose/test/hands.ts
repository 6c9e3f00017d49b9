/**
 * Test helpers: a seeded random generator and random (but hand-like) 21-joint hands in a camera frame.
 */

/** Mulberry32: a small seeded PRNG returning numbers in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random rotation matrix (from a random unit quaternion). */
export function randomRotation(rand: () => number): number[][] {
  const g = () => {
    const u = Math.max(rand(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  };
  let [w, x, y, z] = [g(), g(), g(), g()];
  const n = Math.hypot(w, x, y, z);
  [w, x, y, z] = [w / n, x / n, y / n, z / n];
  return [
    [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
    [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
    [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
  ];
}

/** A random hand in metres, wrist ~0.3–0.8 m in front of the camera, FreiHAND joint order. */
export function randomHand(rand: () => number): number[][] {
  const joints: number[][] = [[0, 0, 0]];
  const baseAngles = [-0.9, -0.3, 0, 0.25, 0.5];
  for (let f = 0; f < 5; f++) {
    let dir = [Math.sin(baseAngles[f]), -Math.cos(baseAngles[f]), 0.2 * (rand() - 0.5)];
    let p = [0, 0, 0];
    const lengths = [0.06 + 0.03 * rand(), 0.03 + 0.015 * rand(), 0.02 + 0.01 * rand(), 0.018 + 0.008 * rand()];
    for (let k = 0; k < 4; k++) {
      const n = Math.hypot(dir[0], dir[1], dir[2]);
      p = p.map((v, c) => v + (lengths[k] * dir[c]) / n);
      joints.push([...p]);
      dir = dir.map((v) => v + 0.4 * (rand() - 0.5));
    }
  }
  const r = randomRotation(rand);
  const t = [0.15 * (rand() - 0.5), 0.15 * (rand() - 0.5), 0.3 + 0.5 * rand()];
  return joints.map((q) => [0, 1, 2].map((i) => r[i][0] * q[0] + r[i][1] * q[1] + r[i][2] * q[2] + t[i]));
}

/** A random pinhole camera matrix for a 256-pixel image. */
export function randomK(rand: () => number): number[][] {
  const f = 300 + 400 * rand();
  return [
    [f, 0, 120 + 16 * rand()],
    [0, f * (0.95 + 0.1 * rand()), 120 + 16 * rand()],
    [0, 0, 1],
  ];
}

/** The intrinsics the geometry tests share: fx 500, fy 480, principal point (128, 120) px. */
export const TEST_K = [
  [500, 0, 128],
  [0, 480, 120],
  [0, 0, 1],
];
