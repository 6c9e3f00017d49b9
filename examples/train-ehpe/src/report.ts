/**
 * The outputs of a finished run read from its logs: the held-out evaluations of each stage (across
 * resumes), the training time and losses, `curve.svg` and the summary of `metrics.json`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { learningCurvesSvg, type CurvePanel } from './figures';
import type { StageName } from './run';

/** One held-out evaluation of a stage's log. */
export interface EvalPoint {
  /** Steps of the stage completed. */
  step: number;
  /** The metrics (see `stageMetrics`). */
  metrics: Record<string, number>;
}

/** What a stage's log says. */
export interface StageLog {
  /** The held-out evaluations, by step (for a step logged twice — a resume repeating steps — the last). */
  evals: EvalPoint[];
  /** Training seconds: the sum of the steps' wall times (also of steps repeated after a kill). */
  trainSeconds: number;
  /** Steps logged (repeats included). */
  stepsLogged: number;
  /** First and last logged loss. */
  firstLoss: number | null;
  lastLoss: number | null;
}

/** Reads `<out>/log-<stage>.jsonl` (an absent log reads as empty). */
export function readStageLog(out: string, stage: StageName): StageLog {
  const file = join(out, `log-${stage}.jsonl`);
  const lines = existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '')
    : [];
  const evals = new Map<number, Record<string, number>>();
  const log: StageLog = { evals: [], trainSeconds: 0, stepsLogged: 0, firstLoss: null, lastLoss: null };
  for (const line of lines) {
    const e = JSON.parse(line) as {
      event: string;
      step: number;
      metrics?: Record<string, number>;
      stepMs?: number;
      loss?: number;
    };
    if (e.event === 'eval' && e.metrics) evals.set(e.step, e.metrics);
    if (e.event === 'step') {
      log.trainSeconds += (e.stepMs ?? 0) / 1000;
      log.stepsLogged += 1;
      log.firstLoss ??= e.loss ?? null;
      log.lastLoss = e.loss ?? null;
    }
  }
  log.evals = [...evals.entries()].sort((a, b) => a[0] - b[0]).map(([step, metrics]) => ({ step, metrics }));
  return log;
}

const points = (log: StageLog, key: string): [number, number][] =>
  log.evals.map((e) => [e.metrics.samples, e.metrics[key]]);

const lastOf = (log: StageLog, key: string): number => log.evals.at(-1)?.metrics[key] ?? Number.NaN;

/** Stage 3's curve, its samples counted on from stage 2's last evaluation (none without a stage-3 log). */
function endToEndCurve(logs: Partial<Record<StageName, StageLog>>): { label: string; points: [number, number][] }[] {
  const e2e = logs.e2e;
  if (!e2e || e2e.evals.length === 0) return [];
  const start = logs.pg?.evals.at(-1)?.metrics.samples ?? 0;
  return [{ label: 'EHPE, stage 3 (end to end)', points: points(e2e, 'epe2dPx').map(([x, y]) => [start + x, y]) }];
}

/**
 * `curve.svg`: stage 1's TW-joint 2D error (left) and the 21-joint 2D error of stage 2, PG-only and stage 3
 * (right; stage 3's samples after stage 2's), held-out, against samples seen, with the mean-pose and
 * hand-centre baselines.
 */
export function runCurveSvg(logs: Partial<Record<StageName, StageLog>>, subtitle: string): string {
  const panels: CurvePanel[] = [];
  const tw = logs.tw;
  if (tw && tw.evals.length > 0) {
    panels.push({
      title: 'Stage 1: TW joints, held-out 2D error',
      yLabel: 'mean 2D error (px)',
      curves: [{ label: 'TW-stage', points: points(tw, 'twEpe2dPx') }],
      baselines: [
        { label: 'mean pose', value: lastOf(tw, 'meanPoseTwEpe2dPx') },
        { label: 'hand centre', value: lastOf(tw, 'handCentreTwEpe2dPx') },
      ],
    });
  }
  const second = (['pg', 'pg-only'] as const).filter((s) => (logs[s]?.evals.length ?? 0) > 0);
  if (second.length > 0) {
    const any = logs[second[0]]!;
    panels.push({
      title: 'Stage 2: all 21 joints, held-out 2D error',
      yLabel: 'mean 2D error (px)',
      curves: [
        ...second.map((s) => ({
          label: s === 'pg' ? 'EHPE (TW → PG)' : 'PG-only',
          points: points(logs[s]!, s === 'pg' ? 'epe2dPx' : 'pgOnlyEpe2dPx'),
        })),
        ...endToEndCurve(logs),
      ],
      baselines: [
        { label: 'mean pose', value: lastOf(any, 'meanPoseEpe2dPx') },
        { label: 'hand centre', value: lastOf(any, 'handCentreEpe2dPx') },
      ],
    });
  }
  return learningCurvesSvg(panels, subtitle);
}

/** Per stage: steps and seconds of training, first/last loss and the last held-out evaluation. */
export function stageSummary(log: StageLog): Record<string, unknown> {
  return {
    trainSeconds: log.trainSeconds,
    stepsLogged: log.stepsLogged,
    loss: { first: log.firstLoss, last: log.lastLoss },
    lastEval: log.evals.at(-1) ?? null,
  };
}
