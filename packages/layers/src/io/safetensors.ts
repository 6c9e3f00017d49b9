import * as tf from '@tensorflow/tfjs-core';
import { PhalanxConfigError } from '@phalanx/errors';
import { setOwn } from './records';

/**
 * Reading and writing the safetensors format (https://github.com/huggingface/safetensors):
 *
 *     [8 bytes: N, little-endian u64] [N bytes: JSON header, UTF-8, space-padded] [data]
 *
 * The header maps each tensor name to `{dtype, shape, data_offsets: [begin, end]}` (offsets in bytes,
 * relative to the start of the data section, little-endian values, row-major) and may hold a
 * `__metadata__` map of string to string. The tensors tile the data section without gaps or overlaps.
 */

/** The element types of the safetensors format. */
export type SafetensorsDtype =
  | 'BOOL'
  | 'U8'
  | 'I8'
  | 'I16'
  | 'U16'
  | 'F16'
  | 'BF16'
  | 'I32'
  | 'U32'
  | 'F32'
  | 'F64'
  | 'I64'
  | 'U64'
  | 'F8_E4M3'
  | 'F8_E5M2';

/** Bytes per element, and the tfjs dtype a safetensors dtype is read as. */
const DTYPES: Record<SafetensorsDtype, { size: number; tf: 'float32' | 'int32' | 'bool' }> = {
  BOOL: { size: 1, tf: 'bool' },
  U8: { size: 1, tf: 'int32' },
  I8: { size: 1, tf: 'int32' },
  I16: { size: 2, tf: 'int32' },
  U16: { size: 2, tf: 'int32' },
  I32: { size: 4, tf: 'int32' },
  U32: { size: 4, tf: 'int32' },
  I64: { size: 8, tf: 'int32' },
  U64: { size: 8, tf: 'int32' },
  F16: { size: 2, tf: 'float32' },
  BF16: { size: 2, tf: 'float32' },
  F32: { size: 4, tf: 'float32' },
  F64: { size: 8, tf: 'float32' },
  F8_E4M3: { size: 1, tf: 'float32' },
  F8_E5M2: { size: 1, tf: 'float32' },
};

/** One tensor of a safetensors file: its header entry, and conversion to tfjs on demand. */
export interface SafetensorsEntry {
  /** Name in the file (a PyTorch state_dict key such as `layer1.0.conv1.weight`). */
  readonly name: string;
  /** Element type as stored in the file. */
  readonly dtype: SafetensorsDtype;
  /** Shape, row-major. */
  readonly shape: readonly number[];
  /** `[begin, end)` byte range inside the data section. */
  readonly dataOffsets: readonly [number, number];
  /**
   * The tfjs dtype the values are converted to: floats (F16, BF16, F8, F64) → `'float32'` (finite F64
   * values beyond ±3.4028235e38 are an error, not ±Infinity); integers → `'int32'` (64-bit and U32
   * values must fit in int32); BOOL → `'bool'`.
   */
  readonly tfDtype: 'float32' | 'int32' | 'bool';
  /** The converted values, a fresh typed array (Float32Array, Int32Array, or Uint8Array of 0/1 for BOOL). */
  values(): Float32Array | Int32Array | Uint8Array;
  /** A new tfjs tensor of the converted values (the caller owns and disposes it). */
  toTensor(): tf.Tensor;
}

/** A parsed safetensors file. Nothing is converted until an entry's `values()` / `toTensor()` is called. */
export interface SafetensorsFile {
  /** The `__metadata__` map of the header (empty when absent). */
  readonly metadata: Readonly<Record<string, string>>;
  /** The tensors in file (data offset) order. */
  readonly entries: readonly SafetensorsEntry[];
  /** The entry called `name`, or `undefined`. */
  get(name: string): SafetensorsEntry | undefined;
  /** Every tensor converted to tfjs, keyed by name in file order (the caller disposes them). */
  tensors(): Record<string, tf.Tensor>;
}

const READ = 'readSafetensors';
const WRITE = 'writeSafetensors';
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** Largest header accepted (the reference implementation's limit). */
const MAX_HEADER_BYTES = 100_000_000;

function toBytes(component: string, bytes: Uint8Array | ArrayBuffer): Uint8Array {
  if (bytes instanceof Uint8Array) return bytes;
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
  throw new PhalanxConfigError(component, 'bytes', 'a Uint8Array or ArrayBuffer', typeof bytes);
}

/**
 * Decodes the 16 bits of an IEEE 754 half-precision float (safetensors `F16`) to a number,
 * including subnormals, ±Infinity and NaN.
 *
 * @example
 * float16BitsToNumber(0x3c00); // 1
 * float16BitsToNumber(0xc000); // -2
 */
export function float16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : Number.NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** float8 E4M3 ("fn": no infinities, S.1111.111 is NaN) bits → number. */
function float8e4m3BitsToNumber(b: number): number {
  const sign = b & 0x80 ? -1 : 1;
  const exponent = (b >> 3) & 0xf;
  const fraction = b & 0x7;
  if (exponent === 0xf && fraction === 0x7) return Number.NaN;
  if (exponent === 0) return sign * fraction * 2 ** -9;
  return sign * (1 + fraction / 8) * 2 ** (exponent - 7);
}

function tensorError(name: string, field: string, expected: string, received: unknown): PhalanxConfigError {
  return new PhalanxConfigError(READ, `${field} of tensor '${name}'`, expected, received);
}

function isNonNegativeInteger(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Converts the raw little-endian bytes of one tensor to the values of its tfjs dtype. */
function convert(name: string, dtype: SafetensorsDtype, raw: Uint8Array): Float32Array | Int32Array | Uint8Array {
  const { size } = DTYPES[dtype];
  const count = raw.byteLength / size;
  // A fresh, aligned copy: typed-array views on it are safe, and the result owns its memory. (Not
  // `raw.slice()`: on a Node Buffer that is a view into the whole file, not a copy.)
  const copy = new Uint8Array(raw);
  const view = new DataView(copy.buffer);
  const checkInt32 = (v: number | bigint, i: number): number => {
    if (v > 2147483647 || v < -2147483648) {
      throw tensorError(name, `element ${i}`, `within the int32 range of tfjs (tensor dtype ${dtype})`, String(v));
    }
    return Number(v);
  };
  const checkFloat32 = (v: number, i: number): number => {
    if (Number.isFinite(v) && !Number.isFinite(Math.fround(v))) {
      throw tensorError(name, `element ${i}`, `within the float32 range of tfjs (±3.4028235e38; tensor dtype F64)`, v);
    }
    return v;
  };
  switch (dtype) {
    case 'F32':
      if (LITTLE_ENDIAN_HOST) return new Float32Array(copy.buffer);
      return Float32Array.from({ length: count }, (_, i) => view.getFloat32(4 * i, true));
    case 'I32':
      if (LITTLE_ENDIAN_HOST) return new Int32Array(copy.buffer);
      return Int32Array.from({ length: count }, (_, i) => view.getInt32(4 * i, true));
    case 'F64':
      return Float32Array.from({ length: count }, (_, i) => checkFloat32(view.getFloat64(8 * i, true), i));
    case 'F16':
      return Float32Array.from({ length: count }, (_, i) => float16BitsToNumber(view.getUint16(2 * i, true)));
    case 'BF16': {
      const out = new Float32Array(count);
      const bits = new DataView(out.buffer);
      for (let i = 0; i < count; i++) bits.setUint32(4 * i, view.getUint16(2 * i, true) << 16, true);
      if (!LITTLE_ENDIAN_HOST) return Float32Array.from({ length: count }, (_, i) => bits.getFloat32(4 * i, true));
      return out;
    }
    case 'F8_E5M2':
      return Float32Array.from(copy, (b) => float16BitsToNumber(b << 8));
    case 'F8_E4M3':
      return Float32Array.from(copy, float8e4m3BitsToNumber);
    case 'BOOL':
      return Uint8Array.from(copy, (b) => (b === 0 ? 0 : 1));
    case 'U8':
      return Int32Array.from(copy);
    case 'I8':
      return Int32Array.from(new Int8Array(copy.buffer));
    case 'I16':
      return Int32Array.from({ length: count }, (_, i) => view.getInt16(2 * i, true));
    case 'U16':
      return Int32Array.from({ length: count }, (_, i) => view.getUint16(2 * i, true));
    case 'U32':
      return Int32Array.from({ length: count }, (_, i) => checkInt32(view.getUint32(4 * i, true), i));
    case 'I64':
      return Int32Array.from({ length: count }, (_, i) => checkInt32(view.getBigInt64(8 * i, true), i));
    case 'U64':
      return Int32Array.from({ length: count }, (_, i) => checkInt32(view.getBigUint64(8 * i, true), i));
  }
}

/**
 * Parses a safetensors file and validates its header: the header length, the JSON, every entry's
 * dtype, shape and byte range (its length must equal `prod(shape) × itemsize`), and that the ranges
 * tile the data section without gaps or overlaps. Tensors are converted lazily, one entry at a time.
 *
 * **Shapes**: each entry keeps the shape of the file (PyTorch layout, e.g. conv weights
 * `[out, in, kh, kw]`); see `importTorchWeights` for the conversion to tfjs layouts.
 *
 * @param bytes The whole file.
 * @throws PhalanxConfigError naming the tensor and the field for any malformed entry, or naming the
 *   header for a bad length or bad JSON.
 *
 * @example
 * import { readFileSync } from 'node:fs';
 * import { parseSafetensors } from '@phalanx/layers';
 * const file = parseSafetensors(readFileSync('model.safetensors'));
 * for (const e of file.entries) console.log(e.name, e.dtype, e.shape);
 * const w = file.get('fc.weight')?.toTensor();
 */
export function parseSafetensors(bytes: Uint8Array | ArrayBuffer): SafetensorsFile {
  const buf = toBytes(READ, bytes);
  if (buf.byteLength < 8) {
    throw new PhalanxConfigError(READ, 'bytes', 'at least 8 bytes (the header size)', `${buf.byteLength} bytes`);
  }
  const headerSize = new DataView(buf.buffer, buf.byteOffset, 8).getBigUint64(0, true);
  if (headerSize > BigInt(Math.min(buf.byteLength - 8, MAX_HEADER_BYTES)) || headerSize < 2n) {
    throw new PhalanxConfigError(
      READ,
      'the header size (first 8 bytes)',
      `between 2 and ${Math.min(buf.byteLength - 8, MAX_HEADER_BYTES)} (the bytes after it)`,
      headerSize.toString(),
    );
  }
  const n = Number(headerSize);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + n)));
  } catch (e) {
    throw new PhalanxConfigError(READ, 'the header', 'UTF-8 JSON', (e as Error).message);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new PhalanxConfigError(
      READ,
      'the header',
      'a JSON object',
      Array.isArray(header) ? 'an array' : String(header),
    );
  }
  const dataStart = 8 + n;
  const dataLength = buf.byteLength - dataStart;

  let metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof info !== 'object' || info === null || Array.isArray(info)) {
        throw new PhalanxConfigError(READ, '__metadata__', 'an object of strings', info);
      }
      for (const [k, v] of Object.entries(info)) {
        if (typeof v !== 'string') throw new PhalanxConfigError(READ, `__metadata__.${k}`, 'a string', v);
      }
      metadata = info as Record<string, string>;
      continue;
    }
    if (typeof info !== 'object' || info === null) throw tensorError(name, 'the entry', 'an object', info);
    const { dtype, shape, data_offsets: offsets } = info as { dtype: unknown; shape: unknown; data_offsets: unknown };
    if (typeof dtype !== 'string' || !Object.hasOwn(DTYPES, dtype)) {
      throw tensorError(name, 'dtype', `one of ${Object.keys(DTYPES).join(', ')}`, dtype);
    }
    if (!Array.isArray(shape) || !shape.every(isNonNegativeInteger)) {
      throw tensorError(name, 'shape', 'a list of non-negative integers', shape);
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every(isNonNegativeInteger) ||
      offsets[0] > offsets[1]
    ) {
      throw tensorError(name, 'data_offsets', '[begin, end] with 0 ≤ begin ≤ end', offsets);
    }
    const sd = dtype as SafetensorsDtype;
    const expectedBytes = (shape as number[]).reduce((a, b) => a * b, 1) * DTYPES[sd].size;
    if (offsets[1] - offsets[0] !== expectedBytes) {
      throw tensorError(
        name,
        'data_offsets',
        `a range of ${expectedBytes} bytes (${dtype} [${shape.join(', ')}])`,
        offsets,
      );
    }
    if (offsets[1] > dataLength) {
      throw tensorError(name, 'data_offsets', `within the ${dataLength}-byte data section`, offsets);
    }
    const [begin, end] = offsets as [number, number];
    const dims = [...(shape as number[])];
    const values = (): Float32Array | Int32Array | Uint8Array =>
      convert(name, sd, buf.subarray(dataStart + begin, dataStart + end));
    entries.push({
      name,
      dtype: sd,
      shape: dims,
      dataOffsets: [begin, end],
      tfDtype: DTYPES[sd].tf,
      values,
      toTensor: () => tf.tensor(values(), dims, DTYPES[sd].tf),
    });
  }
  entries.sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  let cursor = 0;
  let previous = '';
  for (const e of entries) {
    if (e.dataOffsets[0] !== cursor) {
      const where = previous === '' ? 'the start of the data section (0)' : `the end of '${previous}' (${cursor})`;
      throw tensorError(e.name, 'data_offsets', `to begin at ${where}: no gaps or overlaps`, e.dataOffsets);
    }
    cursor = e.dataOffsets[1];
    previous = e.name;
  }
  if (cursor !== dataLength) {
    throw new PhalanxConfigError(
      READ,
      'the data section',
      `covered exactly by the tensors (${cursor} bytes)`,
      `${dataLength} bytes`,
    );
  }
  const byName = new Map(entries.map((e) => [e.name, e]));
  return {
    metadata,
    entries,
    get: (name) => byName.get(name),
    tensors(): Record<string, tf.Tensor> {
      const out: Record<string, tf.Tensor> = {};
      try {
        for (const e of entries) setOwn(out, e.name, e.toTensor());
      } catch (error) {
        tf.dispose(Object.values(out));
        throw error;
      }
      return out;
    },
  };
}

/**
 * Reads a safetensors file into tfjs tensors keyed by name (in file order). Floats (F16, BF16, F8,
 * F64) become float32 (a finite F64 beyond the float32 range is an error), integers int32 (64-bit
 * values must fit), BOOL bool. Every name is kept as an own property, `__proto__` included; on an
 * error, no tensor is left allocated. Use
 * {@link parseSafetensors} to inspect the header or convert only some tensors.
 *
 * **Shapes**: as stored (PyTorch layouts for PyTorch checkpoints).
 *
 * @param bytes The whole file.
 * @returns New tensors; the caller disposes them.
 * @throws PhalanxConfigError for a malformed file, naming the tensor at fault.
 *
 * @example
 * import { readFileSync } from 'node:fs';
 * import { readSafetensors } from '@phalanx/layers';
 * const tensors = readSafetensors(readFileSync('fem.safetensors'));
 * tensors['sa_blocks.0.ln1.weight'].shape; // [32]
 */
export function readSafetensors(bytes: Uint8Array | ArrayBuffer): Record<string, tf.Tensor> {
  return parseSafetensors(bytes).tensors();
}

const WRITE_DTYPES: Partial<Record<tf.DataType, { name: SafetensorsDtype; size: number }>> = {
  float32: { name: 'F32', size: 4 },
  int32: { name: 'I32', size: 4 },
  bool: { name: 'BOOL', size: 1 },
};

/**
 * Serialises tensors to the safetensors format: an 8-byte little-endian header size, the JSON
 * header (`__metadata__` first when given) padded with spaces to a multiple of 8 bytes, then the
 * data of each tensor, contiguous, in the insertion order of `tensors`. float32 → F32, int32 → I32,
 * bool → BOOL. Reads the tensors synchronously (`dataSync`).
 *
 * **Shapes**: any; stored row-major as given.
 *
 * @param tensors Tensors keyed by name (names must be non-empty and not `__metadata__`).
 * @param metadata Optional string-to-string map stored as `__metadata__`.
 * @throws PhalanxConfigError for `tensors` that are not an object of tensors, a disposed tensor, an
 *   unsupported dtype (string, complex64), a bad name or non-string metadata.
 *
 * @example
 * import { writeFileSync } from 'node:fs';
 * import * as tf from '@tensorflow/tfjs-core';
 * import { writeSafetensors } from '@phalanx/layers';
 * const bytes = writeSafetensors({ 'fc.weight': tf.ones([2, 3]) }, { format: 'pt' });
 * writeFileSync('fc.safetensors', bytes);
 */
export function writeSafetensors(tensors: Record<string, tf.Tensor>, metadata?: Record<string, string>): Uint8Array {
  return encode(
    checkWritable(tensors, metadata),
    metadata,
    // Serialisation, not a forward pass: reading the values synchronously is the point here.
    // eslint-disable-next-line no-restricted-syntax
    (t) => t.dataSync() as Float32Array | Int32Array | Uint8Array,
  );
}

/**
 * {@link writeSafetensors} reading the tensors with `await tensor.data()`, so the backend (e.g.
 * webgl) is not blocked.
 *
 * **Shapes**: any; stored row-major as given.
 *
 * @throws PhalanxConfigError as {@link writeSafetensors}.
 *
 * @example
 * const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 2, inputShape: [3] })] });
 * const bytes = await writeSafetensorsAsync(Object.fromEntries(model.weights.map((w) => [w.name, w.read()])));
 */
export async function writeSafetensorsAsync(
  tensors: Record<string, tf.Tensor>,
  metadata?: Record<string, string>,
): Promise<Uint8Array> {
  const entries = checkWritable(tensors, metadata);
  const values = await Promise.all(entries.map(([, t]) => t.data()));
  const byTensor = new Map(entries.map(([, t], i) => [t, values[i] as Float32Array | Int32Array | Uint8Array]));
  return encode(entries, metadata, (t) => byTensor.get(t)!);
}

/** Validates names, dtypes and metadata; returns the entries in insertion order. */
function checkWritable(
  tensors: Record<string, tf.Tensor>,
  metadata?: Record<string, string>,
): Array<[string, tf.Tensor]> {
  if (metadata !== undefined) {
    if (typeof metadata !== 'object' || metadata === null) {
      throw new PhalanxConfigError(WRITE, 'metadata', 'an object of strings', metadata);
    }
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new PhalanxConfigError(WRITE, `metadata.${k}`, 'a string', v);
    }
  }
  if (typeof tensors !== 'object' || tensors === null) {
    throw new PhalanxConfigError(WRITE, 'tensors', 'a record of name → tf.Tensor', tensors);
  }
  const entries = Object.entries(tensors);
  for (const [name, t] of entries) {
    if (name === '' || name === '__metadata__') {
      throw new PhalanxConfigError(WRITE, 'tensor names', "non-empty and other than '__metadata__'", name);
    }
    if (!(t instanceof tf.Tensor)) throw new PhalanxConfigError(WRITE, `tensors['${name}']`, 'a tf.Tensor', typeof t);
    if (t.isDisposed)
      throw new PhalanxConfigError(WRITE, `tensors['${name}']`, 'a tensor that is not disposed', 'a disposed tensor');
    if (!Object.hasOwn(WRITE_DTYPES, t.dtype)) {
      throw new PhalanxConfigError(WRITE, `dtype of tensor '${name}'`, "'float32', 'int32' or 'bool'", t.dtype);
    }
  }
  return entries;
}

/** Lays out the file: u64 header size, space-padded JSON header, contiguous little-endian data. */
function encode(
  entries: Array<[string, tf.Tensor]>,
  metadata: Record<string, string> | undefined,
  read: (t: tf.Tensor) => Float32Array | Int32Array | Uint8Array,
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata !== undefined && Object.keys(metadata).length > 0) header.__metadata__ = { ...metadata };
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of entries) {
    const spec = WRITE_DTYPES[t.dtype]!;
    const values = read(t);
    const bytes = new Uint8Array(values.length * spec.size);
    if (LITTLE_ENDIAN_HOST || spec.size === 1) {
      bytes.set(new Uint8Array(values.buffer, values.byteOffset, values.length * spec.size));
    } else {
      const view = new DataView(bytes.buffer);
      values.forEach((v, i) => (spec.name === 'F32' ? view.setFloat32(4 * i, v, true) : view.setInt32(4 * i, v, true)));
    }
    setOwn(header, name, { dtype: spec.name, shape: [...t.shape], data_offsets: [offset, offset + bytes.length] });
    parts.push(bytes);
    offset += bytes.length;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const withSpaces = new Uint8Array(padded).fill(0x20);
    withSpaces.set(json);
    json = withSpaces;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let cursor = 8 + json.length;
  for (const p of parts) {
    out.set(p, cursor);
    cursor += p.length;
  }
  return out;
}
