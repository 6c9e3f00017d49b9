/**
 * The work `bench/src/threads.ts` times on 1 and N wasm threads: the conv and matMul of the PyTorch
 * comparison, each custom layer's forward+backward (the layer bench's cases), Learnable Groups inference at
 * the paper's size (as built, and with its batch norms folded), and a Learnable Groups training step at the
 * demo's size fed by prefetched data.
 */
import * as tf from '@tensorflow/tfjs-core';
import { foldBatchNorm } from '@phalanx/blocks';
import { createLearnableGroups } from '@phalanx/learnable-groups';
import { Trainer } from '@phalanx/train';
import { disableWinogradConvolution, enableWinogradConvolution } from '../../packages/wasm-training/src/index';
import { disposeBatch, type HandBatch } from '../../packages/data/src/index';
import { prefetchBatches } from '../../packages/data/src/prefetch/index';
import { cases as dualBranchFusion } from './cases/dual-branch-fusion';
import { cases as dynamicEdgeGat } from './cases/dynamic-edge-gat';
import { cases as groupFusion } from './cases/group-fusion';
import { cases as jointFeatureSampler } from './cases/joint-feature-sampler';
import { cases as multiHeadAttention } from './cases/multi-head-attention';
import type { LayerBenchCase } from './types';

/** A prepared case: one timed run, the clean-up, and optional extra figures read after the runs. */
export interface PreparedCase {
  run(): Promise<void>;
  dispose(): Promise<void> | void;
  extra?(): Record<string, number>;
}

/** One line of the threads table. */
export interface ThreadCase {
  /** Name as in the table (and in the PyTorch scripts' output). */
  name: string;
  /** Timed runs after one warm-up. Default 3. */
  runs?: number;
  prepare(): Promise<PreparedCase>;
}

const finish = async (ts: tf.Tensor[]) => {
  await Promise.all(ts.map((t) => t.data()));
  tf.dispose(ts);
};

function convCases(): ThreadCase[] {
  const make = () => ({
    x: tf.randomNormal([8, 64, 64, 64], 0, 1, 'float32', 1) as tf.Tensor4D,
    w: tf.randomNormal([3, 3, 64, 64], 0, 0.05, 'float32', 2) as tf.Tensor4D,
  });
  const conv = (x: tf.Tensor, w: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same');
  return [
    {
      name: 'conv forward',
      prepare: async () => {
        const { x, w } = make();
        return { run: () => finish([conv(x, w)]), dispose: () => tf.dispose([x, w]) };
      },
    },
    {
      name: 'conv step',
      prepare: async () => {
        const { x, w } = make();
        const grads = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(conv(a, b)));
        return { run: () => finish(grads([x, w])), dispose: () => tf.dispose([x, w]) };
      },
    },
    {
      name: 'matMul 1024²',
      prepare: async () => {
        const a = tf.randomNormal([1024, 1024], 0, 1, 'float32', 3);
        const b = tf.randomNormal([1024, 1024], 0, 1, 'float32', 4);
        return { run: () => finish([tf.matMul(a, b)]), dispose: () => tf.dispose([a, b]) };
      },
    },
  ];
}

/**
 * Single training kernels of @phalanx/wasm-training (whether the pool speeds them up): the two conv
 * gradients alone, a batched (attention-like) product and its gradient, the batch-norm gradient and the
 * bilinear resize gradient.
 */
function kernelCases(): ThreadCase[] {
  const x = () => tf.randomNormal([8, 64, 64, 64], 0, 1, 'float32', 6) as tf.Tensor4D;
  const w = () => tf.randomNormal([3, 3, 64, 64], 0, 0.05, 'float32', 7) as tf.Tensor4D;
  const attrs = { strides: 1, pad: 'same', dataFormat: 'NHWC' };
  const kernel = (name: string, make: () => Record<string, tf.Tensor>, extra: Record<string, unknown>): ThreadCase => ({
    name,
    prepare: async () => {
      const inputs = make();
      return {
        run: () => finish([tf.engine().runKernel(name.split(' ')[0], inputs, extra as tf.NamedAttrMap) as tf.Tensor]),
        dispose: () => tf.dispose(Object.values(inputs)),
      };
    },
  });
  const grads = (name: string, make: () => tf.Tensor[], f: (...xs: tf.Tensor[]) => tf.Tensor): ThreadCase => ({
    name,
    prepare: async () => {
      const inputs = make();
      const g = tf.grads((...xs: tf.Tensor[]) => tf.sum(f(...xs)));
      return { run: () => finish(g(inputs)), dispose: () => tf.dispose(inputs) };
    },
  });
  return [
    kernel('Conv2DBackpropInput 3×3 64→64 B=8 64²', () => ({ dy: x(), filter: w() }), {
      ...attrs,
      inputShape: [8, 64, 64, 64],
    }),
    kernel('Conv2DBackpropFilter 3×3 64→64 B=8 64²', () => ({ x: x(), dy: x() }), {
      ...attrs,
      filterShape: [3, 3, 64, 64],
    }),
    grads(
      'batched matMul [32,256,64]·[32,64,256] fwd+bwd',
      () => [tf.randomNormal([32, 256, 64], 0, 1, 'float32', 8), tf.randomNormal([32, 64, 256], 0, 1, 'float32', 9)],
      (a, b) => tf.matMul(a, b),
    ),
    grads(
      'batch norm [8,64,64,64] fwd+bwd',
      () => [x(), tf.ones([64]), tf.zeros([64])],
      (a, scale, offset) => {
        const { mean, variance } = tf.moments(a, [0, 1, 2]);
        return tf.batchNorm(a, mean, variance, offset, scale, 1e-3);
      },
    ),
    grads(
      'resize bilinear [8,32,32,64] → 64² fwd+bwd',
      () => [tf.randomNormal([8, 32, 32, 64], 0, 1, 'float32', 10)],
      (a) => tf.image.resizeBilinear(a as tf.Tensor4D, [64, 64]),
    ),
  ];
}

/** The layer bench's cases, in the threads table's order. */
export const LAYER_CASES: readonly LayerBenchCase[] = [
  ...groupFusion,
  ...dynamicEdgeGat,
  ...dualBranchFusion,
  ...multiHeadAttention,
  ...jointFeatureSampler,
];

/** Forward+backward of a layer case: gradients of Σ outputs w.r.t. its inputs and weights (as the layer bench). */
export function layerCase(c: LayerBenchCase): ThreadCase {
  return {
    name: `${c.name} fwd+bwd`,
    prepare: async () => {
      const { layer, inputs, kwargs = {} } = c.create();
      const inputVars = inputs.map((x) => tf.variable(x));
      const feed = inputVars.length === 1 ? inputVars[0] : inputVars;
      layer.apply(feed, kwargs); // builds the weights
      const vars = [...inputVars, ...layer.trainableWeights.map((w) => w.read() as tf.Variable)];
      const run = async () => {
        const { value, grads } = tf.variableGrads(() => {
          const out = layer.apply(feed, kwargs) as tf.Tensor | tf.Tensor[];
          return tf.addN((Array.isArray(out) ? out : [out]).map((o) => tf.sum(o))) as tf.Scalar;
        }, vars);
        await finish([value, ...Object.values(grads)]);
      };
      return {
        run,
        dispose: () => {
          tf.dispose([...inputs, ...inputVars]);
          layer.dispose();
        },
      };
    },
  };
}

/** The Learnable Groups network at the paper's size, inference of one image. */
const PAPER = { inputSize: 256, planes: [32, 32] as [number, number], hourglassFeatures: 256 };
/** The training example's default model size (64 px). */
const DEMO = {
  inputSize: 64,
  planes: [16, 16] as [number, number],
  hourglassFeatures: 64,
  stemChannels: [32, 64] as [number, number],
  neckChannels: 64,
};

/** The 256-px network's inference at B=1 on a fixed input, the model built by `build`. */
function inferenceCase(
  name: string,
  build: () => ReturnType<typeof createLearnableGroups>,
  winograd = false,
): ThreadCase {
  return {
    name,
    prepare: async () => {
      if (winograd) enableWinogradConvolution();
      const model = build();
      const x = tf.randomUniform([1, 256, 256, 3], 0, 1, 'float32', 5);
      return {
        run: () => finish(model.predict(x) as tf.Tensor[]),
        dispose: () => {
          x.dispose();
          model.dispose();
          if (winograd) disableWinogradConvolution();
        },
      };
    },
  };
}

/** The start of the inference rows' names (PyTorch's anchor is reported beside each). */
export const LG_INFERENCE = 'Learnable Groups 256 px inference';

/** The network with its batch norms folded, as the estimators of @phalanx/pretrained run it. */
function foldedLearnableGroups() {
  const built = createLearnableGroups({ ...PAPER, seed: 1 });
  const model = foldBatchNorm(built, { standalone: 'affine' });
  built.dispose();
  return model;
}

function learnableGroupsCases(): ThreadCase[] {
  return [
    inferenceCase(`${LG_INFERENCE} (B=1)`, () => createLearnableGroups({ ...PAPER, seed: 1 })),
    // The same network and input with the batch norms after convolutions folded into them (and the ReLUs
    // after those fused as the convolutions' activation), the other batch norms (and their ReLUs) one
    // ChannelAffine each: what the estimators of @phalanx/pretrained run.
    inferenceCase(`${LG_INFERENCE}, batch norms folded (B=1)`, foldedLearnableGroups),
    // The same with the opt-in Winograd forward convolutions (`enableWinogradConvolution`), on only while
    // this case runs.
    inferenceCase(`${LG_INFERENCE}, batch norms folded, Winograd (B=1)`, foldedLearnableGroups, true),
    {
      name: 'Learnable Groups 64 px training step (B=16)',
      runs: 5,
      prepare: async () => {
        const batchSize = 16;
        const model = createLearnableGroups({ ...DEMO, seed: 1 });
        // The example's uv target (heatmap pixels = input / 4) with an L1 loss; depth pulled to 0.
        const trainer = new Trainer<HandBatch>({
          model,
          inputs: (b) => b.images,
          disposeBatch,
          loss: (outputs, b) =>
            tf.tidy(() =>
              tf.add(tf.mean(tf.abs(tf.sub(outputs[0], tf.div(b.uv, 4)))), tf.mean(tf.abs(outputs[1]))),
            ) as tf.Scalar,
          progress: false,
        });
        const stream = prefetchBatches({ seed: 1, size: DEMO.inputSize, batchSize, workers: 1 });
        let steps = 0;
        let stepMs = 0;
        const waits: number[] = [];
        const run = async () => {
          const w0 = performance.now();
          const next = await stream.next();
          waits.push(performance.now() - w0);
          const t0 = performance.now();
          await trainer.trainStep(next.value as HandBatch);
          stepMs += performance.now() - t0;
          disposeBatch(next.value as HandBatch);
          steps += 1;
        };
        return {
          run,
          dispose: async () => {
            await stream.return();
            model.dispose();
          },
          extra: () => ({
            'trained samples/s': (1000 * batchSize * steps) / stepMs,
            'rendered samples/s per data worker': (1000 * stream.stats.samples) / stream.stats.renderMs,
            // The first batch waits for the worker to start; afterwards the trainer should never wait.
            'longest wait for data after the first batch (ms)': Math.max(...waits.slice(1)),
          }),
        };
      },
    },
  ];
}

/** Every case of the threads bench, in table order. */
export function threadCases(): ThreadCase[] {
  return [...convCases(), ...kernelCases(), ...LAYER_CASES.map(layerCase), ...learnableGroupsCases()];
}
