/**
 * The shipped Learnable Groups model of `@phalanx/pretrained` (`packages/pretrained/models/learnable-groups/`),
 * measured on the job's own held-out hands so that a user sees where the long recipe gets. Evaluation only:
 * the job never trains from these weights.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tfl from '@tensorflow/tfjs-layers';
import { disposeBatch } from '@phalanx/data';
import { fileSystem } from '@phalanx/layers';
import '@phalanx/learnable-groups';
import { evaluate, heldOutSet, type JobConfig } from './pipeline';

/** Folder of the shipped model in this repository. */
export const SHIPPED_MODEL_DIR = fileURLToPath(
  new URL('../../../packages/pretrained/models/learnable-groups/', import.meta.url),
);

/** The shipped model's 2D EPE on the job's held-out hands, or why there is none. */
export type ShippedResult =
  | { shipped: false; reason: string }
  | {
      shipped: true;
      /** Input size of the shipped model. */
      inputSize: number;
      /** Mean 2D EPE in the shipped model's input pixels. */
      epe: number;
      /** The same in the job's input pixels (× job size / shipped size). */
      epeAtJobSize: number;
      /** What the model card says about its training (steps, note), if anything. */
      training: string;
      /** Its predicted 2D joints of the first held-out hands, `[N][21][2]` in the job's input pixels. */
      firstUv: number[][][];
    };

/**
 * Loads the shipped model (when its `model.json` exists) and measures its mean 2D EPE on `count` held-out
 * hands of `seed`, rendered at the shipped model's own input size — the same hands as the job's held-out
 * set (a synthetic sample's geometry does not depend on the image size); keeps its predictions of the
 * first `keepFirst` hands for the predictions picture.
 */
export async function evaluateShipped(
  count: number,
  seed: number,
  jobInputSize: number,
  synthetic: JobConfig['synthetic'],
  dir = SHIPPED_MODEL_DIR,
  keepFirst = 8,
): Promise<ShippedResult> {
  if (!existsSync(`${dir}/model.json`)) return { shipped: false, reason: `no model.json in ${dir}` };
  const model = await tfl.loadLayersModel(fileSystem(dir));
  const inputSize = model.inputs[0].shape[1] as number;
  const set = await heldOutSet(inputSize, count, inputSize > 128 ? 4 : 16, seed, synthetic);
  const e = await evaluate(model, set);
  set.forEach(disposeBatch);
  model.dispose();
  let training = '';
  try {
    const card = JSON.parse(readFileSync(`${dir}/card.json`, 'utf8')) as {
      training?: { steps?: number; batchSize?: number; note?: string };
    };
    const t = card.training ?? {};
    training = [t.steps !== undefined ? `${t.steps} steps × ${t.batchSize ?? '?'}` : '', t.note ?? '']
      .filter((x) => x)
      .join('; ');
  } catch {
    training = '';
  }
  const epe = e.measures2d.epeMean;
  const toJob = jobInputSize / inputSize;
  const firstUv = e.uv.slice(0, keepFirst).map((joints) => joints.map(([u, v]) => [u * toJob, v * toJob]));
  return { shipped: true, inputSize, epe, epeAtJobSize: epe * toJob, training, firstUv };
}
