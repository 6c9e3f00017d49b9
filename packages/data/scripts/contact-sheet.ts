/**
 * Writes `packages/data/docs/contact-sheet.png`: 16 synthetic hands (seeds 0–15, 256×256) with their skeletons.
 * Filled dots are visible joints, rings occluded ones.
 *
 *   npx tsx packages/data/scripts/contact-sheet.ts [firstSeed]
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { contactSheet, drawSkeleton, encodePng, renderSyntheticHand } from '../src/index';

const first = Number(process.argv[2] ?? 0);
const tiles = [];
for (let i = 0; i < 16; i++) {
  const s = renderSyntheticHand(first + i, { size: 256 });
  tiles.push(drawSkeleton({ data: s.image, width: s.width, height: s.height }, s.uv, s.visible));
  console.log(
    `seed ${first + i}: ${s.meta.poseKind}, ${s.meta.background}, visible ${s.visible.reduce((a, b) => a + b, 0)}/21`,
  );
}
const outDir = fileURLToPath(new URL('../docs/', import.meta.url));
mkdirSync(outDir, { recursive: true });
const file = `${outDir}contact-sheet.png`;
writeFileSync(file, await encodePng(contactSheet(tiles, 4, 4)));
console.log(`wrote ${file}`);
