/**
 * Reading PyTorch checkpoints (`.pth`, `.pt`: what `torch.save` writes) without Python: the zip format of
 * PyTorch ≥ 1.6 and the legacy format, in Node and in browsers. The pickle is decoded by the allow-list
 * unpickler of `@phalanx/pickle`, so no code in the file runs: a global other than tensors, storages,
 * parameters, `OrderedDict` and NumPy scalars is refused.
 */
import * as tf from '@tensorflow/tfjs-core';
import { checkOptions, PhalanxConfigError, PhalanxFileError } from '@phalanx/errors';
import type { PyValue } from '@phalanx/pickle';
import { setOwn } from '../records';
import { openTorchArchive } from './archive';
import { findStateDict, stripPrefix } from './state-dict';
import { checkView, outputBytes, tensorValues, TF_DTYPE } from './tensors';
import type { TorchTensor } from './torch-pickle';

const READ = 'readTorchStateDict';

/** Options of {@link parseTorchCheckpoint}. */
export interface ParseTorchCheckpointOptions {
  /** Names the file in error messages. Default `'checkpoint.pth'`. */
  file?: string;
  /**
   * Most bytes the reader may hold beyond the file itself: records decompressed from the zip plus the
   * values of the tensors it returns. Default: 8 × the file's size + 16 MiB, enough for every storage type
   * (uint8 → int32 quadruples) and for tensors that share storages.
   */
  maxBytes?: number;
}

/** Options of {@link readTorchStateDict} and {@link TorchCheckpoint.stateDict}. */
export interface ReadTorchStateDictOptions extends ParseTorchCheckpointOptions {
  /**
   * Where the state dict is: a key of the checkpoint's top-level dict, or a dotted path
   * (`'ema.state_dict'`). Default: the top level if it is a name → tensor dict, else the first of
   * `state_dict`, `model_state_dict`, `model` that is one.
   */
  key?: string;
  /** A prefix removed from every name that starts with it; `false` keeps names as they are. Default `'module.'`. */
  stripPrefix?: string | false;
}

/** A parsed checkpoint: its object (tensors still as descriptions), and its state dict on demand. */
export interface TorchCheckpoint {
  /** `'zip'` (PyTorch ≥ 1.6) or `'legacy'`. */
  readonly format: 'zip' | 'legacy';
  /**
   * The unpickled object, e.g. a `Map` of `'epoch'`, `'model_state_dict'`, …; tensors are {@link TorchTensor}
   * descriptions (see `isTorchTensor`), other values as `@phalanx/pickle` decodes them.
   */
  readonly root: PyValue;
  /** The state dict as new tfjs tensors (the caller disposes them); see {@link readTorchStateDict}. */
  stateDict(options?: Omit<ReadTorchStateDictOptions, 'file' | 'maxBytes'>): Record<string, tf.Tensor>;
}

function toBytes(bytes: Uint8Array | ArrayBuffer): Uint8Array {
  if (bytes instanceof Uint8Array) return bytes;
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
  throw new PhalanxConfigError(READ, 'bytes', 'a Uint8Array or ArrayBuffer', typeof bytes);
}

/** The keys each entry point takes: any other key (e.g. `stripPrefx`) is a named error, not ignored. */
const PARSE_KEYS = { file: true, maxBytes: true } satisfies Record<keyof ParseTorchCheckpointOptions, true>;
const STATE_DICT_KEYS = { key: true, stripPrefix: true } as const;
const READ_KEYS = { ...PARSE_KEYS, ...STATE_DICT_KEYS } satisfies Record<keyof ReadTorchStateDictOptions, true>;

function checkReadOptions(
  options: ReadTorchStateDictOptions,
  size: number,
  known: Readonly<Record<string, true>> = READ_KEYS,
): { file: string; budget: number } {
  checkOptions(READ, 'options', options, known, 'an object');
  const { file = 'checkpoint.pth', maxBytes = 8 * size + 16 * 2 ** 20, key, stripPrefix: prefix } = options;
  if (typeof file !== 'string') throw new PhalanxConfigError(READ, 'options.file', 'a string', file);
  if (typeof maxBytes !== 'number' || !(maxBytes >= 0)) {
    throw new PhalanxConfigError(READ, 'options.maxBytes', 'a number ≥ 0', maxBytes);
  }
  if (key !== undefined && typeof key !== 'string') throw new PhalanxConfigError(READ, 'options.key', 'a string', key);
  if (prefix !== undefined && prefix !== false && typeof prefix !== 'string') {
    throw new PhalanxConfigError(READ, 'options.stripPrefix', 'a string or false', prefix);
  }
  return { file, budget: maxBytes };
}

/**
 * Parses a PyTorch checkpoint without converting any tensor: the object `torch.save` stored, with tensors
 * as descriptions (dtype, shape, strides, storage). Use it to read values stored beside the weights — a
 * temperature, an epoch — or to convert the state dict with options.
 *
 * @param bytes The whole file.
 * @throws PhalanxFileError naming the file and what is wrong: not a checkpoint, a refused Python global
 *   (nothing in the file is run), a malformed pickle or archive, the byte budget exceeded.
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { parseTorchCheckpoint } from '@phalanx/layers';
 * import type { PyValue } from '@phalanx/pickle';
 * const ckpt = parseTorchCheckpoint(readFileSync('RHD_final.pth'));
 * const temperature = (ckpt.root as Map<PyValue, PyValue>).get('Temperature'); // a number
 * const tensors = ckpt.stateDict(); // model_state_dict, 'module.' stripped
 * ```
 */
export function parseTorchCheckpoint(
  bytes: Uint8Array | ArrayBuffer,
  options: ParseTorchCheckpointOptions = {},
): TorchCheckpoint {
  const data = toBytes(bytes);
  const { file, budget } = checkReadOptions(options, data.length, PARSE_KEYS);
  const archive = openTorchArchive(data, file, budget);
  return {
    format: archive.format,
    root: archive.root,
    stateDict(stateOptions = {}) {
      checkReadOptions(stateOptions, data.length, STATE_DICT_KEYS);
      const { key, stripPrefix: prefix = 'module.' } = stateOptions;
      checkReadOptions({ key, stripPrefix: prefix }, data.length);
      let entries = findStateDict(archive.root, file, key);
      if (prefix !== false) entries = stripPrefix(entries, prefix, file);
      return convert(entries, archive, file, budget - archive.decompressedBytes);
    },
  };
}

/** Checks every tensor, then converts them all; tensors are made only once every conversion succeeded. */
function convert(
  entries: Array<[string, TorchTensor]>,
  archive: ReturnType<typeof openTorchArchive>,
  file: string,
  budget: number,
): Record<string, tf.Tensor> {
  let total = 0;
  for (const [name, tensor] of entries) {
    checkView(tensor, name, file);
    archive.storageBytes(tensor.storage);
    total += outputBytes(tensor);
  }
  if (total > budget) {
    throw new PhalanxFileError(
      file,
      'state dict',
      `needs ${total} bytes of tensors, over the budget of ${budget} bytes (maxBytes)`,
    );
  }
  const values = entries.map(([name, tensor]) =>
    tensorValues(tensor, archive.storageBytes(tensor.storage), archive.littleEndian, name, file),
  );
  const out: Record<string, tf.Tensor> = {};
  entries.forEach(([name, tensor], i) =>
    setOwn(out, name, tf.tensor(values[i], [...tensor.shape], TF_DTYPE[tensor.storage.dtype])),
  );
  return out;
}

/**
 * Reads the state dict of a PyTorch checkpoint (`torch.save(model.state_dict(), 'model.pth')`, or a
 * training checkpoint that holds one) into tfjs tensors keyed by name, in PyTorch layout — what
 * {@link readSafetensors} returns for the same weights, ready for `importTorchWeights` or a reference
 * model's `importTorchStateDict`. No Python is needed.
 *
 * - Formats: the zip format (PyTorch ≥ 1.6; `archive/data.pkl` + `archive/data/N`) and the legacy format
 *   (`_use_new_zipfile_serialization=False`), in Node and in browsers.
 * - The state dict is the top-level name → tensor dict, or the one under `state_dict`, `model_state_dict`
 *   or `model`, or under `options.key`. DataParallel's `module.` prefixes are removed (`options.stripPrefix`).
 * - Storages: float32, float16, bfloat16, float64 → float32 (a finite float64 beyond float32 is an error);
 *   int64, int32, int16, int8, uint8 → int32 (int64 values must fit); bool → bool. Storage offsets, strides
 *   (transposed, sliced, expanded views) and storages shared by several tensors are honoured.
 * - Safety: the pickle goes through an allow-list unpickler, so no code in the file runs; memory stays
 *   within `options.maxBytes` (default 8 × the file's size + 16 MiB), checked before allocating.
 *
 * **Shapes**: as stored (PyTorch layouts, e.g. conv weights `[out, in, kh, kw]`).
 *
 * @param bytes The whole file (`readFileSync(path)`, or `await file.arrayBuffer()` in a browser).
 * @returns New tensors; the caller disposes them. On any error, no tensor is left allocated.
 * @throws PhalanxFileError naming the file and the entry at fault; PhalanxConfigError for bad options.
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import * as tf from '@tensorflow/tfjs-core';
 * import { readTorchStateDict } from '@phalanx/layers';
 * const tensors = readTorchStateDict(readFileSync('RHD_final.pth'));
 * tensors['meta_S.weight'].shape; // [21, 3]
 * tf.dispose(Object.values(tensors));
 * ```
 */
export function readTorchStateDict(
  bytes: Uint8Array | ArrayBuffer,
  options: ReadTorchStateDictOptions = {},
): Record<string, tf.Tensor> {
  checkReadOptions(options ?? {}, 0);
  const { key, stripPrefix: prefix, ...parse } = options ?? {};
  return parseTorchCheckpoint(bytes, parse).stateDict({ key, stripPrefix: prefix });
}
