/**
 * The work of the predict CLI, apart from its command line so that the test can call it: read PNG/JPEG
 * files, run a hand-pose estimator on each, write each picture with the predicted skeleton drawn on it,
 * and return everything as one JSON-ready report.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { decodeImage, drawSkeleton, encodePng } from '@phalanx/data';
import {
  PhalanxFileError,
  type Hand,
  type HandPoseEstimator,
  type ModelCard,
  type TestRotations,
} from '@phalanx/pretrained';

/** The result for one picture. */
export interface ImageReport {
  /** The input file as given. */
  file: string;
  /** Its width in pixels. */
  width: number;
  /** Its height in pixels. */
  height: number;
  /** The annotated PNG written for it (path relative to the output folder). */
  annotated: string;
  /** What `estimateHands` returned: one hand, keypoints in this picture's pixels. */
  hands: Hand[];
}

/** The JSON the CLI writes (`keypoints.json`). */
export interface PredictionReport {
  /** The estimator's model card: which weights, how they were trained, their held-out accuracy. */
  card: ModelCard;
  /** One entry per input file, in order. */
  images: ImageReport[];
}

/** Options of {@link predictFiles}. */
export interface PredictOptions {
  /** Mirror the output horizontally (the estimator's `flipHorizontal`). Default false. */
  flipHorizontal?: boolean;
  /** Test-time rotations (the estimator's `rotations`): 1, 2 or 4 views. Default 1. */
  rotations?: TestRotations;
}

/**
 * The bytes of `file`; a file that cannot be read (missing, a directory, no permission) is a
 * `PhalanxFileError` naming it — Node's own message for a directory (`EISDIR`) does not.
 *
 * @example
 * const bytes = await readBytes('hand.jpg');
 */
export async function readBytes(file: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(file));
  } catch (e) {
    throw new PhalanxFileError(file, 'file', `cannot be read: ${(e as Error).message}`);
  }
}

/** Output names that stay unique when two inputs share a base name (`a/hand.png`, `b/hand.png`). */
function annotatedName(file: string, index: number, used: Set<string>): string {
  const stem = basename(file, extname(file));
  let name = `${stem}.annotated.png`;
  if (used.has(name)) name = `${stem}.${index}.annotated.png`;
  used.add(name);
  return name;
}

/**
 * Runs `estimator` on every file (PNG or JPEG, any size), writes `<outDir>/<name>.annotated.png` (the
 * picture with the 21 predicted joints and the bones, coloured by finger) and returns the report.
 *
 * @example
 * const report = await predictFiles(await loadHandPoseEstimator('learnable-groups'), ['hand.jpg'], 'out');
 * report.images[0].hands[0].keypoints[8]; // {x, y, name: 'index_tip'}
 */
export async function predictFiles(
  estimator: HandPoseEstimator,
  files: readonly string[],
  outDir: string,
  options: PredictOptions = {},
): Promise<PredictionReport> {
  await mkdir(outDir, { recursive: true });
  const used = new Set<string>();
  const images: ImageReport[] = [];
  for (const [index, file] of files.entries()) {
    const picture = await decodeImage(await readBytes(file), file);
    const pixels = tf.tensor3d(Int32Array.from(picture.data), [picture.height, picture.width, 3], 'int32');
    let hands: Hand[];
    try {
      hands = await estimator.estimateHands(pixels, {
        flipHorizontal: options.flipHorizontal,
        rotations: options.rotations,
      });
    } finally {
      pixels.dispose();
    }
    const uv = hands[0].keypoints.flatMap((k) => [k.x, k.y]);
    const annotated = annotatedName(file, index, used);
    await writeFile(join(outDir, annotated), await encodePng(drawSkeleton(picture, uv)));
    images.push({ file, width: picture.width, height: picture.height, annotated, hands });
  }
  return { card: estimator.card, images };
}
