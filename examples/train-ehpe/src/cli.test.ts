/**
 * The job's command line against hostile input: a mistake is a usage error — exit code 2 and one line naming
 * the flag, no stack trace — before anything runs or is written.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { writeTorchStateDict } from '@phalanx/layers';
import { useBackend } from '@phalanx/testing';
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
    await expectUsageError(['--preset', 'toString'], '--preset');
    await expectUsageError(['--dropout', ''], '--dropout');
    await expectUsageError(['--scoremap-weight', ' '], '--scoremap-weight');
  }, 60_000);
});

/** Runs `main.ts` with `args` and checks it ended with exit code 1 and one line of stderr containing `words`. */
async function expectNamedError(args: string[], ...words: string[]): Promise<void> {
  const run = await runNodeScript({ cwd: exampleDir, script: 'src/main.ts', args });
  const lines = run.stderr.trim().split('\n');
  expect({ args, code: run.code, lines }).toEqual({ args, code: 1, lines: [expect.any(String)] });
  for (const word of words) expect(lines[0]).toContain(word);
  expect(run.stdout).not.toMatch(/^step\s/m);
}

describe('train-ehpe files and folders', () => {
  it('--out on a file or under /proc is a named error at once, not a hang', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ehpe-out-'));
    const file = join(dir, 'a-file');
    writeFileSync(file, 'keep');
    await expectNamedError(['--out', file], file, 'output folder');
    await expectNamedError(['--out', '/proc/phalanx-ehpe-run'], '/proc/phalanx-ehpe-run', 'output folder');
    expect(readFileSync(file, 'utf8')).toBe('keep');
  }, 60_000);

  it('a missing, empty or damaged --init file is a named error naming it, before the run folder is made', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ehpe-init-'));
    const out = join(dir, 'run');
    const files = { 'missing.pth': null, 'empty.pth': '', 'notes.pth': 'not a checkpoint', 'short.safetensors': '{}' };
    for (const [name, text] of Object.entries(files)) if (text !== null) writeFileSync(join(dir, name), text);
    for (const name of Object.keys(files)) {
      await expectNamedError(['--init', join(dir, name), '--out', out], join(dir, name));
      expect(existsSync(out)).toBe(false);
    }
  }, 60_000);

  it('--resume on a run record that is not JSON is a named error naming it, and the record is kept', async () => {
    for (const text of ['{"config": {"stepsTw"', 'null', '[1]']) {
      const out = mkdtempSync(join(tmpdir(), 'ehpe-record-'));
      writeFileSync(join(out, 'config.json'), text);
      await expectNamedError(
        ['--steps-tw', '1', '--steps-pg', '1', '--no-pg-only', '--out', out, '--resume'],
        'config.json',
      );
      expect(readFileSync(join(out, 'config.json'), 'utf8')).toBe(text);
      expect(readdirSync(out)).toEqual(['config.json']);
    }
  }, 60_000);
});

describe('train-ehpe errors of a replica', () => {
  it('an --init file of another network is one line on replicas too, as in one process', async () => {
    await useBackend('wasm');
    const dir = mkdtempSync(join(tmpdir(), 'ehpe-foreign-'));
    const pth = join(dir, 'foreign.pth');
    const weight = tf.ones([2, 2]);
    writeFileSync(pth, writeTorchStateDict({ 'foo.weight': weight }));
    weight.dispose();
    const tiny = ['--batch', '2', '--steps-tw', '1', '--steps-pg', '1', '--no-pg-only', '--test-size', '4'];
    for (const replicas of ['1', '2']) {
      const args = [
        ...tiny,
        '--data-workers',
        '0',
        '--init',
        pth,
        '--replicas',
        replicas,
        '--out',
        join(dir, replicas),
      ];
      // stderr keeps its last 2 000 characters: the end of the message, naming the unexpected key.
      await expectNamedError(args, 'foo.weight');
    }
  }, 120_000);
});
