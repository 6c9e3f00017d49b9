/**
 * The job's command line against hostile input: a mistake is a usage error — exit code 2 and one line naming
 * the flag, no stack trace — before anything runs or is written.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runNodeScript } from '@phalanx/testing/child-process';

const exampleDir = fileURLToPath(new URL('..', import.meta.url));

/** Runs `main.ts` with `args` (and a fresh `--out`) and checks it ended as a usage error naming `flag`. */
async function expectUsageError(args: string[], flag: string): Promise<void> {
  const out = join(mkdtempSync(join(tmpdir(), 'ehpe-cli-')), 'run');
  const run = await runNodeScript({ cwd: exampleDir, script: 'src/main.ts', args: [...args, '--out', out] });
  const lines = run.stderr.trim().split('\n');
  expect({ args, code: run.code, lines: lines.length }).toEqual({ args, code: 2, lines: 1 });
  expect(lines[0]).toContain(flag);
  expect(run.stdout).toBe('');
  expect(existsSync(out)).toBe(false);
}

describe('train-ehpe command line', () => {
  it('unknown flags, missing values and positional arguments are usage errors (exit code 2)', async () => {
    await expectUsageError(['--bogus'], '--bogus');
    await expectUsageError(['--steps-tw'], '--steps-tw');
    await expectUsageError(['stray'], 'stray');
  }, 60_000);

  it('bad values are usage errors naming the flag, --threads and --data-workers too', async () => {
    await expectUsageError(['--steps-tw', '0'], '--steps-tw');
    await expectUsageError(['--threads', '0'], '--threads');
    await expectUsageError(['--data-workers', 'x'], '--data-workers');
    await expectUsageError(['--replicas', '3'], '--replicas');
  }, 60_000);
});
