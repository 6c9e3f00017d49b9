/**
 * The NDDR block (Gao et al., CVPR 2019) as Learnable Groups uses it to share features between its
 * group branches (Eq. 9): a `GroupFusion` layer followed by batch norm and ReLU per group.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { checkInteger, PhalanxShapeError } from '@phalanx/errors';
import { groupFusion } from '@phalanx/layers';
import { torchName } from './naming';
import { checkBuilderOptions } from './options';
import { channelsOf, relu, torchBatchNorm } from './torch-ops';

type SymbolicTensor = tfl.SymbolicTensor;

/** Options of {@link nddrBlock}. */
export interface NddrBlockOptions {
  /** Output channels U of every group. Default: the input channel count C. */
  units?: number;
  /** Initial weight α of a group's own features (U = C). Default 0.9. */
  selfWeight?: number;
  /** Initial total weight β of the other groups' features, split evenly among them (U = C). Default 0.1. */
  otherWeight?: number;
  /** PyTorch module path (`nddr_layer0`). Required. */
  name: string;
}

/** The keys of {@link NddrBlockOptions}: any other key is a named error. */
const NDDR_KEYS = { units: true, selfWeight: true, otherWeight: true, name: true } satisfies Record<
  keyof NddrBlockOptions,
  true
>;

/**
 * NDDR block, the release's `nddr_layer(G·C, U, G)`: with `X = concat(x_1 … x_G)` on channels, group i
 * gets `y_i = relu(bn_i(X · W_i + b_i))` — a 1×1 convolution from all G·C channels to U, computed for
 * all groups as one `GroupFusion` matmul (`kernel [G·C, G·U]`, columns `i·U … (i+1)·U` are group i's
 * `W_i`). Initial `W_i` = α·I on group i's rows and β/(G−1)·I on the others' (the release's constant
 * initialisation).
 *
 * Layers: `<name>` (the GroupFusion; PyTorch keeps its weights as `<name>.Conv_Task_List.i.0.weight /
 * .bias`), `<name>.Conv_Task_List.i.1` (BN of group i), `<name>.Conv_Task_List.i.2` (ReLU).
 *
 * **Shapes**: G ≥ 2 tensors `[B, H, W, C]` → G tensors `[B, H, W, U]`.
 *
 * @example
 * const branches = [0, 1, 2].map(() => tfl.input({ shape: [32, 32, 32] }));
 * const fused = nddrBlock(branches, { name: 'nddr_layer0' }); // 3 × [B, 32, 32, 32]
 */
export function nddrBlock(xs: SymbolicTensor[], options: NddrBlockOptions): SymbolicTensor[] {
  const component = 'nddrBlock';
  checkBuilderOptions(component, options, NDDR_KEYS, '{units?, selfWeight?, otherWeight?, name}');
  const { units, selfWeight = 0.9, otherWeight = 0.1, name } = options;
  if (!Array.isArray(xs) || xs.length < 2) {
    throw new PhalanxShapeError(
      component,
      'inputs',
      'a list of at least 2 tensors',
      Array.isArray(xs) ? xs.length : xs,
    );
  }
  const channels = channelsOf(xs[0], component);
  const outUnits = units ?? channels;
  checkInteger(component, 'units', outUnits, 1);
  const fused = groupFusion({
    numGroups: xs.length,
    units: outUnits,
    selfWeight,
    otherWeight,
    useBias: true,
    name,
  }).apply(xs) as SymbolicTensor[];
  return fused.map((y, i) =>
    relu(torchBatchNorm(y, torchName(name, 'Conv_Task_List', i, 1)), torchName(name, 'Conv_Task_List', i, 2)),
  );
}
