/**
 * MultiHeadAttention — scaled dot-product attention with H heads (Vaswani et al.), numerically the
 * same as `torch.nn.MultiheadAttention(batch_first=True)`.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayerArgs } from '@tensorflow/tfjs-layers/dist/engine/topology';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';
import { registerTorchConverter, type TorchParam } from '../io/torch-converters';
import { checkBoolean, checkInteger, PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { checkArgs, checkElements, checkRate, checkSize, checkWeightShape, type OwnArgsKeys } from '../util/checks';
import {
  nthInitializer,
  resolveInitializer,
  serializeInitializer,
  type Initializer,
  type InitializerSpec,
} from '../util/initializers';
import { NoiseStream, type NoiseStreamState } from '../util/noise-stream';
import { checkInputCount, PhalanxLayer, shapeList, tensorList, tensorShapes } from '../util/phalanx-layer';

const COMPONENT = 'MultiHeadAttention';

/**
 * The default of every optional argument of {@link MultiHeadAttentionArgs}; {@link multiHeadAttentionCore}
 * uses the same `attentionDropout`. The single place these values are written.
 */
export const MULTI_HEAD_ATTENTION_DEFAULTS = Object.freeze({
  /** {@link MultiHeadAttentionArgs.attentionDropout} */
  attentionDropout: 0,
  /** {@link MultiHeadAttentionArgs.returnAttention} */
  returnAttention: false,
  /** {@link MultiHeadAttentionArgs.kernelInitializer} */
  kernelInitializer: 'glorotUniform',
  /** {@link MultiHeadAttentionArgs.dropoutSeed} */
  dropoutSeed: null,
} as const);

/**
 * Weights of {@link multiHeadAttentionCore}, TensorFlow.js layout (`y = x · kernel + bias`). With PyTorch's
 * `in_proj_weight = [W_q; W_k; W_v]` (`[3D, D]`): `queryKernel = W_qᵀ`, `keyKernel = W_kᵀ`,
 * `valueKernel = W_vᵀ`; `outputKernel = out_proj.weightᵀ`.
 */
export interface MultiHeadAttentionWeights {
  /** `[Dq, D]`. */
  queryKernel: tf.Tensor;
  /** `[D]`; omitted or `null`: none. */
  queryBias?: tf.Tensor | null;
  /** `[Dk, D]`. */
  keyKernel: tf.Tensor;
  /** `[D]`; omitted or `null`: none. */
  keyBias?: tf.Tensor | null;
  /** `[Dv, D]`. */
  valueKernel: tf.Tensor;
  /** `[D]`; omitted or `null`: none. */
  valueBias?: tf.Tensor | null;
  /** `[D, D]`. */
  outputKernel: tf.Tensor;
  /** `[D]`; omitted or `null`: none. */
  outputBias?: tf.Tensor | null;
}

/** Options of {@link multiHeadAttentionCore}; defaults in {@link MULTI_HEAD_ATTENTION_DEFAULTS}. */
export interface MultiHeadAttentionOptions {
  /** Number of heads H; D must be divisible by H. */
  numHeads: number;
  /** Dropout rate on the attention weights when `training` is true. */
  attentionDropout?: number;
  /** Training mode (attention dropout). Default false. */
  training?: boolean;
  /** The tf seed of the dropout mask (number or string); the same seed gives the same mask. Default: unseeded. */
  dropoutSeed?: number | string;
}

/**
 * Functional core of {@link MultiHeadAttention}. With `d = D / H` and head h using columns
 * `h·d … (h+1)·d` of each projection:
 *
 * `Q = query·W_q + b_q`, `K = key·W_k + b_k`, `V = value·W_v + b_v`,
 * `head_h = softmax(Q_h K_hᵀ / √d) V_h`, `output = [head_1 … head_H] · W_o + b_o`.
 *
 * Computed for all heads at once with batched matmuls on `[B, H, T, d]`.
 *
 * **Shapes**: `query` `[B, Tq, Dq]`, `key` `[B, Tk, Dk]`, `value` `[B, Tk, Dv]` → `output`
 * `[B, Tq, D]`, `attention` `[B, H, Tq, Tk]` (per head, before dropout; rows sum to 1).
 *
 * @example
 * const q = tf.randomNormal([2, 21, 16]);
 * const kv = tf.randomNormal([2, 64, 32]);
 * const w = (r: number, c: number) => tf.randomNormal([r, c]);
 * const { output } = multiHeadAttentionCore(q, kv, kv, {
 *   queryKernel: w(16, 8), keyKernel: w(32, 8), valueKernel: w(32, 8), outputKernel: w(8, 8),
 * }, { numHeads: 2 }); // output [2, 21, 8]
 */
export function multiHeadAttentionCore(
  query: tf.Tensor,
  key: tf.Tensor,
  value: tf.Tensor,
  weights: MultiHeadAttentionWeights,
  options: MultiHeadAttentionOptions,
): {
  /** `[B, Tq, D]`: the attended values after the output projection. */
  output: tf.Tensor;
  /** `[B, H, Tq, Tk]`: the attention weights of every head, before dropout (rows sum to 1). */
  attention: tf.Tensor;
} {
  checkArgs(CORE, 'weights', weights);
  const { numHeads, attentionDropout, training } = checkCoreOptions(checkArgs(CORE, 'options', options));
  for (const [name, t] of [
    ['query', query],
    ['key', key],
    ['value', value],
  ] as const) {
    if (t.rank !== 3) throw new PhalanxShapeError(CORE, name, 'of rank 3 [B, T, C]', t.shape);
  }
  const [batch, queryLength] = query.shape as number[];
  const keyLength = (key.shape as number[])[1];
  for (const [name, t] of [
    ['key', key],
    ['value', value],
  ] as const) {
    if (t.shape[0] !== batch)
      throw new PhalanxShapeError(CORE, name, `[B, T, C] with B = ${batch} (as query)`, t.shape);
  }
  if ((value.shape as number[])[1] !== keyLength) {
    throw new PhalanxShapeError(CORE, 'value', `[B, Tk, Dv] with Tk = ${keyLength} (as key)`, value.shape);
  }
  const units = checkCoreWeights(weights, query.shape[2] as number, key.shape[2] as number, value.shape[2] as number);
  if (units % numHeads !== 0) {
    throw new PhalanxConfigError(CORE, 'numHeads', `a divisor of units D = ${units}`, numHeads);
  }
  const depth = units / numHeads;

  return tf.tidy(() => {
    // [B, T, C] → [B, H, T, d]
    const project = (x: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor | null | undefined): tf.Tensor => {
      const [b, t, c] = x.shape as number[];
      let y = tf.matMul(tf.reshape(x, [b * t, c]), kernel);
      if (bias != null) y = tf.add(y, bias);
      return tf.transpose(tf.reshape(y, [b, t, numHeads, depth]), [0, 2, 1, 3]);
    };
    const q = project(query, weights.queryKernel, weights.queryBias);
    const k = project(key, weights.keyKernel, weights.keyBias);
    const v = project(value, weights.valueKernel, weights.valueBias);
    const scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(depth)); // [B, H, Tq, Tk]
    const attention = tf.softmax(scores, -1);
    const used =
      training && attentionDropout > 0
        ? tf.dropout(attention, attentionDropout, undefined, options.dropoutSeed)
        : attention;
    const heads = tf.matMul(used, v); // [B, H, Tq, d]
    const merged = tf.reshape(tf.transpose(heads, [0, 2, 1, 3]), [batch * queryLength, units]);
    let output = tf.matMul(merged, weights.outputKernel);
    if (weights.outputBias != null) output = tf.add(output, weights.outputBias);
    return { output: tf.reshape(output, [batch, queryLength, units]), attention };
  });
}

const CORE = 'multiHeadAttentionCore';

/** The options of {@link multiHeadAttentionCore}, checked as the layer checks them, defaults filled in. */
function checkCoreOptions(options: MultiHeadAttentionOptions): {
  numHeads: number;
  attentionDropout: number;
  training: boolean;
} {
  const { dropoutSeed } = options;
  if (dropoutSeed !== undefined && typeof dropoutSeed !== 'string' && !Number.isFinite(dropoutSeed)) {
    throw new PhalanxConfigError(CORE, 'dropoutSeed', 'a finite number or a string', dropoutSeed);
  }
  return {
    numHeads: checkInteger(CORE, 'numHeads', options.numHeads, 1),
    attentionDropout: checkRate(
      CORE,
      'attentionDropout',
      options.attentionDropout ?? MULTI_HEAD_ATTENTION_DEFAULTS.attentionDropout,
    ),
    training: checkBoolean(CORE, 'training', options.training ?? false),
  };
}

/**
 * Checks every weight against {@link MultiHeadAttentionWeights} for inputs of widths Dq, Dk, Dv; returns D.
 * A missing kernel or a non-tensor is a `PhalanxConfigError`, a wrong shape a `PhalanxShapeError`.
 */
function checkCoreWeights(weights: MultiHeadAttentionWeights, dq: number, dk: number, dv: number): number {
  const output = checkWeightShape(CORE, 'outputKernel', weights.outputKernel, [null, null], {
    required: true,
    label: '[D, D]',
  }) as tf.Tensor;
  if (output.shape[0] !== output.shape[1]) {
    throw new PhalanxShapeError(CORE, 'outputKernel', 'of shape [D, D]', output.shape);
  }
  const units = output.shape[1] as number;
  checkWeightShape(CORE, 'queryKernel', weights.queryKernel, [dq, units], { required: true });
  checkWeightShape(CORE, 'keyKernel', weights.keyKernel, [dk, units], { required: true });
  checkWeightShape(CORE, 'valueKernel', weights.valueKernel, [dv, units], { required: true });
  for (const bias of ['queryBias', 'keyBias', 'valueBias', 'outputBias'] as const) {
    checkWeightShape(CORE, bias, weights[bias], [units]);
  }
  return units;
}

/**
 * Configuration of {@link MultiHeadAttention}. Optional fields default to {@link MULTI_HEAD_ATTENTION_DEFAULTS};
 * sizes are at most {@link MAX_SIZE}.
 */
export interface MultiHeadAttentionArgs extends LayerArgs {
  /** Number of heads H (integer ≥ 1). Required. */
  numHeads: number;
  /**
   * Model width D: size of every projection and of the output; must be divisible by `numHeads`, and the
   * weight `[D, D]` has at most {@link MAX_ELEMENTS} entries. Required.
   */
  units: number;
  /** Dropout rate in [0, 1) on the attention weights, training only (PyTorch's `dropout`). */
  attentionDropout?: number;
  /**
   * When true the layer has a second output, the attention weights `[B, H, Tq, Tk]` of every head
   * (PyTorch's `average_attn_weights=False`).
   */
  returnAttention?: boolean;
  /**
   * Initializer of the four kernels (default `'glorotUniform'`; the biases start at 0). A seeded one
   * gives kernel k the seed `seed + k` (query, key, value, output), so equal shapes do not start equal.
   */
  kernelInitializer?: InitializerSpec;
  /**
   * Seed of the attention-dropout mask stream (an integer): the k-th training call that drops draws its
   * mask from the tf seed `` `${dropoutSeed}:${k}` ``, so a new layer with the same seed repeats the
   * masks and `getNoiseState()` / `setNoiseState()` resume them. `null` (default): unseeded masks.
   */
  dropoutSeed?: number | null;
}

/**
 * The keys of {@link MultiHeadAttentionArgs} beyond tfjs's `LayerArgs`: the constructor accepts these, `getConfig()`
 * writes them.
 */
const ARGS_KEYS = {
  numHeads: true,
  units: true,
  attentionDropout: true,
  returnAttention: true,
  kernelInitializer: true,
  dropoutSeed: true,
} satisfies OwnArgsKeys<MultiHeadAttentionArgs>;

/**
 * Multi-head scaled dot-product attention: self-attention (`[query]`), cross-attention with shared
 * keys and values (`[query, keyValue]`) or with separate ones (`[query, key, value]`).
 *
 * `MultiHead(Q, K, V) = Concat(head_1, …, head_H) W_o + b_o`, `head_h = softmax(Q W_q^h (K W_k^h)ᵀ / √(D/H)) V W_v^h`
 * (with biases on every projection); head h uses columns `h·D/H … (h+1)·D/H`. Identical to
 * `torch.nn.MultiheadAttention(D, H, batch_first=True)` with `in_proj_weight = [W_qᵀ; W_kᵀ; W_vᵀ]`,
 * `in_proj_bias = [b_q; b_k; b_v]`, `out_proj.weight = W_oᵀ`, `out_proj.bias = b_o`.
 *
 * Weights, in order: `queryKernel [Dq, D]`, `queryBias [D]`, `keyKernel [Dk, D]`, `keyBias [D]`,
 * `valueKernel [Dv, D]`, `valueBias [D]`, `outputKernel [D, D]`, `outputBias [D]`.
 *
 * **Shapes**: inputs `query [B, Tq, Dq]`, optional `keyValue [B, Tk, Dk]` or `key [B, Tk, Dk]` and
 * `value [B, Tk, Dv]` → output `[B, Tq, D]`; with `returnAttention`, also `[B, H, Tq, Tk]`.
 *
 * @example
 * const mha = multiHeadAttention({ numHeads: 8, units: 256 });
 * const joints = tf.randomNormal([2, 21, 256]);
 * const pixels = tf.randomNormal([2, 64, 256]);
 * const out = mha.apply([joints, pixels]) as tf.Tensor; // [2, 21, 256]
 */
export class MultiHeadAttention extends PhalanxLayer<MultiHeadAttentionArgs> {
  /** Name under which the class is registered for serialisation. */
  static className = 'MultiHeadAttention';

  /** Number of heads H; divides `units`. */
  readonly numHeads: number;
  /** Model width D: width of every projection and of the output `[B, Tq, D]`. */
  readonly units: number;
  /** Dropout rate on the attention weights in training, in [0, 1). */
  readonly attentionDropout: number;
  /** Whether the layer has a second output, the attention weights `[B, H, Tq, Tk]`. */
  readonly returnAttention: boolean;
  /** Initializer of the kernels (kernel k of a seeded one: seed + k). */
  readonly kernelInitializer: Initializer;
  /** Seed of the attention-dropout mask stream, or `null` for unseeded masks. */
  readonly dropoutSeed: number | null;
  /** The attention-dropout mask stream: the seed and the number of masks drawn so far. */
  private readonly noise: NoiseStream;

  private queryKernel: tfl.LayerVariable | null = null;
  private queryBias: tfl.LayerVariable | null = null;
  private keyKernel: tfl.LayerVariable | null = null;
  private keyBias: tfl.LayerVariable | null = null;
  private valueKernel: tfl.LayerVariable | null = null;
  private valueBias: tfl.LayerVariable | null = null;
  private outputKernel: tfl.LayerVariable | null = null;
  private outputBias: tfl.LayerVariable | null = null;

  constructor(args: MultiHeadAttentionArgs) {
    super(args, ARGS_KEYS);
    const defaults = MULTI_HEAD_ATTENTION_DEFAULTS;
    this.numHeads = checkSize(COMPONENT, 'numHeads', args.numHeads, 1);
    this.units = checkSize(COMPONENT, 'units', args.units, 1);
    if (this.units % this.numHeads !== 0) {
      throw new PhalanxConfigError(COMPONENT, 'units', `divisible by numHeads = ${this.numHeads}`, this.units);
    }
    checkElements(COMPONENT, 'outputKernel [D, D] (units²)', [this.units, this.units]);
    this.attentionDropout = checkRate(
      COMPONENT,
      'attentionDropout',
      args.attentionDropout ?? defaults.attentionDropout,
    );
    this.returnAttention = checkBoolean(COMPONENT, 'returnAttention', args.returnAttention ?? defaults.returnAttention);
    this.kernelInitializer = resolveInitializer(
      COMPONENT,
      'kernelInitializer',
      args.kernelInitializer ?? defaults.kernelInitializer,
    );
    this.noise = new NoiseStream(COMPONENT, 'dropoutSeed', args.dropoutSeed ?? defaults.dropoutSeed);
    this.dropoutSeed = this.noise.seed;
  }

  /**
   * Checks the input shapes for `build`, `computeOutputShape` and `call`; returns them as `[query, key,
   * value]` (key = value = query, or key = value = keyValue).
   */
  private checkShapes(shapes: tfl.Shape[]): [tfl.Shape, tfl.Shape, tfl.Shape] {
    checkInputCount(COMPONENT, shapes, [1, 2, 3], '[query], [query, keyValue] or [query, key, value]');
    const [query, key = query, value = shapes.length === 3 ? shapes[2] : key] = shapes;
    const names = ['query', 'key', 'value'] as const;
    [query, key, value].forEach((shape, i) => {
      if (shape.length !== 3 || shape[2] === null) {
        throw new PhalanxShapeError(COMPONENT, names[i], 'of shape [B, T, C] with known C', shape);
      }
    });
    if (key[1] !== null && value[1] !== null && key[1] !== value[1]) {
      throw new PhalanxShapeError(COMPONENT, 'value', `[B, Tk, Dv] with Tk = ${key[1]} (as key)`, value);
    }
    const batches = [query[0], key[0], value[0]].filter((b) => b !== null);
    if (new Set(batches).size > 1) {
      throw new PhalanxShapeError(COMPONENT, 'inputs', 'the same batch size B', [query, key, value]);
    }
    if (this.built) {
      const built = [this.queryKernel!, this.keyKernel!, this.valueKernel!].map((w) => w.shape[0]);
      [query, key, value].forEach((shape, i) => {
        if (shape[2] !== built[i]) {
          throw new PhalanxShapeError(COMPONENT, names[i], `[B, T, ${built[i]}] (as built)`, shape);
        }
      });
    }
    return [query, key, value];
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const [query, key, value] = this.checkShapes(shapeList(inputShape));
    const d = this.units;
    [query, key, value].forEach((shape, i) =>
      checkElements(COMPONENT, `${['query', 'key', 'value'][i]}Kernel [C, D]`, [shape[2] as number, d]),
    );
    const kernel = (k: number) => nthInitializer(this.kernelInitializer, k);
    const zeros = tfl.initializers.zeros();
    this.queryKernel = this.addWeight('queryKernel', [query[2] as number, d], 'float32', kernel(0), undefined, true);
    this.queryBias = this.addWeight('queryBias', [d], 'float32', zeros, undefined, true);
    this.keyKernel = this.addWeight('keyKernel', [key[2] as number, d], 'float32', kernel(1), undefined, true);
    this.keyBias = this.addWeight('keyBias', [d], 'float32', zeros, undefined, true);
    this.valueKernel = this.addWeight('valueKernel', [value[2] as number, d], 'float32', kernel(2), undefined, true);
    this.valueBias = this.addWeight('valueBias', [d], 'float32', zeros, undefined, true);
    this.outputKernel = this.addWeight('outputKernel', [d, d], 'float32', kernel(3), undefined, true);
    this.outputBias = this.addWeight('outputBias', [d], 'float32', zeros, undefined, true);
    this.built = true;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    const [query, key] = this.checkShapes(shapeList(inputShape));
    const out: tfl.Shape = [query[0], query[1], this.units];
    return this.returnAttention ? [out, [query[0], this.numHeads, query[1], key[1]]] : out;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    return tf.tidy(() => {
      this.checkShapes(tensorShapes(inputs));
      const list = tensorList(inputs);
      const [query, key = query, value = list.length === 3 ? list[2] : key] = list;
      const training = kwargs?.training === true;
      const dropoutSeed = training && this.attentionDropout > 0 ? this.noise.next() : undefined;
      const { output, attention } = multiHeadAttentionCore(
        query,
        key,
        value,
        {
          queryKernel: this.queryKernel!.read(),
          queryBias: this.queryBias!.read(),
          keyKernel: this.keyKernel!.read(),
          keyBias: this.keyBias!.read(),
          valueKernel: this.valueKernel!.read(),
          valueBias: this.valueBias!.read(),
          outputKernel: this.outputKernel!.read(),
          outputBias: this.outputBias!.read(),
        },
        {
          numHeads: this.numHeads,
          attentionDropout: this.attentionDropout,
          training,
          ...(dropoutSeed === undefined ? {} : { dropoutSeed }),
        },
      );
      return this.returnAttention ? [output, attention] : output;
    });
  }

  /**
   * The position of the attention-dropout mask stream: the seed and the number of masks drawn so far
   * (training calls with `attentionDropout > 0`).
   *
   * @example
   * const mha = multiHeadAttention({ numHeads: 2, units: 8, attentionDropout: 0.1, dropoutSeed: 5 });
   * mha.getNoiseState(); // { seed: 5, calls: 0 }
   */
  getNoiseState(): NoiseStreamState {
    return this.noise.getState();
  }

  /**
   * Moves the attention-dropout mask stream to `state.calls` (an integer ≥ 0), e.g. when resuming from a
   * checkpoint; `state.seed`, when given, must be this layer's `dropoutSeed`.
   *
   * @example
   * const mha = multiHeadAttention({ numHeads: 2, units: 8, attentionDropout: 0.1, dropoutSeed: 5 });
   * mha.setNoiseState({ calls: 300 }); // the next training call draws mask number 300
   */
  setNoiseState(state: Pick<NoiseStreamState, 'calls'> & Partial<Pick<NoiseStreamState, 'seed'>>): void {
    this.noise.setState(state);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      numHeads: this.numHeads,
      units: this.units,
      attentionDropout: this.attentionDropout,
      returnAttention: this.returnAttention,
      kernelInitializer: serializeInitializer(this.kernelInitializer) as unknown as tf.serialization.ConfigDictValue,
      // Only when set, so that the topology of an unseeded layer is what it always was.
      ...(this.dropoutSeed === null ? {} : { dropoutSeed: this.dropoutSeed }),
      ...super.getConfig(),
    };
  }
}
tf.serialization.registerClass(MultiHeadAttention);
/**
 * nn.MultiheadAttention's tensors for a layer with kernels [Dq, D], [Dk, D], [Dv, D]: with equal input
 * widths the packed `in_proj_weight [3D, Dq]` (rows W_q; W_k; W_v), else `q_proj_weight [D, Dq]`,
 * `k_proj_weight [D, Dk]`, `v_proj_weight [D, Dv]`; then `in_proj_bias [3D]`, `out_proj.weight [D, D]`,
 * `out_proj.bias [D]`.
 */
function attentionParams(layer: tfl.layers.Layer): TorchParam[] {
  const [q, , k, , v] = layer.weights.map((w) => w.shape as number[]);
  const d = q[1];
  const packed = k[0] === q[0] && v[0] === q[0];
  const projections = packed
    ? [{ name: 'in_proj_weight', shape: [3 * d, q[0]] }]
    : [
        { name: 'q_proj_weight', shape: [d, q[0]] },
        { name: 'k_proj_weight', shape: [d, k[0]] },
        { name: 'v_proj_weight', shape: [d, v[0]] },
      ];
  return [
    ...projections,
    { name: 'in_proj_bias', shape: [3 * d] },
    { name: 'out_proj.weight', shape: [d, d] },
    { name: 'out_proj.bias', shape: [d] },
  ];
}

registerTorchConverter(MultiHeadAttention, {
  params: attentionParams,
  toLayer: (layer, tensors) => {
    const [q, , k, , v] = layer.weights.map((w) => w.shape as number[]);
    const d = q[1];
    const packed = tensors.length === 4;
    const [b, ow, ob] = tensors.slice(packed ? 1 : 3);
    const kernel = (i: number, width: number) => {
      const t = packed ? tensors[0] && tf.slice(tensors[0], [i * d, 0], [d, width]) : tensors[i];
      return t ? tf.transpose(t) : null;
    };
    const bias = (i: number) => (b ? tf.slice(b, [i * d], [d]) : null);
    return [
      kernel(0, q[0]),
      bias(0),
      kernel(1, k[0]),
      bias(1),
      kernel(2, v[0]),
      bias(2),
      ow ? tf.transpose(ow) : null,
      ob ?? null,
    ];
  },
  toTorch: (layer) => {
    const [qk, qb, kk, kb, vk, vb, ok, ob] = layer.weights.map((w) => w.read());
    const kernels = [qk, kk, vk].map((w) => tf.transpose(w));
    const packed = attentionParams(layer).length === 4;
    return [
      ...(packed ? [tf.concat(kernels, 0)] : kernels),
      tf.concat([qb, kb, vb], 0),
      tf.transpose(ok),
      tf.clone(ob),
    ];
  },
});

/**
 * Creates a {@link MultiHeadAttention} layer (like `tf.layers.dense`).
 *
 * @example
 * const cross = multiHeadAttention({ numHeads: 8, units: 256 });
 */
export function multiHeadAttention(args: MultiHeadAttentionArgs): MultiHeadAttention {
  return new MultiHeadAttention(args);
}
