import * as tf from '@tensorflow/tfjs-core';
import '@phalanx/testing';
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels } from './register';

type ErrorClass = typeof PhalanxShapeError | typeof PhalanxConfigError;

interface BadCall {
  what: string;
  kernel: string;
  inputs: Record<string, number[]>;
  attrs: Record<string, unknown>;
  error: ErrorClass;
  message: RegExp;
}

const same = { strides: 1, pad: 'same', dataFormat: 'NHWC' };
const dw = { strides: 1, pad: 'same', dilations: 1 };

/** Operands the convolution gradient kernels cannot use: each must be a named error before any work. */
const BAD_CALLS: BadCall[] = [
  {
    what: 'x has 3 channels, filterShape 4',
    kernel: tf.Conv2DBackpropFilter,
    inputs: { x: [1, 5, 5, 3], dy: [1, 5, 5, 2] },
    attrs: { ...same, filterShape: [3, 3, 4, 2] },
    error: PhalanxShapeError,
    message:
      /Conv2DBackpropFilter: filterShape must be of shape \[kh, kw, 3, …\] \(the channels of x\), but received \[3, 3, 4, 2\]/,
  },
  {
    what: 'NCHW x has 3 channels, filterShape 4',
    kernel: tf.Conv2DBackpropFilter,
    inputs: { x: [1, 3, 5, 5], dy: [1, 2, 5, 5] },
    attrs: { ...same, dataFormat: 'NCHW', filterShape: [3, 3, 4, 2] },
    error: PhalanxShapeError,
    message: /filterShape must be of shape \[kh, kw, 3, …\]/,
  },
  {
    what: 'inputShape has 3 channels, the filter 4',
    kernel: tf.Conv2DBackpropInput,
    inputs: { dy: [1, 5, 5, 2], filter: [3, 3, 4, 2] },
    attrs: { ...same, inputShape: [1, 5, 5, 3] },
    error: PhalanxShapeError,
    message: /Conv2DBackpropInput: filter must be of shape \[kh, kw, 3, …\] \(the channels of inputShape\)/,
  },
  {
    what: 'depthwise x has 3 channels, filterShape 2',
    kernel: tf.DepthwiseConv2dNativeBackpropFilter,
    inputs: { x: [1, 5, 5, 3], dy: [1, 5, 5, 4] },
    attrs: { ...dw, filterShape: [3, 3, 2, 2] },
    error: PhalanxShapeError,
    message: /DepthwiseConv2dNativeBackpropFilter: filterShape must be of shape \[kh, kw, 3, …\]/,
  },
  {
    what: 'depthwise inputShape has 3 channels, the filter 2',
    kernel: tf.DepthwiseConv2dNativeBackpropInput,
    inputs: { dy: [1, 5, 5, 4], filter: [3, 3, 2, 2] },
    attrs: { ...dw, inputShape: [1, 5, 5, 3] },
    error: PhalanxShapeError,
    message: /DepthwiseConv2dNativeBackpropInput: filter must be of shape \[kh, kw, 3, …\]/,
  },
  {
    what: 'x of rank 3',
    kernel: tf.Conv2DBackpropFilter,
    inputs: { x: [5, 5, 3], dy: [5, 5, 2] },
    attrs: { ...same, filterShape: [3, 3, 3, 2] },
    error: PhalanxShapeError,
    message: /Conv2DBackpropFilter: x must be of rank 4, but received \[5, 5, 3\]/,
  },
  {
    what: 'dy of the wrong shape',
    kernel: tf.Conv2DBackpropInput,
    inputs: { dy: [1, 4, 5, 2], filter: [3, 3, 3, 2] },
    attrs: { ...same, inputShape: [1, 5, 5, 3] },
    error: PhalanxShapeError,
    message:
      /Conv2DBackpropInput: dy must be of shape \[1, 5, 5, 2\] \(the forward's output\), but received \[1, 4, 5, 2\]/,
  },
  {
    what: 'strides 0',
    kernel: tf.Conv2DBackpropFilter,
    inputs: { x: [1, 5, 5, 3], dy: [1, 5, 5, 2] },
    attrs: { ...same, strides: 0, filterShape: [3, 3, 3, 2] },
    error: PhalanxConfigError,
    message: /Conv2DBackpropFilter: strides must be a positive integer or a pair of them, but received 0/,
  },
  {
    what: 'fractional strides',
    kernel: tf.Conv2DBackpropInput,
    inputs: { dy: [1, 5, 5, 2], filter: [3, 3, 3, 2] },
    attrs: { ...same, strides: [1, 1.5], inputShape: [1, 5, 5, 3] },
    error: PhalanxConfigError,
    message: /strides must be a positive integer or a pair of them, but received \[1, 1.5\]/,
  },
  {
    what: 'depthwise dilations −1',
    kernel: tf.DepthwiseConv2dNativeBackpropInput,
    inputs: { dy: [1, 5, 5, 4], filter: [3, 3, 2, 2] },
    attrs: { ...dw, dilations: -1, inputShape: [1, 5, 5, 2] },
    error: PhalanxConfigError,
    message: /dilations must be a positive integer or a pair of them, but received -1/,
  },
];

beforeAll(async () => {
  registerWasmTrainingKernels();
  await tf.setBackend('wasm');
});

describe('convolution gradient kernels name operands they cannot use', () => {
  for (const c of BAD_CALLS) {
    it(`${c.kernel}: ${c.what}`, () => {
      const inputs = Object.fromEntries(Object.entries(c.inputs).map(([k, shape]) => [k, tf.ones(shape)]));
      const tensors = tf.memory().numTensors;
      const buffers = tf.backend().numDataIds();
      let caught: unknown;
      try {
        tf.engine().runKernel(c.kernel, inputs, c.attrs as tf.NamedAttrMap);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(c.error);
      expect((caught as Error).message).toMatch(c.message);
      expect(tf.memory().numTensors, 'engine tensors').toBe(tensors);
      expect(tf.backend().numDataIds(), 'backend buffers').toBe(buffers);
      tf.dispose(Object.values(inputs));
    });
  }
});

describe('resize gradient kernels name operands they cannot use', () => {
  const cases: Array<[string, number[], number[], RegExp]> = [
    ['images of rank 3', [2, 2, 1], [4, 4, 1], /images must be of rank 4 \[N, H, W, C\], but received \[2, 2, 1\]/],
    [
      'another batch',
      [1, 2, 2, 1],
      [2, 4, 4, 1],
      /dy must be of shape \[1, H', W', 1\] \(the images' batch and channels\)/,
    ],
    ['other channels', [1, 2, 2, 1], [1, 4, 4, 2], /dy must be of shape \[1, H', W', 1\]/],
    ['dy of rank 3', [1, 2, 2, 1], [4, 4, 1], /dy must be of shape \[1, H', W', 1\]/],
  ];
  for (const kernel of [tf.ResizeBilinearGrad, tf.ResizeNearestNeighborGrad]) {
    for (const [what, images, dy, message] of cases) {
      it(`${kernel}: ${what}`, () => {
        const inputs = { images: tf.ones(images), dy: tf.ones(dy) };
        const tensors = tf.memory().numTensors;
        const buffers = tf.backend().numDataIds();
        let caught: unknown;
        try {
          tf.engine().runKernel(kernel, inputs, { alignCorners: false, halfPixelCenters: false });
        } catch (error) {
          caught = error;
        }
        expect(caught).toBeInstanceOf(PhalanxShapeError);
        expect((caught as Error).message).toMatch(message);
        expect(tf.memory().numTensors, 'engine tensors').toBe(tensors);
        expect(tf.backend().numDataIds(), 'backend buffers').toBe(buffers);
        tf.dispose(Object.values(inputs));
      });
    }
  }
});
