import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { PhalanxConfigError, PhalanxFileError } from '@phalanx/errors';
import { projectPoints } from '../synthetic/render';
import { openFreiHand } from './freihand';
import { openRhd, parseRhdAnnotations, RHD_TO_FREIHAND } from './rhd';

const fixtures = fileURLToPath(new URL('../../test/fixtures/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'phalanx-data-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('RHD', () => {
  const source = JSON.parse(readFileSync(join(fixtures, 'rhd/training/source.json'), 'utf8')) as Record<
    string,
    { xyz: number[][]; uv_vis: number[][]; K: number[][] }
  >;

  it('parses the annotation pickle (float32 arrays) as stored', () => {
    const frames = parseRhdAnnotations(readFileSync(join(fixtures, 'rhd/training/anno_training.pickle')), 'anno');
    expect([...frames.keys()]).toEqual([0, 1, 2]);
    const f1 = frames.get(1)!;
    expect(f1.xyz[3 * 5 + 2]).toBeCloseTo(source['1'].xyz[5][2], 6);
    expect(f1.uvVis[3 * 30 + 1]).toBeCloseTo(source['1'].uv_vis[30][1], 4);
    expect(f1.K[0]).toBeCloseTo(source['1'].K[0][0], 4);
  });

  it('returns the chosen hand in FreiHAND order, in mm, with images', async () => {
    const ds = await openRhd({ root: join(fixtures, 'rhd') });
    expect(ds.length).toBe(3);
    for (let i = 0; i < 3; i++) {
      const s = await ds.get(i);
      // frames alternate: the rendered (visible) hand is left for even ids, right for odd ids
      expect(s.side).toBe(i % 2 === 0 ? 'left' : 'right');
      const off = s.side === 'left' ? 0 : 21;
      expect([s.width, s.height, s.image.length]).toEqual([48, 48, 48 * 48 * 3]);
      for (let j = 0; j < 21; j++) {
        const r = off + RHD_TO_FREIHAND[j];
        expect(s.xyz[3 * j]).toBeCloseTo(source[String(i)].xyz[r][0] * 1000, 3);
        expect(s.uv[2 * j + 1]).toBeCloseTo(source[String(i)].uv_vis[r][1], 3);
        expect(s.visible[j]).toBe(source[String(i)].uv_vis[r][2]);
      }
      // the fixture's uv were projected from xyz with K (float32 storage)
      const uv = projectPoints(s.xyz, s.K);
      for (let k = 0; k < 42; k++) expect(Math.abs(uv[k] - s.uv[k])).toBeLessThan(1e-3);
      expect(s.scale).toBeGreaterThan(30);
    }
    const right = await openRhd({ root: join(fixtures, 'rhd/training'), hand: 'right', units: 'm' });
    const s0 = await right.get(0);
    expect(s0.side).toBe('right');
    expect(s0.xyz[2]).toBeCloseTo(source['0'].xyz[21][2], 6);
    expect(s0.visible.every((v) => v === 0)).toBe(true);
    let n = 0;
    for await (const s of right) n += s.id >= 0 ? 1 : 0;
    expect(n).toBe(3);
  });

  it('names the file and field of malformed annotations', async () => {
    await expect(openRhd({ root: join(fixtures, 'rhd-bad/shape') })).rejects.toThrow(
      /rhd-bad\/shape\/anno_training\.pickle: frame 1 'uv_vis' must have shape \(42, 3\), but has \(21, 3\)/,
    );
    await expect(openRhd({ root: join(fixtures, 'rhd-bad/missing') })).rejects.toThrow(
      /rhd-bad\/missing\/anno_training\.pickle: frame 2 'K' is missing/,
    );
    await expect(openRhd({ root: join(tmp, 'nowhere') })).rejects.toThrow(
      /nowhere\/anno_training\.pickle: RHD annotations is missing/,
    );
    await expect(openRhd({ root: join(fixtures, 'rhd'), hand: 'both' as 'left' })).rejects.toThrow(
      "openRhd: hand must be one of 'auto', 'left', 'right', but received 'both'.",
    );
  });

  it('names a frame id that is not a non-negative integer, even one beyond 2⁵³ (a bigint key)', () => {
    // pickle.dumps({key: {}}, protocol=2) with the key as LONG1 (2⁵³ + 1), BININT (−1) and BINUNICODE ('abc').
    const pickled = (key: number[]) => Uint8Array.from([0x80, 2, 0x7d, ...key, 0x7d, 0x73, 0x2e]);
    const cases: [number[], string][] = [
      [[0x8a, 7, 1, 0, 0, 0, 0, 0, 0x20], 'anno: key 9007199254740993 must be a non-negative integer frame id'],
      [[0x4a, 0xff, 0xff, 0xff, 0xff], 'anno: key -1 must be a non-negative integer frame id'],
      [[0x58, 3, 0, 0, 0, 0x61, 0x62, 0x63], "anno: key 'abc' must be a non-negative integer frame id"],
    ];
    for (const [key, message] of cases) {
      const parse = () => parseRhdAnnotations(pickled(key), 'anno');
      expect(parse).toThrow(PhalanxFileError);
      expect(parse).toThrow(message);
    }
  });

  it('names the image file when it is missing', async () => {
    const dir = join(tmp, 'rhd-noimg');
    cpSync(join(fixtures, 'rhd/training'), dir, { recursive: true });
    rmSync(join(dir, 'color/00001.png'));
    const ds = await openRhd({ root: dir });
    await expect(ds.get(1)).rejects.toThrow(/color\/00001\.png: image of frame 1 is missing/);
    await expect(ds.get(3)).rejects.toThrow('RHD.get: index must be an integer in [0, 2], but received 3.');
  });

  it('marks joints behind the camera (z ≤ 0) as not visible, though they project inside the image', async () => {
    const dir = join(tmp, 'rhd-behind');
    cpSync(join(fixtures, 'rhd/training'), dir, { recursive: true });
    copyFileSync(join(fixtures, 'rhd-behind/anno_training.pickle'), join(dir, 'anno_training.pickle'));
    const [front, back] = await Promise.all([openRhd({ root: join(fixtures, 'rhd') }), openRhd({ root: dir })]);
    const [a, b] = await Promise.all([front.get(0), back.get(0)]);
    expect(b.side).toBe('left');
    // Mirrored through the camera centre: the same pixels, every z negative.
    for (let k = 0; k < 42; k++) expect(b.uv[k]).toBeCloseTo(a.uv[k], 9);
    for (let j = 0; j < 21; j++) expect(b.xyz[3 * j + 2]).toBe(-a.xyz[3 * j + 2]);
    expect(a.visible.some((v) => v === 1)).toBe(true);
    expect(Array.from(b.visible)).toEqual(new Array(21).fill(0));
  });

  it('refuses a camera matrix with a focal length ≤ 0', async () => {
    await expect(openRhd({ root: join(fixtures, 'rhd-bad/focal') })).rejects.toThrow(
      /rhd-bad\/focal\/anno_training\.pickle: frame 1 'K' must have focal lengths fx = K\[0\]\[0\] and fy = K\[1\]\[1\] > 0, but has fx = 0/,
    );
  });
});

describe('FreiHAND', () => {
  const root = join(fixtures, 'freihand');
  const xyzJson = JSON.parse(readFileSync(join(root, 'training_xyz.json'), 'utf8')) as number[][][];
  const scaleJson = JSON.parse(readFileSync(join(root, 'training_scale.json'), 'utf8')) as number[];

  it('reads annotations (metres → mm by default) and decodes the JPEG', async () => {
    const ds = await openFreiHand({ root });
    expect(ds.length).toBe(3);
    const s = await ds.get(2);
    expect(s.imagePath.endsWith('training/rgb/00000002.jpg')).toBe(true);
    expect([s.width, s.height, s.image.length]).toEqual([32, 32, 32 * 32 * 3]);
    expect(s.xyz[3 * 7 + 1]).toBeCloseTo(xyzJson[2][7][1] * 1000, 9);
    expect(s.scale).toBeCloseTo(scaleJson[2] * 1000, 9);
    expect(Array.from(s.uv)).toEqual(Array.from(projectPoints(s.xyz, s.K)));
    const m = await (await openFreiHand({ root, units: 'm', version: 1 })).get(2);
    expect(m.xyz[3 * 7 + 1]).toBe(xyzJson[2][7][1]);
    expect(m.imagePath.endsWith('00000005.jpg')).toBe(true);
    // version 1 of the fixture is the colour-inverted image
    expect(Math.abs(m.image[100] + s.image[100] - 255)).toBeLessThan(40);
  });

  function brokenCopy(name: string, edit: (dir: string) => void): string {
    const dir = join(tmp, name);
    cpSync(root, dir, { recursive: true });
    edit(dir);
    return dir;
  }

  it('names the file and field of missing files, malformed entries and mismatched counts', async () => {
    const noK = brokenCopy('fh-nok', (d) => rmSync(join(d, 'training_K.json')));
    await expect(openFreiHand({ root: noK })).rejects.toThrow(/fh-nok\/training_K\.json: camera matrices is missing/);
    const bad = brokenCopy('fh-bad', (d) => {
      const x = JSON.parse(readFileSync(join(d, 'training_xyz.json'), 'utf8'));
      x[1] = x[1].slice(0, 20);
      writeFileSync(join(d, 'training_xyz.json'), JSON.stringify(x));
    });
    await expect(openFreiHand({ root: bad })).rejects.toThrow(
      /fh-bad\/training_xyz\.json: xyz entry 1 must be 21×3 finite numbers/,
    );
    const count = brokenCopy('fh-count', (d) =>
      writeFileSync(join(d, 'training_scale.json'), JSON.stringify(scaleJson.slice(0, 2))),
    );
    await expect(openFreiHand({ root: count })).rejects.toThrow(
      /fh-count\/training_scale\.json: scale has 2 entries but .*training_xyz\.json has 3 \(counts must match\)/,
    );
    const json = brokenCopy('fh-json', (d) => writeFileSync(join(d, 'training_K.json'), '[[1, 2'));
    await expect(openFreiHand({ root: json })).rejects.toThrow(
      /fh-json\/training_K\.json: camera matrices is not valid JSON/,
    );
    const img = brokenCopy('fh-img', (d) =>
      copyFileSync(join(d, 'training_K.json'), join(d, 'training/rgb/00000001.jpg')),
    );
    await expect((await openFreiHand({ root: img })).get(1)).rejects.toThrow(
      /fh-img\/training\/rgb\/00000001\.jpg: image data is neither PNG nor JPEG/,
    );
  });

  it('marks joints behind the camera (z ≤ 0) as not visible, though they project inside the image', async () => {
    const mirrored = brokenCopy('fh-behind', (d) => {
      const x = JSON.parse(readFileSync(join(d, 'training_xyz.json'), 'utf8')) as number[][][];
      x[0] = x[0].map((p, j) => (j % 2 === 0 ? p.map((v) => -v) : p));
      writeFileSync(join(d, 'training_xyz.json'), JSON.stringify(x));
    });
    const [a, b] = await Promise.all([
      (await openFreiHand({ root })).get(0),
      (await openFreiHand({ root: mirrored })).get(0),
    ]);
    for (let k = 0; k < 42; k++) expect(b.uv[k]).toBeCloseTo(a.uv[k], 9);
    expect(Array.from(a.visible)).toEqual(new Array(21).fill(1));
    expect(Array.from(b.visible)).toEqual(Array.from({ length: 21 }, (_, j) => (j % 2 === 0 ? 0 : 1)));
  });

  it('keeps joints on the camera plane (|z| < 1e-6 m) not visible, with the principal point as a finite uv', async () => {
    const onPlane = [0, 3, 7, 12];
    const flat = brokenCopy('fh-zero', (d) => {
      const x = JSON.parse(readFileSync(join(d, 'training_xyz.json'), 'utf8')) as number[][][];
      x[0][0] = [0, 0, 0];
      x[0][3] = [0.01, 0.01, 0];
      x[0][7] = [0.02, -0.01, 5e-7];
      x[0][12] = [-0.03, 0.02, -1e-9];
      writeFileSync(join(d, 'training_xyz.json'), JSON.stringify(x));
    });
    const [a, b] = await Promise.all([
      (await openFreiHand({ root })).get(0),
      (await openFreiHand({ root: flat })).get(0),
    ]);
    expect(Array.from(b.uv).every(Number.isFinite)).toBe(true);
    for (let j = 0; j < 21; j++) {
      if (onPlane.includes(j)) {
        expect([b.uv[2 * j], b.uv[2 * j + 1]], `joint ${j}`).toEqual([b.K[2], b.K[5]]);
        expect(b.visible[j], `joint ${j}`).toBe(0);
      } else {
        expect([b.uv[2 * j], b.uv[2 * j + 1]]).toEqual([a.uv[2 * j], a.uv[2 * j + 1]]);
        expect(b.visible[j]).toBe(a.visible[j]);
      }
    }
    expect(b.xyz[3 * 3 + 2]).toBe(0);
  });

  it('refuses a camera matrix with a focal length ≤ 0', async () => {
    for (const [row, col, value] of [
      [0, 0, 0],
      [1, 1, -120],
    ]) {
      const dir = brokenCopy(`fh-focal-${row}`, (d) => {
        const k = JSON.parse(readFileSync(join(d, 'training_K.json'), 'utf8')) as number[][][];
        k[2][row][col] = value;
        writeFileSync(join(d, 'training_K.json'), JSON.stringify(k));
      });
      await expect(openFreiHand({ root: dir })).rejects.toThrow(
        new RegExp(
          `training_K\\.json: K entry 2 must have focal lengths fx = K\\[0\\]\\[0\\] and fy = K\\[1\\]\\[1\\] > 0, but has fx = ${row === 0 ? 0 : '\\d'}`,
        ),
      );
    }
  });
});

describe('reader options', () => {
  it('a missing or malformed root is a PhalanxConfigError naming the option, not a TypeError', async () => {
    const open = { openFreiHand, openRhd } as Record<string, (options: never) => Promise<unknown>>;
    for (const name of ['openFreiHand', 'openRhd']) {
      const cases: [unknown, string][] = [
        [
          {},
          `${name}: root must be the dataset folder (a non-empty string; the option is required), but received undefined.`,
        ],
        [{ root: '' }, `${name}: root must be the dataset folder`],
        [{ root: 3 }, `${name}: root must be the dataset folder`],
        [undefined, `${name}: options must be an object {root, …}, but received undefined.`],
      ];
      for (const [options, message] of cases) {
        await expect(open[name](options as never), message).rejects.toThrow(PhalanxConfigError);
        await expect(open[name](options as never)).rejects.toThrow(message);
      }
    }
  });
});
