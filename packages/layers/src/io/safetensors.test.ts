import * as tf from '@tensorflow/tfjs-core';
import { expectClose, forEachBackend } from '@phalanx/testing';
import { describe, expect, it } from 'vitest';
import {
  float16BitsToNumber,
  parseSafetensors,
  readSafetensors,
  writeSafetensors,
  writeSafetensorsAsync,
} from './safetensors';

/**
 * Builds a safetensors file by hand, per the format description, independently of the writer:
 * u64 little-endian header length, space-padded JSON header, then the data bytes.
 */
function buildFile(header: Record<string, unknown>, data: Uint8Array, pad = true): Uint8Array {
  let json = new TextEncoder().encode(JSON.stringify(header));
  if (pad && json.length % 8 !== 0) {
    const padded = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20);
    padded.set(json);
    json = padded;
  }
  const out = new Uint8Array(8 + json.length + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, json.length, true);
  view.setUint32(4, 0, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** Little-endian bytes from a writer callback on a DataView of `size` bytes. */
function le(size: number, write: (v: DataView) => void): Uint8Array {
  const bytes = new Uint8Array(size);
  write(new DataView(bytes.buffer));
  return bytes;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Header + data for a list of `[name, dtype, shape, bytes]`, contiguous in list order. */
function fileOf(entries: [string, string, number[], Uint8Array][], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  let offset = 0;
  for (const [name, dtype, shape, bytes] of entries) {
    header[name] = { dtype, shape, data_offsets: [offset, offset + bytes.length] };
    offset += bytes.length;
  }
  return buildFile(header, concat(...entries.map((e) => e[3])));
}

forEachBackend(() => {
  describe('readSafetensors on hand-built files', () => {
    it('reads every dtype with the documented conversion', () => {
      const halfBits = [0x3c00, 0xc000, 0x3800, 0x7c00, 0x0001, 0x7bff, 0x8000, 0x3555];
      const file = fileOf(
        [
          ['f32', 'F32', [2, 2], le(16, (v) => [1.5, -2, 3.25, 1e-30].forEach((x, i) => v.setFloat32(4 * i, x, true)))],
          ['f16', 'F16', [8], le(16, (v) => halfBits.forEach((h, i) => v.setUint16(2 * i, h, true)))],
          ['bf16', 'BF16', [3], le(6, (v) => [0x3f80, 0xc040, 0x4049].forEach((h, i) => v.setUint16(2 * i, h, true)))],
          ['f64', 'F64', [2], le(16, (v) => [0.1, -1e10].forEach((x, i) => v.setFloat64(8 * i, x, true)))],
          [
            'i64',
            'I64',
            [3],
            le(24, (v) => [-5n, 2147483647n, -2147483648n].forEach((x, i) => v.setBigInt64(8 * i, x, true))),
          ],
          ['u64', 'U64', [1], le(8, (v) => v.setBigUint64(0, 7n, true))],
          ['i32', 'I32', [2], le(8, (v) => [-7, 123456].forEach((x, i) => v.setInt32(4 * i, x, true)))],
          ['u32', 'U32', [1], le(4, (v) => v.setUint32(0, 4000, true))],
          ['i16', 'I16', [2], le(4, (v) => [-300, 300].forEach((x, i) => v.setInt16(2 * i, x, true)))],
          ['u16', 'U16', [1], le(2, (v) => v.setUint16(0, 65535, true))],
          ['i8', 'I8', [2], Uint8Array.of(0x80, 0x7f)],
          ['u8', 'U8', [2], Uint8Array.of(0xff, 3)],
          ['bool', 'BOOL', [3], Uint8Array.of(1, 0, 1)],
          ['e5m2', 'F8_E5M2', [2], Uint8Array.of(0x3c, 0xc4)],
          ['e4m3', 'F8_E4M3', [3], Uint8Array.of(0x38, 0x7e, 0x7f)],
          ['scalar', 'F32', [], le(4, (v) => v.setFloat32(0, 42, true))],
          ['empty', 'F32', [0, 3], new Uint8Array(0)],
        ],
        { format: 'pt', note: 'hand-built' },
      );
      const parsed = parseSafetensors(file);
      expect(parsed.metadata).toEqual({ format: 'pt', note: 'hand-built' });
      expect(parsed.entries.map((e) => e.name)[0]).toBe('f32');
      expect(parsed.get('f16')?.dtype).toBe('F16');
      const t = readSafetensors(file);
      expect(Object.keys(t)).toContain('empty');
      const check = (name: string, shape: number[], dtype: string, values: number[]) => {
        expect(t[name].shape, name).toEqual(shape);
        expect(t[name].dtype, name).toBe(dtype);
        expect(Array.from(t[name].dataSync()), name).toEqual(values);
      };
      check('f32', [2, 2], 'float32', [1.5, -2, 3.25, Math.fround(1e-30)]);
      check('f16', [8], 'float32', [
        1,
        -2,
        0.5,
        Infinity,
        2 ** -24,
        65504,
        -0,
        Math.fround(float16BitsToNumber(0x3555)),
      ]);
      expectClose(float16BitsToNumber(0x3555), 1 / 3, { rtol: 1e-3, atol: 0 }, 'half 0x3555 ≈ 1/3');
      check('bf16', [3], 'float32', [1, -3, 3.140625]);
      check('f64', [2], 'float32', [Math.fround(0.1), Math.fround(-1e10)]);
      check('i64', [3], 'int32', [-5, 2147483647, -2147483648]);
      check('u64', [1], 'int32', [7]);
      check('i32', [2], 'int32', [-7, 123456]);
      check('u32', [1], 'int32', [4000]);
      check('i16', [2], 'int32', [-300, 300]);
      check('u16', [1], 'int32', [65535]);
      check('i8', [2], 'int32', [-128, 127]);
      check('u8', [2], 'int32', [255, 3]);
      check('bool', [3], 'bool', [1, 0, 1]);
      check('e5m2', [2], 'float32', [1, -4]);
      expect(Array.from(t.e4m3.dataSync()).slice(0, 2)).toEqual([1, 448]);
      expect(Number.isNaN(t.e4m3.dataSync()[2])).toBe(true);
      check('scalar', [], 'float32', [42]);
      check('empty', [0, 3], 'float32', []);
      tf.dispose(Object.values(t));
    });

    it('reads from an ArrayBuffer and from an unaligned view into a larger buffer', () => {
      const file = fileOf([
        ['w', 'F32', [3], le(12, (v) => [1, 2, 3].forEach((x, i) => v.setFloat32(4 * i, x, true)))],
      ]);
      const shifted = new Uint8Array(file.length + 3);
      shifted.set(file, 3);
      const inputs: (ArrayBuffer | Uint8Array)[] = [file.buffer as ArrayBuffer, shifted.subarray(3)];
      // In Node also a Buffer (what readFileSync returns) whose slice() is a view, not a copy.
      if (typeof Buffer !== 'undefined') {
        inputs.push(
          Buffer.concat([Buffer.from([9, 9, 9]), Buffer.from(file), Buffer.from([9])]).subarray(3, 3 + file.length),
        );
      }
      for (const input of inputs) {
        const t = readSafetensors(input);
        expect(Array.from(t.w.dataSync())).toEqual([1, 2, 3]);
        t.w.dispose();
      }
    });

    it('accepts an unpadded header and entries listed out of offset order', () => {
      const a = le(4, (v) => v.setFloat32(0, 1, true));
      const b = le(8, (v) => v.setInt32(4, 9, true));
      const header = {
        b: { dtype: 'I32', shape: [2], data_offsets: [4, 12] },
        a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
      };
      const parsed = parseSafetensors(buildFile(header, concat(a, b), false));
      expect(parsed.entries.map((e) => e.name)).toEqual(['a', 'b']);
      expect(Array.from(parsed.get('b')!.values())).toEqual([0, 9]);
    });
  });
});

forEachBackend(() => {
  describe('writeSafetensors', () => {
    it('follows the format: u64 LE size, space-padded 8-aligned JSON, contiguous offsets in insertion order', () => {
      const bytes = writeSafetensors(
        {
          'z.weight': tf.tensor2d([
            [1, 2, 3],
            [4, 5, 6],
          ]),
          'a.count': tf.tensor1d([7], 'int32'),
          mask: tf.tensor1d([true, false], 'bool'),
        },
        { format: 'pt' },
      );
      const view = new DataView(bytes.buffer, bytes.byteOffset);
      const n = Number(view.getBigUint64(0, true));
      expect((8 + n) % 8).toBe(0);
      const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
      expect(text.trimEnd().length + (text.length - text.trimEnd().length)).toBe(n);
      expect(/^ *$/.test(text.slice(text.trimEnd().length))).toBe(true);
      const header = JSON.parse(text);
      expect(Object.keys(header)).toEqual(['__metadata__', 'z.weight', 'a.count', 'mask']);
      expect(header.__metadata__).toEqual({ format: 'pt' });
      expect(header['z.weight']).toEqual({ dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] });
      expect(header['a.count']).toEqual({ dtype: 'I32', shape: [1], data_offsets: [24, 28] });
      expect(header.mask).toEqual({ dtype: 'BOOL', shape: [2], data_offsets: [28, 30] });
      expect(bytes.length).toBe(8 + n + 30);
      expect(view.getFloat32(8 + n + 4 * 5, true)).toBe(6);
      expect(view.getInt32(8 + n + 24, true)).toBe(7);
      expect(Array.from(bytes.subarray(8 + n + 28))).toEqual([1, 0]);
    });

    it('round-trips values, shapes, dtypes and metadata (sync and async writers agree)', async () => {
      const original = {
        'conv.weight': tf.randomNormal([4, 3, 3, 3], 0, 1, 'float32', 1),
        'bn.num_batches_tracked': tf.scalar(12, 'int32'),
        flags: tf.tensor2d(
          [
            [true, false],
            [false, true],
          ],
          [2, 2],
          'bool',
        ),
        'ünïcode.name': tf.tensor1d([0.5]),
      };
      const back = readSafetensors(writeSafetensors(original, { source: 'test' }));
      expect(Object.keys(back)).toEqual(Object.keys(original));
      for (const [name, t] of Object.entries(original)) {
        expect(back[name].shape, name).toEqual(t.shape);
        expect(back[name].dtype, name).toBe(t.dtype);
        expect(Array.from(back[name].dataSync()), name).toEqual(Array.from(t.dataSync()));
      }
      expect(parseSafetensors(writeSafetensors(original, { source: 'test' })).metadata).toEqual({ source: 'test' });
      expect(parseSafetensors(writeSafetensors({})).entries).toEqual([]);
      const asyncBytes = await writeSafetensorsAsync(original, { source: 'test' });
      expect(Array.from(asyncBytes)).toEqual(Array.from(writeSafetensors(original, { source: 'test' })));
      tf.dispose([...Object.values(original), ...Object.values(back)]);
    });

    it('rejects unsupported dtypes, reserved names and non-string metadata', () => {
      expect(() => writeSafetensors({ s: tf.tensor1d(['a'], 'string') })).toThrow(
        "writeSafetensors: dtype of tensor 's' must be 'float32', 'int32' or 'bool', but received 'string'.",
      );
      expect(() => writeSafetensors({ __metadata__: tf.zeros([1]) })).toThrow(
        "writeSafetensors: tensor names must be non-empty and other than '__metadata__', but received '__metadata__'.",
      );
      expect(() => writeSafetensors({ a: tf.zeros([1]) }, { version: 2 as unknown as string })).toThrow(
        'writeSafetensors: metadata.version must be a string, but received 2.',
      );
    });
  });

  describe('readSafetensors validation', () => {
    const w = le(8, (v) => v.setFloat32(4, 1, true));
    it('names the header or the tensor at fault', () => {
      expect(() => readSafetensors(new Uint8Array(5))).toThrow(
        "readSafetensors: bytes must be at least 8 bytes (the header size), but received '5 bytes'.",
      );
      const tooLong = buildFile({}, new Uint8Array(0));
      new DataView(tooLong.buffer).setUint32(0, 1000, true);
      expect(() => readSafetensors(tooLong)).toThrow(
        "readSafetensors: the header size (first 8 bytes) must be between 2 and 8 (the bytes after it), but received '1000'.",
      );
      const notJson = buildFile({}, new Uint8Array(0));
      notJson[8] = 0x5b; // '['
      expect(() => readSafetensors(notJson)).toThrow(/readSafetensors: the header must be UTF-8 JSON, but received/);
      expect(() => readSafetensors(buildFile([] as unknown as Record<string, unknown>, new Uint8Array(0)))).toThrow(
        "readSafetensors: the header must be a JSON object, but received 'an array'.",
      );
      expect(() =>
        readSafetensors(buildFile({ 'fc.weight': { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, w)),
      ).toThrow(
        "readSafetensors: data_offsets of tensor 'fc.weight' must be a range of 12 bytes (F32 [3]), but received [0, 8].",
      );
      expect(() =>
        readSafetensors(buildFile({ 'fc.bias': { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, w)),
      ).toThrow(
        "readSafetensors: data_offsets of tensor 'fc.bias' must be within the 8-byte data section, but received [0, 16].",
      );
      expect(() => readSafetensors(buildFile({ x: { dtype: 'C64', shape: [1], data_offsets: [0, 8] } }, w))).toThrow(
        /readSafetensors: dtype of tensor 'x' must be one of BOOL, .*, but received 'C64'\./,
      );
      expect(() => readSafetensors(buildFile({ x: { dtype: 'F32', shape: [-1], data_offsets: [0, 8] } }, w))).toThrow(
        "readSafetensors: shape of tensor 'x' must be a list of non-negative integers, but received [-1].",
      );
      expect(() =>
        readSafetensors(
          buildFile(
            {
              a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
              b: { dtype: 'F32', shape: [1], data_offsets: [2, 6] },
            },
            w,
          ),
        ),
      ).toThrow(
        "readSafetensors: data_offsets of tensor 'b' must be to begin at the end of 'a' (4): no gaps or overlaps, but received [2, 6].",
      );
      expect(() => readSafetensors(buildFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, w))).toThrow(
        "readSafetensors: the data section must be covered exactly by the tensors (4 bytes), but received '8 bytes'.",
      );
      expect(() => readSafetensors(buildFile({ __metadata__: { n: 3 } }, new Uint8Array(0)))).toThrow(
        'readSafetensors: __metadata__.n must be a string, but received 3.',
      );
      const big = buildFile(
        { step: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } },
        le(8, (v) => v.setBigInt64(0, 2n ** 40n, true)),
      );
      expect(() => parseSafetensors(big)).not.toThrow();
      expect(() => readSafetensors(big)).toThrow(
        "readSafetensors: element 0 of tensor 'step' must be within the int32 range of tfjs (tensor dtype I64), but received '1099511627776'.",
      );
    });
  });
});
