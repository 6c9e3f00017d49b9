import type { EhpeConfig } from './config';

/**
 * A tiny whole EHPE for tests: basic-block ResNet at 64 px (2×2 features), 16-pixel heatmaps, 4 depth bins,
 * width-16 PG-stage, no dropout. Not exported by the package.
 */
export const TINY_EHPE: EhpeConfig = {
  imageSize: 64,
  backbone: { block: 'basic', layers: [1, 1, 1, 1], widths: [4, 4, 8, 8], stemChannels: 4 },
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
