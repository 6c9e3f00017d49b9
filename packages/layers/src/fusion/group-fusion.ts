/**
 * GroupFusion — NDDR feature fusion across the G group branches of Learnable Groups (Eq. 9; Gao et
 * al.'s Neural Discriminative Dimensionality Reduction): every group's output is a learned linear
 * mix (a 1×1 convolution) of the features of all groups.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayerArgs } from '@tensorflow/tfjs-layers/dist/engine/topology';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';
import { checkBoolean, checkFloat32, describeCompact, PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { checkElements, checkLayerArgs, checkSize, checkTensor, type OwnArgsKeys } from '../util/checks';
import { PhalanxLayer, shapeList, tensorList, tensorShapes } from '../util/phalanx-layer';
import { registerTorchConverter } from '../io/torch-converters';
import {
  resolveInitializer,
  serializeInitializer,
  type Initializer,
  type InitializerSpec,
  type SerializedInitializer,
} from '../util/initializers';

const NAME = 'GroupFusion';

/**
 * Defaults of {@link NddrKernelArgs}: the official `nddr_layer`'s α = 0.9 (own group) and β = 0.1 (the other
 * groups together). The single place these values are written; {@link GroupFusion} uses them too.
 */
export const NDDR_KERNEL_DEFAULTS = Object.freeze({
  /** {@link NddrKernelArgs.selfWeight} */
  selfWeight: 0.9,
  /** {@link NddrKernelArgs.otherWeight} */
  otherWeight: 0.1,
} as const);

/**
 * The default of every optional argument of {@link GroupFusionArgs}: α and β from
 * {@link NDDR_KERNEL_DEFAULTS}; `units` and `kernelInitializer` `null` (U = C, the NDDR initialisation).
 */
export const GROUP_FUSION_DEFAULTS = Object.freeze({
  /** {@link GroupFusionArgs.units} */
  units: null,
  /** {@link GroupFusionArgs.selfWeight} */
  selfWeight: NDDR_KERNEL_DEFAULTS.selfWeight,
  /** {@link GroupFusionArgs.otherWeight} */
  otherWeight: NDDR_KERNEL_DEFAULTS.otherWeight,
  /** {@link GroupFusionArgs.useBias} */
  useBias: true,
  /** {@link GroupFusionArgs.kernelInitializer} */
  kernelInitializer: null,
} as const);

/** Arguments of {@link nddrKernel}; defaults in {@link NDDR_KERNEL_DEFAULTS}. */
export interface NddrKernelArgs {
  /** Number of groups G (integer ≥ 2). Required. */
  numGroups: number;
  /** α, the weight of a group's own features (finite in float32). */
  selfWeight?: number;
  /** β, the total weight of the other groups' features, split evenly among them (finite in float32). */
  otherWeight?: number;
}

/**
 * The keys of {@link NddrKernelArgs}: the constructor accepts these, `getConfig()` writes them (an initializer
 * takes no `LayerArgs`).
 */
const NDDR_KERNEL_ARGS_KEYS = {
  numGroups: true,
  selfWeight: true,
  otherWeight: true,
} satisfies OwnArgsKeys<NddrKernelArgs>;

/**
 * The NDDR kernel initializer of the official `nddr_layer`: for a kernel `[G·C, G·C]` (rows: input
 * channels of the concatenated groups, columns: output channels), the block of input group j and
 * output group i is `α·I` when i = j and `β/(G−1)·I` otherwise, so that initially
 * `y_i = α·x_i + β/(G−1)·Σ_{j≠i} x_j`. It needs as many output as input channels per group.
 */
export class NddrKernel extends tf.serialization.Serializable {
  /** Name under which the class is registered for serialisation. */
  static className = 'NddrKernel';
  /** Number of groups G (≥ 2); the kernel is a G × G grid of C × C blocks. */
  readonly numGroups: number;
  /** α: the diagonal of a group's own block. */
  readonly selfWeight: number;
  /** β: spread as β/(G−1) over the diagonals of the other groups' blocks. */
  readonly otherWeight: number;

  constructor(args: NddrKernelArgs) {
    super();
    checkLayerArgs('NddrKernel', args, NDDR_KERNEL_ARGS_KEYS, {});
    this.numGroups = checkSize('NddrKernel', 'numGroups', args.numGroups, 2);
    this.selfWeight = checkFloat32('NddrKernel', 'selfWeight', args.selfWeight ?? NDDR_KERNEL_DEFAULTS.selfWeight);
    this.otherWeight = checkFloat32('NddrKernel', 'otherWeight', args.otherWeight ?? NDDR_KERNEL_DEFAULTS.otherWeight);
  }

  /** Initializers built in code never need custom objects to be deserialised. */
  fromConfigUsesCustomObjects(): boolean {
    return false;
  }

  /**
   * Builds the initial kernel `[G·C, G·C]` for `shape = [G·C, G·C]` (square, divisible by G); throws a
   * `PhalanxConfigError` for any other shape.
   */
  apply(shape: number[], dtype: tf.DataType = 'float32'): tf.Tensor {
    const g = this.numGroups;
    if (shape.length !== 2 || shape[0] !== shape[1] || shape[0] % g !== 0) {
      throw new PhalanxConfigError(
        'NddrKernel',
        'shape',
        `a square kernel [G·C, G·C] with G = ${g} (units equal to the input channels)`,
        shape,
      );
    }
    const c = shape[0] / g;
    const other = this.otherWeight / (g - 1);
    const data = new Float32Array(shape[0] * shape[1]);
    for (let row = 0; row < shape[0]; row++) {
      for (let group = 0; group < g; group++) {
        const col = group * c + (row % c);
        data[row * shape[1] + col] = Math.floor(row / c) === group ? this.selfWeight : other;
      }
    }
    return tf.tensor2d(data, [shape[0], shape[1]], dtype);
  }

  getConfig(): tf.serialization.ConfigDict {
    return { numGroups: this.numGroups, selfWeight: this.selfWeight, otherWeight: this.otherWeight };
  }
}
tf.serialization.registerClass(NddrKernel);

/**
 * Creates the {@link NddrKernel} initializer, usable as `kernelInitializer` of any layer.
 *
 * @example
 * groupFusion({ numGroups: 3, kernelInitializer: nddrKernel({ numGroups: 3, selfWeight: 0.8, otherWeight: 0.2 }) });
 */
export function nddrKernel(args: NddrKernelArgs): Initializer {
  return new NddrKernel(args) as unknown as Initializer;
}

function describeShapes(xs: readonly (readonly (number | null)[])[]): (number | string)[][] {
  return xs.map((s) => s.map((d) => (d === null ? 'null' : d)));
}

/** Checks a list of G feature maps [B, H, W, C] of equal shape; returns the common shape. */
function checkGroupShapes(
  component: string,
  shapes: readonly (readonly (number | null)[])[],
  numGroups: number | null,
): (number | null)[] {
  if (shapes.length === 0 || (numGroups !== null && shapes.length !== numGroups)) {
    const count = numGroups === null ? 'a non-empty list of' : `a list of ${numGroups}`;
    throw new PhalanxShapeError(component, 'inputs', `${count} tensors [B, H, W, C]`, describeShapes(shapes));
  }
  const first = shapes[0];
  if (first.length !== 4 || shapes.some((s) => s.length !== 4)) {
    throw new PhalanxShapeError(component, 'inputs', 'rank-4 tensors [B, H, W, C]', describeShapes(shapes));
  }
  if (shapes.some((s) => s.some((d, k) => d !== first[k]))) {
    throw new PhalanxShapeError(component, 'inputs', 'tensors of equal shape', describeShapes(shapes));
  }
  if (first[3] === null) {
    throw new PhalanxShapeError(component, 'inputs', 'tensors with a known channel count', describeShapes(shapes));
  }
  return [...first];
}

/**
 * NDDR fusion of G feature maps (Learnable Groups Eq. 9): with `X = concat(x_1, …, x_G)` on the
 * channel axis, `Y = X · kernel + bias` — one matmul for all groups, a 1×1 convolution — and
 * `y_i = Y[…, i·U : (i+1)·U]`.
 *
 * **Shapes**: `xs` G tensors `[B, H, W, C]`, `kernel [G·C, G·U]`, `bias [G·U]` or `null` → G tensors
 * `[B, H, W, U]`.
 *
 * @example
 * const [a, b, c] = [0, 1, 2].map(() => tf.randomNormal([8, 64, 64, 32]));
 * const kernel = tf.eye(96);
 * const bias = tf.zeros([96]);
 * const ys = fuseGroups([a, b, c], kernel, bias); // three [8, 64, 64, 32]: here a, b, c again
 */
export function fuseGroups(xs: tf.Tensor[], kernel: tf.Tensor, bias: tf.Tensor | null = null): tf.Tensor4D[] {
  const component = 'fuseGroups';
  if (!Array.isArray(xs))
    throw new PhalanxShapeError(component, 'xs', 'an array of tensors [B, H, W, C]', xs, describeCompact);
  xs.forEach((x, i) => checkTensor(component, `xs[${i}]`, x));
  checkTensor(component, 'kernel', kernel);
  if (bias !== null) checkTensor(component, 'bias', bias);
  const groups = xs.length;
  const [b, h, w, c] = checkGroupShapes(
    component,
    xs.map((x) => x.shape),
    null,
  ) as number[];
  const [rows, outChannels] = kernel.shape as number[];
  if (kernel.rank !== 2 || rows !== groups * c || outChannels % groups !== 0) {
    throw new PhalanxShapeError(component, 'kernel', `of shape [${groups * c}, G·U] (G = ${groups})`, kernel.shape);
  }
  if (bias !== null && (bias.rank !== 1 || bias.shape[0] !== outChannels)) {
    throw new PhalanxShapeError(component, 'bias', `of shape [${outChannels}]`, bias.shape);
  }
  const n = b * h * w;
  const units = outChannels / groups;
  return tf.tidy(() => {
    // X = concat(x_1..x_G) on channels, built as stack → transpose (and Y split the same way back):
    // slicing the innermost axis (concat's gradient, split) is several times slower on the cpu backend.
    const stacked = tf.reshape(tf.stack(xs), [groups, n, c]);
    const x = tf.reshape(tf.transpose(stacked, [1, 0, 2]), [n, groups * c]);
    let y = tf.matMul(x, kernel);
    if (bias !== null) y = tf.add(y, bias);
    // One group is Y itself: tfjs' Unpack gradient cannot take the single gradient of a one-way unstack.
    if (groups === 1) return [tf.reshape(y, [b, h, w, units]) as tf.Tensor4D];
    const perGroup = tf.transpose(tf.reshape(y, [n, groups, units]), [1, 0, 2]);
    return tf.unstack(perGroup).map((yi) => tf.reshape(yi, [b, h, w, units])) as tf.Tensor4D[];
  });
}

/**
 * Constructor arguments of {@link GroupFusion}. Optional fields default to {@link GROUP_FUSION_DEFAULTS};
 * sizes are at most {@link MAX_SIZE}.
 */
export interface GroupFusionArgs extends LayerArgs {
  /** Number of groups G (integer ≥ 2): the layer takes and returns G tensors. Required. */
  numGroups: number;
  /** Output channels U per group (integer ≥ 1); `null`: the input channels C. */
  units?: number | null;
  /** α, the initial weight of a group's own features (finite in float32). */
  selfWeight?: number;
  /** β, the initial total weight of the other groups' features (finite in float32). */
  otherWeight?: number;
  /** Add a bias `[G·U]` (initially 0). */
  useBias?: boolean;
  /**
   * Kernel initializer: an identifier (`'glorotUniform'`), an initializer object or a serialised
   * `{className, config}`; `null`: the NDDR initialisation (`α·I` diagonal blocks, `β/(G−1)·I`
   * off-diagonal, see {@link NddrKernel}) when U = C, Glorot uniform otherwise.
   */
  kernelInitializer?: InitializerSpec | null;
}

/**
 * The keys of {@link GroupFusionArgs} beyond tfjs's `LayerArgs`: the constructor accepts these, `getConfig()`
 * writes them.
 */
const ARGS_KEYS = {
  numGroups: true,
  units: true,
  selfWeight: true,
  otherWeight: true,
  useBias: true,
  kernelInitializer: true,
} satisfies OwnArgsKeys<GroupFusionArgs>;

/**
 * NDDR feature fusion across groups (Learnable Groups Eq. 9). With `X = concat(x_1, …, x_G)` on the
 * channel axis:
 *
 * `Y = X · kernel + bias`,  `y_i = Y[…, i·U : (i+1)·U]`
 *
 * — a 1×1 convolution per group computed as one matmul. The initial kernel (U = C) is the official
 * `nddr_layer` one: the block of input group j and output group i is `α·I` if i = j else
 * `β/(G−1)·I`, so at the start `y_i = α·x_i + β/(G−1)·Σ_{j≠i} x_j`. The NDDR block of
 * `@phalanx/blocks` follows it with batch norm and ReLU per group.
 *
 * Weights (in this order): `kernel [G·C, G·U]`, `bias [G·U]` (when `useBias`).
 *
 * **Shapes**: input G tensors `[B, H, W, C]` (equal shapes) → output G tensors `[B, H, W, U]`.
 *
 * @example
 * const fusion = groupFusion({ numGroups: 3 });
 * const [a, b, c] = [0, 1, 2].map(() => tf.randomNormal([2, 16, 16, 32]));
 * const ys = fusion.apply([a, b, c]) as tf.Tensor[]; // three [2, 16, 16, 32] tensors
 */
export class GroupFusion extends PhalanxLayer<GroupFusionArgs> {
  /** Name under which the class is registered for serialisation. */
  static className = NAME;

  /** Number of groups G (≥ 2): the layer takes and returns G tensors. */
  readonly numGroups: number;
  /** Output channels U per group; `null` means U = C, the input channel count. */
  readonly units: number | null;
  /** α of the NDDR initialisation (own group); unused when U ≠ C or a `kernelInitializer` is given. */
  readonly selfWeight: number;
  /** β of the NDDR initialisation (shared over the other G−1 groups). */
  readonly otherWeight: number;
  /** Whether the layer has the weight `bias [G·U]`. */
  readonly useBias: boolean;
  /** Initializer of `kernel`; `null`: {@link NddrKernel} when U = C, else Glorot uniform. */
  readonly kernelInitializer: Initializer | null;

  private kernel: tfl.LayerVariable | null = null;
  private bias: tfl.LayerVariable | null = null;

  constructor(args: GroupFusionArgs) {
    super(args, ARGS_KEYS);
    const defaults = GROUP_FUSION_DEFAULTS;
    this.numGroups = checkSize(NAME, 'numGroups', args.numGroups, 2);
    this.units = args.units == null ? defaults.units : checkSize(NAME, 'units', args.units, 1);
    this.selfWeight = checkFloat32(NAME, 'selfWeight', args.selfWeight ?? defaults.selfWeight);
    this.otherWeight = checkFloat32(NAME, 'otherWeight', args.otherWeight ?? defaults.otherWeight);
    this.useBias = checkBoolean(NAME, 'useBias', args.useBias ?? defaults.useBias);
    this.kernelInitializer =
      args.kernelInitializer == null
        ? defaults.kernelInitializer
        : resolveInitializer(NAME, 'kernelInitializer', args.kernelInitializer);
    if (this.units !== null) checkElements(NAME, 'bias [G·U] (numGroups·units)', [this.numGroups, this.units]);
  }

  /** Checks the input shapes (G equal `[B, H, W, C]`) for `build`, `computeOutputShape` and `call`. */
  private checkShapes(shapes: tfl.Shape[]): (number | null)[] {
    return checkGroupShapes(NAME, shapes, this.numGroups);
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const channels = this.checkShapes(shapeList(inputShape))[3] as number;
    const units = this.units ?? channels;
    const g = this.numGroups;
    checkElements(NAME, 'kernel [G·C, G·U]', [g * channels, g * units]);
    let initializer = this.kernelInitializer;
    if (initializer === null) {
      initializer =
        units === channels
          ? nddrKernel({ numGroups: g, selfWeight: this.selfWeight, otherWeight: this.otherWeight })
          : tfl.initializers.glorotUniform({});
    }
    this.kernel = this.addWeight('kernel', [g * channels, g * units], 'float32', initializer, undefined, true);
    if (this.useBias) {
      this.bias = this.addWeight('bias', [g * units], 'float32', tfl.initializers.zeros(), undefined, true);
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape[] {
    const [b, h, w, c] = this.checkShapes(shapeList(inputShape));
    const units = this.units ?? c;
    return Array.from({ length: this.numGroups }, () => [b, h, w, units]);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor[] {
    return tf.tidy(() => {
      this.checkShapes(tensorShapes(inputs));
      return fuseGroups(tensorList(inputs), this.kernel!.read(), this.bias === null ? null : this.bias.read());
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    const kernelInitializer: SerializedInitializer | null =
      this.kernelInitializer === null ? null : serializeInitializer(this.kernelInitializer);
    return {
      numGroups: this.numGroups,
      units: this.units,
      selfWeight: this.selfWeight,
      otherWeight: this.otherWeight,
      useBias: this.useBias,
      kernelInitializer: kernelInitializer as unknown as tf.serialization.ConfigDictValue,
      ...super.getConfig(),
    };
  }
}
tf.serialization.registerClass(GroupFusion);
registerTorchConverter(GroupFusion, {
  // The official nddr_layer named P holds one Conv2d(G·C, U, 1) per group i:
  // `P.Conv_Task_List.i.0.weight [U, G·C, 1, 1]` is the transpose of kernel columns i·U … (i+1)·U.
  params: (layer) => {
    const [gc, gu] = layer.weights[0].shape as number[];
    const g = (layer as GroupFusion).numGroups;
    const bias = layer.weights.length > 1;
    return Array.from({ length: g }, (_, i) => [
      { name: `Conv_Task_List.${i}.0.weight`, shape: [gu / g, gc, 1, 1], tfjs: layer.weights[0].originalName },
      ...(bias ? [{ name: `Conv_Task_List.${i}.0.bias`, shape: [gu / g], tfjs: layer.weights[1].originalName }] : []),
    ]).flat();
  },
  toLayer: (layer, tensors) => {
    const [gc, gu] = layer.weights[0].shape as number[];
    const g = (layer as GroupFusion).numGroups;
    const stride = layer.weights.length > 1 ? 2 : 1;
    const part = (offset: number) => Array.from({ length: g }, (_, i) => tensors[i * stride + offset]);
    const whole = (ts: (tf.Tensor | undefined)[]): ts is tf.Tensor[] => ts.every((t) => t !== undefined);
    const ws = part(0);
    const kernel = whole(ws)
      ? tf.concat(
          ws.map((w) => tf.transpose(tf.reshape(w, [gu / g, gc]))),
          1,
        )
      : null;
    if (stride === 1) return [kernel];
    const bs = part(1);
    return [kernel, whole(bs) ? tf.concat(bs, 0) : null];
  },
  toTorch: (layer) => {
    const [gc, gu] = layer.weights[0].shape as number[];
    const u = gu / (layer as GroupFusion).numGroups;
    const [kernel, bias] = layer.weights.map((w) => w.read());
    return Array.from({ length: gu / u }, (_, i) => [
      tf.reshape(tf.transpose(tf.slice(kernel, [0, i * u], [gc, u])), [u, gc, 1, 1]),
      ...(bias ? [tf.slice(bias, [i * u], [u])] : []),
    ]).flat();
  },
});

/**
 * Creates a {@link GroupFusion} layer, like `tf.layers.dense`.
 *
 * @example
 * const fusion = groupFusion({ numGroups: 3, units: 64 });
 */
export function groupFusion(args: GroupFusionArgs): GroupFusion {
  return new GroupFusion(args);
}
