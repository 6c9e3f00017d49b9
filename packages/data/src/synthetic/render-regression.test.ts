import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { renderSyntheticHand, type SyntheticHandOptions, type SyntheticHandSample } from './render';

/**
 * Bit-for-bit pins of the renderer. The digests were computed on the single-function renderer (main at
 * 95c674b) before it was split into pose → camera → raster stages; a refactor that changes one bit of any
 * image, label or draw of the random stream (the order of draws decides every later value) fails here.
 * A deliberate change of the renderer's output updates these digests in the same commit, saying why.
 */
function digest(sample: SyntheticHandSample): string {
  const hash = createHash('sha256');
  const bytes = (a: ArrayBufferView) => hash.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  bytes(sample.image);
  bytes(sample.uv);
  bytes(sample.xyz);
  bytes(sample.K);
  bytes(sample.visible);
  bytes(Float64Array.of(sample.scale, sample.width, sample.height));
  bytes(sample.meta.angles);
  const { seed, poseKind, background, left, shape } = sample.meta;
  hash.update(JSON.stringify({ seed, poseKind, background, left, shape }));
  return hash.digest('hex').slice(0, 16);
}

const CASES: [string, number, SyntheticHandOptions][] = [
  ['defaults at 64 px', 1, { size: 64 }],
  ['another seed', 12345, { size: 64 }],
  ['float32 pixels, non-square', 7, { width: 80, height: 48, format: 'float32' }],
  ['left hand, fist, noise background', 3, { size: 48, handedness: 'left', poseKind: 'fist', background: 'noise' }],
  ['random handedness (drawn left), tilted view', 100, { size: 48, handedness: 'random', maxTilt: 0.6 }],
  [
    'fixed angles and rotation, stripes',
    5,
    {
      size: 48,
      angles: Array.from({ length: 20 }, (_, i) => 0.05 * i),
      rotation: [1, 0, 0, 0, -1, 0, 0, 0, -1],
      background: 'stripes',
    },
  ],
  ['large hands, blobs', 21, { size: 40, handExtent: [0.95, 1], background: 'blobs' }],
  ['hand too large to place (centred fallback)', 1, { size: 32, handExtent: [0.95, 1] }],
  ['small image', 0, { size: 16 }],
  ['pinch, gradient, no tilt', 8, { size: 40, poseKind: 'pinch', background: 'gradient', maxTilt: 0 }],
];

const EXPECTED: Record<string, string> = {
  'defaults at 64 px': 'e74b9628a45a448a',
  'another seed': 'e6b7075f26fa8068',
  'float32 pixels, non-square': '2a22e67944340d54',
  'left hand, fist, noise background': '3a71aabaa7826e0d',
  'random handedness (drawn left), tilted view': '5ea7218ffdcb2524',
  'fixed angles and rotation, stripes': '4aae786bdf2cd8ef',
  'large hands, blobs': '4f4447c24fa246fd',
  'hand too large to place (centred fallback)': '85fcc09f7deaf3d2',
  'small image': '6c0aa1760a68e5d5',
  'pinch, gradient, no tilt': '52a46d69553906a9',
};

describe('renderSyntheticHand regression pins', () => {
  it.each(CASES)('%s (seed %i) renders the same bits as before the stage split', (name, seed, options) => {
    expect(digest(renderSyntheticHand(seed, options))).toBe(EXPECTED[name]);
  });
});
