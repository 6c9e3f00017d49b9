/** What the dataset readers share: the sample and dataset types and small helpers. */
import { checkOptionsObject, describeCompact, PhalanxConfigError, PhalanxFileError } from '@phalanx/errors';
import type { HandSample } from '../types';

/** A sample read from a dataset on disk. */
export interface DatasetSample extends HandSample {
  /** Index of the annotation in the file (FreiHAND) or the frame id (RHD). */
  id: number;
  /** The image file read. */
  imagePath: string;
}

/**
 * Returns `options.root` if `options` is an object whose `root` is a non-empty string (the dataset folder);
 * throws a `PhalanxConfigError` of `component` naming the missing or malformed option otherwise (reading
 * the files would fail with a bare `TypeError`).
 *
 * @example
 * ```ts
 * checkRoot('openFreiHand', { root: '/data/FreiHAND_pub_v2' }); // '/data/FreiHAND_pub_v2'
 * checkRoot('openFreiHand', {} as { root: string });
 * // throws: openFreiHand: root must be the dataset folder (a non-empty string; the option is required), but received undefined.
 * ```
 */
export function checkRoot(component: string, options: { root: string }): string {
  checkOptionsObject(component, 'options', options, 'an object {root, …}');
  const { root } = options as { root: unknown };
  if (typeof root !== 'string' || root.length === 0 || root.includes('\0')) {
    const expected = 'the dataset folder (a non-empty string; the option is required)';
    throw new PhalanxConfigError(component, 'root', expected, root, describeCompact);
  }
  return root;
}

/** A random-access dataset of annotated hand images (annotations in memory, images read on demand). */
export interface HandDataset<S extends DatasetSample = DatasetSample> extends AsyncIterable<S> {
  /** Number of samples. */
  readonly length: number;
  /** Reads sample `index` (0 ≤ index < length), decoding its image. */
  get(index: number): Promise<S>;
}

/** Builds the async iterator of a `HandDataset` from its `get`. */
export function iterateDataset<S extends DatasetSample>(ds: {
  length: number;
  get(i: number): Promise<S>;
}): AsyncIterator<S> {
  let i = 0;
  return {
    async next(): Promise<IteratorResult<S>> {
      if (i >= ds.length) return { done: true, value: undefined };
      return { done: false, value: await ds.get(i++) };
    },
  };
}

/** Throws unless `index` is an integer in `[0, length)`. */
export function checkIndex(component: string, index: number, length: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= length) {
    throw new PhalanxConfigError(component, 'index', `an integer in [0, ${length - 1}]`, index, describeCompact);
  }
}

/**
 * 1 where `uv` lies inside a `width × height` image (pixel centres at integers), else 0. With `xyz`
 * (camera frame), a joint at or behind the camera (`z ≤ 0`) is 0 too: its projection may land inside the
 * image, mirrored, but the camera cannot see it.
 *
 * @example
 * ```ts
 * inFrame([10, 10, 50, 10], 32, 32); // Uint8Array [1, 0]
 * inFrame([10, 10], 32, 32, [0.1, 0.1, -0.5]); // Uint8Array [0]: behind the camera
 * ```
 */
export function inFrame(uv: ArrayLike<number>, width: number, height: number, xyz?: ArrayLike<number>): Uint8Array {
  const n = uv.length / 2;
  const out = new Uint8Array(n);
  for (let j = 0; j < n; j++) {
    const u = uv[2 * j];
    const v = uv[2 * j + 1];
    const inFront = xyz === undefined || xyz[3 * j + 2] > 0;
    out[j] = inFront && u >= -0.5 && u <= width - 0.5 && v >= -0.5 && v <= height - 0.5 ? 1 : 0;
  }
  return out;
}

/**
 * Fails unless the 3×3 camera matrix `K` (row-major) has focal lengths `fx = K[0]` and `fy = K[4]` > 0
 * and the last row `0 0 1`. `field` names the entry in the message.
 *
 * @example
 * ```ts
 * checkIntrinsics([0, 0, 112, 0, 500, 112, 0, 0, 1], 'training_K.json', 'K entry 3');
 * // throws: training_K.json: K entry 3 must have focal lengths fx = K[0][0] and fy = K[1][1] > 0, but has fx = 0, fy = 500
 * ```
 */
export function checkIntrinsics(K: ArrayLike<number>, file: string, field: string): void {
  if (K[6] !== 0 || K[7] !== 0 || K[8] !== 1) throw new PhalanxFileError(file, field, 'must have the last row 0 0 1');
  if (!(K[0] > 0) || !(K[4] > 0)) {
    throw new PhalanxFileError(
      file,
      field,
      `must have focal lengths fx = K[0][0] and fy = K[1][1] > 0, but has fx = ${K[0]}, fy = ${K[4]}`,
    );
  }
}
