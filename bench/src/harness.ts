import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';

/** Where every benchmark writes its JSON and Markdown results. */
export const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'results');

/** Switches backend and waits for it. */
export async function useBackend(name: string): Promise<void> {
  if (!(await tf.setBackend(name))) throw new Error(`cannot set backend ${name}`);
  await tf.ready();
}

export interface Timing {
  /** Median wall time of one run, ms. */
  medianMs: number;
  /** Fastest run, ms. */
  minMs: number;
  /**
   * Median CPU time of one run (user + system, every thread of the process), ms: on a shared machine
   * it moves far less with the load than the wall time, and for one thread it is the time the work took.
   */
  medianCpuMs: number;
  runs: number;
}

/**
 * Times `run` (which must finish its work, e.g. by awaiting `data()` of its result) with warm-up runs,
 * then repeats until both `minRuns` runs and `minTimeMs` have passed (capped by `maxRuns`).
 */
export async function time(
  run: () => Promise<void>,
  { warmup = 2, minRuns = 5, maxRuns = 50, minTimeMs = 1500 } = {},
): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await run();
  const samples: number[] = [];
  const cpu: number[] = [];
  const start = performance.now();
  while (samples.length < maxRuns && (samples.length < minRuns || performance.now() - start < minTimeMs)) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await run();
    samples.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  samples.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  const mid = Math.floor(samples.length / 2);
  return { medianMs: samples[mid], minMs: samples[0], medianCpuMs: cpu[mid], runs: samples.length };
}

/** Renders rows as a GitHub Markdown table. */
export function markdownTable(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Writes `<topic>.json` and `<topic>.md` into the results folder. */
export function writeResults(topic: string, json: unknown, markdown: string): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, `${topic}.json`), `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(join(RESULTS_DIR, `${topic}.md`), `${markdown}\n`);
}

/** Machine facts printed with every result, so figures can be compared. */
export function machineInfo(): Record<string, string | number> {
  return {
    node: process.version,
    tfjs: tf.version_core,
    cpus: (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 0,
    date: new Date().toISOString(),
  };
}
