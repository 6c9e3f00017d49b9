/**
 * Draws learning curves (held-out 2D EPE against samples seen) of experiment-harness runs as an SVG,
 * with the baselines the harness logged on the same held-out set.
 *
 *   node --import tsx src/plot-curves.ts --log runs/exp/recipe.jsonl --out docs/curves.svg \
 *     --title 'Recipe candidates' ref400=default cosine-5e-3='lr 5e-3'
 *
 * Each positional argument is `run-name` or `run-name=legend label`; `--log` may be given several times.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { learningCurvesSvg, type LearningCurve } from './figures';

const { values, positionals } = parseArgs({
  args: process.argv.slice(2),
  options: {
    log: { type: 'string', multiple: true },
    out: { type: 'string' },
    title: { type: 'string' },
    target: { type: 'string' },
  },
  allowPositionals: true,
});
if (!values.log || !values.out || positionals.length === 0) {
  console.log('usage: plot-curves.ts --log FILE [--log FILE…] --out FILE.svg [--title T] [--target 0.9] run[=label]…');
  process.exit(1);
}

interface Entry {
  name: string;
  kind: string;
  samples?: number;
  epe?: number;
  meanPose?: number;
  handCentre?: number;
}
const entries: Entry[] = values.log.flatMap((file) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Entry),
);
const curves: LearningCurve[] = [];
let baselines: Entry | undefined;
for (const arg of positionals) {
  const [name, label] = arg.includes('=')
    ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
    : [arg, arg];
  const mine = entries.filter((e) => e.name === name);
  const points = mine
    .filter((e) => e.kind === 'eval' && e.samples !== undefined && e.epe !== undefined)
    .map((e) => [e.samples as number, e.epe as number] as [number, number]);
  if (points.length === 0) throw new Error(`no evaluations of run '${name}' in ${values.log.join(', ')}`);
  curves.push({ label, points });
  baselines ??= mine.find((e) => e.kind === 'baselines');
}
const references = baselines
  ? [
      { label: 'mean pose', value: baselines.meanPose as number },
      { label: 'hand centre', value: baselines.handCentre as number },
    ]
  : [];
if (baselines && values.target) {
  const k = Number(values.target);
  references.push({ label: `${k} × hand centre`, value: k * (baselines.handCentre as number) });
}
writeFileSync(values.out, learningCurvesSvg(curves, references, values.title ?? 'Held-out 2D EPE'));
console.log(`wrote ${values.out}`);
