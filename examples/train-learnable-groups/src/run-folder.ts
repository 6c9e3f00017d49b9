/**
 * `--resume`: checks the run folder before anything runs, so that a damaged or foreign folder is a named error
 * rather than a crash after training (a torn `log.jsonl` line broke the learning curve drawn at the end) or a
 * run written over another job's files.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PhalanxFileError } from '@phalanx/errors';

/** `JSON.parse(text)`, or `undefined` when `text` is not JSON. */
function parsed(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Whether `value` is a plain JSON object (not an array, not null). */
function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Throws a `PhalanxFileError` when `out` holds another job's run (train-ehpe's `config.json` record), which a run
 * of this job, resumed or not, would write its model, metrics and figures over. Reads only.
 */
export function checkNotForeignRun(out: string): void {
  if (existsSync(join(out, 'config.json'))) {
    throw new PhalanxFileError(
      out,
      'the folder',
      "holds another job's run (config.json, train-ehpe's record): choose another --out",
    );
  }
}

/**
 * Throws a `PhalanxFileError` naming the file when the run folder `out` cannot be resumed by this job: it holds
 * another job's run (train-ehpe's `config.json`), a `metrics.json` that is not this job's JSON, or a `log.jsonl`
 * with a line that is not a JSON object (a run killed mid-write). A missing or empty folder passes (the run
 * starts afresh). Reads only; writes nothing.
 *
 * @example
 * checkResumableFolder('runs/learnable-groups/latest'); // passes, or throws naming the damaged file
 */
export function checkResumableFolder(out: string): void {
  checkNotForeignRun(out);
  const metricsFile = join(out, 'metrics.json');
  if (existsSync(metricsFile)) {
    const metrics = parsed(readFileSync(metricsFile, 'utf8'));
    const model = isObject(metrics) && isObject(metrics.config) ? metrics.config.model : undefined;
    if (!isObject(model) || typeof model.numGroups !== 'number') {
      throw new PhalanxFileError(
        metricsFile,
        'the file',
        "is not the metrics of a Learnable Groups run (damaged, or another job's): move it away to resume",
      );
    }
  }
  const logFile = join(out, 'log.jsonl');
  if (existsSync(logFile)) {
    const lines = readFileSync(logFile, 'utf8').split('\n');
    const bad = lines.findIndex((line) => line.trim() !== '' && !isObject(parsed(line)));
    if (bad >= 0) {
      throw new PhalanxFileError(
        logFile,
        `line ${bad + 1}`,
        'is not a JSON object (cut short by a killed run?): repair or remove it to resume',
      );
    }
  }
}
