/**
 * The child process of the `/proc` folder tests: in Node 20, `mkdir(path, {recursive: true})` loops for ever
 * on a path under `/proc`, so these calls run here, where the parent can time them out. Tries a log file, a
 * checkpoint root, a `fit` with each and a checkpoint written directly, all under `<root>`, and prints what
 * each threw as one JSON object `{label: {name, message} | 'ok'}`.
 *
 * Usage: node --import tsx proc-folders-child.ts <root under /proc>
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { checkCheckpointRoot, JsonlLog } from '../src/index';
import { data, killTestModel, killTestTrainer } from './kill-fixture';

async function outcome(f: () => unknown): Promise<{ name: string; message: string } | 'ok'> {
  try {
    await f();
    return 'ok';
  } catch (error) {
    return { name: (error as Error).name, message: (error as Error).message };
  }
}

async function main(root: string): Promise<void> {
  await tf.setBackend('cpu');
  let steps = 0;
  const trainer = killTestTrainer(killTestModel(), [{ onStepEnd: () => void (steps += 1) }]);
  const fit = (options: { checkpointDir?: string; logFile?: string }) =>
    trainer.fit({ data, steps: 2, handleSigint: false, ...options });
  const results = {
    log: await outcome(() => new JsonlLog(`${root}/log.jsonl`)),
    root: await outcome(() => checkCheckpointRoot(`${root}/checkpoints`)),
    fitCheckpoints: await outcome(() => fit({ checkpointDir: `${root}/checkpoints` })),
    fitLog: await outcome(() => fit({ logFile: `${root}/log.jsonl` })),
    save: await outcome(() => trainer.saveCheckpoint(`${root}/checkpoints/step-00000001`)),
    steps,
  };
  process.stdout.write(`${JSON.stringify(results)}\n`);
}

void main(process.argv[2]);
