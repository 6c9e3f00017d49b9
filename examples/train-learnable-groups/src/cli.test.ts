/**
 * The job's command line against hostile input: every mistake is a usage error — exit code 2 and one line
 * naming the flag, no stack trace — before any model is built or any file written.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
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

  it('--data-seed of the held-out set is refused: the run would train on the hands it is scored on', async () => {
    const tiny = ['--steps', '1', '--batch', '2', '--test-size', '4', '--replicas', '1', '--data-workers', '0'];
    await expectUsageError([...tiny, '--data-seed', '90210'], '--data-seed');
    const log = join(mkdtempSync(join(tmpdir(), 'lg-exp-seed-')), 'results.jsonl');
    const args = [...tiny.slice(0, 6), '--data-seed', '7', '--test-seed', '7', '--log', log];
    const run = await runNodeScript({ cwd: exampleDir, script: 'src/experiment.ts', args });
    expect([run.code, run.stderr.trim().split('\n').length]).toEqual([2, 1]);
    expect(run.stderr).toContain('--data-seed');
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

/** Runs `main.ts` with `args` and checks it ended with exit code 1 and one line of stderr containing `words`. */
async function expectNamedError(args: string[], ...words: string[]): Promise<void> {
  const run = await runMain(args);
  const lines = run.stderr.trim().split('\n');
  expect({ args, code: run.code, lines }).toEqual({ args, code: 1, lines: [expect.any(String)] });
  for (const word of words) expect(lines[0]).toContain(word);
  expect(run.stdout).not.toMatch(/^step\s/m);
}

describe('train-learnable-groups output folder', () => {
  it('--out on a file, below a file or under /proc is a named error before training, not a hang', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lg-out-'));
    const file = join(dir, 'a-file');
    writeFileSync(file, 'keep');
    await expectNamedError(['--out', file], file, 'output folder');
    await expectNamedError(['--out', join(file, 'run')], 'output folder');
    await expectNamedError(['--out', '/proc/phalanx-run'], '/proc/phalanx-run', 'output folder');
    expect(readFileSync(file, 'utf8')).toBe('keep');
  }, 60_000);
});

describe('train-learnable-groups --init', () => {
  it('a missing, empty, truncated or foreign --init file is a named error naming it, before the run folder is made', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lg-init-'));
    const out = join(dir, 'run');
    const files = {
      'missing.pth': null,
      'empty.pth': '',
      'truncated.pth': 'PK\u0003\u0004 cut here',
      'notes.pth': 'not a checkpoint at all',
      'short.safetensors': '{}',
      'cut.safetensors': '\u0010\u0000\u0000\u0000\u0000\u0000\u0000\u0000{"a":',
    };
    for (const [name, text] of Object.entries(files)) if (text !== null) writeFileSync(join(dir, name), text);
    for (const name of [...Object.keys(files), '.']) {
      const file = join(dir, name);
      await expectNamedError(['--init', file, '--out', out], name === '.' ? dir : file);
      expect(existsSync(out)).toBe(false);
    }
  }, 120_000);
});

describe('train-learnable-groups --resume', () => {
  /** Flags of a run that would train in seconds, had the folder been accepted. */
  const tiny = ['--steps', '1', '--batch', '2', '--test-size', '4', '--replicas', '1', '--data-workers', '0'];
  const step = '{"event":"step","step":1,"loss":1}\n';

  it('a damaged or foreign run folder is a named error naming the file, and nothing in it is written', async () => {
    const folders: [Record<string, string>, string][] = [
      [{ 'log.jsonl': `${step}{"event":"eval","step":1,"metrics":{"epe2d` }, 'log.jsonl'],
      [{ 'log.jsonl': `${step}{"event":"ev{"event":"start","step":1}\n` }, 'log.jsonl'],
      [{ 'log.jsonl': step, 'metrics.json': '{"preset":"demo","con' }, 'metrics.json'],
      [{ 'metrics.json': '[1, 2]' }, 'metrics.json'],
      [{ 'config.json': '{"variant":"W+T"}', 'metrics.json': '{"config":{"variant":"W+T"}}' }, 'config.json'],
    ];
    for (const [files, named] of folders) {
      const out = mkdtempSync(join(tmpdir(), 'lg-resume-'));
      for (const [name, text] of Object.entries(files)) writeFileSync(join(out, name), text);
      await expectNamedError([...tiny, '--resume', '--out', out], named);
      expect(readdirSync(out).sort()).toEqual(Object.keys(files).sort());
      for (const [name, text] of Object.entries(files)) expect(readFileSync(join(out, name), 'utf8')).toBe(text);
    }
  }, 180_000);

  it("a train-ehpe run folder is refused without --resume too: nothing is written over the other job's run", async () => {
    const out = mkdtempSync(join(tmpdir(), 'lg-foreign-'));
    const files = { 'config.json': '{"variant":"W+T"}', 'metrics.json': '{"config":{"variant":"W+T"}}' };
    for (const [name, text] of Object.entries(files)) writeFileSync(join(out, name), text);
    await expectNamedError([...tiny, '--out', out], 'config.json');
    expect(readdirSync(out).sort()).toEqual(Object.keys(files).sort());
  }, 60_000);
});

describe('train-learnable-groups experiment harness', () => {
  it('--log under a file or under /proc is a named error at once, not a hang', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lg-exp-log-'));
    const file = join(dir, 'a-file');
    writeFileSync(file, 'keep');
    for (const log of [join(file, 'results.jsonl'), '/proc/phalanx-exp/results.jsonl']) {
      const run = await runNodeScript({
        cwd: exampleDir,
        script: 'src/experiment.ts',
        args: ['--steps', '1', '--log', log],
      });
      expect({ log, code: run.code }).toEqual({ log, code: 1 });
      expect(run.stderr.trim().split('\n')).toEqual([expect.stringContaining('log folder (--log)')]);
    }
    expect(readFileSync(file, 'utf8')).toBe('keep');
  }, 60_000);
});

describe('train-learnable-groups --resume of other sizes', () => {
  it('a checkpoint of other sizes is a one-line named error on replicas too, and the checkpoints stay', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'lg-sizes-')), 'run');
    const tiny = ['--batch', '2', '--test-size', '4', '--data-workers', '0', '--threads', '1', '--hourglass-features'];
    const sizes = [...tiny, '16', '--stem', '8,16', '--neck', '16', '--checkpoint-every', '1', '--out', out];
    const first = await runMain([...sizes, '--steps', '1', '--replicas', '1', '--planes', '4']);
    expect(first.code, first.stderr).toBe(0);
    const checkpoints = readdirSync(join(out, 'checkpoints'));
    for (const replicas of ['1', '2']) {
      await expectNamedError(
        [...sizes, '--steps', '2', '--replicas', replicas, '--planes', '8', '--resume'],
        'PhalanxFileError',
        'model.json',
      );
      expect(readdirSync(join(out, 'checkpoints'))).toEqual(checkpoints);
    }
  }, 120_000);
});
