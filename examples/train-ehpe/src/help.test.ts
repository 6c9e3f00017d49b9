/**
 * `--help` and the README document every flag the job's parser accepts, and mention no flag it refuses.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runNodeScript } from '@phalanx/testing/child-process';
import { JOB_FLAGS } from './job-flags';

const exampleDir = fileURLToPath(new URL('..', import.meta.url));
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const accepted = Object.keys(JOB_FLAGS).sort();

/** The flags a text mentions (`--name`), once each, sorted. */
const flagsIn = (text: string) =>
  [...new Set([...text.matchAll(/(?<![\w-])--([a-z][a-z0-9-]*)/g)].map((m) => m[1]))].sort();

describe('train-ehpe --help', () => {
  it('documents every accepted flag on a line of its own and mentions no other; the README names each', async () => {
    const run = await runNodeScript({ cwd: exampleDir, script: 'src/main.ts', args: ['--help'] });
    expect(run.code).toBe(0);
    const documented = [...run.stdout.matchAll(/^ {2}--([a-z][a-z0-9-]*)/gm)].map((m) => m[1]).sort();
    expect(documented).toEqual(accepted);
    expect(flagsIn(run.stdout).filter((f) => !accepted.includes(f))).toEqual([]);
    expect(accepted.filter((f) => !flagsIn(readme).includes(f))).toEqual([]);
  }, 30_000);

  it('every command of the job in the README uses accepted flags only', () => {
    const job = /example-train-ehpe start|src\/main\.ts/;
    const commands = readme
      .replace(/\\\n\s*/g, ' ')
      .split('\n')
      .filter((line) => job.test(line))
      .map((line) => line.slice(line.search(job)).split(/[;|`#]|&&/)[0]);
    expect(commands.length).toBeGreaterThan(5);
    expect(commands.flatMap((c) => flagsIn(c).filter((f) => !accepted.includes(f)))).toEqual([]);
  });
});
