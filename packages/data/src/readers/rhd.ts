/**
 * Reader for the Rendered Hand Pose Dataset (RHD, Zimmermann & Brox, ICCV 2017): `<split>/anno_<split>.pickle`, a
 * Python pickle of `{frame_id: {'xyz': (42, 3), 'uv_vis': (42, 3), 'K': (3, 3)}}` NumPy arrays, and
 * `<split>/color/%05d.png` (320×320). Joints 0–20 are the left hand, 21–41 the right hand, each in RHD order
 * (wrist, then per finger TIP, DIP, PIP, MCP); `xyz` is in **metres** in the camera frame; `uv_vis[:, 2]` is 1 for
 * visible joints. Samples are returned in FreiHAND order (docs/conventions.md) for one hand.
 */
import { checkKnownKeys, checkOneOf, describeCompact, PhalanxFileError } from '@phalanx/errors';
import { decodeImage } from '../image-io';
import {
  checkIndex,
  checkIntrinsics,
  checkRoot,
  inFrame,
  iterateDataset,
  type DatasetSample,
  type HandDataset,
} from './common';
import { exists, joinPath, readBytes } from './fs';
import { isNdArray, unpickle, type PyValue } from '@phalanx/pickle';

/** FreiHAND joint `j` is RHD joint `RHD_TO_FREIHAND[j]` (within one hand). */
export const RHD_TO_FREIHAND: readonly number[] = Array.from({ length: 21 }, (_, j) =>
  j === 0 ? 0 : 1 + 4 * Math.floor((j - 1) / 4) + (3 - ((j - 1) % 4)),
);

/** One RHD frame as stored (all 42 joints, RHD order, file units). */
export interface RhdFrame {
  /** `[42 * 3]` camera-frame positions (metres). */
  xyz: Float64Array;
  /** `[42 * 3]` rows `(u, v, visible)`. */
  uvVis: Float64Array;
  /** `[9]` row-major camera matrix. */
  K: Float64Array;
}

/** Options of `openRhd`. */
export interface RhdOptions {
  /** The RHD root (holding `training/`, `evaluation/`) or a split directory itself. */
  root: string;
  /** `'training'` (default) or `'evaluation'`. */
  split?: 'training' | 'evaluation';
  /**
   * Which hand each sample describes: `'left'`, `'right'`, or `'auto'` (default): the hand with more visible
   * keypoints (ties: left). The official loaders choose by hand-mask pixel count; this reader does not read masks.
   */
  hand?: 'auto' | 'left' | 'right';
  /** Unit of `xyz` and `scale`: `'mm'` (default, the file's metres × 1000) or `'m'` (as stored). */
  units?: 'mm' | 'm';
  /** Largest `width × height` of an image decoded (see `decodeImage`); default 4096 × 4096. */
  maxPixels?: number;
}

/** The keys of {@link RhdOptions}: any other key is a named error. */
const RHD_OPTION_KEYS = { root: true, split: true, hand: true, units: true, maxPixels: true } satisfies Record<
  keyof RhdOptions,
  true
>;

/** An RHD sample: the chosen hand in FreiHAND order. */
export interface RhdSample extends DatasetSample {
  /** Which of the frame's two annotated hands this sample holds. */
  side: 'left' | 'right';
}

/** Decodes and validates an RHD annotation pickle. `file` names the source in errors. */
export function parseRhdAnnotations(bytes: Uint8Array, file: string): Map<number, RhdFrame> {
  const root = unpickle(bytes, file);
  if (!(root instanceof Map)) throw new PhalanxFileError(file, 'top level', 'must be a dict {frame_id: annotation}');
  const out = new Map<number, RhdFrame>();
  const want: [string, number[]][] = [
    ['xyz', [42, 3]],
    ['uv_vis', [42, 3]],
    ['K', [3, 3]],
  ];
  for (const [key, anno] of root) {
    if (typeof key !== 'number' || !Number.isInteger(key) || key < 0) {
      // describeCompact, not JSON.stringify: a Python int beyond 2⁵³ is a bigint, which JSON.stringify refuses.
      throw new PhalanxFileError(file, `key ${describeCompact(key)}`, 'must be a non-negative integer frame id');
    }
    if (!(anno instanceof Map))
      throw new PhalanxFileError(file, `frame ${key}`, 'must be a dict with xyz, uv_vis and K');
    const fields: Record<string, Float64Array> = {};
    for (const [name, shape] of want) {
      const v: PyValue | undefined = anno.get(name);
      if (v === undefined) throw new PhalanxFileError(file, `frame ${key} '${name}'`, 'is missing');
      if (!isNdArray(v)) throw new PhalanxFileError(file, `frame ${key} '${name}'`, 'must be a NumPy array');
      const ok = v.shape.length === shape.length && v.shape.every((d, i) => d === shape[i]);
      if (!ok) {
        throw new PhalanxFileError(
          file,
          `frame ${key} '${name}'`,
          `must have shape (${shape.join(', ')}), but has (${v.shape.join(', ')})`,
        );
      }
      if (!v.data.every(Number.isFinite))
        throw new PhalanxFileError(file, `frame ${key} '${name}'`, 'holds non-finite values');
      fields[name] = v.data;
    }
    checkIntrinsics(fields.K, file, `frame ${key} 'K'`);
    out.set(key, { xyz: fields.xyz, uvVis: fields.uv_vis, K: fields.K });
  }
  return out;
}

/**
 * Loads RHD annotations and returns a dataset whose `get(i)` decodes the `i`-th frame (in increasing frame id).
 * A missing or malformed `root`, `split`, `hand` or `units` is a `PhalanxConfigError` naming the option.
 *
 * @example
 * const ds = await openRhd({ root: '/data/RHD_published_v2', split: 'evaluation' });
 * const s = await ds.get(0); // s.side, s.xyz in mm (FreiHAND order), s.visible from uv_vis
 */
export async function openRhd(options: RhdOptions): Promise<HandDataset<RhdSample>> {
  const root = checkRoot('openRhd', options);
  checkKnownKeys('openRhd', 'options', options, RHD_OPTION_KEYS);
  const split = checkOneOf('openRhd', 'split', options.split ?? 'training', ['training', 'evaluation'] as const);
  const hand = checkOneOf('openRhd', 'hand', options.hand ?? 'auto', ['auto', 'left', 'right'] as const);
  const units = checkOneOf('openRhd', 'units', options.units ?? 'mm', ['mm', 'm'] as const);
  const f = units === 'mm' ? 1000 : 1;
  const nested = joinPath(root, split);
  const dir = (await exists(joinPath(nested, `anno_${split}.pickle`))) ? nested : root;
  const annoPath = joinPath(dir, `anno_${split}.pickle`);
  const frames = parseRhdAnnotations(await readBytes(annoPath, 'RHD annotations'), annoPath);
  const ids = [...frames.keys()].sort((a, b) => a - b);
  const ds = {
    length: ids.length,
    async get(index: number): Promise<RhdSample> {
      checkIndex('RHD.get', index, ids.length);
      const id = ids[index];
      const fr = frames.get(id) as RhdFrame;
      const imagePath = joinPath(dir, 'color', `${String(id).padStart(5, '0')}.png`);
      const img = await decodeImage(await readBytes(imagePath, `image of frame ${id}`), imagePath, {
        maxPixels: options.maxPixels,
      });
      let side: 'left' | 'right' = hand === 'right' ? 'right' : 'left';
      if (hand === 'auto') {
        let l = 0;
        let r = 0;
        for (let j = 0; j < 21; j++) {
          l += fr.uvVis[3 * j + 2] > 0 ? 1 : 0;
          r += fr.uvVis[3 * (21 + j) + 2] > 0 ? 1 : 0;
        }
        side = r > l ? 'right' : 'left';
      }
      const off = side === 'left' ? 0 : 21;
      const xyz = new Float64Array(63);
      const uv = new Float64Array(42);
      const flag = new Uint8Array(21);
      for (let j = 0; j < 21; j++) {
        const r = off + RHD_TO_FREIHAND[j];
        for (let c = 0; c < 3; c++) xyz[3 * j + c] = fr.xyz[3 * r + c] * f;
        uv[2 * j] = fr.uvVis[3 * r];
        uv[2 * j + 1] = fr.uvVis[3 * r + 1];
        flag[j] = fr.uvVis[3 * r + 2] > 0 ? 1 : 0;
      }
      const frame = inFrame(uv, img.width, img.height, xyz);
      for (let j = 0; j < 21; j++) flag[j] &= frame[j];
      const scale = Math.hypot(xyz[30] - xyz[27], xyz[31] - xyz[28], xyz[32] - xyz[29]);
      return {
        id,
        imagePath,
        side,
        image: img.data,
        width: img.width,
        height: img.height,
        uv,
        xyz,
        K: fr.K.slice(),
        scale,
        visible: flag,
      };
    },
    [Symbol.asyncIterator]: () => iterateDataset(ds),
  };
  return ds;
}
