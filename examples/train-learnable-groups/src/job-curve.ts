/**
 * The learning curve of a training job (`main.ts`): held-out 2D EPE against samples seen, read from the
 * job's `log.jsonl` (plain or gzipped) and `metrics.json`, so that runs of the job can be drawn beside
 * each other and beside the experiment harness's runs (`plot-curves.ts --job`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { PhalanxFileError } from '@phalanx/errors';

/** A job's held-out curve and the baselines it was measured against. */
export interface JobCurve {
  /** `[samples seen, held-out 2D EPE in px]`, by samples, one point per evaluated step. */
  points: [number, number][];
  /** The baselines of the job's held-out set (px). */
  baselines: { meanPose: number; handCentre: number };
  /** Samples per step: `points[i][0] / batchSize` is the step of an evaluation. */
  batchSize: number;
  /** The joints of each learned group at the end of the run, when the job saved them. */
  groups?: number[][];
}

/**
 * The held-out evaluations of a job log as `[step × batchSize, epe2dPx]`, sorted by step. A step
 * evaluated twice (a run interrupted after an evaluation and resumed from an earlier checkpoint repeats
 * it) keeps its last evaluation: the one the resumed run continued from.
 *
 * @param logText the job's `log.jsonl`: one JSON object per line; lines without `metrics.epe2dPx` are skipped.
 * @param batchSize samples per step.
 * @param file the log's name in errors.
 * @throws PhalanxFileError naming `file` and the line when a line with `epe2dPx` is not a JSON object, or its
 * step is not a whole number ≥ 0 or its error not finite.
 * @example
 * ```ts
 * const log = '{"event":"eval","step":250,"metrics":{"epe2dPx":9.1}}\n{"event":"step","step":251}';
 * jobEvaluations(log, 32); // [[8000, 9.1]]
 * ```
 */
export function jobEvaluations(logText: string, batchSize: number, file = 'log.jsonl'): [number, number][] {
  const byStep = new Map<number, number>();
  const lines = logText.split('\n');
  lines.forEach((line, i) => {
    if (!line.includes('"epe2dPx"')) return;
    const entry = jsonObject(line);
    if (entry === undefined) throw new PhalanxFileError(file, `line ${i + 1}`, 'is not a JSON object');
    const metrics = entry.metrics;
    const epe =
      typeof metrics === 'object' && metrics !== null ? (metrics as { epe2dPx?: unknown }).epe2dPx : undefined;
    if (typeof entry.step !== 'number' || typeof epe !== 'number') return;
    if (!Number.isSafeInteger(entry.step) || entry.step < 0 || !Number.isFinite(epe)) {
      throw new PhalanxFileError(
        file,
        `line ${i + 1}`,
        `must hold a whole step ≥ 0 and a finite epe2dPx, but holds step ${entry.step} and epe2dPx ${epe}`,
      );
    }
    byStep.set(entry.step, epe);
  });
  return [...byStep.entries()].sort((a, b) => a[0] - b[0]).map(([step, epe]) => [step * batchSize, epe]);
}

/** `JSON.parse(text)` when it is a JSON object (not an array, not null), else `undefined`. */
function jsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Splits a command-line argument `name=label` at its first `=` into `[name, label]`; a bare `name` is its
 * own label. The curve commands take their runs this way (`--job long-run-2='fusion 1e-2, seed 1'`).
 *
 * @example
 * ```ts
 * nameAndLabel('long-run-2=fusion 1e-2, seed 1'); // ['long-run-2', 'fusion 1e-2, seed 1']
 * ```
 */
export function nameAndLabel(arg: string): [string, string] {
  const cut = arg.indexOf('=');
  return cut < 0 ? [arg, arg] : [arg.slice(0, cut), arg.slice(cut + 1)];
}

interface JobMetrics {
  config: { batchSize: number };
  baselines: { meanPose: number; handCentre: number };
  before?: { epe2dPx?: number };
  groups?: number[][];
}

/** The metrics of `file` (JSON text `text`), checked: what {@link readJobCurve} reads of them. */
function jobMetrics(text: string, file: string): JobMetrics {
  const metrics = jsonObject(text);
  if (metrics === undefined) throw new PhalanxFileError(file, 'the file', 'is not a JSON object');
  const fail = (field: string, expected: string) => new PhalanxFileError(file, field, `must be ${expected}`);
  const config = metrics.config as { batchSize?: unknown } | null | undefined;
  const batchSize = typeof config === 'object' && config !== null ? config.batchSize : undefined;
  if (typeof batchSize !== 'number' || !Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw fail('config.batchSize', 'an integer ≥ 1');
  }
  const baselines = metrics.baselines as Record<string, unknown> | null | undefined;
  for (const key of ['meanPose', 'handCentre']) {
    const value = typeof baselines === 'object' && baselines !== null ? baselines[key] : undefined;
    if (typeof value !== 'number' || !Number.isFinite(value)) throw fail(`baselines.${key}`, 'a finite number');
  }
  const before = metrics.before as { epe2dPx?: unknown } | null | undefined;
  const epe = typeof before === 'object' && before !== null ? before.epe2dPx : undefined;
  if (epe !== undefined && (typeof epe !== 'number' || !Number.isFinite(epe))) {
    throw fail('before.epe2dPx', 'a finite number when present');
  }
  const groups = metrics.groups;
  const isGroup = (g: unknown) => Array.isArray(g) && g.every((j) => Number.isInteger(j));
  if (groups !== undefined && !(Array.isArray(groups) && groups.every(isGroup))) {
    throw fail('groups', 'a list of lists of joint indices when present');
  }
  return metrics as unknown as JobMetrics;
}
/**
 * The curve of the job whose output folder is `dir`: its log (`log.jsonl`, or `log.jsonl.gz` as the
 * example keeps finished runs), the batch size and baselines of its `metrics.json`, and the evaluation
 * before training as the point at 0 samples when the metrics hold it; the learned groups when the
 * metrics hold them.
 *
 * @throws PhalanxFileError when the folder has no log, no `metrics.json`, a file that cannot be read or is
 * damaged, or a log without evaluations.
 */
export function readJobCurve(dir: string): JobCurve {
  const plain = join(dir, 'log.jsonl');
  const gzipped = join(dir, 'log.jsonl.gz');
  const logFile = existsSync(plain) ? plain : existsSync(gzipped) ? gzipped : undefined;
  if (logFile === undefined) throw new PhalanxFileError(dir, 'the folder', 'holds no log.jsonl or log.jsonl.gz');
  const metricsFile = join(dir, 'metrics.json');
  if (!existsSync(metricsFile)) {
    throw new PhalanxFileError(dir, 'the folder', 'holds no metrics.json (the job writes it when it ends)');
  }
  const logText = readText(logFile);
  const metrics = jobMetrics(readText(metricsFile), metricsFile);
  const before = metrics.before?.epe2dPx;
  const points = jobEvaluations(logText, metrics.config.batchSize, logFile);
  if (points.length === 0) throw new PhalanxFileError(logFile, 'the log', 'holds no held-out evaluation');
  return {
    points: before === undefined || points[0]?.[0] === 0 ? points : [[0, before], ...points],
    baselines: metrics.baselines,
    batchSize: metrics.config.batchSize,
    ...(metrics.groups === undefined ? {} : { groups: metrics.groups }),
  };
}

/** The text of `file` (gunzipped when it ends in `.gz`); a file that cannot be read is a `PhalanxFileError`. */
function readText(file: string): string {
  try {
    const bytes = readFileSync(file);
    return (file.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
  } catch (error) {
    throw new PhalanxFileError(file, 'the file', `cannot be read: ${(error as Error).message}`);
  }
}
