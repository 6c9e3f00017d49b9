/**
 * A JSON-lines log: one JSON object per line, appended as events happen, readable while the run goes on
 * (`tail -f`, `jq`) and after a crash.
 */
import { appendFileSync, closeSync, existsSync, openSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { describeCompact, PhalanxConfigError, PhalanxFileError } from '@phalanx/errors';
import { checkPath, fileSystemReason, makeFolder } from './paths';

/** What every event of the log has. */
export interface EventBase {
  /** Steps completed when the event happened. */
  step: number;
  /** Wall-clock time (ISO 8601), added by {@link JsonlLog.write}. */
  time: string;
}

/** `fit` started (after a resume). */
export interface StartEvent extends EventBase {
  /** Kind. */
  event: 'start';
  /** The step `fit` runs to. */
  totalSteps: number;
  /** The checkpoint resumed from, or `null`. */
  resumedFrom: string | null;
}

/** A training step completed. */
export interface StepEvent extends EventBase {
  /** Kind. */
  event: 'step';
  /** The loss (`null` in the file when not finite). */
  loss: number;
  /** Named loss parts. */
  parts?: Record<string, number>;
  /** Learning rate of each parameter group. */
  learningRates: Record<string, number>;
  /** Concrete temperature, with annealing. */
  temperature?: number;
  /** Global gradient norm (after per-group clipping, before global clipping). */
  gradNorm: number;
  /** Samples in the step. */
  batchSize: number;
  /** Micro-batches of the step, when more than one (gradient accumulation). */
  microBatches?: number;
  /** Present (true) when the step was dropped for a non-finite loss, loss part or gradient norm. */
  skipped?: boolean;
  /** Wall time of the step, ms. */
  stepMs: number;
  /** Average steps per second since the start of `fit`. */
  stepsPerSecond: number;
  /** Average samples per second since the start of `fit`. */
  samplesPerSecond: number;
}

/** An evaluation ran. */
export interface EvalEvent extends EventBase {
  /** Kind. */
  event: 'eval';
  /** The metrics. */
  metrics: Record<string, number>;
  /** Wall time of the evaluation, ms. */
  ms: number;
}

/** A checkpoint was written. */
export interface CheckpointEvent extends EventBase {
  /** Kind. */
  event: 'checkpoint';
  /** Its folder. */
  dir: string;
  /** Why. */
  reason: 'periodic' | 'end' | 'interrupt' | 'best';
  /** Present (false) when a weight or optimizer slot in it is not finite. */
  finite?: boolean;
}

/** Something the user should look at (e.g. a damaged checkpoint passed over on resume). */
export interface WarningEvent extends EventBase {
  /** Kind. */
  event: 'warning';
  /** The warning. */
  message: string;
}

/** `fit` ended. */
export interface EndEvent extends EventBase {
  /** Kind. */
  event: 'end';
  /** True when stopped before `steps`. */
  interrupted: boolean;
  /** Wall time of the `fit` call, s. */
  seconds: number;
}

/** `fit` failed with an error (e.g. `PhalanxNonFiniteError`). */
export interface ErrorEvent extends EventBase {
  /** Kind. */
  event: 'error';
  /** The error's name. */
  name: string;
  /** The error's message. */
  message: string;
}

/** One event of a training run. Every event has `event`, `step` and `time` (ISO 8601). */
export type TrainingEvent = StartEvent | StepEvent | EvalEvent | CheckpointEvent | WarningEvent | EndEvent | ErrorEvent;

/** Distributes `Omit` over the members of a union. */
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * Appends {@link TrainingEvent}s to a `.jsonl` file. Writes are synchronous and small, so nothing is lost
 * when the process stops. The constructor makes the file's folder (one level at a time: never Node's
 * recursive `mkdir`, which loops for ever under `/proc`) and checks that the file can be written (an
 * existing one is opened for appending; for a new one a probe file is made and removed beside it), so a
 * log that cannot be written is known before training: a `PhalanxFileError` naming the file
 * (`log folder cannot be made: …`, `log file cannot be written: the file system is read-only (EROFS)`), as
 * is a failed write later. A `path` that is not a non-empty string is a `PhalanxConfigError`, and so is an
 * event that is not an object with a string `event` and a number `step`.
 *
 * @example
 * const log = new JsonlLog('runs/a/log.jsonl');
 * log.write({ event: 'eval', step: 100, metrics: { epe2d: 3.1 }, ms: 420 });
 */
export class JsonlLog {
  constructor(
    /** Path of the `.jsonl` file. */
    readonly path: string,
  ) {
    makeFolder(dirname(checkPath('JsonlLog', 'path', path, 'a file path')), path, 'log folder');
    this.checkWritable();
  }

  /** Opens an existing file for appending (writing nothing), or makes and removes a probe file beside a new one. */
  private checkWritable(): void {
    if (existsSync(this.path)) {
      this.append('');
      return;
    }
    const probe = `${this.path}.write-check-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
    try {
      closeSync(openSync(probe, 'wx'));
    } catch (error) {
      throw new PhalanxFileError(this.path, 'log file', `cannot be written: ${fileSystemReason(error)}`);
    }
    rmSync(probe, { force: true });
  }

  /** Appends one event, adding `time`. */
  write(event: DistributiveOmit<TrainingEvent, 'time'>): void {
    const e = event as { event?: unknown; step?: unknown } | null;
    if (e === null || typeof e !== 'object' || typeof e.event !== 'string' || typeof e.step !== 'number') {
      const expected = 'an event object {event: string, step: number, …}';
      throw new PhalanxConfigError('JsonlLog.write', 'event', expected, event, describeCompact);
    }
    const { event: kind, step, ...rest } = event as { event: string; step: number };
    this.append(`${JSON.stringify({ event: kind, step, time: new Date().toISOString(), ...rest })}\n`);
  }

  /** Appends `text` to the file; a failure is a `PhalanxFileError` naming it. */
  private append(text: string): void {
    try {
      appendFileSync(this.path, text);
    } catch (error) {
      throw new PhalanxFileError(this.path, 'log file', `cannot be written: ${fileSystemReason(error)}`);
    }
  }
}
