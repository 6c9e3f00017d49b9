/**
 * Numbers that compare runs of the training job (`main.ts`) read from their held-out curves: the error at
 * chosen steps, the mean of the last evaluations, the largest gap between two runs, and a Markdown table
 * of them (`compare-jobs.ts`), so the example README's tables come from a command.
 */
import type { JobCurve } from './job-curve';

/** A job's curve under the label it has in a table. */
export interface LabelledJob {
  label: string;
  curve: JobCurve;
}

/** Options of {@link jobTable}. */
export interface JobTableArgs {
  /** Steps whose held-out 2D EPE gets a column; a job not evaluated at a step shows `–`. */
  atSteps: number[];
  /** How many final evaluations the mean column averages. */
  last: number;
}

/** `[step, held-out 2D EPE in px]` of every evaluation, the one before training at step 0. */
export function stepCurve(curve: JobCurve): [number, number][] {
  return curve.points.map(([samples, epe]) => [samples / curve.batchSize, epe]);
}

/**
 * The held-out 2D EPE at `step`, or `undefined` when the job was not evaluated there.
 *
 * @example
 * ```ts
 * const curve: JobCurve = { points: [[0, 13.4], [8000, 9.1]], baselines: { meanPose: 13.3, handCentre: 9.6 }, batchSize: 32 };
 * epeAtStep(curve, 250); // 9.1
 * ```
 */
export function epeAtStep(curve: JobCurve, step: number): number | undefined {
  return stepCurve(curve).find(([s]) => s === step)?.[1];
}

/**
 * The mean held-out 2D EPE of the job's last `count` evaluations, `Σ epe_i / count` over the `count`
 * largest steps (all of them when there are fewer), the evaluation before training excluded. A single
 * evaluation late in a run jumps by tenths of a pixel; the mean of the last few is what runs compare by.
 *
 * @throws RangeError when `count` is not a positive integer.
 */
export function meanOfLast(curve: JobCurve, count: number): number {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`count must be a positive integer, got ${count}`);
  const trained = stepCurve(curve).filter(([step]) => step > 0);
  const tail = trained.slice(-count);
  return tail.reduce((sum, [, epe]) => sum + epe, 0) / tail.length;
}

/** The largest difference between two runs' curves: `|epe_a − epe_b|` and the step where it falls. */
export interface CurveGap {
  gapPx: number;
  step: number;
}

/**
 * The largest `|epe_a(s) − epe_b(s)|` over the steps `s ≥ fromStep` at which both jobs were evaluated
 * (the first such step on a tie), or `undefined` when they share no such step.
 *
 * @example
 * ```ts
 * const shipped = readJobCurve('long-run-2');
 * const slowerFusion = readJobCurve('long-run-fuslr3');
 * largestGap(shipped, slowerFusion, 10_000); // the largest gap from step 10 000 on, and its step
 * ```
 */
export function largestGap(a: JobCurve, b: JobCurve, fromStep = 0): CurveGap | undefined {
  const byStep = new Map(stepCurve(b));
  let largest: CurveGap | undefined;
  for (const [step, epe] of stepCurve(a)) {
    const other = byStep.get(step);
    if (step < fromStep || other === undefined) continue;
    const gapPx = Math.abs(epe - other);
    if (largest === undefined || gapPx > largest.gapPx) largest = { gapPx, step };
  }
  return largest;
}

const px = (value: number | undefined) => (value === undefined ? '–' : value.toFixed(2));
const thousands = (n: number) => n.toLocaleString('en-US').replace(/,/g, ' ');

/**
 * A Markdown table of the jobs, one row each: the held-out 2D EPE at each of `atSteps`, the mean of the
 * last `last` evaluations, and the joint count of each learned group (`–` when the job saved none: an
 * older job, or the one-branch network, which has no selector).
 *
 * @example
 * ```ts
 * console.log(jobTable([{ label: 'fusion 1e-2', curve: readJobCurve('long-run-2') }], { atSteps: [2000, 14000], last: 7 }));
 * ```
 */
export function jobTable(jobs: LabelledJob[], { atSteps, last }: JobTableArgs): string {
  const header = ['run', ...atSteps.map(thousands), `mean of the last ${last} evaluations`, 'groups (joint counts)'];
  const rows = jobs.map(({ label, curve }) => [
    label,
    ...atSteps.map((step) => px(epeAtStep(curve, step))),
    px(meanOfLast(curve, last)),
    curve.groups === undefined || curve.groups.length === 0 ? '–' : curve.groups.map((g) => g.length).join(' / '),
  ]);
  const rule = header.map((_, i) => (i === 0 || i === header.length - 1 ? '---' : '---:'));
  return [header, rule, ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}
