/**
 * How much a trained NDDR fusion mixes the groups. `GroupFusion`'s kernel `K [G·C, G·U]` maps the
 * concatenated group features to every group's output; block (j, i) — rows of input group j, columns of
 * output group i — is what group i reads from group j. The NDDR initialisation puts `α·I` on the own
 * blocks and `β/(G−1)·I` on the others, so the groups start almost separate; this measures where training
 * has taken them.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { checkInteger, PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { GroupFusion } from '@phalanx/layers';

/**
 * For each output group i of a fusion kernel `K [G·C, G·U]` (row-major), the share of the squared weight
 * of its columns that reads the other groups' channels:
 *
 * `share_i = 1 − ‖K[i·C:(i+1)·C, i·U:(i+1)·U]‖² / ‖K[:, i·U:(i+1)·U]‖²`
 *
 * 0 when group i reads only itself, (G−1)/G when it reads all groups alike. At the NDDR initialisation
 * (α, β) it is `β²/(G−1) / (α² + β²/(G−1))`: 0.6 % for G = 3, α = 0.9, β = 0.1. An output group whose
 * columns are all zero has share 0. It weighs kernel entries only: an input channel of larger activations
 * counts for more in the output than its weight says.
 *
 * Throws `PhalanxShapeError` when `kernel.length` is not `rows × cols` or either side is not divisible by
 * G, and `PhalanxConfigError` for G < 2 or a non-finite entry.
 *
 * @example
 * ```ts
 * // G = 2, C = U = 1: group 0 reads 3 from itself and 1 from group 1
 * crossGroupShares(new Float32Array([3, 0, 1, 2]), [2, 2], 2); // [0.1, 0]
 * ```
 */
export function crossGroupShares(kernel: ArrayLike<number>, shape: [number, number], numGroups: number): number[] {
  const component = 'crossGroupShares';
  const [rows, cols] = shape;
  checkInteger(component, 'numGroups', numGroups, 2);
  if (kernel.length !== rows * cols || rows % numGroups !== 0 || cols % numGroups !== 0 || rows === 0) {
    throw new PhalanxShapeError(component, 'kernel', `[G·C, G·U] with G = ${numGroups}, ${kernel.length} entries`, [
      rows,
      cols,
    ]);
  }
  const c = rows / numGroups;
  const u = cols / numGroups;
  const own = new Array<number>(numGroups).fill(0);
  const total = new Array<number>(numGroups).fill(0);
  for (let row = 0; row < rows; row++) {
    for (let col = 0; col < cols; col++) {
      const w = kernel[row * cols + col];
      if (!Number.isFinite(w)) throw new PhalanxConfigError(component, 'kernel', 'finite entries', w);
      const out = Math.floor(col / u);
      total[out] += w * w;
      if (Math.floor(row / c) === out) own[out] += w * w;
    }
  }
  return total.map((t, i) => (t === 0 ? 0 : 1 - own[i] / t));
}

/** What {@link fusionMixing} reads from a model. */
export interface FusionMixing {
  /** Name of the `GroupFusion` layer. */
  layer: string;
  /** Its group count G. */
  numGroups: number;
  /** Its kernel's shape `[G·C, G·U]`. */
  kernelShape: [number, number];
  /** {@link crossGroupShares} of the kernel, one per output group. */
  shares: number[];
  /**
   * The same of the layer's NDDR initialisation (its α and β), for comparison; `null` when it was not built
   * with one (a `kernelInitializer` of its own, or U ≠ C).
   */
  initialShare: number | null;
}

/**
 * Finds every `GroupFusion` layer of `model` and measures its {@link crossGroupShares}. Returns an empty
 * list for a model without fusion (`--no-fusion`, `--groups 1`). Reads the kernel back to the host once.
 *
 * @example
 * ```ts
 * const model = createLearnableGroups({ ...MODEL_SIZES.tiny, numGroups: 3, fusion: true });
 * fusionMixing(model)[0].shares; // three shares of ≈ 0.006 before training
 * ```
 */
export function fusionMixing(model: tfl.LayersModel): FusionMixing[] {
  return model.layers
    .filter((layer): layer is GroupFusion => layer instanceof GroupFusion)
    .map((layer) => {
      const kernel = layer.getWeights()[0];
      const [rows, cols] = kernel.shape as [number, number];
      const g = layer.numGroups;
      const other = (layer.otherWeight * layer.otherWeight) / (g - 1);
      const nddr = layer.kernelInitializer === null && rows === cols;
      return {
        layer: layer.name,
        numGroups: g,
        kernelShape: [rows, cols],
        shares: crossGroupShares(kernel.dataSync(), [rows, cols], g),
        initialShare: nddr ? other / (layer.selfWeight * layer.selfWeight + other) : null,
      };
    });
}
