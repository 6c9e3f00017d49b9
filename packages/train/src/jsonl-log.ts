/**
 * A JSON-lines log: one JSON object per line, appended as events happen, readable while the run goes on
 * (`tail -f`, `jq`) and after a crash.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

/** One event of a training run. Every event has `event`, `step` and `time` (ISO 8601). */
export type TrainingEvent =
  | { event: 'start'; step: number; time: string; totalSteps: number; resumedFrom: string | null }
  | {
      event: 'step';
      step: number;
      time: string;
      loss: number;
      parts?: Record<string, number>;
      learningRates: Record<string, number>;
      temperature?: number;
      gradNorm: number;
      batchSize: number;
      stepMs: number;
      stepsPerSecond: number;
      samplesPerSecond: number;
    }
  | { event: 'eval'; step: number; time: string; metrics: Record<string, number>; ms: number }
  | { event: 'checkpoint'; step: number; time: string; dir: string; reason: 'periodic' | 'end' | 'interrupt' | 'best' }
  | { event: 'end'; step: number; time: string; interrupted: boolean; seconds: number };

/** Distributes `Omit` over the members of a union. */
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * Appends {@link TrainingEvent}s to a `.jsonl` file (its folder is created). Writes are synchronous
 * and small, so nothing is lost when the process stops.
 *
 * @example
 * const log = new JsonlLog('runs/a/log.jsonl');
 * log.write({ event: 'eval', step: 100, metrics: { epe2d: 3.1 }, ms: 420 });
 */
export class JsonlLog {
  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
  }

  /** Appends one event, adding `time`. */
  write(event: DistributiveOmit<TrainingEvent, 'time'>): void {
    const { event: kind, step, ...rest } = event as { event: string; step: number };
    appendFileSync(this.path, `${JSON.stringify({ event: kind, step, time: new Date().toISOString(), ...rest })}\n`);
  }
}
