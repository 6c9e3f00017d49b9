import * as tf from '@tensorflow/tfjs-core';
import '@phalanx/testing';
import { expectClose } from '@phalanx/testing';
import { beforeAll, describe, it } from 'vitest';
import { convGeometry, type ConvPad } from './conv-geometry';
import {
  setConv2DBackpropFilterStrategy,
  setConv2DBackpropInputStrategy,
  type FilterGradStrategy,
  type InputGradStrategy,
} from './conv2d-backprop';
import { registerWasmTrainingKernels } from './register';
import { host, runKernelOn, type HostTensor } from './test-utils';

type Shape4 = [number, number, number, number];

interface EmptyCase {
  x: Shape4;
  filter: Shape4;
  strides: number;
  pad: ConvPad;
}

/** Convolutions with a batch, input channel or output channel count of 0, at strides 1 and 2. */
const CASES: EmptyCase[] = [];
for (const [x, filter] of [
  [
    [0, 5, 5, 4],
    [3, 3, 4, 4],
  ],
  [
    [0, 6, 5, 3],
    [2, 3, 3, 5],
  ],
  [
    [1, 5, 5, 3],
    [3, 3, 3, 0],
  ],
  [
    [2, 5, 4, 0],
    [3, 3, 0, 4],
  ],
  [
    [1, 5, 5, 16],
    [3, 3, 16, 0],
  ],
] as Array<[Shape4, Shape4]>) {
  for (const strides of [1, 2])
    for (const pad of ['same', 'valid'] as ConvPad[]) CASES.push({ x, filter, strides, pad });
}

function label(c: EmptyCase): string {
  return `x ${c.x} f ${c.filter} s ${c.strides} pad ${String(c.pad)}`;
}

function dyShape(c: EmptyCase, depthwise: boolean): number[] {
  const g = convGeometry(c.x, c.filter, c.strides, 1, c.pad, undefined, depthwise);
  return [g.batch, g.outHeight, g.outWidth, depthwise ? c.filter[2] * c.filter[3] : c.filter[3]];
}

/** Runs `name` on cpu and wasm (each checked for leaked tensors and buffers) and compares. */
async function compare(name: string, inputs: Record<string, HostTensor>, attrs: Record<string, unknown>, what: string) {
  const expected = await runKernelOn('cpu', name, inputs, attrs);
  const actual = await runKernelOn('wasm', name, inputs, attrs);
  // Exact where cpu gives zeros (uninitialised memory often reads as tiny denormals), else float32 rounding.
  const atol = expected.data.every((v) => v === 0) ? 0 : 1e-5;
  expectClose(actual.data, expected.data, { rtol: 1e-5, atol }, `${name} ${what}`);
  if (actual.shape.join() !== expected.shape.join()) {
    throw new Error(`${name} ${what}: shape [${actual.shape}], cpu [${expected.shape}]`);
  }
}

beforeAll(async () => {
  tf.env().set('IS_TEST', true);
  registerWasmTrainingKernels();
  await tf.setBackend('wasm');
});

describe('convolution gradients of empty batches and channel counts are zeros, as on cpu', () => {
  for (const strategy of ['im2col', 'swapped-conv', 'shifted-gemm', 'winograd'] as FilterGradStrategy[]) {
    it(`Conv2DBackpropFilter (${strategy})`, async () => {
      setConv2DBackpropFilterStrategy(strategy);
      try {
        for (const [i, c] of CASES.entries()) {
          const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', filterShape: c.filter };
          await compare(
            tf.Conv2DBackpropFilter,
            { x: host(c.x, i), dy: host(dyShape(c, false), i + 1) },
            attrs,
            label(c),
          );
        }
      } finally {
        setConv2DBackpropFilterStrategy('winograd');
      }
    });
  }

  for (const strategy of ['convolution', 'winograd'] as InputGradStrategy[]) {
    it(`Conv2DBackpropInput (${strategy})`, async () => {
      setConv2DBackpropInputStrategy(strategy);
      try {
        for (const [i, c] of CASES.entries()) {
          const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x };
          await compare(
            tf.Conv2DBackpropInput,
            { dy: host(dyShape(c, false), i), filter: host(c.filter, i + 1) },
            attrs,
            label(c),
          );
        }
      } finally {
        setConv2DBackpropInputStrategy('winograd');
      }
    });
  }

  it('DepthwiseConv2dNativeBackpropFilter and DepthwiseConv2dNativeBackpropInput', async () => {
    for (const [i, c] of CASES.entries()) {
      const filter: Shape4 = [c.filter[0], c.filter[1], c.x[3], Math.max(1, c.filter[3] % 3)];
      const d = { ...c, filter };
      const attrs = { strides: c.strides, pad: c.pad, dilations: 1 };
      const dy = host(dyShape(d, true), i);
      await compare(
        tf.DepthwiseConv2dNativeBackpropFilter,
        { x: host(c.x, i + 1), dy },
        { ...attrs, filterShape: filter },
        label(d),
      );
      await compare(
        tf.DepthwiseConv2dNativeBackpropInput,
        { dy, filter: host(filter, i + 2) },
        { ...attrs, inputShape: c.x },
        label(d),
      );
    }
  });
});
