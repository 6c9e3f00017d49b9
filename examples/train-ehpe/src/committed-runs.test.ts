import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runNodeScript } from '@phalanx/testing/child-process';

const exampleDir = fileURLToPath(new URL('..', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'phalanx-ehpe-committed-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/**
 * Starts the command line on a folder holding only `run`'s committed record and stops it after its first step:
 * the record is accepted (no refused resume) and training starts.
 */
async function resumeRecord(run: string, flags: string[], folder = run) {
  const out = join(root, folder);
  mkdirSync(out);
  copyFileSync(join(exampleDir, run, 'config.json'), join(out, 'config.json'));
  const args = ['--preset', 'pretrained', '--no-pg-only', ...flags, '--data-workers', '0', '--out', out, '--resume'];
  return untilFirstStep(args);
}

/** Runs the command line with `args` and sends SIGINT after its first step; `loss` is that step's logged loss. */
async function untilFirstStep(args: string[]) {
  let loss: number | undefined;
  const run = await runNodeScript({ cwd: exampleDir, script: 'src/main.ts', args }, (line, interrupt) => {
    const step1 = /^step\s+1\/\d+ .*loss (\S+)/.exec(line);
    if (loss === undefined && step1) {
      loss = Number(step1[1]);
      interrupt();
    }
  });
  return { ...run, loss };
}

describe('train-ehpe: the committed runs resume with the commands their READMEs give', () => {
  it("long-run-e2e32-lr3 (the shipped run) with the pretrained preset, the runs before with their stage 3's flags", async () => {
    const shipped = await resumeRecord('long-run-e2e32-lr3', ['--eval-every', '2000']);
    expect(shipped.stderr).not.toMatch(/PhalanxConfigError/);
    expect(shipped.stdout).toMatch(
      /stage 3: 11500 steps, Adam 0\.003 \(125-step warm-up, cosine\).*; batch 8 \(stage 3: 32\)/,
    );
    expect(shipped.code, shipped.stderr).toBe(130);
    const e2e32 = await resumeRecord('long-run-e2e32', ['--eval-every', '2000', '--lr-e2e', '2e-3']);
    expect(e2e32.stdout).toMatch(
      /stage 3: 11500 steps, Adam 0\.002 \(125-step warm-up, cosine\).*; batch 8 \(stage 3: 32\)/,
    );
    expect(e2e32.code, e2e32.stderr).toBe(130);
    const e2e22 = await resumeRecord('long-run-e2e22', [
      ...['--eval-every', '2000', '--steps-e2e', '22000', '--lr-e2e', '1.5e-3', '--batch-e2e', '16'],
      ...['--warmup-e2e', '250'],
    ]);
    expect(e2e22.stdout).toMatch(
      /stage 3: 22000 steps, Adam 0\.0015 \(250-step warm-up, cosine\).*; batch 8 \(stage 3: 16\)/,
    );
    expect(e2e22.code, e2e22.stderr).toBe(130);
    const before = await resumeRecord('long-run-pg36e34', [
      ...['--steps-e2e', '34000', '--lr-e2e', '1e-3', '--batch-e2e', '8', '--warmup-e2e', '500', '--replicas-e2e', '1'],
    ]);
    expect(before.stdout).toMatch(/stage 3: 34000 steps, Adam 0\.001 \(500-step warm-up, cosine\).*; batch 8$/m);
    expect(before.code, before.stderr).toBe(130);
    // The preset alone is not session 34's run, nor session 35's: refused, naming what differs, before any step.
    const refused = await resumeRecord('long-run-e2e22', ['--eval-every', '2000'], 'refused');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /PhalanxConfigError: .*the settings config\.batchSizeE2e, config\.lrE2e, config\.stepsE2e, config\.warmupE2e must be those of the run/,
    );
    const refused32 = await resumeRecord('long-run-e2e32', ['--eval-every', '2000'], 'refused32');
    expect(refused32.code).toBe(1);
    expect(refused32.stderr).toMatch(/PhalanxConfigError: .*the settings? config\.lrE2e must be those of the run/);
  }, 300_000);
});

/** Starts a fresh demo run in `folder` with `flags` and stops it after its first step; returns that step's loss. */
async function firstLoss(folder: string, flags: string[]) {
  const out = join(root, folder);
  return {
    ...(await untilFirstStep(['--preset', 'demo', '--no-pg-only', ...flags, '--data-workers', '0', '--out', out])),
    out,
  };
}

describe('train-ehpe --data-seed', () => {
  it('trains on another stream of hands, is part of the run record, and refuses the held-out seed', async () => {
    const seed1 = await firstLoss('data-seed-1', []);
    const seed2 = await firstLoss('data-seed-2', ['--data-seed', '2']);
    expect(seed1.code, seed1.stderr).toBe(130);
    expect(seed2.code, seed2.stderr).toBe(130);
    expect(Number.isFinite(seed1.loss) && Number.isFinite(seed2.loss)).toBe(true);
    // The weights start alike (--seed 1 in both): only the hands differ, so the first losses do.
    expect(seed2.loss).not.toBe(seed1.loss);
    const args = ['--preset', 'demo', '--no-pg-only', '--data-workers', '0', '--out', seed2.out, '--resume'];
    const resumed = await runNodeScript({ cwd: exampleDir, script: 'src/main.ts', args });
    expect(resumed.code).toBe(1);
    expect(resumed.stderr).toMatch(/PhalanxConfigError: .*config\.dataSeed must be those of the run/);
    const heldOut = await firstLoss('data-seed-held-out', ['--data-seed', '90210']);
    expect(heldOut.code).toBe(2); // a usage error
    expect(heldOut.loss).toBeUndefined();
    expect(heldOut.stderr).toMatch(/--data-seed must not be 90210, the held-out set's seed/);
  }, 300_000);
});
