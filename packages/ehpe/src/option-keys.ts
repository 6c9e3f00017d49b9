/**
 * Option names shared by `createTwStage` and `createEhpe`, so that each refuses a misspelt option with the
 * same list, and those of the stage losses, which their recipes pass on. Internal: not exported from the
 * package.
 */
import type { TwStageConfig } from './tw-stage';
import type { PgStageLossOptions, TwStageLossOptions } from './training-losses';

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

/** The keys of a {@link TwStageLossOptions}: any other key is a named error of `twStageLoss`. */
export const TW_STAGE_LOSS_KEYS = {
  heatmapWeight: true,
  distanceWeight: true,
  l1Weight: true,
  distance: true,
  weights: true,
  scoremapWeight: true,
  depthMarginalWeight: true,
  depthBins: true,
  beta: true,
} satisfies Record<keyof TwStageLossOptions, true>;

/** The keys of a {@link PgStageLossOptions}: any other key is a named error of `pgStageLoss`. */
export const PG_STAGE_LOSS_KEYS = {
  positionWeight: true,
  edgeWeight: true,
  position: true,
  edgeReduction: true,
  adjacency: true,
  depthWeight: true,
} satisfies Record<keyof PgStageLossOptions, true>;

/**
 * The entries of `options` whose keys are in `keys`: what a recipe, whose options extend a loss's with
 * its own (`lr`, `clipNorm`, …), passes on to the loss.
 */
export function pickOptions<T extends object>(options: T, keys: Readonly<Record<string, true>>): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([key]) => Object.hasOwn(keys, key))) as Partial<T>;
}
