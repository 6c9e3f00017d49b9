/**
 * The largest relative difference between two lists of weight arrays (same shapes), relative to `b`'s
 * values with a floor of 1e-3: how far two training runs ended apart.
 */
export function maxRelativeDifference(a: Float32Array[], b: Float32Array[]): number {
  let worst = 0;
  a.forEach((x, k) =>
    x.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - b[k][i]) / Math.max(1e-3, Math.abs(b[k][i]))))),
  );
  return worst;
}
