/**
 * The child process of the kill tests: trains a tiny model with a checkpoint every step and a new
 * `best/` at every evaluation, resuming from what an earlier (killed) child left. Prints `ready <step>`
 * when training starts, `step <n>` after each step (before its checkpoint), and, when `fit` returns (after a SIGINT), its result as JSON; the exit code is
 * then this script's choice (0), not the library's.
 *
 * Usage: node --import tsx kill-child.ts <checkpointDir>
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { TrainerCallbacks } from '../src/index';
import { data, killTestModel, killTestTrainer } from './kill-fixture';

async function main(dir: string): Promise<void> {
  await tf.setBackend('cpu');
  const markers: TrainerCallbacks = {
    onTrainBegin: ({ step }) => void process.stdout.write(`ready ${step}\n`),
    onStepEnd: ({ step }) => void process.stdout.write(`step ${step}\n`),
  };
  const result = await killTestTrainer(killTestModel(), [markers]).fit({
    data,
    steps: 1_000_000,
    checkpointDir: dir,
    checkpointEvery: 1,
    keepCheckpoints: 2,
    resume: true,
    // Lower is better and it falls at every step: best/ is replaced at every evaluation.
    evaluate: async ({ step }) => ({ score: -step }),
    evaluateEvery: 1,
    bestMetric: { name: 'score', mode: 'min' },
    logFile: null,
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

const dir = process.argv[2];
if (dir) {
  main(dir).catch((error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exitCode = 1;
  });
}
