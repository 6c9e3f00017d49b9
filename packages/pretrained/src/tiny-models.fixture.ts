/**
 * Tiny configurations of the two networks for the package's tests: the same layers and names as the shipped
 * models, a few channels each, so a test builds one in milliseconds.
 */

/** Learnable Groups at 64 px with 4–8 channels: `createLearnableGroups(TINY_LG)`. */
export const TINY_LG = {
  inputSize: 64,
  planes: [4, 4] as [number, number],
  hourglassFeatures: 8,
  stemChannels: [4, 8] as [number, number],
  neckChannels: 8,
};
/** EHPE at 64 px with 4–16 channels: `createEhpe(TINY_EHPE)`. */
export const TINY_EHPE = {
  imageSize: 64,
  backbone: { block: 'basic' as const, layers: [1, 1, 1, 1], widths: [4, 4, 8, 8], stemChannels: 4 },
  heatmapSize: 16,
  hourglassChannels: 8,
  hourglassDepth: 2,
  hourglassStacks: 1,
  refineChannels: 8,
  refineBlocks: 2,
  refinePools: 1,
  depthBins: 4,
  nodeDim: 16,
  gatHeads: 2,
  femLayers: 1,
  femHeads: 2,
  femMlpRatio: 2,
  dropout: 0,
};
