/**
 * The two reference points every 2D EPE of this job is read against, on the same held-out set and
 * with the same rule (mean over the visible joints of every sample, in input pixels):
 *
 * - **mean pose**: one fixed pose for every image — the per-joint mean of the training stream's uv
 *   (input pixels, absolute image positions, no per-image placement), over `count` training samples;
 * - **hand centre**: every joint at the true centre of the hand — the mean of the sample's visible
 *   ground-truth joints (all 21 when none is visible). A model below it has learned more than where
 *   the hand is.
 */
import { syntheticHands, type HandBatch, type SyntheticHandOptions } from '@phalanx/data';

/** The two baselines' mean 2D EPE (input pixels). */
export interface Baselines {
  /** EPE of the training stream's mean pose placed as is. */
  meanPose: number;
  /** EPE of every joint at the centroid of the visible ground-truth joints. */
  handCentre: number;
}

/**
 * The per-joint mean uv `[21][2]` (input pixels) of `count` samples of the training stream.
 *
 * @example
 * const mean = meanTrainingPose({ seed: 1, size: 64 }, 2048);
 */
export function meanTrainingPose(options: SyntheticHandOptions & { seed: number }, count: number): number[][] {
  const sum = Array.from({ length: 21 }, () => [0, 0]);
  let n = 0;
  for (const s of syntheticHands({ ...options, count })) {
    for (let j = 0; j < 21; j++) {
      sum[j][0] += s.uv[2 * j];
      sum[j][1] += s.uv[2 * j + 1];
    }
    n++;
  }
  return sum.map(([u, v]) => [u / n, v / n]);
}

/**
 * Mean 2D EPE over the visible joints of `set` of the two baselines ({@link Baselines}).
 *
 * **Shapes**: `meanPose [21][2]`; each batch's `uv [B, 21, 2]`, `visible [B, 21]`.
 */
export async function baselineErrors(set: HandBatch[], meanPose: number[][]): Promise<Baselines> {
  let meanSum = 0;
  let centreSum = 0;
  let count = 0;
  for (const b of set) {
    const uv = (await b.uv.array()) as number[][][];
    const vis = (await b.visible.array()) as number[][];
    uv.forEach((joints, i) => {
      const shown = joints.filter((_, j) => vis[i][j] > 0);
      const pts = shown.length > 0 ? shown : joints;
      const cu = pts.reduce((a, p) => a + p[0], 0) / pts.length;
      const cv = pts.reduce((a, p) => a + p[1], 0) / pts.length;
      joints.forEach(([u, v], j) => {
        if (vis[i][j] <= 0) return;
        meanSum += Math.hypot(u - meanPose[j][0], v - meanPose[j][1]);
        centreSum += Math.hypot(u - cu, v - cv);
        count++;
      });
    });
  }
  return { meanPose: meanSum / count, handCentre: centreSum / count };
}

/** The mean 2D EPE (input pixels, visible joints) of predicted uv `[N][21][2]` against `set`, in order. */
export async function epeOf(set: HandBatch[], predicted: number[][][]): Promise<number> {
  let sum = 0;
  let count = 0;
  let k = 0;
  for (const b of set) {
    const uv = (await b.uv.array()) as number[][][];
    const vis = (await b.visible.array()) as number[][];
    uv.forEach((joints, i) => {
      const p = predicted[k++];
      joints.forEach(([u, v], j) => {
        if (vis[i][j] <= 0) return;
        sum += Math.hypot(u - p[j][0], v - p[j][1]);
        count++;
      });
    });
  }
  return sum / count;
}
