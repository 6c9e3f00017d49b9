/**
 * The work of the predict CLI, apart from its command line so that the test can call it: read PNG/JPEG
 * files, run a hand-pose estimator on each, write each picture with the predicted skeleton drawn on it,
 * and return everything as one JSON-ready report.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { decodeImage, drawSkeleton, encodePng } from '@phalanx/data';
import { makeFolder } from '@phalanx/layers';
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

/**
 * Makes the output folder `outDir` and its missing parents ({@link @phalanx/layers!makeFolder}: one level at a
 * time, so a folder under `/proc` fails instead of hanging Node 20's recursive `mkdir`). An existing `outDir` is
 * fine; one that cannot be made is a `PhalanxFileError` naming `outDir` as the output folder (`--out`).
 *
 * @example
 * await makeOutputFolder('runs/pred'); // runs/ and runs/pred/ exist now
 */
export async function makeOutputFolder(outDir: string): Promise<void> {
  await makeFolder(outDir, 'output folder (--out)');
}

/**
 * The annotated PNG's name of each file, `<stem>.annotated.png`, unique within the run: a file whose name an
 * earlier file already took gets `<stem>.<n>.annotated.png`, with n its index, raised until the name is free —
 * of the names given so far and of every file's own `<stem>.annotated.png` (so `x/a.png`, `a.2.png`, `y/a.png`
 * give `a`, `a.2`, `a.3`). Names are compared ignoring case, as the file systems of macOS and Windows do.
 */
function annotatedNames(files: readonly string[]): string[] {
  const key = (name: string) => name.toLowerCase();
  const stems = files.map((file) => basename(file, extname(file)));
  const taken = new Set(stems.map((stem) => key(`${stem}.annotated.png`)));
  const given = new Set<string>();
  return stems.map((stem, index) => {
    let name = `${stem}.annotated.png`;
    if (given.has(key(name))) {
      let n = index;
      while (taken.has(key(`${stem}.${n}.annotated.png`))) n++;
      name = `${stem}.${n}.annotated.png`;
    }
    given.add(key(name));
    taken.add(key(name));
    return name;
  });
}

/**
 * Runs `estimator` on every file (PNG or JPEG, any size), writes `<outDir>/<name>.annotated.png` (the
 * picture with the 21 predicted joints and the bones, coloured by finger; `<name>.<n>.annotated.png` for a
 * name an earlier file took, never one another file of the run writes) and returns the report. `outDir` is
 * created if missing ({@link makeOutputFolder}: a `PhalanxFileError` if it cannot be).
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
  await makeOutputFolder(outDir);
  const names = annotatedNames(files);
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
    const annotated = names[index];
    await writeFile(join(outDir, annotated), await encodePng(drawSkeleton(picture, uv)));
    images.push({ file, width: picture.width, height: picture.height, annotated, hands });
  }
  return { card: estimator.card, images };
}
