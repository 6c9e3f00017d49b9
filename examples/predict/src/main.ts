/**
 * Runs a shipped hand-pose estimator on PNG/JPEG files:
 *
 *   pnpm --filter @phalanx/example-predict start -- hand.jpg other.png          # Learnable Groups, out: predictions/
 *   pnpm --filter @phalanx/example-predict start -- --model ehpe --out runs/pred photos/*.png
 *   pnpm --filter @phalanx/example-predict start -- --weights lg.pth hand.jpg    # PyTorch weights, no Python
 *
 * Writes `<out>/<name>.annotated.png` per picture and `<out>/keypoints.json` (every hand's 2D keypoints
 * in the picture's pixels, 3D keypoints in metres, score, and the model card). Relative paths resolve
 * against the directory the command was started from.
 */
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import {
  HAND_POSE_MODELS,
  TEST_ROTATIONS,
  loadHandPoseEstimator,
  type HandPoseModelName,
  type TestRotations,
} from '@phalanx/pretrained';
import { makeOutputFolder, predictFiles, readBytes } from './predict';
import { shippedWithTorchWeights } from './weights';

const USAGE = `Usage: predict [--model learnable-groups|ehpe] [--weights FILE] [--out DIR] [--backend wasm|cpu] [--flip] [--rotations 1|2|4] IMAGE...
  --model     the shipped model (default learnable-groups)
  --weights   a PyTorch state_dict of that network and size (.pth/.pt or .safetensors) instead of the shipped weights
  --out       output folder (default predictions)
  --backend   tfjs backend (default wasm)
  --flip      mirror the output horizontally (for mirrored webcam pictures)
  --rotations average over the picture turned by 180° (2) or by every quarter turn (4) (default 1)`;

/** The tfjs backends this CLI registers (the imports above): any other `--backend` is a usage error. */
const BACKENDS = ['wasm', 'cpu'] as const;
type Backend = (typeof BACKENDS)[number];

/** A mistake on the command line: printed with the usage, exit code 2. */
class UsageError extends Error {}

function parseCommandLine(argv: string[]) {
  try {
    return parseArgs({
      args: argv[0] === '--' ? argv.slice(1) : argv,
      options: {
        model: { type: 'string', default: 'learnable-groups' },
        weights: { type: 'string' },
        out: { type: 'string', default: 'predictions' },
        backend: { type: 'string', default: 'wasm' },
        flip: { type: 'boolean', default: false },
        rotations: { type: 'string', default: '1' },
        help: { type: 'boolean', default: false },
      },
      allowPositionals: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseCommandLine(process.argv.slice(2));
  if (values.help || positionals.length === 0) {
    console.log(USAGE);
    process.exit(values.help ? 0 : 2);
  }
  const model = values.model as HandPoseModelName;
  if (!HAND_POSE_MODELS.includes(model)) {
    throw new UsageError(`--model must be one of ${HAND_POSE_MODELS.join(', ')}`);
  }
  // Decimal digits only: Number() would also read '0x2', '2.0', ' 2' and '2e0' as 2.
  const rotations = (/^[0-9]+$/.test(values.rotations) ? Number(values.rotations) : NaN) as TestRotations;
  if (!TEST_ROTATIONS.includes(rotations)) {
    throw new UsageError(`--rotations must be one of ${TEST_ROTATIONS.join(', ')}`);
  }
  const backend = values.backend as Backend;
  if (!BACKENDS.includes(backend)) {
    throw new UsageError(`--backend must be one of ${BACKENDS.join(', ')}`);
  }
  const cwd = process.env.INIT_CWD ?? process.cwd();
  const out = resolve(cwd, values.out);
  // Before the model loads: a folder that cannot be made stops the run at once.
  await makeOutputFolder(out);
  await tf.setBackend(backend);
  const estimator =
    values.weights === undefined
      ? await loadHandPoseEstimator(model)
      : await shippedWithTorchWeights(
          model,
          await readBytes(resolve(cwd, values.weights)),
          resolve(cwd, values.weights),
        );
  const files = positionals.map((f) => resolve(cwd, f));
  const report = await predictFiles(estimator, files, out, { flipHorizontal: values.flip, rotations });
  estimator.dispose();
  await writeFile(join(out, 'keypoints.json'), `${JSON.stringify(report, null, 2)}\n`);
  const e = report.card.evaluation;
  for (const image of report.images) {
    console.log(
      `${image.file}: ${image.width}×${image.height}, score ${image.hands[0].score.toFixed(3)} → ${join(out, image.annotated)}`,
    );
  }
  console.log(`wrote ${join(out, 'keypoints.json')} (${model} on ${tf.getBackend()})`);
  if (e !== undefined) {
    console.log(
      `these weights: held-out 2D EPE ${e.epe2dPx.toFixed(2)} px on ${e.imageSize}-px synthetic hands ` +
        `(hand-centre baseline ${e.handCentrePx.toFixed(2)} px) — see @phalanx/pretrained's README`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  if (error instanceof UsageError) console.error(USAGE);
  process.exit(error instanceof UsageError ? 2 : 1);
});
