/**
 * Progress display of a training run: a one-line progress bar rewritten in place on a terminal, plain
 * periodic lines elsewhere (CI logs, files, pipes).
 */
import {
  checkBoolean,
  checkInteger,
  checkNonNegative,
  checkOptions,
  checkPositive,
  PhalanxConfigError,
} from '@phalanx/errors';

/** The part of a Node writable stream the display needs (e.g. `process.stdout`). */
export interface ProgressStream {
  /** Writes text. */
  write(chunk: string): unknown;
  /** True on a terminal: the display rewrites one line. */
  isTTY?: boolean;
  /** Terminal width in characters, when known. */
  columns?: number;
}

/** Options of {@link ProgressDisplay}. */
export interface ProgressDisplayOptions {
  /** Where to write. Default `process.stdout`. */
  stream?: ProgressStream;
  /** Force the terminal (`true`) or line (`false`) mode. Default: `stream.isTTY === true`. */
  tty?: boolean;
  /**
   * Line mode: print a line at every multiple of `every` steps (integer ≥ 1), and at the first and
   * last step. Default: about 20 lines per run
   * (`max(1, round(total / 20))`).
   */
  every?: number;
  /** Line mode: also print when this many seconds passed since the last line (> 0). Default 30. */
  everySeconds?: number;
  /** Terminal mode: the shortest time between two redraws in ms (≥ 0). Default 100. */
  redrawMs?: number;
  /**
   * Seconds over which the speed (and so the ETA) is averaged (> 0): the steps and samples of the last
   * `windowSeconds`, or all of them since the display started when it has run for less. Default 300 — long
   * enough to smooth over evaluations and checkpoints, short enough to follow a change of load in a
   * run of hours.
   */
  windowSeconds?: number;
  /** Clock in ms, for tests. Default `performance.now`. */
  now?: () => number;
}

/** What one progress update shows. */
export interface ProgressUpdate {
  /** Steps completed so far (global, counting those before a resume). */
  step: number;
  /** The loss of the last step. */
  loss: number;
  /** Named loss parts of the last step, shown after the loss. */
  parts?: Record<string, number>;
  /** Samples in the last batch (for samples/s). */
  batchSize?: number;
  /** Extra short fields, e.g. `{ lr: '1e-3', τ: '4.9' }`. */
  extra?: Record<string, string | number>;
}

/** Speed of a run, as {@link ProgressDisplay.speed} measures it. */
export interface ProgressSpeed {
  /** Steps per second over the display's window (since it started, if that is shorter). */
  stepsPerSecond: number;
  /** Samples per second over the same window. */
  samplesPerSecond: number;
  /** Seconds since the display started. */
  elapsedSeconds: number;
}

/** Formats seconds as `1h02m`, `3m07s` or `12s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/** Formats a loss value compactly (4 significant digits). */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? x.toExponential(3) : x.toPrecision(4);
}

/** The keys of {@link ProgressDisplayOptions}: any other key is a named error. */
const PROGRESS_OPTION_KEYS = {
  stream: true,
  tty: true,
  every: true,
  everySeconds: true,
  redrawMs: true,
  windowSeconds: true,
  now: true,
} satisfies Record<keyof ProgressDisplayOptions, true>;

/**
 * A progress display for `total` steps: loss, speed (steps/s and samples/s, averaged over the last
 * `windowSeconds` — 5 minutes by default, since the start before that — so that it settles quickly,
 * survives slow outliers and follows a change of load) and ETA.
 *
 * - terminal (`stream.isTTY`): `\r` + one line that is rewritten, e.g.
 *   `  120/600 [█████▌··············]  20% loss 0.1234 · 2.10 step/s 33.6 samples/s · ETA 3m48s`;
 * - otherwise: a plain line every `every` steps or `everySeconds`, e.g.
 *   `step 120/600 (20%) loss 0.1234 · 2.10 step/s 33.6 samples/s · elapsed 57s · ETA 3m48s`.
 *
 * @example
 * const progress = new ProgressDisplay(600, { stream: process.stdout });
 * progress.update({ step: 1, loss: 0.5, batchSize: 16 });
 * progress.done();
 */
export class ProgressDisplay {
  /** The number of steps of the run. */
  readonly total: number;
  private readonly stream: ProgressStream;
  private readonly tty: boolean;
  private readonly every: number;
  private readonly everySeconds: number;
  private readonly redrawMs: number;
  private readonly windowMs: number;
  private readonly now: () => number;
  private startTime: number | null = null;
  private samples = 0;
  /** (time, step, samples) about once a second; the first is the oldest still needed for the window. */
  private marks: { time: number; step: number; samples: number }[] = [];
  private lastPrintTime = -Infinity;
  private lastPrintStep = -1;
  private lastLine = '';
  private pendingUpdate: ProgressUpdate | null = null;

  constructor(total: number, options: ProgressDisplayOptions = {}) {
    const name = 'ProgressDisplay';
    this.total = checkInteger(name, 'total', total, 1);
    checkOptions(name, 'options', options, PROGRESS_OPTION_KEYS, 'an object');
    this.stream = options.stream ?? process.stdout;
    if (this.stream === null || typeof this.stream.write !== 'function') {
      throw new PhalanxConfigError(name, 'stream', 'a writable stream', this.stream);
    }
    this.tty = checkBoolean(name, 'tty', options.tty ?? this.stream.isTTY === true);
    this.every = checkInteger(name, 'every', options.every ?? Math.max(1, Math.round(total / 20)), 1);
    this.everySeconds = checkPositive(name, 'everySeconds', options.everySeconds ?? 30);
    this.redrawMs = checkNonNegative(name, 'redrawMs', options.redrawMs ?? 100);
    this.windowMs = 1000 * checkPositive(name, 'windowSeconds', options.windowSeconds ?? 300);
    this.now = options.now ?? (() => performance.now());
    if (typeof this.now !== 'function') throw new PhalanxConfigError(name, 'now', 'a function () → ms', this.now);
  }

  /** True when the display rewrites one terminal line. */
  get isTTY(): boolean {
    return this.tty;
  }

  /** Marks the start of timing (the first `update` does it implicitly): `step` steps are already done. */
  start(step = 0): void {
    this.startTime = this.now();
    this.samples = 0;
    this.marks = [{ time: this.startTime, step, samples: 0 }];
  }

  /**
   * Speed over the window: steps/s and samples/s from the oldest mark within the last `windowSeconds`
   * (the start, for a shorter run) to `step` now (0 before the first completed step).
   */
  speed(step: number): ProgressSpeed {
    const t = this.now();
    const elapsedSeconds = this.startTime === null ? 0 : (t - this.startTime) / 1000;
    const from = this.marks[0];
    const seconds = from === undefined ? 0 : (t - from.time) / 1000;
    const steps = from === undefined ? 0 : step - from.step;
    if (seconds <= 0 || steps <= 0) return { stepsPerSecond: 0, samplesPerSecond: 0, elapsedSeconds };
    return {
      stepsPerSecond: steps / seconds,
      samplesPerSecond: (this.samples - from.samples) / seconds,
      elapsedSeconds,
    };
  }

  /** Adds a mark (at most one a second) and drops those no longer needed to span the window. */
  private mark(step: number, t: number): void {
    const newest = this.marks[this.marks.length - 1];
    if (newest === undefined || t - newest.time >= 1000) this.marks.push({ time: t, step, samples: this.samples });
    while (this.marks.length > 1 && t - this.marks[1].time >= this.windowMs) this.marks.shift();
  }

  /** Records one completed step and redraws (terminal) or prints a line when due (line mode). */
  update(update: ProgressUpdate): void {
    if (this.startTime === null) this.start(update.step - 1);
    this.samples += update.batchSize ?? 0;
    const t = this.now();
    this.mark(update.step, t);
    const last = update.step >= this.total;
    if (this.tty) {
      if (!last && t - this.lastPrintTime < this.redrawMs) {
        this.pendingUpdate = update;
        return;
      }
      this.draw(update, t);
      return;
    }
    const due =
      last ||
      update.step % this.every === 0 ||
      (t - this.lastPrintTime) / 1000 >= this.everySeconds ||
      this.lastPrintStep < 0;
    if (due) this.draw(update, t);
  }

  /** Prints a message on its own line without breaking the bar (used for evaluations, checkpoints). */
  message(text: string): void {
    if (this.tty && this.lastLine) {
      this.stream.write(`\r\x1b[K${text}\n${this.lastLine}`);
    } else {
      this.stream.write(`${text}\n`);
    }
  }

  /** Ends the display: on a terminal, draws the last state and moves to a new line. */
  done(): void {
    if (this.tty) {
      if (this.pendingUpdate) this.draw(this.pendingUpdate, this.now());
      if (this.lastLine) this.stream.write('\n');
      this.lastLine = '';
    }
    this.pendingUpdate = null;
  }

  private draw(update: ProgressUpdate, t: number): void {
    this.pendingUpdate = null;
    this.lastPrintTime = t;
    this.lastPrintStep = update.step;
    const { stepsPerSecond, samplesPerSecond, elapsedSeconds } = this.speed(update.step);
    const remaining = this.total - update.step;
    const eta = stepsPerSecond > 0 ? formatDuration(remaining / stepsPerSecond) : '?';
    const fraction = Math.min(1, update.step / this.total);
    const pct = `${Math.floor(fraction * 100)}%`.padStart(4);
    const parts = update.parts
      ? Object.entries(update.parts)
          .map(([k, v]) => ` ${k} ${formatNumber(v)}`)
          .join('')
      : '';
    const extra = update.extra
      ? Object.entries(update.extra)
          .map(([k, v]) => ` ${k} ${typeof v === 'number' ? formatNumber(v) : v}`)
          .join('')
      : '';
    const speed =
      `${stepsPerSecond.toFixed(2)} step/s` + (samplesPerSecond > 0 ? ` ${samplesPerSecond.toFixed(1)} samples/s` : '');
    const stats = `loss ${formatNumber(update.loss)}${parts}${extra} · ${speed}`;
    const width = String(this.total).length;
    if (this.tty) {
      const barWidth = 20;
      const filled = fraction * barWidth;
      const full = Math.floor(filled);
      const bar =
        '█'.repeat(full) +
        (full < barWidth ? (filled - full >= 0.5 ? '▌' : '·') : '') +
        '·'.repeat(Math.max(0, barWidth - full - 1));
      let line = `${String(update.step).padStart(width)}/${this.total} [${bar}] ${pct} ${stats} · ETA ${eta}`;
      const columns = this.stream.columns;
      if (columns !== undefined && columns > 10 && line.length > columns - 1) line = line.slice(0, columns - 1);
      this.lastLine = line;
      this.stream.write(`\r\x1b[K${line}`);
    } else {
      this.stream.write(
        `step ${String(update.step).padStart(width)}/${this.total} (${pct.trim()}) ${stats} · elapsed ${formatDuration(elapsedSeconds)} · ETA ${eta}\n`,
      );
    }
  }
}
