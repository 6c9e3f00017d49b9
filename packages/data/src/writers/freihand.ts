/**
 * Writes hand samples (synthetic, augmented, or read from another dataset) in FreiHAND's layout, so that
 * any FreiHAND pipeline — the official PyTorch code of a paper included — trains on them:
 *
 *     <dir>/training/rgb/00000000.jpg …     the images, JPEG
 *     <dir>/training_xyz.json               N × 21 × 3 camera-frame joints, metres
 *     <dir>/training_K.json                 N × 3 × 3 camera matrices
 *     <dir>/training_scale.json             N hand scales (middle-finger MCP–PIP length), metres
 *
 * `openFreiHand` reads the result back: K bit for bit; xyz and scale exactly wherever a float64 metre
 * value times 1000 gives the millimetre value back (98 % of values), else within one unit in the last place;
 * images within JPEG's quantisation (a few levels at the default quality 100).
 */
import type * as FsPromises from 'node:fs/promises';
import {
  checkOneOf,
  checkOptions,
  describeCompact,
  makeFolder,
  PhalanxConfigError,
  PhalanxFileError,
} from '@phalanx/errors';
import { encodeJpeg } from '../image-io';
import { joinPath } from '../readers/fs';
import type { HandSample } from '../types';

/** Options of {@link writeFreihand}. */
export interface WriteFreihandOptions {
  /** Split name used in the file names: `'training'` (default) or `'evaluation'`. */
  split?: 'training' | 'evaluation';
  /**
   * Unit of the samples' `xyz` and `scale`: `'mm'` (default: synthetic samples, and what `openFreiHand`
   * returns by default) or `'m'`. The files always hold metres, as FreiHAND's do.
   */
  units?: 'mm' | 'm';
  /** JPEG quality, 1–100. Default 100 (pixels within a few levels of the samples'). */
  quality?: number;
}

/** The keys of {@link WriteFreihandOptions}: any other key is a named error. */
const WRITE_OPTION_KEYS = { split: true, units: true, quality: true } satisfies Record<
  keyof WriteFreihandOptions,
  true
>;

/**
 * A received value for an error message: {@link describeCompact}, cut to 80 characters — a short list of
 * samples (their pixels) would otherwise be written out in full, tens of kilobytes.
 */
function describeShort(value: unknown): string {
  const text = describeCompact(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/**
 * Named errors for `samples` that are not iterable, or a string (the folder: the arguments swapped), a `dir`
 * that is not a non-empty string (`joinPath` drops anything else, so the files went to the working directory)
 * and `options` that are not an object of its keys.
 */
function checkWriteArgs(samples: unknown, dir: unknown, options: unknown): void {
  const iterable = (x: unknown, key: symbol) => typeof (x as Record<symbol, unknown> | null)?.[key] === 'function';
  const expected = 'an iterable or async iterable of samples';
  if (!iterable(samples, Symbol.iterator) && !iterable(samples, Symbol.asyncIterator)) {
    throw new PhalanxConfigError('writeFreihand', 'samples', expected, samples, describeShort);
  }
  if (typeof samples === 'string') {
    const swapped = `${expected}, not a string (writeFreihand(samples, dir): the folder comes second)`;
    throw new PhalanxConfigError('writeFreihand', 'samples', swapped, samples, describeShort);
  }
  if (typeof dir !== 'string' || dir.length === 0 || dir.includes('\0')) {
    throw new PhalanxConfigError(
      'writeFreihand',
      'dir',
      'the folder to write (a non-empty string)',
      dir,
      describeShort,
    );
  }
  checkOptions('writeFreihand', 'options', options, WRITE_OPTION_KEYS, 'an object {split?, units?, quality?}');
}

/** What {@link writeFreihand} wrote. */
export interface WriteFreihandResult {
  /** Number of samples (and images) written. */
  count: number;
  /** The annotation files written. */
  files: string[];
}

const ULP = new Float64Array(1);
const ULP_BITS = new BigInt64Array(ULP.buffer);

/** The float64 `k` units in the last place away from `x` (towards larger magnitude for k > 0). */
function ulpStep(x: number, k: number): number {
  ULP[0] = x;
  ULP_BITS[0] += BigInt(k);
  return ULP[0];
}

/**
 * Metres for `mm` that read back as exactly `mm` (`m × 1000`, as `openFreiHand` converts) whenever a
 * float64 allows it — `mm / 1000` or one of its nearest neighbours; otherwise `mm / 1000` (one unit in the
 * last place off after the round trip).
 *
 * @example
 * ```ts
 * metresFromMillimetres(123.4) * 1000 === 123.4; // true
 * ```
 */
export function metresFromMillimetres(mm: number): number {
  const m = mm / 1000;
  if (m * 1000 === mm || !Number.isFinite(m) || m === 0) return m;
  for (const k of [1, -1, 2, -2]) {
    const candidate = ulpStep(m, k);
    if (candidate * 1000 === mm) return candidate;
  }
  return m;
}

function rows(values: ArrayLike<number>, cols: number, toFile: (v: number) => number): number[][] {
  const out: number[][] = [];
  for (let r = 0; r < values.length / cols; r++) {
    out.push(Array.from({ length: cols }, (_, c) => toFile(values[r * cols + c])));
  }
  return out;
}

function checkSample(s: HandSample, index: number): void {
  const bad = (field: string, expected: string) => {
    throw new PhalanxConfigError(
      'writeFreihand',
      `samples[${index}].${field}`,
      expected,
      s?.[field as keyof HandSample],
      describeCompact,
    );
  };
  if (typeof s !== 'object' || s === null)
    throw new PhalanxConfigError('writeFreihand', `samples[${index}]`, 'a hand sample', s, describeCompact);
  if (s.xyz?.length !== 63 || !Array.from(s.xyz).every(Number.isFinite)) bad('xyz', '63 finite numbers (21 joints)');
  if (s.K?.length !== 9 || !Array.from(s.K).every(Number.isFinite)) bad('K', '9 finite numbers (3 × 3)');
  if (typeof s.scale !== 'number' || !(s.scale > 0) || !Number.isFinite(s.scale)) bad('scale', 'a finite number > 0');
  if (s.image?.length !== s.width * s.height * 3) bad('image', `${s.width} × ${s.height} × 3 values`);
}

/**
 * Writes `samples` in FreiHAND's layout under `dir` (created if missing; existing files of the same names
 * are replaced). Images are written as the samples arrive; the JSON annotations at the end.
 *
 * **Shapes**: per sample `xyz [21·3]` (camera frame), `K [9]` row-major, `image [H·W·3]` RGB.
 *
 * @param samples Any iterable of samples, e.g. `syntheticHands({ seed: 1, count: 1000, size: 224 })`.
 * @param dir The FreiHAND root to write (Node).
 * @returns How many samples were written and the annotation files.
 * @throws PhalanxConfigError for a malformed sample or option, `samples` that are not iterable or are a string
 *   (the arguments swapped), a `dir` that is not a non-empty string and an unknown option key; PhalanxFileError when a file cannot be written
 *   or a folder cannot be made (below a file, under `/proc`: the folders are made one level at a time, see
 *   `makeFolder` of `@phalanx/errors`, where Node 20's recursive `mkdir` never returned).
 * @example
 * ```ts
 * await writeFreihand(syntheticHands({ seed: 1, count: 1000, size: 224 }), '/data/phalanx-freihand');
 * const ds = await openFreiHand({ root: '/data/phalanx-freihand' }); // the same hands back
 * ```
 */
export async function writeFreihand(
  samples: Iterable<HandSample> | AsyncIterable<HandSample>,
  dir: string,
  options: WriteFreihandOptions = {},
): Promise<WriteFreihandResult> {
  checkWriteArgs(samples, dir, options);
  const split = checkOneOf('writeFreihand', 'split', options.split ?? 'training', ['training', 'evaluation'] as const);
  const units = checkOneOf('writeFreihand', 'units', options.units ?? 'mm', ['mm', 'm'] as const);
  const quality = options.quality ?? 100;
  if (typeof quality !== 'number' || !(quality >= 1 && quality <= 100)) {
    throw new PhalanxConfigError('writeFreihand', 'quality', 'a number in [1, 100]', quality, describeCompact);
  }
  const toMetres = units === 'mm' ? metresFromMillimetres : (v: number) => v;
  const fs: typeof FsPromises = await import('node:fs/promises');
  const write = async (path: string, data: Uint8Array | string): Promise<void> => {
    try {
      await fs.writeFile(path, data);
    } catch (e) {
      throw new PhalanxFileError(path, 'file', `cannot be written: ${(e as Error).message}`);
    }
  };
  const rgb = joinPath(dir, split, 'rgb');
  // One level at a time: Node 20's recursive mkdir never returns for a folder under /proc.
  await makeFolder(rgb, 'folder');
  const xyz: number[][][] = [];
  const K: number[][][] = [];
  const scale: number[] = [];
  for await (const s of samples) {
    checkSample(s, xyz.length);
    await write(
      joinPath(rgb, `${String(xyz.length).padStart(8, '0')}.jpg`),
      await encodeJpeg({ data: s.image, width: s.width, height: s.height }, quality),
    );
    xyz.push(rows(s.xyz, 3, toMetres));
    K.push(rows(s.K, 3, (v) => v));
    scale.push(toMetres(s.scale));
  }
  const files = (['xyz', 'K', 'scale'] as const).map((name) => joinPath(dir, `${split}_${name}.json`));
  await write(files[0], JSON.stringify(xyz));
  await write(files[1], JSON.stringify(K));
  await write(files[2], JSON.stringify(scale));
  return { count: xyz.length, files };
}
