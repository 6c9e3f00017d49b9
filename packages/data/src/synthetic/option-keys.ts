/**
 * The option names of the synthetic renderer, shared by `renderSyntheticHand` and `syntheticHands` so that a
 * misspelt option is a named error in both. Internal: not exported from the package.
 */
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
