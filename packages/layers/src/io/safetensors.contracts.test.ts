/**
 * Contracts of the safetensors reader and writer against unlucky and hostile input: every tensor name
 * survives a round trip (`__proto__` included), dtypes are looked up among the format's own names only,
 * values that overflow float32 are named errors, and no error leaves a tensor allocated.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { PhalanxConfigError } from '@phalanx/errors';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseSafetensors, readSafetensors, writeSafetensors, writeSafetensorsAsync } from './safetensors';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A safetensors file from header JSON text and data, built by hand from the format description. */
function rawFile(headerJson: string, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(headerJson);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const f32 = (...v: number[]) => new Uint8Array(new Float32Array(v).buffer);
const f64 = (...v: number[]) => new Uint8Array(new Float64Array(v).buffer);

describe('safetensors: every name survives', () => {
  const awkward = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', '__defineGetter__', 'valueOf'];

  it('reads __proto__ and Object.prototype names as ordinary tensors, leaking nothing', () => {
    const header = `{"__proto__":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"toString":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`;
    const before = tf.memory().numTensors;
    const tensors = readSafetensors(rawFile(header, new Uint8Array([...f32(1), ...f32(2)])));
    expect(Object.keys(tensors)).toEqual(['__proto__', 'toString']);
    expect(Object.getPrototypeOf(tensors)).toBe(Object.prototype);
    expect(Array.from(tensors['__proto__'].dataSync())).toEqual([1]);
    expect(Array.from(tensors['toString'].dataSync())).toEqual([2]);
    tf.dispose(Object.values(tensors));
    expect(tf.memory().numTensors).toBe(before);
  });

  it('writes them, and reads back the same names and values', () => {
    const input = Object.fromEntries(awkward.map((name, i) => [name, tf.fill([2], i + 0.5)]));
    const bytes = writeSafetensors(input);
    const before = tf.memory().numTensors;
    const back = readSafetensors(bytes);
    expect(Object.keys(back)).toEqual(awkward);
    awkward.forEach((name, i) => expect(Array.from(back[name].dataSync())).toEqual([i + 0.5, i + 0.5]));
    tf.dispose(Object.values(back));
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(Object.values(input));
  });
});

describe('safetensors: dtypes and values', () => {
  for (const dtype of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
    it(`refuses the dtype '${dtype}' by name`, () => {
      const file = rawFile(`{"w":{"dtype":"${dtype}","shape":[1],"data_offsets":[0,4]}}`, f32(1));
      expect(() => parseSafetensors(file)).toThrow(PhalanxConfigError);
      expect(() => parseSafetensors(file)).toThrow(
        new RegExp(`readSafetensors: dtype of tensor 'w' must be one of BOOL, .*, but received '${dtype}'`),
      );
    });
  }

  it('refuses F64 values beyond float32 by name, and keeps those within (and ±Infinity, NaN)', () => {
    const file = rawFile(`{"w":{"dtype":"F64","shape":[3],"data_offsets":[0,24]}}`, f64(1, 1e39, 2));
    expect(() => readSafetensors(file)).toThrow(PhalanxConfigError);
    expect(() => readSafetensors(file)).toThrow(
      "readSafetensors: element 1 of tensor 'w' must be within the float32 range of tfjs (±3.4028235e38; tensor dtype F64), but received 1e+39.",
    );
    const ok = readSafetensors(
      rawFile(`{"w":{"dtype":"F64","shape":[4],"data_offsets":[0,32]}}`, f64(3.4e38, -Infinity, NaN, 1e-50)),
    );
    const values = Array.from(ok.w.dataSync());
    expect(values[0]).toBe(Math.fround(3.4e38));
    expect(values.slice(1, 3)).toEqual([-Infinity, NaN]);
    expect(values[3]).toBe(0);
    tf.dispose(ok.w);
  });

  it('leaves no tensor behind when a later tensor fails to convert', () => {
    const header = `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F64","shape":[1],"data_offsets":[4,12]}}`;
    const file = rawFile(header, new Uint8Array([...f32(1), ...f64(-1e300)]));
    const before = tf.memory().numTensors;
    expect(() => readSafetensors(file)).toThrow(/element 0 of tensor 'b' must be within the float32 range/);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('safetensors: what the writer is given', () => {
  it('refuses tensors that are not an object, and a disposed tensor, by name (sync and async)', async () => {
    const gone = tf.ones([2]);
    gone.dispose();
    const cases: [unknown, string][] = [
      [null, 'writeSafetensors: tensors must be a record of name → tf.Tensor, but received null.'],
      ['w', "writeSafetensors: tensors must be a record of name → tf.Tensor, but received 'w'."],
      [
        { gone },
        "writeSafetensors: tensors['gone'] must be a tensor that is not disposed, but received 'a disposed tensor'.",
      ],
    ];
    for (const [tensors, message] of cases) {
      const write = () => writeSafetensors(tensors as Record<string, tf.Tensor>);
      expect(write, message).toThrow(PhalanxConfigError);
      expect(write).toThrow(message);
      await expect(writeSafetensorsAsync(tensors as Record<string, tf.Tensor>)).rejects.toThrow(PhalanxConfigError);
      await expect(writeSafetensorsAsync(tensors as Record<string, tf.Tensor>)).rejects.toThrow(message);
    }
  });
});
