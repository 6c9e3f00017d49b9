/**
 * The job's command line against hostile input: every mistake is a usage error — exit code 2 and one line
 * naming the flag, no stack trace — before any model is built or any file written.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runNodeScript } from '@phalanx/testing/child-process';
import { runMain } from './run-main';

const exampleDir = fileURLToPath(new URL('..', import.meta.url));

/** Runs `main.ts` with `args` (and a fresh `--out`) and checks it ended as a usage error naming `flag`. */
async function expectUsageError(args: string[], flag: string): Promise<void> {
  const out = join(mkdtempSync(join(tmpdir(), 'lg-cli-')), 'run');
  const run = await runMain([...args, '--out', out]);
  const lines = run.stderr.trim().split('\n');
  expect({ args, code: run.code, lines: lines.length }).toEqual({ args, code: 2, lines: 1 });
  expect(lines[0]).toContain(flag);
  expect(run.stdout).toBe('');
  expect(existsSync(out)).toBe(false);
}

describe('train-learnable-groups command line', () => {
  it('unknown flags, missing values and positionals are usage errors', async () => {
    await expectUsageError(['--bogus'], '--bogus');
    await expectUsageError(['--steps'], '--steps');
    await expectUsageError(['stray'], 'stray');
  }, 60_000);

  it('bad numbers are usage errors naming the flag', async () => {
    await expectUsageError(['--steps', '0'], '--steps');
    await expectUsageError(['--steps', '1e400'], '--steps');
    await expectUsageError(['--lr-rest', 'NaN'], '--lr-rest');
    await expectUsageError(['--preset', 'nope'], '--preset');
    await expectUsageError(['--threads', '0'], '--threads');
    await expectUsageError(['--replicas', '3'], '--replicas');
  }, 60_000);

  it('the experiment harness reports bad flags the same way', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lg-exp-'));
    for (const [args, flag] of [
      [['--bogus'], '--bogus'],
      [['--steps', ''], '--steps'],
      [['--precise-bn', '0'], '--precise-bn'],
    ] as const) {
      const log = join(dir, 'sub', 'results.jsonl');
      const run = await runNodeScript({ cwd: exampleDir, script: 'src/experiment.ts', args: [...args, '--log', log] });
      expect({ args, code: run.code }).toEqual({ args, code: 2 });
      expect(run.stderr.trim().split('\n')).toEqual([expect.stringContaining(flag)]);
      expect(existsSync(join(dir, 'sub'))).toBe(false);
    }
  }, 60_000);
});
