/**
 * Option names shared by `createTwStage` and `createEhpe`, so that each refuses a misspelt option with the
 * same list. Internal: not exported from the package.
 */
import type { TwStageConfig } from './tw-stage';

/** The TW-stage options `createEhpe` passes through: every `TwStageConfig` key but the four it derives. */
export const TW_STAGE_SHARED_KEYS = {
  hourglassChannels: true,
  hourglassDepth: true,
  hourglassStacks: true,
  heatmapSize: true,
  refineChannels: true,
  refineBlocks: true,
  refinePools: true,
  refineBatchNorm: true,
  depthBins: true,
  beta: true,
} satisfies Record<Exclude<keyof TwStageConfig, 'backboneChannels' | 'featureSize' | 'tipWristJoints' | 'name'>, true>;
