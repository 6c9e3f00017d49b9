/**
 * `--help` and the README document every flag the job's parser accepts, and mention no flag it refuses.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RECIPE_FLAGS } from './flags';
import { JOB_FLAGS, JOB_HELP } from './job-flags';
import { runMain } from './run-main';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const accepted = [...Object.keys(RECIPE_FLAGS), ...Object.keys(JOB_FLAGS)].sort();

/** The flags a text mentions (`--name`), once each, sorted. */
const flagsIn = (text: string) =>
  [...new Set([...text.matchAll(/(?<![\w-])--([a-z][a-z0-9-]*)/g)].map((m) => m[1]))].sort();

describe('train-learnable-groups --help', () => {
  it('documents every accepted flag on a line of its own, and only those', () => {
    const documented = [...JOB_HELP.matchAll(/^ {2}--([a-z][a-z0-9-]*)/gm)].map((m) => m[1]).sort();
    expect(documented).toEqual(accepted);
    expect(flagsIn(JOB_HELP).filter((f) => !accepted.includes(f))).toEqual([]);
  });

  it('is what the README shows, and every command of the job in the README uses accepted flags only', () => {
    expect(readme).toContain(`\`\`\`text\n${JOB_HELP}\n\`\`\``);
    // Commands of this job: `pnpm demo …`, `… example-train-learnable-groups start …` and `src/main.ts …`,
    // with their continuation lines.
    const commands = readme
      .replace(/\\\n\s*/g, ' ')
      .split('\n')
      .filter((line) => /pnpm demo|example-train-learnable-groups start|src\/main\.ts/.test(line))
      .map((line) => line.slice(line.search(/pnpm demo|example-train-learnable-groups start|src\/main\.ts/)));
    expect(commands.length).toBeGreaterThan(5);
    const unknown = commands.flatMap((c) => flagsIn(c.split(/[;|`]|&&/)[0]).filter((f) => !accepted.includes(f)));
    expect(unknown).toEqual([]);
  });

  it('main.ts --help prints it and exits 0', async () => {
    const run = await runMain(['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${JOB_HELP}\n`);
  }, 30_000);
});
