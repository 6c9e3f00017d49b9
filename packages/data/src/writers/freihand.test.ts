import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { syntheticHands } from '../dataset';
import { PhalanxConfigError, PhalanxFileError } from '@phalanx/errors';
import { inFrame } from '../readers/common';
import { openFreiHand } from '../readers/freihand';
import { openRhd } from '../readers/rhd';
import { projectPoints, type SyntheticHandSample } from '../synthetic/render';
import { metresFromMillimetres, writeFreihand } from './freihand';

const tmp = mkdtempSync(join(tmpdir(), 'phalanx-write-freihand-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Distance between two doubles in units in the last place. */
function ulps(a: number, b: number): number {
  const buf = new Float64Array([a, b]);
  const bits = new BigInt64Array(buf.buffer);
  return Math.abs(Number(bits[0] - bits[1]));
}

describe('writeFreihand', () => {
  const samples: SyntheticHandSample[] = [...syntheticHands({ seed: 5, count: 6, size: 64 })];

  it("writes FreiHAND's layout, which openFreiHand reads back as the same hands", async () => {
    const dir = join(tmp, 'mm');
    const result = await writeFreihand(samples, dir);
    expect(result.count).toBe(6);
    expect(result.files.map((f) => f.slice(dir.length + 1))).toEqual([
      'training_xyz.json',
      'training_K.json',
      'training_scale.json',
    ]);
    const ds = await openFreiHand({ root: dir });
    expect(ds.length).toBe(6);
    let exact = 0;
    let values = 0;
    for (let i = 0; i < samples.length; i++) {
      const s = samples[i];
      const r = await ds.get(i);
      expect(r.imagePath.endsWith(`training/rgb/${String(i).padStart(8, '0')}.jpg`)).toBe(true);
      // K is stored as it is: bit for bit.
      expect(Array.from(r.K)).toEqual(Array.from(s.K));
      // mm → m → mm: exact where a float64 allows it, else one unit in the last place.
      for (const [a, b] of [...Array.from(s.xyz, (v, k) => [v, r.xyz[k]]), [s.scale, r.scale]]) {
        expect(ulps(a, b)).toBeLessThanOrEqual(1);
        exact += a === b ? 1 : 0;
        values++;
      }
      const uv = projectPoints(s.xyz, s.K);
      for (let k = 0; k < 42; k++) expect(Math.abs(r.uv[k] - uv[k])).toBeLessThan(1e-9);
      expect(Array.from(r.visible)).toEqual(Array.from(inFrame(uv, s.width, s.height, s.xyz)));
      // JPEG at quality 100: a few levels at most.
      expect([r.width, r.height]).toEqual([s.width, s.height]);
      let worst = 0;
      let sum = 0;
      r.image.forEach((v, k) => {
        const d = Math.abs(v - s.image[k]);
        worst = Math.max(worst, d);
        sum += d;
      });
      expect(worst).toBeLessThanOrEqual(8);
      expect(sum / r.image.length).toBeLessThan(1);
    }
    expect(exact / values).toBeGreaterThan(0.9);
  });

  it("keeps metres bit for bit with units 'm', and writes the evaluation split", async () => {
    const metres = samples.map((s) => ({ ...s, xyz: s.xyz.map((v) => v / 1000), scale: s.scale / 1000 }));
    const dir = join(tmp, 'm');
    await writeFreihand(metres, dir, { units: 'm', split: 'evaluation', quality: 90 });
    const r = await (await openFreiHand({ root: dir, split: 'evaluation', units: 'm' })).get(3);
    expect(Array.from(r.xyz)).toEqual(Array.from(metres[3].xyz));
    expect(r.scale).toBe(metres[3].scale);
    expect(JSON.parse(readFileSync(join(dir, 'evaluation_scale.json'), 'utf8'))).toEqual(metres.map((s) => s.scale));
  });

  it('chooses metres that give the millimetres back exactly for 98% of values, within 1 ulp always', () => {
    let exact = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) {
      const mm = Math.sin(i * 12.9898) * 1000 * Math.cos(i);
      const back = metresFromMillimetres(mm) * 1000;
      expect(ulps(back, mm)).toBeLessThanOrEqual(1);
      exact += back === mm ? 1 : 0;
    }
    expect(exact / n).toBeGreaterThan(0.97);
  });

  it('names malformed samples, options and unwritable folders', async () => {
    const bad = { ...samples[0], xyz: samples[0].xyz.subarray(0, 60) };
    await expect(writeFreihand([samples[0], bad], join(tmp, 'bad'))).rejects.toThrow(PhalanxConfigError);
    await expect(writeFreihand([samples[0], bad], join(tmp, 'bad'))).rejects.toThrow(
      /writeFreihand: samples\[1\]\.xyz must be 63 finite numbers \(21 joints\)/,
    );
    await expect(writeFreihand(samples, join(tmp, 'q'), { quality: 0 })).rejects.toThrow(
      'writeFreihand: quality must be a number in [1, 100], but received 0.',
    );
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'not a folder');
    await expect(writeFreihand(samples, join(file, 'sub'))).rejects.toThrow(PhalanxFileError);
  });

  it('a folder that cannot be made is a PhalanxFileError naming it instead of a hang (under /proc as root)', async () => {
    const file = join(tmp, 'in-the-way');
    writeFileSync(file, 'not a folder');
    const targets = [join(file, 'out')];
    // Node 20's recursive mkdir loops for ever under /proc; only root gets that far (others fail with EACCES).
    if (process.platform === 'linux' && process.getuid?.() === 0) targets.push('/proc/phalanx-no-such/freihand');
    for (const target of targets) {
      const error = await writeFreihand(samples.slice(0, 1), target).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, target).toBeInstanceOf(PhalanxFileError);
      expect((error as Error).message).toContain(`${target}/training/rgb: folder cannot be created: `);
    }
  }, 30_000);

  it('refuses a folder that is not a non-empty string (the files went to the working directory), by name', async () => {
    const cwd = process.cwd();
    const cases: [() => Promise<unknown>, string][] = [
      [
        () => writeFreihand([], { out: join(tmp, 'x') } as never),
        'writeFreihand: dir must be the folder to write (a non-empty string), but received {"out":',
      ],
      [
        () => writeFreihand([], ''),
        "writeFreihand: dir must be the folder to write (a non-empty string), but received ''.",
      ],
      [
        () => writeFreihand(null as never, join(tmp, 'y')),
        'writeFreihand: samples must be an iterable or async iterable of samples, but received null.',
      ],
      [
        () => writeFreihand([], join(tmp, 'z'), null as never),
        'writeFreihand: options must be an object {split?, units?, quality?}, but received null.',
      ],
      [
        () => writeFreihand([], join(tmp, 'w'), { unit: 'm' } as never),
        'writeFreihand: options.unit must be an option (one of split, units, quality)',
      ],
    ];
    for (const [write, message] of cases) {
      await expect(write(), message).rejects.toThrow(PhalanxConfigError);
      await expect(write()).rejects.toThrow(message);
    }
    expect(process.cwd()).toBe(cwd);
    // The arguments swapped: a short message naming the swap, not the samples' pixels written out (60 KB).
    for (const swapped of [
      () => writeFreihand(join(tmp, 'v') as never, samples.slice(0, 2) as never),
      () => writeFreihand(samples.slice(0, 2), samples.slice(0, 2) as never),
    ]) {
      const error = await swapped().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PhalanxConfigError);
      expect((error as Error).message.length).toBeLessThan(300);
    }
    await expect(writeFreihand(join(tmp, 'v') as never, samples as never)).rejects.toThrow(
      /^writeFreihand: samples must be an iterable or async iterable of samples, not a string \(writeFreihand\(samples, dir\): the folder comes second\), but received '.*v'\.$/,
    );
    await expect(openFreiHand({ root: tmp, unit: 'm' } as never)).rejects.toThrow(
      'openFreiHand: options.unit must be an option (one of root, split, units, version, maxPixels)',
    );
    await expect(openRhd({ root: tmp, hands: 'left' } as never)).rejects.toThrow(
      'openRhd: options.hands must be an option (one of root, split, hand, units, maxPixels)',
    );
  });
});

describe('writeFreihand → openFreiHand: other counts and image sizes', () => {
  it('round-trips 0 samples, 1 sample, non-square and odd images and float32 pixels', async () => {
    const cases: [number, number, number, 'uint8' | 'float32'][] = [
      [32, 32, 0, 'uint8'],
      [80, 48, 1, 'uint8'],
      [48, 80, 2, 'uint8'],
      [17, 33, 1, 'float32'],
    ];
    for (const [width, height, count, format] of cases) {
      const written = [...syntheticHands({ seed: 9, count, width, height, format })];
      const dir = join(tmp, `shape-${width}x${height}-${count}-${format}`);
      expect((await writeFreihand(written, dir)).count).toBe(count);
      const ds = await openFreiHand({ root: dir });
      expect(ds.length).toBe(count);
      const read = [];
      for await (const r of ds) read.push(r);
      expect(read).toHaveLength(count);
      read.forEach((r, i) => {
        const s = written[i];
        const label = `${width}×${height} ${format} sample ${i}`;
        expect([r.width, r.height, r.image.length], label).toEqual([width, height, width * height * 3]);
        expect(Array.from(r.K), label).toEqual(Array.from(s.K));
        r.xyz.forEach((v, k) => expect(ulps(v, s.xyz[k]), label).toBeLessThanOrEqual(1));
        const uv = projectPoints(s.xyz, s.K);
        r.uv.forEach((v, k) => expect(Math.abs(v - uv[k]), label).toBeLessThan(1e-9));
        expect(Array.from(r.visible), label).toEqual(Array.from(inFrame(uv, width, height, s.xyz)));
        // Quality 100: within a few levels of the samples' bytes (float32 pixels as 0–255).
        const unit = format === 'float32' ? 255 : 1;
        let worst = 0;
        r.image.forEach((v, k) => (worst = Math.max(worst, Math.abs(v - s.image[k] * unit))));
        expect(worst, label).toBeLessThanOrEqual(8);
      });
    }
  });
});
