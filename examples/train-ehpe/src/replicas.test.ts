import '@phalanx/wasm-training';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disposeBatch } from '@phalanx/data';
import { PhalanxConfigError } from '@phalanx/errors';
import { useBackend } from '@phalanx/testing';
import { runNodeScript } from '@phalanx/testing/child-process';
import { evaluate, type JobConfig } from './pipeline';
import { readStageLog } from './report';
import type { ReplicaJob } from './replicas';
import { trainWithReplicas } from './replicas-main';
import { runStages, type RunResult } from './run';
import { tinyJob, tinyRun } from './tiny-job';

const config: JobConfig = tinyJob({
  // Dropout as the demo's: each replica draws its own seeded masks.
  model: { ...tinyJob().model, dropout: 0.1 },
  stepsTw: 2,
  stepsPg: 2,
  stepsE2e: 2,
  lrE2e: 1e-3,
  batchSize: 4,
  handCrop: false,
  schedule: { warmup: 1, decay: 'cosine' },
  seed: 5,
});

const root = mkdtempSync(join(tmpdir(), 'phalanx-ehpe-replicas-'));
const job = (out: string, extra: Partial<ReplicaJob> = {}): ReplicaJob =>
  tinyRun(config, out, {
    // Every step: the replicas average their batch-norm moving statistics before each checkpoint, so a run
    // stopped (which averages at the stop) and resumed rounds them as an uninterrupted one does.
    checkpointEvery: 1,
    replicas: 2,
    ...extra,
  });

/** The finished stages of a run folder, restored in this thread (what the CLI evaluates after replicas). */
async function restored(out: string, extra: Partial<ReplicaJob> = {}): Promise<RunResult> {
  return runStages({ ...job(out, extra), resume: true, log: () => {} });
}

function dispose(r: RunResult): void {
  r.model.dispose();
  r.pgOnly?.dispose();
  r.layout.dispose();
  r.test.forEach(disposeBatch);
}

/** The uninterrupted run of the tests (trained once, shared). */
let straightRun: ReturnType<typeof trainWithReplicas> | null = null;
const straightDir = join(root, 'straight');
function straight(): ReturnType<typeof trainWithReplicas> {
  straightRun ??= trainWithReplicas(job(straightDir), 2); // throws if the replicas' digests differ
  return straightRun;
}

const weightsOf = (m: tfl.LayersModel) => m.weights.map((w) => ({ name: w.originalName, values: w.read().dataSync() }));

beforeAll(async () => {
  await useBackend('wasm');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('train-ehpe --replicas', () => {
  it('2 replicas train every stage in step; replica 0 logs and checkpoints; the restored model evaluates as logged', async () => {
    const out = straightDir;
    const outcome = await straight();
    expect(outcome.interruptedIn).toBeNull();
    expect(outcome.stages).toMatchObject({
      tw: { step: 2, restored: false },
      pg: { step: 2, restored: false },
      'pg-only': { step: 2, restored: false },
      e2e: { step: 2, restored: false },
    });
    expect(outcome.digests).toHaveLength(2); // the full model and the PG-only one
    // Replica 0's logs: step 0, 2; samples counted over the global batch of 4.
    const e2e = readStageLog(out, 'e2e');
    expect(e2e.evals.map((e) => [e.step, e.metrics.samples])).toEqual([
      [0, 0],
      [2, 8],
    ]);
    expect(readFileSync(join(out, 'config.json'), 'utf8')).toContain('"replicas": 2');
    const r = await restored(out);
    expect(Object.values(r.stages).every((s) => s.restored)).toBe(true);
    const metrics = await evaluate(r.model, r.test, config, undefined, r.layout);
    expect(metrics.full.epe2dPx).toBe(e2e.evals.at(-1)!.metrics.epe2dPx);
    dispose(r);
  }, 300_000);

  it('shards rendered by data workers train the weights of shards cut from whole batches', async () => {
    await trainWithReplicas(job(join(root, 'workers'), { dataWorkers: 1, pgOnly: false }), 2);
    await trainWithReplicas(job(join(root, 'cut'), { pgOnly: false }), 2);
    const a = await restored(join(root, 'workers'), { dataWorkers: 1, pgOnly: false });
    const b = await restored(join(root, 'cut'), { pgOnly: false });
    const wa = weightsOf(a.model);
    weightsOf(b.model).forEach((w, i) => expect(w.values, w.name).toEqual(wa[i].values));
    dispose(a);
    dispose(b);
  }, 300_000);

  it('stopped after step 1 and resumed: the weights of the uninterrupted replica run', async () => {
    const out = join(root, 'split');
    // Aborted before the start: the first gradient exchange stops both replicas after step 1 of stage 1.
    const stopped = await trainWithReplicas(job(out), 2, { signal: AbortSignal.abort() });
    expect([stopped.interruptedIn, stopped.stages.tw?.step]).toEqual(['tw', 1]);
    const resumed = await trainWithReplicas(job(out, { resume: true }), 2);
    expect(resumed.interruptedIn).toBeNull();
    await straight();
    // Weights, Adam state, data position, dropout streams and averaged statistics continue bit for bit.
    const a = await restored(straightDir);
    const b = await restored(out);
    for (const [x, y] of [
      [a.model, b.model],
      [a.pgOnly!, b.pgOnly!],
    ]) {
      const want = weightsOf(x);
      weightsOf(y).forEach((w, i) => expect(w.values, w.name).toEqual(want[i].values));
    }
    dispose(a);
    dispose(b);
  }, 300_000);

  it('the replica count is part of the run: a resume with another one is refused, naming it', async () => {
    const out = straightDir;
    await straight();
    await expect(trainWithReplicas(job(out, { resume: true, replicas: 1 }), 1)).rejects.toThrow(PhalanxConfigError);
    await expect(runStages({ ...job(out), replicas: 1, resume: true, log: () => {} })).rejects.toThrow(
      /the settings replicas must be those of the run .* \(replicas = 2\)/,
    );
  }, 60_000);

  it('on the command line: Ctrl-C stops both replicas, checkpoints and exits 130; --resume finishes the run', async () => {
    const out = join(root, 'cli');
    const exampleDir = fileURLToPath(new URL('..', import.meta.url));
    const args = ['--steps-tw', '6', '--steps-pg', '2', '--batch', '2', '--test-size', '4', '--replicas', '2'];
    args.push('--data-workers', '0', '--no-pg-only', '--eval-every', '100', '--checkpoint-every', '100', '--out', out);
    let sent = false;
    const first = await runNodeScript({ cwd: exampleDir, script: 'src/main.ts', args }, (line, interrupt) => {
      if (!sent && /^step\s+1\//.test(line)) {
        sent = true;
        interrupt();
      }
    });
    expect(first.stdout).toMatch(/training every stage on 2 data-parallel replicas/);
    expect(first.stdout).toMatch(/interrupted in stage tw; continue with the same command and --resume\./);
    expect(first.code, first.stderr).toBe(130);
    expect(readdirSync(join(out, 'checkpoints', 'tw')).filter((d) => d.startsWith('step-'))).toHaveLength(1);

    const second = await runNodeScript({ cwd: exampleDir, script: 'src/main.ts', args: [...args, '--resume'] });
    expect(second.code, second.stderr).toBe(0); // and it ended by itself: no worker kept it alive
    expect(second.stdout).toMatch(/resumed from .*step-\d+/);
    expect(second.stdout).toMatch(/held-out 2D EPE [\d.]+ px at 96 px input/);
    expect(existsSync(join(out, 'metrics.json'))).toBe(true);
    const bad = await runNodeScript({
      cwd: exampleDir,
      script: 'src/main.ts',
      args: [...args.slice(0, 8), '--replicas', '3'],
    });
    expect([bad.code, bad.stderr.trim()]).toEqual([
      2,
      'error: --replicas must divide the batch size 2, but received 3.',
    ]);
  }, 300_000);
});

describe('train-ehpe --replicas-e2e', () => {
  it('on the command line, --replicas-e2e: stages 1 and 2 in one process (Ctrl-C there exits 130), then stage 3 on 2 replicas at its own batch', async () => {
    const out = join(root, 'cli-e2e');
    const exampleDir = fileURLToPath(new URL('..', import.meta.url));
    const withReplicasE2e = (n: string) => [
      ...['--steps-tw', '6', '--steps-pg', '2', '--steps-e2e', '2', '--batch', '2', '--batch-e2e', '4'],
      ...['--replicas-e2e', n, '--test-size', '4', '--data-workers', '0', '--no-pg-only'],
      ...['--eval-every', '100', '--checkpoint-every', '100', '--out', out],
    ];
    const args = withReplicasE2e('2');
    let sent = false;
    const first = await runNodeScript({ cwd: exampleDir, script: 'src/main.ts', args }, (line, interrupt) => {
      if (!sent && /^step\s+1\//.test(line)) {
        sent = true;
        interrupt();
      }
    });
    expect(first.stdout).not.toMatch(/data-parallel replicas/);
    expect(first.stdout).toMatch(/interrupted in stage tw; continue with the same command and --resume\./);
    expect(first.code, first.stderr).toBe(130);

    const second = await runNodeScript({ cwd: exampleDir, script: 'src/main.ts', args: [...args, '--resume'] });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/; batch 2 \(stage 3: 4\)/);
    expect(second.stdout).toMatch(
      /training stage 3 on 2 data-parallel replicas \(worker threads, 1 wasm thread each\), 2 samples of each batch of 4 per replica/,
    );
    expect(second.stdout).toMatch(/held-out 2D EPE [\d.]+ px at 96 px input/);
    const record = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as {
      replicas?: number;
      replicasE2e?: number;
      config: JobConfig;
    };
    expect([record.replicas, record.replicasE2e, record.config.batchSize, record.config.batchSizeE2e]).toEqual([
      undefined,
      2,
      2,
      4,
    ]);
    expect(readStageLog(out, 'tw').evals.at(-1)!.metrics.samples).toBe(12);
    expect(readStageLog(out, 'e2e').evals.map((e) => [e.step, e.metrics.samples])).toEqual([
      [0, 0],
      [2, 8],
    ]);

    const other = await runNodeScript({
      cwd: exampleDir,
      script: 'src/main.ts',
      args: [...withReplicasE2e('1'), '--resume'],
    });
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/the settings replicasE2e must be those of the run in .* \(replicasE2e = 2\)/);
    const bad = await runNodeScript({ cwd: exampleDir, script: 'src/main.ts', args: withReplicasE2e('3') });
    expect([bad.code, bad.stderr.trim()]).toEqual([
      2,
      "error: --replicas-e2e must divide stage 3's batch size 4, but received 3.",
    ]);
  }, 300_000);
});
