import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { disposeBatch, type HandBatch } from '@phalanx/data';
import { useBackend } from '@phalanx/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODEL_SIZES, trainingData, type JobConfig } from './pipeline';
import { runMain } from './run-main';
import { trainingSource } from './threads';

const out = mkdtempSync(join(tmpdir(), 'phalanx-lg-threads-'));

const config: JobConfig = {
  model: MODEL_SIZES.tiny,
  steps: 0,
  batchSize: 2,
  lr: { selector: 1e-1, fusion: 1e-2, rest: 1e-2 },
  temperatureEvery: 10,
  zWeight: 1,
  dataSeed: 4,
};

beforeAll(async () => {
  await useBackend('cpu');
});
afterAll(() => rmSync(out, { recursive: true, force: true }));

async function firstBatches(source: AsyncIterable<HandBatch> | Iterable<HandBatch>, n: number) {
  const got: number[][] = [];
  for await (const b of source) {
    got.push([...(await b.images.data()), ...(await b.uv.data()), ...(await b.xyz.data())]);
    disposeBatch(b);
    if (got.length === n) break;
  }
  return got;
}

describe('train-learnable-groups on every core', () => {
  it('prefetched training data is the same stream as on the training thread, also after a resume', async () => {
    const position = { step: 3, batchesSeen: 3 };
    const inline = await firstBatches(trainingData(config)(position), 2);
    const prefetched = await firstBatches(trainingSource(config, 2)(position), 2);
    expect(prefetched).toEqual(inline);
  });

  it('--threads 2: Ctrl-C checkpoints and exits 130; --resume finishes the run and the process ends by itself', async () => {
    const common = [
      '--batch',
      '2',
      '--replicas',
      '1',
      '--test-size',
      '4',
      '--threads',
      '2',
      '--data-workers',
      '1',
      '--out',
      out,
    ];
    let sent = false;
    const first = await runMain([...common, '--steps', '3', '--checkpoint-every', '100'], (line, interrupt) => {
      if (!sent && /^step\s+1\//.test(line)) {
        sent = true;
        interrupt();
      }
    });
    expect(first.stdout).toMatch(/backend wasm \(2 threads\), data rendered by 1 worker thread/);
    expect(first.stdout).toMatch(/interrupted at step \d+; checkpoint/);
    expect(first.code, first.stderr).toBe(130);
    const checkpoints = readdirSync(join(out, 'checkpoints'));
    expect(checkpoints.length).toBe(1);

    const second = await runMain([...common, '--steps', '3', '--resume']);
    expect(second.stdout).toMatch(/resumed from .* at step \d+/);
    expect(second.stdout).toMatch(/after 3 steps/);
    expect(second.code, second.stderr).toBe(0);
    expect(existsSync(join(out, 'metrics.json'))).toBe(true);
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as { shipped: { shipped: boolean } };
    expect(metrics.shipped).not.toHaveProperty('firstUv');
    // predictions.png: truth, this run and (when a model is shipped) the shipped model, rows of 192-px tiles.
    const height = readFileSync(join(out, 'predictions.png')).readUInt32BE(20); // IHDR height
    const rows = metrics.shipped.shipped ? 3 : 2;
    expect(height).toBeGreaterThanOrEqual(rows * 192);
    expect(height).toBeLessThan((rows + 1) * 192);
  });
});
