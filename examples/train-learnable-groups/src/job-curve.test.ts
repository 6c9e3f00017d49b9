import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { jobEvaluations, nameAndLabel, readJobCurve } from './job-curve';

const evalLine = (step: number, epe: number) =>
  JSON.stringify({ event: 'eval', step, metrics: { epe2dPx: epe, epe3dMm: 40 } });
const stepLine = (step: number) => JSON.stringify({ event: 'step', step, loss: 1 });

describe('jobEvaluations', () => {
  it('reads the evaluations as samples seen, skipping the other events', () => {
    const log = [stepLine(1), evalLine(250, 9.1), stepLine(251), evalLine(500, 8.4), ''].join('\n');
    expect(jobEvaluations(log, 32)).toEqual([
      [8000, 9.1],
      [16000, 8.4],
    ]);
  });

  it('keeps the last evaluation of a step a resumed run repeated', () => {
    // Evaluated at 500, interrupted at 620, resumed from the checkpoint at 375: 500 is evaluated again.
    const log = [evalLine(250, 9.1), evalLine(500, 8.4), evalLine(500, 8.45), evalLine(750, 8.0)].join('\n');
    expect(jobEvaluations(log, 16)).toEqual([
      [4000, 9.1],
      [8000, 8.45],
      [12000, 8.0],
    ]);
  });

  it('gives one point per evaluated step, in order, for any order of evaluations', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 20 }), fc.double({ min: 0, max: 50, noNaN: true })), {
          maxLength: 30,
        }),
        fc.integer({ min: 1, max: 64 }),
        (evals, batch) => {
          const points = jobEvaluations(evals.map(([s, e]) => evalLine(s * 125, e)).join('\n'), batch);
          const steps = [...new Set(evals.map(([s]) => s * 125))].sort((a, b) => a - b);
          expect(points.map(([samples]) => samples)).toEqual(steps.map((s) => s * batch));
          for (const [samples, epe] of points) {
            const last = evals.filter(([s]) => s * 125 * batch === samples).at(-1);
            expect(epe).toBe(last?.[1]);
          }
        },
      ),
    );
  });
});

describe('nameAndLabel', () => {
  it('splits at the first = and lets a bare name be its own label', () => {
    expect(nameAndLabel('long-run-2=lr=1e-2, seed 1')).toEqual(['long-run-2', 'lr=1e-2, seed 1']);
    expect(nameAndLabel('long-run-2')).toEqual(['long-run-2', 'long-run-2']);
    expect(nameAndLabel('run=')).toEqual(['run', '']);
  });
});

describe('readJobCurve', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
  const jobDir = (files: Record<string, string | Buffer>) => {
    const dir = mkdtempSync(join(tmpdir(), 'job-curve-'));
    dirs.push(dir);
    for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body);
    return dir;
  };
  const metrics = JSON.stringify({
    config: { batchSize: 32 },
    baselines: { meanPose: 13.3, handCentre: 9.6 },
    before: { epe2dPx: 13.35 },
  });
  const log = [evalLine(250, 9.1), evalLine(500, 8.4)].join('\n');

  it('reads a plain log with the baselines and starts at the evaluation before training', () => {
    expect(readJobCurve(jobDir({ 'log.jsonl': log, 'metrics.json': metrics }))).toEqual({
      points: [
        [0, 13.35],
        [8000, 9.1],
        [16000, 8.4],
      ],
      baselines: { meanPose: 13.3, handCentre: 9.6 },
      batchSize: 32,
    });
  });

  it('passes on the learned groups when the metrics hold them', () => {
    const withGroups = JSON.stringify({ ...JSON.parse(metrics), groups: [[0, 1], [2], []] });
    expect(readJobCurve(jobDir({ 'log.jsonl': log, 'metrics.json': withGroups })).groups).toEqual([[0, 1], [2], []]);
  });

  it('reads a gzipped log the same way', () => {
    const plain = readJobCurve(jobDir({ 'log.jsonl': log, 'metrics.json': metrics }));
    expect(readJobCurve(jobDir({ 'log.jsonl.gz': gzipSync(log), 'metrics.json': metrics }))).toEqual(plain);
  });

  it('names what is missing', () => {
    expect(() => readJobCurve(jobDir({ 'metrics.json': metrics }))).toThrow(/no log\.jsonl or log\.jsonl\.gz/);
    expect(() => readJobCurve(jobDir({ 'log.jsonl': log }))).toThrow(/no metrics\.json/);
    // The evaluation before training alone is no curve.
    const noEvals = jobDir({ 'log.jsonl': JSON.stringify({ event: 'step', step: 1 }), 'metrics.json': metrics });
    expect(() => readJobCurve(noEvals)).toThrow(/holds no held-out evaluation/);
  });

  it('a damaged log or metrics.json is a PhalanxFileError naming the file (and the line)', () => {
    const cases: [Record<string, string | Buffer>, RegExp][] = [
      [
        { 'log.jsonl': `${log}\n{"event":"eval","step":750,"metrics":{"epe2dPx":8`, 'metrics.json': metrics },
        /log\.jsonl: line 3 is not a JSON object/,
      ],
      [{ 'log.jsonl': `["epe2dPx"]`, 'metrics.json': metrics }, /log\.jsonl: line 1 is not a JSON object/],
      [{ 'log.jsonl': evalLine(1.5, 9), 'metrics.json': metrics }, /line 1 must hold a whole step/],
      [{ 'log.jsonl': '{"step":1,"metrics":{"epe2dPx":1e400}}', 'metrics.json': metrics }, /finite epe2dPx/],
      [{ 'log.jsonl.gz': 'not gzip', 'metrics.json': metrics }, /log\.jsonl\.gz: the file cannot be read/],
      [{ 'log.jsonl': log, 'metrics.json': '{"config":' }, /metrics\.json: the file is not a JSON object/],
      [{ 'log.jsonl': log, 'metrics.json': 'null' }, /metrics\.json: the file is not a JSON object/],
      [{ 'log.jsonl': log, 'metrics.json': '{}' }, /metrics\.json: config\.batchSize must be an integer ≥ 1/],
      [{ 'log.jsonl': log, 'metrics.json': metrics.replace('32', '0') }, /config\.batchSize/],
      [{ 'log.jsonl': log, 'metrics.json': metrics.replace('9.6', '"9.6"') }, /baselines\.handCentre must be a finite/],
      [
        { 'log.jsonl': log, 'metrics.json': JSON.stringify({ ...JSON.parse(metrics), groups: 'abc' }) },
        /groups must be/,
      ],
    ];
    for (const [files, message] of cases) {
      let error: Error | undefined;
      try {
        readJobCurve(jobDir(files));
      } catch (e) {
        error = e as Error;
      }
      expect({ files, name: error?.name }).toEqual({ files, name: 'PhalanxFileError' });
      expect(error?.message).toMatch(message);
    }
  });
});
