/**
 * The "no groups" network of the paper's ablation (Table 2, first row): the Learnable Groups network
 * with a single branch that predicts every joint — no selector, no fusion. Same backbone, neck, branch,
 * heads and soft-argmax as `createLearnableGroups` (same layer names, branch index 0), so the
 * training job, its losses and its evaluation apply unchanged.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { concatChannels, hourglassBackbone, relu, res2dBlock, torchConv2d, torchName } from '@phalanx/blocks';
import { softArgmax25D } from '@phalanx/layers';
import { groupBranch, resolveLearnableGroupsConfig, type LearnableGroupsConfig } from '@phalanx/learnable-groups';

type SymbolicTensor = tfl.SymbolicTensor;

function head(x: SymbolicTensor, prefix: string, planes: [number, number], numJoints: number): SymbolicTensor {
  let y = torchConv2d(x, { filters: planes[0], kernelSize: 3, padding: 1, name: torchName(prefix, 0, 0) });
  y = relu(y, torchName(prefix, 0, 1));
  return torchConv2d(y, { filters: numJoints, kernelSize: 3, padding: 1, name: torchName(prefix, 0, 2) });
}

/**
 * Builds the single-branch network: backbone `Net_HG` → `backbone_conv` → one group branch → heatmap
 * and depth heads → latent `SoftArgmax25D` (`b_get_uv.0`) → outputs `uv = 4·(u, v)` (input pixels) and
 * `depth`. `numGroups` and `fusion` of the configuration are ignored.
 *
 * **Shapes**: input `[B, S, S, 3]` → `[uv [B, J, 2], depth [B, J]]`.
 *
 * @example
 * const model = createSingleBranch({ inputSize: 64, planes: [16, 16], hourglassFeatures: 64 });
 */
export function createSingleBranch(config: LearnableGroupsConfig = {}): tfl.LayersModel {
  const c = resolveLearnableGroupsConfig({ ...config, numGroups: 2, fusion: false });
  const { numJoints: J, inputSize: S, planes } = c;
  const image = tfl.input({ shape: [S, S, 3], name: 'image' });
  const { heatmaps, encodings } = hourglassBackbone(image, {
    numJoints: J,
    numStacks: 1,
    numModules: 2,
    features: c.hourglassFeatures,
    stemChannels: c.stemChannels,
    name: 'backbone',
  });
  let shared = concatChannels([heatmaps[0], encodings[0]], 'backbone_conv.cat');
  shared = res2dBlock(shared, { outChannels: c.neckChannels, name: 'backbone_conv.0' });
  shared = res2dBlock(shared, { outChannels: planes[0], name: 'backbone_conv.1' });
  const branch = groupBranch(shared, 0, planes);
  const uvd = softArgmax25D({
    mode: 'latent',
    numJoints: J,
    trainableBeta: true,
    beta: 1,
    coordinates: 'pixel',
    name: torchName('b_get_uv', 0),
  }).apply([head(branch, 'b_htmaps_conv', planes, J), head(branch, 'b_depth_conv', planes, J)]) as SymbolicTensor;
  const asImage = tfl.layers.reshape({ targetShape: [J, 3, 1], name: 'output.split' }).apply(uvd) as SymbolicTensor;
  const crop = (right: number, left: number, name: string) =>
    tfl.layers
      .cropping2D({
        cropping: [
          [0, 0],
          [left, right],
        ],
        name,
      })
      .apply(asImage) as SymbolicTensor;
  const uvFlat = tfl.layers
    .reshape({ targetShape: [J, 2], name: 'output.uv_heatmap' })
    .apply(crop(1, 0, 'output.uv_crop')) as SymbolicTensor;
  const uv = tfl.layers.rescaling({ scale: 4, offset: 0, name: 'uv' }).apply(uvFlat) as SymbolicTensor;
  const depth = tfl.layers
    .reshape({ targetShape: [J], name: 'depth' })
    .apply(crop(0, 2, 'output.depth_crop')) as SymbolicTensor;
  return tfl.model({ inputs: image, outputs: [uv, depth], name: 'single_branch' });
}
