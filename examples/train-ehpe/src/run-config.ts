/**
 * The run folder's `config.json`: every setting that shapes a run's results, written when the run starts
 * and compared on `--resume`, so that a run is never continued with other flags.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PhalanxConfigError, PhalanxFileError } from '@phalanx/errors';
import type { JobConfig } from './pipeline';

/** What a run is: the settings `--resume` must find unchanged (not `--threads`, `--data-workers`, `--out`; `--replicas` is). */
export interface RunRecord {
  /** Preset name. */
  preset: string;
  /** The job configuration after the flags. */
  config: JobConfig;
  /** Whether the PG-only ablation is trained. */
  pgOnly: boolean;
  /** Held-out samples and their seed. */
  testSize: number;
  testSeed: number;
  /** Held-out evaluation period (steps). */
  evalEvery: number;
  /** `--init FILE` (as given), or null. */
  init: string | null;
  /**
   * Data-parallel replicas (`--replicas`), recorded only when more than 1: each replica's batch norms
   * normalise its shard of a batch, so the count shapes the results (absent in runs of one process).
   */
  replicas?: number;
  /** Stage 3's replicas (`--replicas-e2e`), recorded only when they differ from `replicas` (or 1). */
  replicasE2e?: number;
}

/** The name of the record in a run folder. */
export const RUN_CONFIG_FILE = 'config.json';

/** `{a: {b: 1}}` → `{'a.b': 1}` (arrays by index), for naming the settings that differ. */
export function flattenRecord(
  value: unknown,
  prefix = '',
  into: Record<string, unknown> = {},
): Record<string, unknown> {
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) flattenRecord(v, prefix ? `${prefix}.${k}` : k, into);
  } else {
    into[prefix] = value;
  }
  return into;
}

/** The settings (flattened keys) whose values differ between two records. */
export function differingSettings(stored: RunRecord, given: RunRecord): string[] {
  const a = flattenRecord(JSON.parse(JSON.stringify(stored)));
  const b = flattenRecord(JSON.parse(JSON.stringify(given)));
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => a[k] !== b[k]).sort();
}

/** The run record `file`; one that is not a JSON object is a `PhalanxFileError` naming it. */
function readRecord(file: string): RunRecord {
  let record: unknown;
  try {
    record = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new PhalanxFileError(file, 'the run record', `cannot be read as JSON: ${(error as Error).message}`);
  }
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    throw new PhalanxFileError(file, 'the run record', 'is not a JSON object');
  }
  return record as RunRecord;
}

/**
 * Starts or continues the run in `out`. A fresh run (no `config.json` and no `checkpoints/`) writes
 * `record` to `config.json` and returns `'fresh'`. With `resume`, an existing record must equal `record`
 * (else a `PhalanxConfigError` names each differing setting with both values) and `'resumed'` is
 * returned; without `resume`, an existing run is a `PhalanxFileError` rather than being overwritten.
 *
 * @example
 * const state = openRun('runs/ehpe/long', record, true); // 'fresh' the first time, 'resumed' after
 */
export function openRun(out: string, record: RunRecord, resume: boolean): 'fresh' | 'resumed' {
  const file = join(out, RUN_CONFIG_FILE);
  const exists = existsSync(file);
  if (!exists && existsSync(join(out, 'checkpoints'))) {
    throw new PhalanxFileError(file, 'the run record', 'is missing next to checkpoints/: the run cannot be checked');
  }
  if (exists && !resume) {
    throw new PhalanxFileError(
      out,
      'the folder',
      'holds a run already: continue it with --resume, or choose another --out',
    );
  }
  if (exists) {
    const stored = readRecord(file);
    const diff = differingSettings(stored, record);
    if (diff.length > 0) {
      const a = flattenRecord(JSON.parse(JSON.stringify(stored)));
      const b = flattenRecord(JSON.parse(JSON.stringify(record)));
      throw new PhalanxConfigError(
        'train-ehpe --resume',
        `the settings ${diff.join(', ')}`,
        `those of the run in ${out} (${diff.map((k) => `${k} = ${JSON.stringify(a[k])}`).join(', ')})`,
        Object.fromEntries(diff.map((k) => [k, b[k]])),
      );
    }
    return 'resumed';
  }
  mkdirSync(out, { recursive: true });
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
  return 'fresh';
}
