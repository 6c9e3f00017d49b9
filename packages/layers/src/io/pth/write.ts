/**
 * Writing a state dict as a PyTorch checkpoint in the zip format that `torch.save` writes (PyTorch ≥ 1.6),
 * so that `torch.load('model.pth')` reads it, with `weights_only=True` too: `archive/data.pkl` (a protocol-2
 * pickle of an `OrderedDict` of `torch._utils._rebuild_tensor_v2` calls, one storage per tensor as a
 * persistent id), `archive/data/<i>` (raw little-endian storages, 64-byte aligned as PyTorch aligns them),
 * `archive/byteorder` and `archive/version`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { checkOptions, PhalanxConfigError } from '@phalanx/errors';
import { zipSync, type Zippable } from 'fflate';

const WRITE = 'writeTorchStateDict';

/** Options of {@link writeTorchStateDict}. */
export interface WriteTorchStateDictOptions {
  /** The archive's folder name inside the zip (PyTorch uses the file's stem, or `archive`). Default `'archive'`. */
  archiveName?: string;
  /**
   * Storage type of int32 tensors: `'int64'` (default; PyTorch's integer type, e.g. of batch norm's
   * `num_batches_tracked`) or `'int32'`.
   */
  integerDtype?: 'int64' | 'int32';
}

/** The keys of {@link WriteTorchStateDictOptions}: any other key is a named error. */
const OPTION_KEYS = { archiveName: true, integerDtype: true } satisfies Record<keyof WriteTorchStateDictOptions, true>;

/** One tensor's storage as it goes into the archive. */
interface Storage {
  name: string;
  storageClass: string;
  shape: number[];
  bytes: Uint8Array;
  numel: number;
}

class PickleBytes {
  private readonly parts: number[] = [];
  op(...b: number[]): this {
    for (const x of b) this.parts.push(x);
    return this;
  }
  text(s: string): this {
    for (let i = 0; i < s.length; i++) this.parts.push(s.charCodeAt(i));
    return this;
  }
  /** BINUNICODE: u32 length, UTF-8. */
  unicode(s: string): this {
    const utf8 = new TextEncoder().encode(s);
    this.op(0x58, ...u32(utf8.length));
    for (const b of utf8) this.parts.push(b);
    return this;
  }
  /** BININT1, BININT2 or BININT; LONG1 beyond 2³¹. */
  int(n: number): this {
    if (n < 256) return this.op(0x4b, n);
    if (n < 65536) return this.op(0x4d, n & 0xff, n >> 8);
    if (n < 2 ** 31) return this.op(0x4a, ...u32(n));
    const bytes: number[] = [];
    for (let v = BigInt(n); v > 0n; v >>= 8n) bytes.push(Number(v & 0xffn));
    if (bytes[bytes.length - 1] & 0x80) bytes.push(0);
    return this.op(0x8a, bytes.length, ...bytes);
  }
  /** A tuple of small non-negative integers. */
  tuple(values: readonly number[]): this {
    if (values.length === 0) return this.op(0x29);
    if (values.length > 3) this.op(0x28);
    for (const v of values) this.int(v);
    return this.op(values.length <= 3 ? [0x85, 0x86, 0x87][values.length - 1] : 0x74);
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

function u32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

/** Row-major strides of a contiguous tensor. */
function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d];
  }
  return strides;
}

/**
 * `OrderedDict([(name, _rebuild_tensor_v2(storage, 0, shape, strides, False, OrderedDict())), …])`, the
 * pickle of `model.state_dict()` as torch.save writes it (memo 0: OrderedDict, 1: the rebuild function).
 */
function statePickle(storages: readonly Storage[]): Uint8Array {
  const p = new PickleBytes().op(0x80, 0x02).text('ccollections\nOrderedDict\n').op(0x71, 0, 0x29, 0x52);
  storages.forEach((s, i) => {
    if (i % 1000 === 0) p.op(0x28); // MARK of a SETITEMS batch, as Python batches 1000 items
    p.unicode(s.name);
    if (i === 0) p.text('ctorch._utils\n_rebuild_tensor_v2\n').op(0x71, 1);
    else p.op(0x68, 1);
    p.op(0x28, 0x28).unicode('storage').text(`ctorch\n${s.storageClass}\n`).unicode(String(i)).unicode('cpu');
    p.int(s.numel).op(0x74, 0x51); // TUPLE, BINPERSID
    p.int(0).tuple(s.shape).tuple(contiguousStrides(s.shape));
    p.op(0x89, 0x68, 0, 0x29, 0x52); // False, OrderedDict()
    p.op(0x74, 0x52); // TUPLE, REDUCE
    if (i % 1000 === 999 || i === storages.length - 1) p.op(0x75); // SETITEMS
  });
  return p.op(0x2e).bytes();
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function checkTensors(tensors: Record<string, tf.Tensor>): Array<[string, tf.Tensor]> {
  if (typeof tensors !== 'object' || tensors === null) {
    throw new PhalanxConfigError(WRITE, 'tensors', 'a record of name → tf.Tensor', tensors);
  }
  const entries = Object.entries(tensors);
  for (const [name, t] of entries) {
    if (LONE_SURROGATE.test(name)) throw new PhalanxConfigError(WRITE, 'tensor names', 'well-formed Unicode', name);
    if (!(t instanceof tf.Tensor)) throw new PhalanxConfigError(WRITE, `tensors['${name}']`, 'a tf.Tensor', typeof t);
    if (t.isDisposed)
      throw new PhalanxConfigError(WRITE, `tensors['${name}']`, 'a tensor that is not disposed', 'a disposed tensor');
    if (t.dtype !== 'float32' && t.dtype !== 'int32' && t.dtype !== 'bool') {
      throw new PhalanxConfigError(WRITE, `dtype of tensor '${name}'`, "'float32', 'int32' or 'bool'", t.dtype);
    }
  }
  return entries;
}

/** The little-endian storage bytes of one tensor's values. */
function storageOf(name: string, t: tf.Tensor, integerDtype: 'int64' | 'int32'): Storage {
  // Serialisation, not a forward pass: reading the values synchronously is the point here.
  // eslint-disable-next-line no-restricted-syntax
  const values = t.dataSync() as Float32Array | Int32Array | Uint8Array;
  const base = { name, shape: [...t.shape], numel: values.length };
  if (t.dtype === 'bool')
    return { ...base, storageClass: 'BoolStorage', bytes: Uint8Array.from(values, (v) => (v ? 1 : 0)) };
  const wide = t.dtype === 'int32' && integerDtype === 'int64';
  const bytes = new Uint8Array(values.length * (wide ? 8 : 4));
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => {
    if (wide) view.setBigInt64(8 * i, BigInt(v), true);
    else if (t.dtype === 'int32') view.setInt32(4 * i, v, true);
    else view.setFloat32(4 * i, v, true);
  });
  const storageClass = t.dtype === 'float32' ? 'FloatStorage' : wide ? 'LongStorage' : 'IntStorage';
  return { ...base, storageClass, bytes };
}

/**
 * Writes tensors as a PyTorch checkpoint (`.pth`) in the zip format of `torch.save` (PyTorch ≥ 1.6): a
 * state dict that `torch.load(path)` returns as an `OrderedDict` of tensors (also with
 * `weights_only=True`), ready for `model.load_state_dict(...)`. float32 → `torch.float32`, int32 →
 * `torch.int64` (or `torch.int32` with `integerDtype: 'int32'`), bool → `torch.bool`. The output is
 * deterministic: the same tensors give the same bytes.
 *
 * **Shapes**: as given, row-major (PyTorch layouts, e.g. from `exportTorchStateDict`).
 *
 * @param tensors Tensors keyed by PyTorch name, in state-dict order. They are read synchronously and
 *   not disposed.
 * @throws PhalanxConfigError for a dtype other than float32, int32, bool, a disposed tensor, a name that
 *   is not well-formed Unicode, and options that are not an object or have a key other than `archiveName`,
 *   `integerDtype`.
 * @example
 * ```ts
 * import { writeFileSync } from 'node:fs';
 * import * as tf from '@tensorflow/tfjs-core';
 * import { writeTorchStateDict } from '@phalanx/layers';
 * const bytes = writeTorchStateDict({ 'fc.weight': tf.ones([2, 3]), 'fc.bias': tf.zeros([2]) });
 * writeFileSync('fc.pth', bytes); // python: torch.load('fc.pth')['fc.weight'].shape == (2, 3)
 * ```
 */
export function writeTorchStateDict(
  tensors: Record<string, tf.Tensor>,
  options: WriteTorchStateDictOptions = {},
): Uint8Array {
  checkOptions(WRITE, 'options', options, OPTION_KEYS, 'an object {archiveName?, integerDtype?}');
  const { archiveName = 'archive', integerDtype = 'int64' } = options;
  if (typeof archiveName !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(archiveName)) {
    throw new PhalanxConfigError(WRITE, 'options.archiveName', 'a folder name of letters, digits, _ . -', archiveName);
  }
  if (integerDtype !== 'int64' && integerDtype !== 'int32') {
    throw new PhalanxConfigError(WRITE, 'options.integerDtype', "'int64' or 'int32'", integerDtype);
  }
  const storages = checkTensors(tensors).map(([name, t]) => storageOf(name, t, integerDtype));
  const records: Array<[string, Uint8Array]> = [
    ['data.pkl', storages.length > 0 ? statePickle(storages) : emptyStatePickle()],
    ['byteorder', new TextEncoder().encode('little')],
    ...storages.map((s, i): [string, Uint8Array] => [`data/${i}`, s.bytes]),
    ['version', new TextEncoder().encode('3\n')],
  ];
  return zipAligned(records.map(([name, data]) => [`${archiveName}/${name}`, data]));
}

function emptyStatePickle(): Uint8Array {
  return new PickleBytes().op(0x80, 0x02).text('ccollections\nOrderedDict\n').op(0x71, 0, 0x29, 0x52, 0x2e).bytes();
}

/** Local-header bytes before an entry's name: the fixed 30, as fflate writes them. */
const LOCAL_HEADER = 30;
/** PyTorch aligns every record's data to 64 bytes with padding in an extra field named 'FB'. */
const ALIGNMENT = 64;
const PADDING_FIELD = 0x4246;

/** A stored (uncompressed) zip whose records' data start at multiples of 64 bytes. */
function zipAligned(records: Array<[string, Uint8Array]>): Uint8Array {
  const files: Zippable = {};
  const mtime = new Date(1980, 0, 1, 0, 0, 0); // fixed, for deterministic bytes
  let offset = 0;
  for (const [name, data] of records) {
    const headerEnd = offset + LOCAL_HEADER + name.length + 4;
    const pad = (ALIGNMENT - (headerEnd % ALIGNMENT)) % ALIGNMENT;
    files[name] = [data, { level: 0, mtime, extra: { [PADDING_FIELD]: new Uint8Array(pad) } }];
    offset = headerEnd + pad + data.length;
  }
  return zipSync(files, { level: 0, mtime });
}
