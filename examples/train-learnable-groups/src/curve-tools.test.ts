/**
 * compare-jobs and plot-curves against hostile input: a bad command line is a usage error (exit code 2), a
 * damaged log or metrics file a named error of one line (exit code 1), never a stack trace.
 */
import { existsSync, mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runNodeScript } from '@phalanx/testing/child-process';

const exampleDir = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'lg-curves-'));
const metrics = JSON.stringify({ config: { batchSize: 32 }, baselines: { meanPose: 13.3, handCentre: 9.6 } });
const evalLine = '{"event":"eval","step":250,"metrics":{"epe2dPx":9.1}}';

/** A job folder `name` holding `files`. */
function job(name: string, files: Record<string, string>): string {
  const folder = join(dir, name);
  mkdirSync(folder, { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(join(folder, file), text);
  return folder;
}

/** Runs `script` with `args`; checks the exit code and that stderr is one line containing `words`. */
async function expectFailure(script: string, args: string[], code: number, ...words: string[]): Promise<void> {
  const run = await runNodeScript({ cwd: exampleDir, script, args });
  const lines = run.stderr.trim().split('\n');
  expect({ args, code: run.code, lines: lines.length }).toEqual({ args, code, lines: 1 });
  for (const word of words) expect(lines[0]).toContain(word);
}

describe('compare-jobs and plot-curves', () => {
  const good = job('good', { 'log.jsonl': evalLine, 'metrics.json': metrics });
  const tornLog = job('torn', {
    'log.jsonl': `${evalLine}\n{"event":"eval","step":500,"metrics":{"epe2dPx":8.`,
    'metrics.json': metrics,
  });
  const badMetrics = job('bad-metrics', { 'log.jsonl': evalLine, 'metrics.json': 'not json' });
  const experimentLog = join(dir, 'experiments.jsonl');
  writeFileSync(experimentLog, '{"name":"a","kind":"eval","samples":16,"epe":9}\nnull\n');

  it('compare-jobs: usage errors exit 2, damaged jobs 1, one line each', async () => {
    const script = 'src/compare-jobs.ts';
    await expectFailure(script, [], 2, '--job');
    await expectFailure(script, ['--bogus'], 2, '--bogus');
    await expectFailure(script, ['--job', good, '--last', '0'], 2, '--last');
    await expectFailure(script, ['--job', good, '--at', '1,x'], 2, '--at');
    await expectFailure(script, ['--job', tornLog], 1, 'PhalanxFileError', join(tornLog, 'log.jsonl'), 'line 2');
    await expectFailure(script, ['--job', badMetrics], 1, join(badMetrics, 'metrics.json'));
    await expectFailure(script, ['--job', join(dir, 'missing')], 1, join(dir, 'missing'));
    const run = await runNodeScript({ cwd: exampleDir, script, args: ['--', '--job', `${good}=ok`, '--last', '1'] });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('| ok |');
  }, 60_000);

  it('plot-curves: usage errors exit 2, damaged logs 1, one line each, nothing written', async () => {
    const script = 'src/plot-curves.ts';
    const out = join(dir, 'curves.svg');
    await expectFailure(script, ['--job', good], 2, '--out');
    await expectFailure(script, ['--out', out, '--job', good, '--target', 'abc'], 2, '--target');
    await expectFailure(script, ['--out', out, '--log', experimentLog, 'a'], 1, experimentLog, 'line 2');
    await expectFailure(script, ['--out', out, '--log', join(dir, 'missing.jsonl'), 'a'], 1, 'missing.jsonl');
    await expectFailure(script, ['--out', out, '--job', tornLog], 1, join(tornLog, 'log.jsonl'));
    await expectFailure(script, ['--out', join(dir, 'no', 'such', 'x.svg'), '--job', good], 1, 'x.svg');
    expect(existsSync(out)).toBe(false);
  }, 60_000);
});
