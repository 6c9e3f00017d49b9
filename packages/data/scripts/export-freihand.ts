/**
 * Exports synthetic hands (optionally augmented) in FreiHAND's layout — `training/rgb/*.jpg`,
 * `training_xyz.json`, `training_K.json`, `training_scale.json` — for training with PyTorch code that reads
 * FreiHAND (docs/scaling.md). Run from the repository root:
 *
 *   npx tsx --tsconfig tsconfig.base.json packages/data/scripts/export-freihand.ts --out /tmp/phalanx-freihand --count 1000
 *
 * Flags: --out DIR (required), --count N (default 1000), --size S (default 224, FreiHAND's), --seed N
 * (default 1), --augment (crop, zoom, rotate and colour-jitter each hand with `augment`), --quality Q (JPEG,
 * default 95).
 */
import { parseArgs } from 'node:util';
import { augment, openFreiHand, syntheticHands, writeFreihand, type HandSample } from '../src/index';

const { values: flags } = parseArgs({
  options: {
    out: { type: 'string' },
    count: { type: 'string', default: '1000' },
    size: { type: 'string', default: '224' },
    seed: { type: 'string', default: '1' },
    augment: { type: 'boolean', default: false },
    quality: { type: 'string', default: '95' },
  },
});
if (flags.out === undefined) throw new Error('--out DIR is required');
const count = Number(flags.count);
const size = Number(flags.size);
const seed = Number(flags.seed);

function* samples(): Generator<HandSample> {
  let i = 0;
  for (const s of syntheticHands({ seed, count, size: flags.augment ? Math.round(size * 1.25) : size })) {
    yield flags.augment ? augment(s, { seed: seed * 1_000_003 + i, outputSize: size }) : s;
    i++;
  }
}

const t0 = performance.now();
const { count: written } = await writeFreihand(samples(), flags.out, { quality: Number(flags.quality) });
const check = await openFreiHand({ root: flags.out });
console.log(
  `${written} hands (${size}×${size}${flags.augment ? ', augmented' : ''}) written to ${flags.out} in ` +
    `${((performance.now() - t0) / 1000).toFixed(1)} s; openFreiHand reads ${check.length} back`,
);
