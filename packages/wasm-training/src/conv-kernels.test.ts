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

const TOL = { rtol: 1e-4, atol: 1e-4 };

interface ConvCase {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number | [number, number];
  pad: ConvPad;
  dilations?: number | [number, number];
}

const PADS: ConvPad[] = [
  'same',
  'valid',
  1,
  [
    [0, 0],
    [2, 0],
    [1, 3],
    [0, 0],
  ],
];

function label(c: ConvCase, extra = ''): string {
  return `x ${c.x} f ${c.filter} s ${c.strides} d ${c.dilations ?? 1} pad ${JSON.stringify(c.pad)}${extra}`;
}

function dyShape(c: ConvCase, depthwise: boolean): number[] {
  const g = convGeometry(c.x, c.filter, c.strides, c.dilations ?? 1, c.pad, undefined, depthwise);
  const outC = depthwise ? c.filter[2] * c.filter[3] : c.filter[3];
  return [g.batch, g.outHeight, g.outWidth, outC];
}

async function compare(name: string, inputs: Record<string, HostTensor>, attrs: Record<string, unknown>, what: string) {
  const expected = await runKernelOn('cpu', name, inputs, attrs);
  const actual = await runKernelOn('wasm', name, inputs, attrs);
  expectClose(actual.data, expected.data, TOL, `${name} ${what}`);
  if (actual.shape.join() !== expected.shape.join())
    throw new Error(`${name} ${what}: shape ${actual.shape} vs ${expected.shape}`);
}

const CONV_CASES: ConvCase[] = [];
for (const [x, filter] of [
  [
    [2, 7, 6, 3],
    [3, 3, 3, 4],
  ],
  [
    [1, 8, 9, 2],
    [1, 1, 2, 3],
  ],
  [
    [3, 9, 7, 4],
    [2, 3, 4, 5],
  ],
  [
    [1, 5, 5, 2],
    [5, 4, 2, 2],
  ],
  // 3×3 with channels in multiples of 4 and odd sizes (the Winograd tiles run past the edges).
  [
    [2, 7, 6, 4],
    [3, 3, 4, 8],
  ],
  [
    [1, 9, 10, 8],
    [3, 3, 8, 4],
  ],
  // 3×3 with channel counts that are not multiples of 4 (Winograd on zero-padded channels: the filter
  // gradient from 16 channels, the input gradient from 32).
  [
    [1, 6, 5, 17],
    [3, 3, 17, 18],
  ],
  [
    [2, 5, 6, 16],
    [3, 3, 16, 21],
  ],
  [
    [1, 4, 5, 33],
    [3, 3, 33, 8],
  ],
  // Pointwise with a batch (the 1×1 matmul path at stride 1, no padding).
  [
    [3, 5, 4, 6],
    [1, 1, 6, 5],
  ],
] as Array<[ConvCase['x'], ConvCase['filter']]>) {
  for (const strides of [1, 2, 3, [1, 2]] as Array<ConvCase['strides']>) {
    for (const pad of PADS) CONV_CASES.push({ x, filter, strides, pad });
  }
}

beforeAll(async () => {
  tf.env().set('IS_TEST', true); // the engine then checks every kernel for leaked backend buffers
  registerWasmTrainingKernels();
  await tf.setBackend('wasm');
});

describe('Conv2DBackpropFilter on wasm equals cpu', () => {
  for (const strategy of ['im2col', 'swapped-conv', 'shifted-gemm', 'winograd'] as FilterGradStrategy[]) {
    it(`over the shape × stride × padding grid (${strategy})`, async () => {
      setConv2DBackpropFilterStrategy(strategy);
      try {
        for (const [i, c] of CONV_CASES.entries()) {
          const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', filterShape: c.filter };
          await compare(
            tf.Conv2DBackpropFilter,
            { x: host(c.x, i), dy: host(dyShape(c, false), i + 100) },
            attrs,
            label(c),
          );
        }
      } finally {
        setConv2DBackpropFilterStrategy('winograd');
      }
    });
  }

  it('is zero where every tap of a strided filter falls on padding (the input cropped to nothing)', async () => {
    // Strides > 1 run the swapped convolution, whose input is cropped to the rows and columns the taps
    // reach: here none, and XNNPACK refused the empty input, leaving the output buffer uninitialised.
    const cases: ConvCase[] = [
      { x: [1, 1, 1, 16], filter: [1, 3, 16, 16], strides: [3, 1], pad: 1 },
      {
        x: [1, 6, 1, 5],
        filter: [2, 1, 5, 4],
        strides: 2,
        pad: [
          [0, 0],
          [0, 1],
          [1, 0],
          [0, 0],
        ],
      },
      { x: [2, 1, 5, 4], filter: [1, 1, 4, 17], strides: [3, 1], pad: 1 },
    ];
    for (const strategy of ['im2col', 'swapped-conv', 'shifted-gemm', 'winograd'] as FilterGradStrategy[]) {
      setConv2DBackpropFilterStrategy(strategy);
      try {
        for (const [i, c] of cases.entries()) {
          const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', filterShape: c.filter };
          const inputs = { x: host(c.x, i), dy: host(dyShape(c, false), i + 1) };
          await compare(tf.Conv2DBackpropFilter, inputs, attrs, `${label(c)} (${strategy})`);
        }
      } finally {
        setConv2DBackpropFilterStrategy('winograd');
      }
    }
  });

  it('accepts NCHW by transposing', async () => {
    const c: ConvCase = { x: [2, 6, 5, 3], filter: [3, 2, 3, 4], strides: [2, 1], pad: 'same' };
    const dy = dyShape(c, false);
    const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NCHW', filterShape: c.filter };
    const xNchw = [c.x[0], c.x[3], c.x[1], c.x[2]];
    const dyNchw = [dy[0], dy[3], dy[1], dy[2]];
    await compare(tf.Conv2DBackpropFilter, { x: host(xNchw, 1), dy: host(dyNchw, 2) }, attrs, 'NCHW');
  });

  it('rounds numeric padding with dimRoundingMode', async () => {
    const c: ConvCase = { x: [1, 8, 8, 2], filter: [3, 3, 2, 2], strides: 2, pad: 0 };
    for (const dimRoundingMode of ['floor', 'ceil', 'round'] as const) {
      const g = convGeometry(c.x, c.filter, c.strides, 1, c.pad, dimRoundingMode, false);
      const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', dimRoundingMode, filterShape: c.filter };
      await compare(
        tf.Conv2DBackpropFilter,
        { x: host(c.x, 3), dy: host([1, g.outHeight, g.outWidth, 2], 4) },
        attrs,
        dimRoundingMode,
      );
    }
  });
});

describe('Conv2DBackpropInput on wasm equals cpu', () => {
  for (const strategy of ['convolution', 'winograd'] as InputGradStrategy[]) {
    it(`over the shape × stride × padding grid (${strategy})`, async () => {
      setConv2DBackpropInputStrategy(strategy);
      try {
        for (const [i, c] of CONV_CASES.entries()) {
          const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x };
          await compare(
            tf.Conv2DBackpropInput,
            { dy: host(dyShape(c, false), i), filter: host(c.filter, i + 7) },
            attrs,
            label(c),
          );
        }
      } finally {
        setConv2DBackpropInputStrategy('winograd');
      }
    });
  }
});

const DW_CASES: ConvCase[] = [];
for (const [x, filter] of [
  [
    [2, 7, 6, 3],
    [3, 3, 3, 1],
  ],
  [
    [1, 8, 9, 2],
    [3, 2, 2, 3],
  ],
  [
    [2, 6, 7, 4],
    [2, 2, 4, 2],
  ],
] as Array<[ConvCase['x'], ConvCase['filter']]>) {
  for (const [strides, dilations] of [
    [1, 1],
    [2, 1],
    [[1, 3], 1],
    [1, 2],
    [1, [2, 1]],
  ] as Array<[ConvCase['strides'], ConvCase['dilations']]>) {
    for (const pad of PADS) DW_CASES.push({ x, filter, strides, dilations, pad });
  }
}

function isOne(v: number | [number, number] | undefined): boolean {
  return v == null || (typeof v === 'number' ? v === 1 : v[0] === 1 && v[1] === 1);
}

/**
 * Adjoint check for the dilated cases, where the cpu backend's depthwise backprop kernels ignore
 * the dilation (tfjs never calls them with one): for random U, V,
 * ⟨dx, U⟩ = Σ dy ⊙ dwconv(U, W) and ⟨dW, V⟩ = Σ dy ⊙ dwconv(x, V), with the forward on cpu.
 */
async function adjointCheck(c: ConvCase, seed: number): Promise<void> {
  const dyH = host(dyShape(c, true), seed);
  const xH = host(c.x, seed + 1);
  const wH = host(c.filter, seed + 2);
  const fwdAttrs = { strides: c.strides, dilations: c.dilations, pad: c.pad };
  const dW = await runKernelOn(
    'wasm',
    tf.DepthwiseConv2dNativeBackpropFilter,
    { x: xH, dy: dyH },
    { ...fwdAttrs, filterShape: c.filter },
  );
  const dx = await runKernelOn(
    'wasm',
    tf.DepthwiseConv2dNativeBackpropInput,
    { dy: dyH, filter: wH },
    { ...fwdAttrs, inputShape: c.x },
  );
  for (let k = 0; k < 2; k++) {
    const u = host(c.x, seed + 10 + k);
    const v = host(c.filter, seed + 20 + k);
    const yU = await runKernelOn('cpu', tf.DepthwiseConv2dNative, { x: u, filter: wH }, fwdAttrs);
    const yV = await runKernelOn('cpu', tf.DepthwiseConv2dNative, { x: xH, filter: v }, fwdAttrs);
    const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
      let s = 0;
      for (let i = 0; i < a.length; i++) s += a[i] * b[i];
      return s;
    };
    expectClose(dot(dx.data, u.data), dot(dyH.data, yU.data), TOL, `⟨dx, U⟩ ${label(c)}`);
    expectClose(dot(dW.data, v.data), dot(dyH.data, yV.data), TOL, `⟨dW, V⟩ ${label(c)}`);
  }
}

describe('depthwise gradients on wasm equal cpu (channel multiplier 1–3, strides, dilations)', () => {
  it('DepthwiseConv2dNativeBackpropFilter', async () => {
    for (const [i, c] of DW_CASES.entries()) {
      if (!isOne(c.dilations)) continue;
      const attrs = { strides: c.strides, dilations: c.dilations, pad: c.pad, filterShape: c.filter };
      await compare(
        tf.DepthwiseConv2dNativeBackpropFilter,
        { x: host(c.x, i), dy: host(dyShape(c, true), i + 50) },
        attrs,
        label(c),
      );
    }
  });

  it('DepthwiseConv2dNativeBackpropInput', async () => {
    for (const [i, c] of DW_CASES.entries()) {
      if (!isOne(c.dilations)) continue;
      const attrs = { strides: c.strides, dilations: c.dilations, pad: c.pad, inputShape: c.x };
      await compare(
        tf.DepthwiseConv2dNativeBackpropInput,
        { dy: host(dyShape(c, true), i), filter: host(c.filter, i + 9) },
        attrs,
        label(c),
      );
    }
  });

  it('both, with dilations, satisfy the adjoint identity of the cpu forward', async () => {
    for (const [i, c] of DW_CASES.entries()) if (!isOne(c.dilations)) await adjointCheck(c, i);
  });
});

describe('numeric padding of non-square filters (tfjs sizes both output axes from the filter height)', () => {
  // computeConv2DInfo sizes the output width of a numeric padding from the filter's height and the
  // height's stride: the taps of these geometries end before (or start after) the input's columns, and the
  // kernels' crops reached past the input (a slice of negative size, taken as "to the end").
  const cases: ConvCase[] = [
    { x: [1, 2, 1, 17], filter: [4, 1, 17, 5], strides: [3, 2], pad: 2 },
    { x: [2, 5, 2, 3], filter: [5, 1, 3, 16], strides: 2, pad: 2 },
    { x: [1, 3, 1, 16], filter: [5, 2, 16, 2], strides: [3, 1], pad: 2 },
    { x: [2, 2, 6, 16], filter: [4, 1, 16, 4], strides: [3, 1], pad: 3 },
    { x: [1, 2, 4, 4], filter: [4, 1, 4, 1], strides: [3, 1], pad: 4 },
    { x: [1, 5, 2, 1], filter: [5, 1, 1, 4], strides: [2, 1], pad: 2 },
  ];

  for (const strategy of ['im2col', 'swapped-conv', 'shifted-gemm', 'winograd'] as FilterGradStrategy[]) {
    it(`Conv2DBackpropFilter and Conv2DBackpropInput equal cpu (${strategy})`, async () => {
      setConv2DBackpropFilterStrategy(strategy);
      setConv2DBackpropInputStrategy(strategy === 'winograd' ? 'winograd' : 'convolution');
      try {
        for (const [i, c] of cases.entries()) {
          const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC' };
          const dy = host(dyShape(c, false), i + 1);
          const filterAttrs = { ...attrs, filterShape: c.filter };
          await compare(tf.Conv2DBackpropFilter, { x: host(c.x, i), dy }, filterAttrs, label(c));
          const inputAttrs = { ...attrs, inputShape: c.x };
          await compare(tf.Conv2DBackpropInput, { dy, filter: host(c.filter, i + 2) }, inputAttrs, label(c));
        }
      } finally {
        setConv2DBackpropFilterStrategy('winograd');
        setConv2DBackpropInputStrategy('winograd');
      }
    });
  }

  it('DepthwiseConv2dNativeBackpropFilter and DepthwiseConv2dNativeBackpropInput equal cpu', async () => {
    for (const [i, c] of cases.entries()) {
      const d: ConvCase = { ...c, filter: [c.filter[0], c.filter[1], c.x[3], 2], dilations: 1 };
      const attrs = { strides: d.strides, pad: d.pad, dilations: 1 };
      const dy = host(dyShape(d, true), i + 1);
      await compare(
        tf.DepthwiseConv2dNativeBackpropFilter,
        { x: host(d.x, i), dy },
        { ...attrs, filterShape: d.filter },
        label(d),
      );
      await compare(
        tf.DepthwiseConv2dNativeBackpropInput,
        { dy, filter: host(d.filter, i + 2) },
        { ...attrs, inputShape: d.x },
        label(d),
      );
    }
  });
});

/** `h` with its values scaled to small integers, as int32. */
function int32(h: HostTensor): HostTensor {
  return { shape: h.shape, data: Int32Array.from(h.data, (v) => Math.round(v * 4)), dtype: 'int32' };
}

describe('int32 operands are computed as float32, as on cpu', () => {
  const c: ConvCase = { x: [2, 5, 6, 4], filter: [3, 3, 4, 8], strides: 1, pad: 'same' };
  const strided: ConvCase = { x: [1, 7, 6, 3], filter: [2, 3, 3, 5], strides: 2, pad: 'valid' };
  const dw: ConvCase = { x: [1, 6, 5, 3], filter: [3, 3, 3, 2], strides: 1, pad: 'same', dilations: 1 };

  it('Conv2DBackpropFilter and Conv2DBackpropInput', async () => {
    for (const k of [c, strided]) {
      const x = int32(host(k.x, 1));
      const dy = int32(host(dyShape(k, false), 2));
      const filter = int32(host(k.filter, 3));
      const attrs = { strides: k.strides, pad: k.pad, dataFormat: 'NHWC' };
      await compare(tf.Conv2DBackpropFilter, { x, dy }, { ...attrs, filterShape: k.filter }, label(k));
      await compare(tf.Conv2DBackpropInput, { dy, filter }, { ...attrs, inputShape: k.x }, label(k));
    }
  });

  it('DepthwiseConv2dNativeBackpropFilter and DepthwiseConv2dNativeBackpropInput', async () => {
    const x = int32(host(dw.x, 1));
    const dy = int32(host(dyShape(dw, true), 2));
    const filter = int32(host(dw.filter, 3));
    const attrs = { strides: dw.strides, pad: dw.pad, dilations: 1 };
    await compare(tf.DepthwiseConv2dNativeBackpropFilter, { x, dy }, { ...attrs, filterShape: dw.filter }, label(dw));
    await compare(tf.DepthwiseConv2dNativeBackpropInput, { dy, filter }, { ...attrs, inputShape: dw.x }, label(dw));
  });
});
