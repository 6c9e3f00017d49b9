/**
 * Turns a tensor description into the values of a tfjs tensor: gathers the elements of any view (storage
 * offset, strides, zero strides, transposes) in row-major order and converts them, as `readSafetensors`
 * does: float16, bfloat16 and float64 → float32 (a finite float64 beyond the float32 range is an error),
 * int64, int16, int8, uint8 → int32 (int64 values must fit), bool → bool.
 */
import { PhalanxFileError } from '@phalanx/errors';
import { float16BitsToNumber } from '../safetensors';
import { ELEMENT_SIZE, type TorchDtype, type TorchTensor } from './torch-pickle';

/** The tfjs dtype each storage type is read as. */
export const TF_DTYPE: Readonly<Record<TorchDtype, 'float32' | 'int32' | 'bool'>> = {
  float32: 'float32',
  float16: 'float32',
  bfloat16: 'float32',
  float64: 'float32',
  int64: 'int32',
  int32: 'int32',
  int16: 'int32',
  int8: 'int32',
  uint8: 'int32',
  bool: 'bool',
};

/** Number of elements of a shape. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Bytes the converted values of `tensor` take (4 per element, 1 for bool). */
export function outputBytes(tensor: TorchTensor): number {
  return sizeOf(tensor.shape) * (TF_DTYPE[tensor.storage.dtype] === 'bool' ? 1 : 4);
}

/** Fails unless every element of the view lies inside its storage. */
export function checkView(tensor: TorchTensor, name: string, file: string): void {
  const { shape, stride, offset, storage } = tensor;
  if (sizeOf(shape) === 0) return;
  const last = shape.reduce((end, d, i) => end + (d - 1) * stride[i], offset);
  if (!Number.isSafeInteger(last) || last >= storage.numel) {
    throw new PhalanxFileError(
      file,
      `tensor '${name}'`,
      `views element ${last} of a storage of ${storage.numel} (size (${shape.join(', ')}), stride (${stride.join(', ')}), offset ${offset})`,
    );
  }
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Whether the view's elements are consecutive in the storage (strides of size-1 dimensions do not matter). */
function isContiguous(tensor: TorchTensor): boolean {
  let expected = 1;
  for (let d = tensor.shape.length - 1; d >= 0; d--) {
    if (tensor.shape[d] !== 1 && tensor.stride[d] !== expected) return false;
    expected *= tensor.shape[d];
  }
  return true;
}

function* range(start: number, count: number): Generator<number> {
  for (let i = 0; i < count; i++) yield start + i;
}

type Reader = (view: DataView, byteOffset: number, littleEndian: boolean) => number;

const READERS: Readonly<Record<TorchDtype, Reader>> = {
  float32: (v, o, le) => v.getFloat32(o, le),
  float16: (v, o, le) => float16BitsToNumber(v.getUint16(o, le)),
  bfloat16: (v, o, le) => {
    const bits = new DataView(new ArrayBuffer(4));
    bits.setUint16(0, v.getUint16(o, le), false);
    return bits.getFloat32(0, false);
  },
  float64: (v, o, le) => v.getFloat64(o, le),
  int64: (v, o, le) => Number(v.getBigInt64(o, le)),
  int32: (v, o, le) => v.getInt32(o, le),
  int16: (v, o, le) => v.getInt16(o, le),
  int8: (v, o) => v.getInt8(o),
  uint8: (v, o) => v.getUint8(o),
  bool: (v, o) => (v.getUint8(o) === 0 ? 0 : 1),
};

/** Storage element index of each element of the view, in row-major order. */
function* elementIndices(tensor: TorchTensor): Generator<number> {
  const { shape, stride, offset } = tensor;
  const total = sizeOf(shape);
  const rank = shape.length;
  const position = new Array<number>(rank).fill(0);
  let at = offset;
  for (let n = 0; n < total; n++) {
    yield at;
    for (let d = rank - 1; d >= 0; d--) {
      if (++position[d] < shape[d]) {
        at += stride[d];
        break;
      }
      at -= (shape[d] - 1) * stride[d];
      position[d] = 0;
    }
  }
}

/**
 * The values of `tensor` (a view of `bytes`, its storage) as a fresh typed array of its tfjs dtype.
 *
 * @throws PhalanxFileError naming `name` for int64 values outside int32 or float64 values beyond float32.
 */
export function tensorValues(
  tensor: TorchTensor,
  bytes: Uint8Array,
  littleEndian: boolean,
  name: string,
  file: string,
): Float32Array | Int32Array | Uint8Array {
  const dtype = tensor.storage.dtype;
  const size = ELEMENT_SIZE[dtype];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const read = READERS[dtype];
  const tf = TF_DTYPE[dtype];
  const out =
    tf === 'float32'
      ? new Float32Array(sizeOf(tensor.shape))
      : tf === 'int32'
        ? new Int32Array(sizeOf(tensor.shape))
        : new Uint8Array(sizeOf(tensor.shape));
  if (dtype === 'float32' && littleEndian && LITTLE_ENDIAN_HOST && isContiguous(tensor)) {
    const begin = bytes.byteOffset + tensor.offset * 4;
    return new Float32Array(bytes.buffer.slice(begin, begin + out.length * 4));
  }
  let i = 0;
  for (const e of isContiguous(tensor) ? range(tensor.offset, out.length) : elementIndices(tensor)) {
    const v = read(view, e * size, littleEndian);
    if (dtype === 'int64' && (v > 2147483647 || v < -2147483648)) {
      throw new PhalanxFileError(
        file,
        `tensor '${name}'`,
        `holds the int64 value ${v}, outside the int32 range of tfjs`,
      );
    }
    if (dtype === 'float64' && Number.isFinite(v) && !Number.isFinite(Math.fround(v))) {
      throw new PhalanxFileError(
        file,
        `tensor '${name}'`,
        `holds the float64 value ${v}, beyond the float32 range of tfjs`,
      );
    }
    out[i++] = v;
  }
  return out;
}
