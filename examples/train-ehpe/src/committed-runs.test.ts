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
  let sent = false;
  const args = ['--preset', 'pretrained', '--no-pg-only', ...flags, '--data-workers', '0', '--out', out, '--resume'];
  return runNodeScript({ cwd: exampleDir, script: 'src/main.ts', args }, (line, interrupt) => {
    if (!sent && /^step\s+1\//.test(line)) {
      sent = true;
      interrupt();
    }
  });
}

describe('train-ehpe: the committed runs resume with the commands their READMEs give', () => {
  it("long-run-e2e32 (the shipped run) with the pretrained preset, the runs before with their stage 3's flags", async () => {
    const shipped = await resumeRecord('long-run-e2e32', ['--eval-every', '2000']);
    expect(shipped.stderr).not.toMatch(/PhalanxConfigError/);
    expect(shipped.stdout).toMatch(
      /stage 3: 11500 steps, Adam 0\.002 \(125-step warm-up, cosine\).*; batch 8 \(stage 3: 32\)/,
    );
    expect(shipped.code, shipped.stderr).toBe(130);
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
    // The preset alone is not session 34's run: refused, naming what differs, before any step.
    const refused = await resumeRecord('long-run-e2e22', ['--eval-every', '2000'], 'refused');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /PhalanxConfigError: .*the settings config\.batchSizeE2e, config\.lrE2e, config\.stepsE2e, config\.warmupE2e must be those of the run/,
    );
  }, 300_000);
});
