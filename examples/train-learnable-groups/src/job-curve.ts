/**
 * The learning curve of a training job (`main.ts`): held-out 2D EPE against samples seen, read from the
 * job's `log.jsonl` (plain or gzipped) and `metrics.json`, so that runs of the job can be drawn beside
 * each other and beside the experiment harness's runs (`plot-curves.ts --job`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

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
 * @example
 * ```ts
 * const log = '{"event":"eval","step":250,"metrics":{"epe2dPx":9.1}}\n{"event":"step","step":251}';
 * jobEvaluations(log, 32); // [[8000, 9.1]]
 * ```
 */
export function jobEvaluations(logText: string, batchSize: number): [number, number][] {
  const byStep = new Map<number, number>();
  for (const line of logText.split('\n')) {
    if (!line.includes('"epe2dPx"')) continue;
    const entry = JSON.parse(line) as { step?: unknown; metrics?: { epe2dPx?: unknown } };
    const epe = entry.metrics?.epe2dPx;
    if (typeof entry.step === 'number' && typeof epe === 'number') byStep.set(entry.step, epe);
  }
  return [...byStep.entries()].sort((a, b) => a[0] - b[0]).map(([step, epe]) => [step * batchSize, epe]);
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

/**
 * The curve of the job whose output folder is `dir`: its log (`log.jsonl`, or `log.jsonl.gz` as the
 * example keeps finished runs), the batch size and baselines of its `metrics.json`, and the evaluation
 * before training as the point at 0 samples when the metrics hold it; the learned groups when the
 * metrics hold them.
 *
 * @throws Error when the folder has no log, no `metrics.json`, or a log without evaluations.
 */
export function readJobCurve(dir: string): JobCurve {
  const plain = join(dir, 'log.jsonl');
  const gzipped = join(dir, 'log.jsonl.gz');
  const logText = existsSync(plain)
    ? readFileSync(plain, 'utf8')
    : existsSync(gzipped)
      ? gunzipSync(readFileSync(gzipped)).toString('utf8')
      : undefined;
  if (logText === undefined) throw new Error(`${dir} holds no log.jsonl or log.jsonl.gz`);
  const metricsFile = join(dir, 'metrics.json');
  if (!existsSync(metricsFile)) throw new Error(`${dir} holds no metrics.json (the job writes it when it ends)`);
  const metrics = JSON.parse(readFileSync(metricsFile, 'utf8')) as JobMetrics;
  const before = metrics.before?.epe2dPx;
  const points = jobEvaluations(logText, metrics.config.batchSize);
  if (points.length === 0) throw new Error(`${dir}'s log holds no held-out evaluation`);
  return {
    points: before === undefined || points[0]?.[0] === 0 ? points : [[0, before], ...points],
    baselines: metrics.baselines,
    batchSize: metrics.config.batchSize,
    ...(metrics.groups === undefined ? {} : { groups: metrics.groups }),
  };
}
