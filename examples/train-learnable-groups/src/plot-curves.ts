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
import { PhalanxFileError } from '@phalanx/errors';
import { learningCurvesSvg, type LearningCurve } from './figures';
import { nameAndLabel, readJobCurve } from './job-curve';
import { exitOnError, numberOf, parseCommandLine, UsageError } from './usage';

const USAGE =
  'usage: plot-curves.ts --out FILE.svg [--log FILE… run[=label]…] [--job DIR[=label]…] [--title T] [--target 0.9]';

/** The command line, checked: a mistake is a {@link UsageError}. */
function readArgs(argv: string[]) {
  const { values, positionals } = parseCommandLine({
    args: argv[0] === '--' ? argv.slice(1) : argv,
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
  if (!values.out) throw new UsageError(`--out is required. ${USAGE}`);
  if (positionals.length === 0 && jobs.length === 0) throw new UsageError(`no run to draw: ${USAGE}`);
  if (positionals.length > 0 && logs.length === 0) throw new UsageError(`runs ${positionals.join(', ')} need --log`);
  const target = values.target === undefined ? undefined : numberOf(values.target);
  if (target !== undefined && !(Number.isFinite(target) && target > 0)) {
    throw new UsageError(`--target must be a number > 0, but received '${values.target}'.`);
  }
  return { logs, jobs, positionals, out: values.out, title: values.title ?? 'Held-out 2D EPE', target };
}

interface Entry {
  name: string;
  kind: string;
  samples?: number;
  epe?: number;
  meanPose?: number;
  handCentre?: number;
}

/** Whether `value` is a finite number, or absent. */
const optionalNumber = (value: unknown) => value === undefined || (typeof value === 'number' && Number.isFinite(value));

/**
 * The entries of the experiment log `file` (lines of other logs pass, matching no run); a line that is not a JSON
 * object, or holds a field of the wrong type, is a `PhalanxFileError` naming the file and the line.
 */
function readEntries(file: string): Entry[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new PhalanxFileError(file, '--log file', `cannot be read: ${(error as Error).message}`);
  }
  const entries: Entry[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      entry = undefined;
    }
    const e = entry as Record<string, unknown> | null | undefined;
    const ok =
      typeof e === 'object' &&
      e !== null &&
      !Array.isArray(e) &&
      ['name', 'kind'].every((k) => e[k] === undefined || typeof e[k] === 'string') &&
      ['samples', 'epe', 'meanPose', 'handCentre'].every((k) => optionalNumber(e[k]));
    if (!ok) {
      throw new PhalanxFileError(
        file,
        `line ${i + 1}`,
        'must be a JSON object (its name and kind strings, its samples, epe and baselines finite numbers)',
      );
    }
    entries.push(e as unknown as Entry);
  });
  return entries;
}

function main(): void {
  const { logs, jobs, positionals, out, title, target } = readArgs(process.argv.slice(2));
  const entries: Entry[] = logs.flatMap(readEntries);
  const curves: LearningCurve[] = [];
  let baselines: { meanPose?: number; handCentre?: number } | undefined;
  for (const arg of positionals) {
    const [name, label] = nameAndLabel(arg);
    const mine = entries.filter((e) => e.name === name);
    const points = mine
      .filter((e) => e.kind === 'eval' && e.samples !== undefined && e.epe !== undefined)
      .map((e) => [e.samples as number, e.epe as number] as [number, number]);
    if (points.length === 0) throw new UsageError(`no evaluations of run '${name}' in ${logs.join(', ')}`);
    curves.push({ label, points });
    baselines ??= mine.find((e) => e.kind === 'baselines');
  }
  for (const arg of jobs) {
    const [dir, label] = nameAndLabel(arg);
    const job = readJobCurve(dir);
    curves.push({ label, points: job.points });
    baselines ??= job.baselines;
  }
  const { meanPose, handCentre } = baselines ?? {};
  const references =
    meanPose !== undefined && handCentre !== undefined
      ? [
          { label: 'mean pose', value: meanPose },
          { label: 'hand centre', value: handCentre },
        ]
      : [];
  if (handCentre !== undefined && target !== undefined) {
    references.push({ label: `${target} × hand centre`, value: target * handCentre });
  }
  try {
    writeFileSync(out, learningCurvesSvg(curves, references, title));
  } catch (error) {
    throw new PhalanxFileError(out, '--out file', `cannot be written: ${(error as Error).message}`);
  }
  console.log(`wrote ${out}`);
}

try {
  main();
} catch (error) {
  exitOnError(error);
}
