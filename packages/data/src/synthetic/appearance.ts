/**
 * The look of a synthetic sample: background, skin tone, light and sleeve colour, all drawn from the sample's
 * random stream in a fixed order.
 */
import type { Rng } from '../random';
import { fillBackground, hsvToRgb, randomColor, type BackgroundKind } from './background';
import type { Canvas, Light } from './raster';

/** Skin tones (linear RGB, light to dark) that skin colours are interpolated between. */
const SKIN_TONES: readonly (readonly [number, number, number])[] = [
  [0.98, 0.85, 0.74],
  [0.94, 0.76, 0.6],
  [0.86, 0.64, 0.47],
  [0.73, 0.5, 0.34],
  [0.55, 0.35, 0.22],
  [0.36, 0.23, 0.15],
];

/** A skin colour: a uniform point between two neighbouring tones, each channel jittered by ±5 %. */
function skinColor(rng: Rng): [number, number, number] {
  const t = rng.uniform(0, SKIN_TONES.length - 1);
  const i = Math.min(Math.floor(t), SKIN_TONES.length - 2);
  const f = t - i;
  const a = SKIN_TONES[i];
  const b = SKIN_TONES[i + 1];
  const j = () => rng.uniform(0.95, 1.05);
  return [(a[0] + (b[0] - a[0]) * f) * j(), (a[1] + (b[1] - a[1]) * f) * j(), (a[2] + (b[2] - a[2]) * f) * j()];
}

/** A light from the camera's side (`z < 0`) with a faint colour tint and random ambient, diffuse and specular parts. */
function randomLight(rng: Rng): Light {
  const ld = [rng.uniform(-1, 1), rng.uniform(-1, 1), -rng.uniform(0.3, 1.2)];
  const ln = Math.hypot(ld[0], ld[1], ld[2]);
  const tintH = rng.next();
  const tint = hsvToRgb(tintH, rng.uniform(0, 0.15), 1);
  return {
    dir: [ld[0] / ln, ld[1] / ln, ld[2] / ln],
    ambient: rng.uniform(0.2, 0.45),
    diffuse: rng.uniform(0.55, 0.9),
    specular: rng.uniform(0, 0.12),
    tint,
  };
}

/** The drawn look of one sample. */
export interface Appearance {
  /** The background family painted on the canvas. */
  background: BackgroundKind;
  /** Skin colour (linear RGB). */
  skin: [number, number, number];
  /** The light every hand part is shaded with. */
  light: Light;
  /** Forearm colour: a sleeve (35 %) or the skin. */
  sleeve: readonly number[];
}

/** Paints the background onto `canvas` and draws the skin, light and sleeve, in that order. */
export function drawAppearance(rng: Rng, canvas: Canvas, background: BackgroundKind | undefined): Appearance {
  const painted = fillBackground(canvas, rng, background);
  const skin = skinColor(rng);
  const light = randomLight(rng);
  const sleeve = rng.chance(0.35) ? randomColor(rng, [0, 0.8], [0.15, 0.9]) : skin;
  return { background: painted, skin, light, sleeve };
}
