/**
 * readTorchStateDict against checkpoints written by PyTorch itself (Debian's python3-torch, see
 * scripts/make-pth-fixtures.py): every tensor's dtype, shape and values as torch reports them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { PhalanxConfigError, PhalanxFileError } from '@phalanx/errors';
import type { PyValue } from '@phalanx/pickle';
import { beforeAll, describe, expect, it } from 'vitest';
import { isTorchTensor } from './torch-pickle';
import { parseTorchCheckpoint, readTorchStateDict } from './read';

const dir = fileURLToPath(new URL('../../../test/fixtures/pth/', import.meta.url));
const fixture = (name: string) => new Uint8Array(readFileSync(join(dir, name)));
type Expected = Record<string, { dtype: string; torch: string; shape: number[]; values: number[] }>;
const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Record<string, Expected>;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Reads `name` and compares every tensor with what PyTorch reported; returns the tensors' names. */
function expectAsTorch(name: string, want: Expected = expected[name], options = {}): string[] {
  const before = tf.memory().numTensors;
  const tensors = readTorchStateDict(fixture(name), { file: name, ...options });
  expect(Object.keys(tensors)).toEqual(Object.keys(want));
  for (const [key, e] of Object.entries(want)) {
    const t = tensors[key];
    expect([key, t.dtype, t.shape]).toEqual([key, e.dtype, e.shape]);
    const values = Array.from(t.dataSync());
    // float32 values are exact; the JSON holds the float32 value of every float storage type.
    expect(values, key).toEqual(e.dtype === 'float32' ? e.values.map(Math.fround) : e.values);
  }
  tf.dispose(Object.values(tensors));
  expect(tf.memory().numTensors).toBe(before);
  return Object.keys(want);
}

describe('readTorchStateDict: what torch.save writes', () => {
  it('reads the zip format (PyTorch ≥ 1.6): a conv, batch norm (int64 num_batches_tracked) and linear', () => {
    expect(expectAsTorch('zip.pth')).toContain('bn.num_batches_tracked');
    expect(expected['zip.pth']['bn.num_batches_tracked'].torch).toBe('int64');
  });

  it('reads the legacy format to the same tensors', () => {
    expect(expected['legacy.pth']).toEqual(expected['zip.pth']);
    expectAsTorch('legacy.pth');
    expect(parseTorchCheckpoint(fixture('legacy.pth')).format).toBe('legacy');
    expect(parseTorchCheckpoint(fixture('zip.pth')).format).toBe('zip');
  });

  it('reads float16 storages (max, subnormal)', () => {
    expectAsTorch('float16.pth');
    expect(expected['float16.pth'].bias.values).toEqual([0.5, -2, 65504, 5.960464477539063e-8]);
  });

  it('reads every storage type, in both formats, scalars and empty tensors included', () => {
    const names = expectAsTorch('dtypes.pth');
    expect(names.map((n) => expected['dtypes.pth'][n].torch)).toEqual([
      'float32',
      'float16',
      'bfloat16',
      'float64',
      'int64',
      'int32',
      'int16',
      'int8',
      'uint8',
      'bool',
      'float32',
      'float32',
    ]);
    expectAsTorch('dtypes-legacy.pth');
  });

  it('reads non-contiguous views: transposed, sliced with a storage offset, expanded (stride 0)', () => {
    expectAsTorch('noncontiguous.pth');
    const root = parseTorchCheckpoint(fixture('noncontiguous.pth')).root as Map<PyValue, PyValue>;
    const slice = root.get('slice');
    expect(isTorchTensor(slice) && [slice.offset, slice.stride]).toEqual([6, [6, 2]]);
  });

  it('reads tensors that share one storage', () => {
    expectAsTorch('shared.pth');
    const root = parseTorchCheckpoint(fixture('shared.pth')).root as Map<PyValue, PyValue>;
    const [base, row, tiedA, tiedB] = ['base', 'row', 'embedding.weight', 'decoder.weight'].map((k) => root.get(k));
    expect(isTorchTensor(base) && isTorchTensor(row) && base.storage === row.storage).toBe(true);
    expect(tiedA).toBe(tiedB);
  });

  it("strips DataParallel's module. prefixes (or keeps them when asked)", () => {
    expectAsTorch('dataparallel.pth', expected['zip.pth']);
    const kept = readTorchStateDict(fixture('dataparallel.pth'), { stripPrefix: false });
    expect(Object.keys(kept).every((k) => k.startsWith('module.'))).toBe(true);
    tf.dispose(Object.values(kept));
  });

  it('finds model_state_dict in a training checkpoint, and reads the values beside it', () => {
    expectAsTorch('nested.pth');
    const ckpt = parseTorchCheckpoint(fixture('nested.pth'));
    const root = ckpt.root as Map<PyValue, PyValue>;
    expect([root.get('epoch'), root.get('Temperature')]).toEqual([7, 0.5]);
    expect((root.get('history') as Map<PyValue, PyValue>).get('loss')).toEqual([1.5, 0.75]);
    // options.key picks another dict: the optimizer's per-parameter state holds tensors too.
    const state = (root.get('optimizer_state_dict') as Map<PyValue, PyValue>).get('state') as Map<PyValue, PyValue>;
    expect(isTorchTensor((state.get(0) as Map<PyValue, PyValue>).get('exp_avg'))).toBe(true);
    expect(() => ckpt.stateDict({ key: 'history' })).toThrow(
      "checkpoint.pth: key 'history' does not hold a name → tensor dict (the checkpoint is a dict of 'epoch', 'Temperature', 'model_state_dict', 'optimizer_state_dict', 'history')",
    );
  });
});

describe('readTorchStateDict: refusals', () => {
  it('refuses a global outside the allow-list, so no code runs', () => {
    expect(() => readTorchStateDict(fixture('forbidden.pth'), { file: 'forbidden.pth' })).toThrow(PhalanxFileError);
    expect(() => readTorchStateDict(fixture('forbidden.pth'), { file: 'forbidden.pth' })).toThrow(
      /forbidden\.pth \(forbidden\/data\.pkl\): pickle opcode 0x63 at byte \d+ refers to the Python global '__builtin__\.print', which this reader does not rebuild/,
    );
  });

  it('refuses a pickled module (torch.save(model))', () => {
    expect(() => readTorchStateDict(fixture('whole-model.pth'), { file: 'm.pth' })).toThrow(
      /m\.pth \(whole-model\/data\.pkl\): pickle opcode 0x63 at byte \d+ refers to the Python global '__main__\.Net'/,
    );
  });

  it('refuses files that are not checkpoints, and bad options, by name', () => {
    expect(() => readTorchStateDict(new TextEncoder().encode('hello'), { file: 'x.pth' })).toThrow(
      'x.pth: format is neither a zip (PyTorch ≥ 1.6) nor a legacy PyTorch checkpoint',
    );
    expect(() => readTorchStateDict(fixture('zip.pth'), { key: 3 as unknown as string })).toThrow(
      'readTorchStateDict: options.key must be a string, but received 3.',
    );
    expect(() => readTorchStateDict(fixture('zip.pth'), { key: 'model' })).toThrow(/key 'model' does not hold/);
  });

  it('refuses a misspelt option by name instead of ignoring it (stripPrefx: false kept stripping)', () => {
    const cases: [() => unknown, string][] = [
      [
        () => readTorchStateDict(fixture('zip.pth'), { stripPrefx: false } as never),
        'readTorchStateDict: options.stripPrefx must be an option (one of file, maxBytes, key, stripPrefix), but received false.',
      ],
      [
        () => parseTorchCheckpoint(fixture('zip.pth'), { key: 'model' } as never),
        "readTorchStateDict: options.key must be an option (one of file, maxBytes), but received 'model'.",
      ],
      [
        () => parseTorchCheckpoint(fixture('zip.pth')).stateDict({ keys: 'state_dict' } as never),
        "readTorchStateDict: options.keys must be an option (one of key, stripPrefix), but received 'state_dict'.",
      ],
    ];
    const before = tf.memory().numTensors;
    for (const [f, message] of cases) {
      expect(f, message).toThrow(PhalanxConfigError);
      expect(f).toThrow(message);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('keeps memory within maxBytes, checked before allocating', () => {
    const bytes = fixture('zip.pth');
    expect(() => readTorchStateDict(bytes, { maxBytes: 1000 })).toThrow(
      /checkpoint\.pth: zip archive holds \d+ bytes of records, over the budget of 1000 bytes \(maxBytes\)/,
    );
    const legacy = fixture('legacy.pth');
    expect(() => readTorchStateDict(legacy, { maxBytes: 100 })).toThrow(
      /state dict needs \d+ bytes of tensors, over the budget of 100 bytes \(maxBytes\)/,
    );
  });
});
