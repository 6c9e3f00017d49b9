import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runNodeScript } from '@phalanx/testing/child-process';

const exampleDir = fileURLToPath(new URL('..', import.meta.url));
const shipped = fileURLToPath(new URL('../../../packages/pretrained/models/ehpe', import.meta.url));

/** Runs the `limits` command line on the shipped EHPE and 8 held-out hands; resolves to its output. */
function limits(extra: string[]) {
  const args = ['--model', shipped, '--config', `${shipped}/metrics.json`, '--test-size', '8', '--threads', '1'];
  return runNodeScript({ cwd: exampleDir, script: 'src/limits-cli.ts', args: [...args, ...extra] });
}

/** The model's PA-MPJPE and MPJPE from the table's first row. */
function modelRow(stdout: string): number[] {
  const row = /^\| the model's \| ([\d.]+) \| ([\d.]+) \|$/m.exec(stdout);
  expect(row, stdout).not.toBeNull();
  return [Number(row![1]), Number(row![2])];
}

describe('train-ehpe: the limits command line', () => {
  it('--precise-bn N re-estimates the batch-norm statistics first, which changes the figures; bad N is refused', async () => {
    const [plain, precise, bad] = await Promise.all([
      limits([]),
      limits(['--precise-bn', '2', '--precise-bn-batch', '4']),
      limits(['--precise-bn', '1.5']),
    ]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(precise.code, precise.stderr).toBe(0);
    expect(plain.stdout).not.toMatch(/re-estimated/);
    expect(precise.stdout).toMatch(/batch-norm statistics re-estimated on 2 training batches of 4/);
    expect(precise.stdout).toMatch(/^held-out 8 hands \(seed 90210, 96 px\)/m);
    expect(modelRow(precise.stdout)).not.toEqual(modelRow(plain.stdout));
    expect(bad.code).toBe(2); // a usage error
    expect(bad.stderr).toMatch(/--precise-bn must be an integer ≥ 0, but received '1\.5'/);
  }, 120_000);

  it('bad flags are usage errors (exit code 2), a damaged --config or --model a one-line named error (1)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ehpe-limits-'));
    writeFileSync(join(dir, 'config.json'), '{"config": {"batchSize"');
    writeFileSync(join(dir, 'other.json'), '{"preset": "demo"}');
    writeFileSync(join(dir, 'model.json'), '{"modelTopology":');
    const cases: [string[], number, string][] = [
      [['--bogus'], 2, '--bogus'],
      [['--model', shipped], 2, '--config'],
      [['--model', shipped, '--config', join(dir, 'config.json')], 1, 'config.json'],
      [['--model', shipped, '--config', join(dir, 'other.json')], 1, 'other.json'],
      [['--model', shipped, '--config', join(dir, 'missing.json')], 1, 'missing.json'],
      [['--model', dir, '--config', `${shipped}/metrics.json`, '--threads', '1'], 1, dir],
    ];
    for (const [args, code, word] of cases) {
      const run = await runNodeScript({ cwd: exampleDir, script: 'src/limits-cli.ts', args });
      expect({ args, code: run.code, lines: run.stderr.trim().split('\n').length }).toEqual({ args, code, lines: 1 });
      expect(run.stderr).toContain(word);
    }
  }, 120_000);
});
