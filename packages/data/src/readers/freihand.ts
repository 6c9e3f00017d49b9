/**
 * Reader for FreiHAND (Zimmermann et al., ICCV 2019): `<split>_xyz.json` (N × 21 × 3, **metres**, camera frame),
 * `<split>_K.json` (N × 3 × 3), `<split>_scale.json` (N, metres: the middle-finger MCP–PIP bone length) and
 * `<split>/rgb/%08d.jpg` (224×224). The training split holds 4 image versions per annotation (green screen and
 * three composited backgrounds): image `i + version · N` shows annotation `i`.
 */
import { checkInteger, checkKnownKeys, checkOneOf, PhalanxFileError } from '@phalanx/errors';
import { decodeImage } from '../image-io';
import { projectPoints } from '../synthetic/render';
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

/** Options of `openFreiHand`. */
export interface FreiHandOptions {
  /** Directory holding `training_xyz.json`, … and the `training/` image folder. */
  root: string;
  /** `'training'` (default) or `'evaluation'`. */
  split?: 'training' | 'evaluation';
  /**
   * Unit of `xyz` and `scale` in the samples: `'mm'` (default; the file's metres × 1000, like the synthetic
   * samples) or `'m'` (as stored in the files).
   */
  units?: 'mm' | 'm';
  /** Which image version to read (training: 0 green screen, 1–3 composited backgrounds). Default 0. */
  version?: number;
  /** Largest `width × height` of an image decoded (see `decodeImage`); default 4096 × 4096. */
  maxPixels?: number;
}

/** The keys of {@link FreiHandOptions}: any other key is a named error. */
const FREIHAND_OPTION_KEYS = { root: true, split: true, units: true, version: true, maxPixels: true } satisfies Record<
  keyof FreiHandOptions,
  true
>;

/**
 * A FreiHAND dataset; `visible` is 1 for joints in front of the camera (`z > 0`) and inside the image
 * (FreiHAND has no occlusion labels). A joint at or behind the camera is kept, not visible; one on the
 * camera plane (`|z| < 1e-6 m`) has no finite projection, so its `uv` is the principal point
 * `(K[0][2], K[1][2])` instead (finite, so that no NaN reaches a batch or a masked loss).
 */
export type FreiHandDataset = HandDataset<DatasetSample>;

/**
 * Depth (metres, as in `<split>_xyz.json`) below which, in absolute value, a joint lies on the camera plane:
 * its projection is not finite (or not meaningful), so the reader gives it the principal point as `uv` and
 * `visible` 0.
 */
const FREIHAND_MIN_DEPTH_M = 1e-6;

/**
 * `uv = project(xyz, K)` and the in-frame flags of one annotation (`xyz` in the sample's unit); joints on the
 * camera plane (`|z| < FREIHAND_MIN_DEPTH_M` in `fileXyz`, the same joints in the file's metres) get the
 * principal point as `uv` and `visible` 0.
 */
function projectAnnotation(
  xyz: Float64Array,
  fileXyz: Float64Array,
  K: Float64Array,
  width: number,
  height: number,
): { uv: Float64Array; visible: Uint8Array } {
  const uv = projectPoints(xyz, K);
  const visible = inFrame(uv, width, height, xyz);
  for (let j = 0; j < visible.length; j++) {
    if (Math.abs(fileXyz[3 * j + 2]) < FREIHAND_MIN_DEPTH_M) {
      uv[2 * j] = K[2];
      uv[2 * j + 1] = K[5];
      visible[j] = 0;
    }
  }
  return { uv, visible };
}

async function readJson(path: string, what: string): Promise<unknown> {
  const bytes = await readBytes(path, what);
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new PhalanxFileError(path, what, `is not valid JSON: ${(e as Error).message}`);
  }
}

function matrixEntries(data: unknown, path: string, rows: number, cols: number, name: string): Float64Array[] {
  if (!Array.isArray(data))
    throw new PhalanxFileError(path, name, `must be a list of ${rows}×${cols} arrays, but is ${typeof data}`);
  return data.map((entry, i) => {
    const out = new Float64Array(rows * cols);
    const ok =
      Array.isArray(entry) &&
      entry.length === rows &&
      entry.every((row, r) => {
        if (!Array.isArray(row) || row.length !== cols) return false;
        for (let c = 0; c < cols; c++) {
          const v = row[c];
          if (typeof v !== 'number' || !Number.isFinite(v)) return false;
          out[r * cols + c] = v;
        }
        return true;
      });
    if (!ok)
      throw new PhalanxFileError(
        path,
        `${name} entry ${i}`,
        `must be ${rows}×${cols} finite numbers, but is ${JSON.stringify(entry)?.slice(0, 60)}`,
      );
    return out;
  });
}

/**
 * Loads FreiHAND annotations and returns a dataset whose `get(i)` decodes the image. Fails with a message
 * naming the file and the field for a missing file, a malformed entry or mismatched counts, and with a
 * `PhalanxConfigError` naming the option for a missing or malformed `root`, `split`, `units` or `version`.
 * `uv` is `project(xyz, K)`, except for a joint on the camera plane (`|z| < 1e-6 m`): it is kept, not visible, with
 * the principal point as `uv` (see {@link FreiHandDataset}), so every `uv` is finite.
 *
 * @example
 * const ds = await openFreiHand({ root: '/data/FreiHAND_pub_v2' });
 * const s = await ds.get(0); // s.xyz in mm, s.uv = project(s.xyz, s.K)
 */
export async function openFreiHand(options: FreiHandOptions): Promise<FreiHandDataset> {
  const root = checkRoot('openFreiHand', options);
  checkKnownKeys('openFreiHand', 'options', options, FREIHAND_OPTION_KEYS);
  const split = checkOneOf('openFreiHand', 'split', options.split ?? 'training', ['training', 'evaluation'] as const);
  const units = checkOneOf('openFreiHand', 'units', options.units ?? 'mm', ['mm', 'm'] as const);
  const version = checkInteger('openFreiHand', 'version', options.version ?? 0, 0);
  const f = units === 'mm' ? 1000 : 1;
  const xyzPath = joinPath(root, `${split}_xyz.json`);
  const kPath = joinPath(root, `${split}_K.json`);
  const scalePath = joinPath(root, `${split}_scale.json`);
  const xyz = matrixEntries(await readJson(xyzPath, 'xyz annotations'), xyzPath, 21, 3, 'xyz');
  const Ks = matrixEntries(await readJson(kPath, 'camera matrices'), kPath, 3, 3, 'K');
  const scaleData = await readJson(scalePath, 'hand scales');
  if (!Array.isArray(scaleData))
    throw new PhalanxFileError(scalePath, 'scale', `must be a list of numbers, but is ${typeof scaleData}`);
  const scales = scaleData.map((v, i) => {
    if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) {
      throw new PhalanxFileError(
        scalePath,
        `scale entry ${i}`,
        `must be a finite number > 0, but is ${JSON.stringify(v)}`,
      );
    }
    return v;
  });
  if (Ks.length !== xyz.length) {
    throw new PhalanxFileError(
      kPath,
      'K',
      `has ${Ks.length} entries but ${xyzPath} has ${xyz.length} (counts must match)`,
    );
  }
  if (scales.length !== xyz.length) {
    throw new PhalanxFileError(
      scalePath,
      'scale',
      `has ${scales.length} entries but ${xyzPath} has ${xyz.length} (counts must match)`,
    );
  }
  Ks.forEach((K, i) => checkIntrinsics(K, kPath, `K entry ${i}`));
  const nested = joinPath(root, split, 'rgb');
  const imageDir = (await exists(nested)) ? nested : joinPath(root, 'rgb');
  const N = xyz.length;
  const ds = {
    length: N,
    async get(index: number): Promise<DatasetSample> {
      checkIndex('FreiHAND.get', index, N);
      const imagePath = joinPath(imageDir, `${String(index + version * N).padStart(8, '0')}.jpg`);
      const img = await decodeImage(await readBytes(imagePath, `image of annotation ${index}`), imagePath, {
        maxPixels: options.maxPixels,
      });
      const p = xyz[index].map((v) => v * f);
      const { uv, visible } = projectAnnotation(p, xyz[index], Ks[index], img.width, img.height);
      return {
        id: index,
        imagePath,
        image: img.data,
        width: img.width,
        height: img.height,
        uv,
        xyz: p,
        K: Ks[index].slice(),
        scale: scales[index] * f,
        visible,
      };
    },
    [Symbol.asyncIterator]: () => iterateDataset(ds),
  };
  return ds;
}
