/**
 * The option names of the synthetic renderer, shared by `renderSyntheticHand`, `syntheticHands` and
 * `prefetchBatches` so that a misspelt option is a named error in each. Internal: not exported from the package.
 */
import type { SyntheticHandsOptions } from '../dataset';
import type { SyntheticHandOptions } from './render';

/** The keys of `SyntheticHandOptions`; the compiler keeps the record complete. */
export const RENDER_OPTION_KEYS = {
  size: true,
  width: true,
  height: true,
  format: true,
  poseKind: true,
  background: true,
  handedness: true,
  angles: true,
  rotation: true,
  handExtent: true,
  maxTilt: true,
} satisfies Record<keyof SyntheticHandOptions, true>;

/** The keys of `SyntheticHandsOptions`: the renderer's and the stream's own. */
export const SYNTHETIC_HANDS_OPTION_KEYS = {
  seed: true,
  count: true,
  start: true,
  ...RENDER_OPTION_KEYS,
} satisfies Record<keyof SyntheticHandsOptions, true>;
