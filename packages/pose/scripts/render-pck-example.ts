/**
 * Renders `docs/pck-example.svg` from the metrics test fixture: the PCK curve of the fixture's
 * predictions, before and after FreiHAND's Procrustes alignment.
 *
 * Run: `npx tsx packages/pose/scripts/render-pck-example.ts` (from the repository root).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { KeypointEvaluator, freihandAlign, pckCurveToSvg } from '../src/index';

const here = new URL('.', import.meta.url);
const golden = JSON.parse(readFileSync(new URL('../test/fixtures/metrics.json', here), 'utf8')) as {
  gt: { shape: number[]; data: number[] };
  pred: { shape: number[]; data: number[] };
};
const unflatten = ({ shape: [n, j, d], data }: { shape: number[]; data: number[] }): number[][][] =>
  Array.from({ length: n }, (_, i) =>
    Array.from({ length: j }, (_, k) => data.slice((i * j + k) * d, (i * j + k + 1) * d)),
  );
const gt = unflatten(golden.gt);
const pred = unflatten(golden.pred);
const aligned = pred.map((p, i) => freihandAlign(p, gt[i]));

const range = { min: 0, max: 0.05, steps: 20, units: 'm' } as const;
const raw = new KeypointEvaluator().feed(gt, pred).measures(range);
const pa = new KeypointEvaluator().feed(gt, aligned).measures(range);

const svg = pckCurveToSvg(
  {
    thresholds: raw.thresholds,
    curves: [
      { label: 'predictions', pck: raw.pckCurve, auc: raw.auc },
      { label: 'after Procrustes alignment', pck: pa.pckCurve, auc: pa.auc },
    ],
  },
  { title: '3D PCK of the metrics test fixture (40 hands)', thresholdScale: 1000, yLabel: '3D PCK' },
);
const out = new URL('../docs/pck-example.svg', here);
writeFileSync(out, svg);
console.log(`wrote ${out.pathname}: AUC ${raw.auc.toFixed(3)} → ${pa.auc.toFixed(3)} after alignment`);
