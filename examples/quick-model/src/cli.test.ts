/**
 * `pnpm start` takes no arguments (`src/main.ts` is the README's program, which reads none): a flag is a usage
 * error (exit code 2, one line naming it) rather than being ignored by a 100-step run; `--help` says so.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runNodeScript } from '@phalanx/testing/child-process';

const exampleDir = fileURLToPath(new URL('..', import.meta.url));
/** The script `pnpm start` runs (`tsx <script>`). */
const script = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    scripts: { start: string };
  }
).scripts.start.replace(/^tsx /, '');

describe('quick-model start', () => {
  it('refuses flags and positionals as usage errors, before any training', async () => {
    for (const args of [['--steps', '5'], ['--', '--bogus'], ['extra']]) {
      const run = await runNodeScript({ cwd: exampleDir, script, args });
      expect({ args, code: run.code, stdout: run.stdout }).toEqual({ args, code: 2, stdout: '' });
      expect(run.stderr.trim().split('\n')).toEqual([expect.stringContaining(args.at(-1)!)]);
    }
  }, 60_000);

  it('--help describes the run and exits 0 without training', async () => {
    const run = await runNodeScript({ cwd: exampleDir, script, args: ['--help'] });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/takes no arguments/);
    expect(run.stdout).not.toMatch(/^step /m);
  }, 60_000);
});
