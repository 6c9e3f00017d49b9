/**
 * Draws learning curves (held-out 2D EPE against samples seen) of experiment-harness runs as an SVG,
 * with the baselines the harness logged on the same held-out set.
 *
 *   node --import tsx src/plot-curves.ts --log runs/exp/recipe.jsonl --out docs/curves.svg \
 *     --title 'Recipe candidates' ref400=default cosine-5e-3='lr 5e-3'
 *
 * Each positional argument is `run-name` or `run-name=legend label`; `--log` may be given several times.
 * `--job DIR[=label]` (also repeatable) adds a run of the training job (`main.ts`) from its output folder,
 * its samples counted as steps × its batch; with no experiment run, the baselines are the first job's:
 *
 *   node --import tsx src/plot-curves.ts --out docs/long-runs.svg --job long-run-2='fusion 1e-2' \
 *     --job long-run-fuslr3='fusion 3e-3'
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { learningCurvesSvg, type LearningCurve } from './figures';
import { nameAndLabel, readJobCurve } from './job-curve';

const { values, positionals } = parseArgs({
  args: process.argv.slice(2),
  options: {
    log: { type: 'string', multiple: true },
    job: { type: 'string', multiple: true },
    out: { type: 'string' },
    title: { type: 'string' },
    target: { type: 'string' },
  },
  allowPositionals: true,
});
const logs = values.log ?? [];
const jobs = values.job ?? [];
if (!values.out || (positionals.length === 0 && jobs.length === 0) || (positionals.length > 0 && logs.length === 0)) {
  console.log(
    'usage: plot-curves.ts --out FILE.svg [--log FILE… run[=label]…] [--job DIR[=label]…] [--title T] [--target 0.9]',
  );
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
const entries: Entry[] = logs.flatMap((file) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Entry),
);
const curves: LearningCurve[] = [];
let baselines: Entry | undefined;
for (const arg of positionals) {
  const [name, label] = nameAndLabel(arg);
  const mine = entries.filter((e) => e.name === name);
  const points = mine
    .filter((e) => e.kind === 'eval' && e.samples !== undefined && e.epe !== undefined)
    .map((e) => [e.samples as number, e.epe as number] as [number, number]);
  if (points.length === 0) throw new Error(`no evaluations of run '${name}' in ${logs.join(', ')}`);
  curves.push({ label, points });
  baselines ??= mine.find((e) => e.kind === 'baselines');
}
for (const arg of jobs) {
  const [dir, label] = nameAndLabel(arg);
  const job = readJobCurve(dir);
  curves.push({ label, points: job.points });
  baselines ??= { name: dir, kind: 'baselines', ...job.baselines };
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
