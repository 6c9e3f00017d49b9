import { cpSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PhalanxConfigError, PhalanxFileError } from '@phalanx/errors';
import { useBackend } from '@phalanx/testing';
import { checkCheckpoint, readOptimizerSnapshots } from './checkpoint';
import { loadModelWeights } from './restore';
import { Trainer } from './trainer';
import { parseTrainerState } from './trainer-state';

interface Batch {
  xs: tf.Tensor;
  ys: tf.Tensor;
}

/** A small model; `prefix` renames every layer, `hidden` changes one shape. */
function model(prefix = '', hidden = 6, seed = 1): tfl.LayersModel {
  const x = tfl.input({ shape: [4] });
  const h = tfl.layers
    .dense({ units: hidden, name: `${prefix}a`, kernelInitializer: tfl.initializers.glorotUniform({ seed }) })
    .apply(x) as tfl.SymbolicTensor;
  const y = tfl.layers
    .dense({ units: 2, name: `${prefix}b`, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }) })
    .apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: y });
}

function* data({ batchesSeen }: { batchesSeen: number }): Generator<Batch> {
  for (let i = batchesSeen; ; i++) {
    yield tf.tidy(() => ({
      xs: tf.randomNormal([8, 4], 0, 1, 'float32', 1 + i), // seed 0 would mean unseeded
      ys: tf.randomNormal([8, 2], 0, 1, 'float32', 1000 + i),
    }));
  }
}

const mse = (outputs: tf.Tensor[], b: Batch) => tf.mean(tf.square(tf.sub(outputs[0], b.ys))) as tf.Scalar;

function trainer(m: tfl.LayersModel, optimizer: 'adam' | 'sgd' = 'adam'): Trainer<Batch> {
  const optimizerFactory = optimizer === 'adam' ? (lr: number) => tf.train.adam(lr) : (lr: number) => tf.train.sgd(lr);
  return new Trainer<Batch>({
    model: m,
    loss: mse,
    progress: false,
    parameterGroups: [{ name: 'all', lr: 1e-2, optimizerFactory }],
  });
}

function weights(m: tfl.LayersModel): number[][] {
  return m.weights.map((w) => Array.from(w.read().dataSync()));
}

let root: string;
let checkpoint: string;
beforeAll(async () => {
  await useBackend('cpu');
  root = mkdtempSync(join(tmpdir(), 'phalanx-restore-'));
  checkpoint = join(root, 'run');
  await trainer(model()).fit({ data, steps: 3, checkpointDir: checkpoint, handleSigint: false });
  checkpoint = join(checkpoint, 'step-00000003');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** `restore` must fail with `errorClass` matching `message`, change nothing and leak nothing. */
async function expectRejected(
  t: Trainer<Batch>,
  dir: string,
  errorClass: new (...args: never[]) => Error,
  message: RegExp,
): Promise<void> {
  const before = weights(t.model);
  const tensors = tf.memory().numTensors;
  const error = await t.restore(dir).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(errorClass);
  expect((error as Error).message).toMatch(message);
  expect(weights(t.model)).toEqual(before);
  expect(t.step).toBe(0);
  expect(tf.memory().numTensors).toBe(tensors);
}

/** The parts of optimizer.json the damage cases edit. */
interface OptimizerJson {
  specs: { name: string }[];
  groups: { group: string; names: string[] }[];
}

/** A copy of the checkpoint, changed by `edit`. */
function damaged(name: string, edit: (dir: string) => void): string {
  const dir = join(root, name);
  cpSync(checkpoint, dir, { recursive: true });
  edit(dir);
  return dir;
}

describe('restore is all or nothing', () => {
  it('restores an intact checkpoint', async () => {
    const t = trainer(model('', 6, 9));
    const state = await t.restore(checkpoint);
    expect(state.step).toBe(3);
    expect(t.step).toBe(3);
    expect(weights(t.model)).not.toEqual(weights(model('', 6, 9)));
  });

  it('a model with other weight names but the same shapes is not loaded by position', async () => {
    await expectRejected(
      trainer(model('other_')),
      checkpoint,
      PhalanxFileError,
      /model\.json: weights lacks 4 of the model's weights \(other_a\/kernel, other_a\/bias, other_b\/kernel, …\) and holds 4 the model does not have/,
    );
    const m = model('other_');
    const before = weights(m);
    await expect(loadModelWeights(m, checkpoint)).rejects.toThrow(PhalanxFileError);
    expect(weights(m)).toEqual(before);
  });

  it('a shape mismatch in the last weight writes none of the others', async () => {
    const dir = damaged('shape', (d) => {
      const json = JSON.parse(readFileSync(join(d, 'model.json'), 'utf8'));
      const specs = json.weightsManifest[0].weights;
      // Same bytes, another shape: [2] → [1, 2] for b/bias.
      specs[specs.length - 1].shape = [1, 2];
      writeFileSync(join(d, 'model.json'), JSON.stringify(json));
    });
    await expectRejected(
      trainer(model()),
      dir,
      PhalanxFileError,
      /weight 'b\/bias' has shape \[1, 2\], but the model's is \[2\]/,
    );
  });

  it('a changed optimizer is a named error before anything changes', async () => {
    await expectRejected(
      trainer(model(), 'sgd'),
      checkpoint,
      PhalanxConfigError,
      /^Trainer\.restore: the optimizer of group 'all' must be a Adam, as in checkpoint .*, but received 'SGD'\.$/,
    );
  });

  it('other parameter groups, damaged optimizer slots and a damaged state are named errors', async () => {
    const twoGroups = new Trainer<Batch>({
      model: model(),
      loss: mse,
      progress: false,
      parameterGroups: [{ name: 'first', match: /^a\// }, { name: 'rest' }],
    });
    await expectRejected(twoGroups, checkpoint, PhalanxFileError, /optimizer\.json: group 'first' is missing/);
    const shortSlots = damaged('slots', (d) => {
      const bytes = readFileSync(join(d, 'optimizer.bin'));
      writeFileSync(join(d, 'optimizer.bin'), bytes.subarray(0, bytes.length - 8));
    });
    await expectRejected(
      trainer(model()),
      shortSlots,
      PhalanxFileError,
      /optimizer\.bin: byte length must be \d+ as optimizer\.json describes/,
    );
    const badState = damaged('state', (d) => {
      const state = JSON.parse(readFileSync(join(d, 'trainer-state.json'), 'utf8'));
      state.batchesSeen = -1;
      writeFileSync(join(d, 'trainer-state.json'), JSON.stringify(state));
    });
    await expectRejected(
      trainer(model()),
      badState,
      PhalanxFileError,
      /trainer-state\.json: field 'batchesSeen' must be an integer ≥ 0/,
    );
    // optimizer.json edited by hand or by an attacker: a repeated spec or group, a spec no group names
    // (it would decode into a tensor nobody owns), names that are not strings.
    const editOptimizer = (name: string, edit: (json: OptimizerJson) => void) =>
      damaged(name, (d) => {
        const json = JSON.parse(readFileSync(join(d, 'optimizer.json'), 'utf8')) as OptimizerJson;
        edit(json);
        writeFileSync(join(d, 'optimizer.json'), JSON.stringify(json));
      });
    const cases: [string, (json: OptimizerJson) => void, RegExp][] = [
      ['repeated-spec', (j) => (j.specs[1] = { ...j.specs[0] }), /specs must name every tensor once/],
      [
        'repeated-group',
        (j) => j.groups.push({ ...j.groups[0], names: [] }),
        /groups\[1\]\.group repeats the group 'all'/,
      ],
      ['unnamed-spec', (j) => j.groups[0].names.pop(), /specs must hold exactly the tensors the groups name/],
      ['object-name', (j) => (j.groups[0].names[0] = {} as unknown as string), /groups\[0\]\.names must be strings/],
    ];
    for (const [name, edit, message] of cases) {
      await expectRejected(trainer(model()), editOptimizer(name, edit), PhalanxFileError, message);
      await expect(checkCheckpoint(join(root, name)), name).rejects.toThrow(PhalanxFileError);
    }
    const truncatedWeights = damaged('weights', (d) => {
      const bytes = readFileSync(join(d, 'weights.bin'));
      writeFileSync(join(d, 'weights.bin'), bytes.subarray(0, 12));
    });
    await expectRejected(
      trainer(model()),
      truncatedWeights,
      PhalanxFileError,
      /weightsManifest needs \d+ bytes of weights, but the weights files hold 12/,
    );
  });
});

describe('resume', () => {
  it('falls back to the newest intact checkpoint with a warning', async () => {
    const dir = join(root, 'fallback');
    await trainer(model()).fit({
      data,
      steps: 4,
      checkpointDir: dir,
      checkpointEvery: 1,
      keepCheckpoints: 3,
      handleSigint: false,
    });
    // Damage the newest checkpoint (step 4) behind the trainer's back.
    writeFileSync(join(dir, 'step-00000004', 'weights.bin'), 'not weights');
    const t = trainer(model());
    const result = await t.fit({ data, steps: 6, checkpointDir: dir, resume: true, handleSigint: false });
    expect(result.resumedFrom).toBe(join(dir, 'step-00000003'));
    expect(result.losses).toHaveLength(3);
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings[0]).toMatch(
      /checkpoint .*step-00000004 is damaged \(.*needs \d+ bytes of weights, but the weights files hold 11\); trying an older one/,
    );
    const log = readFileSync(join(dir, 'log.jsonl'), 'utf8');
    expect(log).toMatch(/"event":"warning","step":3,.*step-00000004 is damaged/);
  });

  it('resume from best/ works when a kill left its replacement half-done', async () => {
    const dir = join(root, 'best-aside');
    let k = 0;
    await trainer(model()).fit({
      data,
      steps: 3,
      checkpointDir: dir,
      evaluate: async () => ({ score: [3, 1, 2][k++] }),
      evaluateEvery: 1,
      bestMetric: { name: 'score', mode: 'min' },
      handleSigint: false,
    });
    // The kill: best/ renamed aside (by a writer that no longer runs), the new one not yet in place.
    renameSync(join(dir, 'best'), join(dir, `best.old-${2 ** 22 + 7}-x`));
    const t = trainer(model());
    const result = await t.fit({ data, steps: 4, checkpointDir: dir, resume: join(dir, 'best'), handleSigint: false });
    expect(result.resumedFrom).toBe(join(dir, 'best'));
    expect(result.losses).toHaveLength(2); // best was step 2
  });

  it('steps below the checkpoint step is a named error, and nothing is overwritten', async () => {
    const dir = join(root, 'below');
    await trainer(model()).fit({ data, steps: 5, checkpointDir: dir, handleSigint: false });
    const before = readFileSync(join(dir, 'step-00000005', 'weights.bin'));
    const t = trainer(model());
    await expect(t.fit({ data, steps: 3, checkpointDir: dir, resume: true, handleSigint: false })).rejects.toThrow(
      /^Trainer\.fit: steps must be at least 5, the step of checkpoint .*step-00000005, but received 3\.$/,
    );
    expect(t.step).toBe(0);
    expect(readFileSync(join(dir, 'step-00000005', 'weights.bin'))).toEqual(before);
    // Equal steps: nothing to train, nothing rewritten.
    const again = await trainer(model()).fit({ data, steps: 5, checkpointDir: dir, resume: true, handleSigint: false });
    expect(again.losses).toEqual([]);
    expect(again.checkpoint).toBeNull();
  });
});

describe('the data position (batchesSeen) must be one the steps can reach', () => {
  /** A copy of the checkpoint (step 3, one batch per step) with `edit` applied to its trainer state. */
  const editState = (name: string, edit: (state: Record<string, unknown>) => void) =>
    damaged(name, (d) => {
      const state = JSON.parse(readFileSync(join(d, 'trainer-state.json'), 'utf8')) as Record<string, unknown>;
      edit(state);
      writeFileSync(join(d, 'trainer-state.json'), JSON.stringify(state));
    });

  /** An endless plain iterable that counts the batches pulled (and gives up after 1000). */
  function counted(): { pulled: () => number; iterable: Iterable<Batch> } {
    let pulled = 0;
    const iterable = {
      *[Symbol.iterator]() {
        for (const b of data({ batchesSeen: 0 })) {
          if (++pulled > 1000) throw new Error(`pulled ${pulled} batches while skipping`);
          yield b;
        }
      },
    };
    return { pulled: () => pulled, iterable };
  }

  it('a huge batchesSeen is refused when the state is read, before a plain iterable is skipped', async () => {
    const huge = editState('position-huge', (s) => (s.batchesSeen = 1e15));
    const source = counted();
    const t = trainer(model());
    const error = await t
      .fit({ data: source.iterable, steps: 5, resume: huge, handleSigint: false })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PhalanxFileError);
    expect((error as Error).message).toMatch(
      /trainer-state\.json: field 'batchesSeen' must be ≤ step × maxBatchesPerStep \(3 × 1\), the most batches those steps can take, but is 1000000000000000$/,
    );
    expect(source.pulled()).toBe(0);
    await expectRejected(
      trainer(model()),
      huge,
      PhalanxFileError,
      /field 'batchesSeen' must be ≤ step × maxBatchesPerStep/,
    );
    // Fewer batches than steps: every step takes one.
    const few = editState('position-few', (s) => (s.batchesSeen = 2));
    await expectRejected(
      trainer(model()),
      few,
      PhalanxFileError,
      /field 'batchesSeen' must be ≥ step \(3\), as every step takes a batch, but is 2$/,
    );
    // Skipped steps are counted in step.
    const skips = editState('position-skips', (s) => (s.skippedSteps = 4));
    await expectRejected(
      trainer(model()),
      skips,
      PhalanxFileError,
      /field 'skippedSteps' must be ≤ step \(3\), as skipped steps are counted in it, but is 4$/,
    );
    // An older file without maxBatchesPerStep: the resuming trainer's accumulateBatches bounds it.
    const older = editState('position-older', (s) => {
      delete s.maxBatchesPerStep;
      s.batchesSeen = 1e15;
    });
    await expect(checkCheckpoint(older)).resolves.toMatchObject({ step: 3 });
    await expectRejected(
      trainer(model()),
      older,
      PhalanxFileError,
      /field 'batchesSeen' must be ≤ step × accumulateBatches \(3 × 1\), the most batches those steps can take/,
    );
  });

  it('reachable positions resume: accumulation, trainStep with more batches, older files', async () => {
    const accumulating = () =>
      new Trainer<Batch>({
        model: model(),
        loss: mse,
        progress: false,
        accumulateBatches: 3,
        parameterGroups: [{ name: 'all', lr: 1e-2 }],
      });
    const dir = join(root, 'accumulate');
    await accumulating().fit({ data, steps: 2, checkpointDir: dir, handleSigint: false });
    const state = JSON.parse(readFileSync(join(dir, 'step-00000002', 'trainer-state.json'), 'utf8'));
    expect(state).toMatchObject({ step: 2, batchesSeen: 6, maxBatchesPerStep: 3 });
    const source = counted();
    const resumed = await accumulating().fit({
      data: source.iterable,
      steps: 3,
      checkpointDir: dir,
      resume: true,
      handleSigint: false,
    });
    expect(resumed.step).toBe(3);
    expect(source.pulled()).toBe(9); // 6 skipped, 3 for the step
    // The same checkpoint without maxBatchesPerStep (an older writer) resumes with accumulateBatches 3.
    const older = join(root, 'accumulate-older');
    cpSync(join(dir, 'step-00000002'), older, { recursive: true });
    delete state.maxBatchesPerStep;
    writeFileSync(join(older, 'trainer-state.json'), JSON.stringify(state));
    const t = accumulating();
    await t.restore(older);
    expect(t.batchesSeen).toBe(6);
    // A step given more batches than accumulateBatches is recorded, so its checkpoint reads back.
    const manual = trainer(model());
    const batches = [...Array(5)].map((_, i) => data({ batchesSeen: i }).next().value as Batch);
    await manual.trainStep(...batches);
    batches.forEach((b) => tf.dispose([b.xs, b.ys]));
    await manual.saveCheckpoint(join(root, 'manual'));
    const back = trainer(model());
    await back.restore(join(root, 'manual'));
    expect([back.step, back.batchesSeen]).toEqual([1, 5]);
  });

  it('fuzz: parseTrainerState accepts exactly step ≤ batchesSeen ≤ step · maxBatchesPerStep', () => {
    const base = JSON.parse(readFileSync(join(checkpoint, 'trainer-state.json'), 'utf8')) as Record<string, unknown>;
    fc.assert(
      fc.property(
        fc.nat({ max: 1e6 }),
        fc.nat({ max: 64 }),
        fc.oneof(fc.nat({ max: 1e8 }), fc.constant(Number.MAX_SAFE_INTEGER)),
        (step, perStep, batchesSeen) => {
          const text = JSON.stringify({ ...base, step, batchesSeen, maxBatchesPerStep: perStep });
          const ok = step <= batchesSeen && batchesSeen <= step * perStep;
          if (ok) expect(parseTrainerState(text, 'x.json').batchesSeen).toBe(batchesSeen);
          else expect(() => parseTrainerState(text, 'x.json')).toThrow(PhalanxFileError);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('tf.train.adam and FlatAdam checkpoints', () => {
  const flatTrainer = (m: tfl.LayersModel) =>
    new Trainer<Batch>({ model: m, loss: mse, progress: false, parameterGroups: [{ name: 'all', lr: 1e-2 }] });
  const bits = (m: tfl.LayersModel) =>
    m.weights.map((w) => Array.from(new Uint32Array(Float32Array.from(w.read().dataSync()).buffer)));

  /** Restores `dir` into `t`, trains 3 more steps on the data that follows; losses and weight bits. */
  async function continueFrom(t: Trainer<Batch>, dir: string) {
    await t.restore(dir);
    const batches = data({ batchesSeen: t.step });
    const losses: number[] = [];
    for (let i = 0; i < 3; i++) losses.push((await t.trainStep(batches.next().value as Batch)).loss);
    return { losses, weights: bits(t.model) };
  }

  it('a tf.train.adam checkpoint resumes with the default FlatAdam step for step, and back', async () => {
    const flat = flatTrainer(model('', 6, 9));
    expect(flat.optimizerOf('all').getClassName()).toBe('FlatAdam');
    expect((await readOptimizerSnapshots(checkpoint)).get('all')?.className).toBe('Adam');
    const withAdam = await continueFrom(trainer(model('', 6, 9)), checkpoint);
    const withFlat = await continueFrom(flat, checkpoint);
    expect(withFlat).toEqual(withAdam);

    const dir = join(root, 'flat-written');
    await flat.saveCheckpoint(dir);
    expect((await readOptimizerSnapshots(dir)).get('all')?.className).toBe('FlatAdam');
    const backToAdam = await continueFrom(trainer(model('', 6, 9)), dir);
    const stillFlat = await continueFrom(flatTrainer(model('', 6, 9)), dir);
    expect(backToAdam).toEqual(stillFlat);
    expect(backToAdam.weights).not.toEqual(withFlat.weights); // three more steps were taken
  });
});
