import * as tf from '@tensorflow/tfjs-core';

/**
 * Lean backpropagation: frees what each tape node's gradient consumed as soon as the node is done.
 *
 * tfjs-core's backward pass (`engine.gradients` → `backpropagateGradients`) keeps until it ends
 * (1) the gradient of every intermediate tensor, although only the node that produced the tensor
 * reads it, and (2) every tensor saved for a gradient (`inputsToSave`/`outputsToSave`, `customGrad`'s
 * `save`), although only that node's gradient reads them. Training memory therefore grows through the
 * backward pass to about the forward activations plus the gradients of all of them.
 *
 * {@link enableLeanBackprop} wraps the engine's `gradients` method (used by `tf.grad(s)`,
 * `tf.valueAndGrad(s)`, `tf.variableGrads`, `optimizer.minimize`, `model.fit`): once the forward
 * function has recorded the tape, each node's gradient is wrapped so that, when the engine moves on to
 * the next node, the previous node's `dy`s and saved tensors are disposed. The engine walks the tape in
 * reverse and calls a node's input thunks right after its gradient, and a tensor's gradient is read
 * only by the node that produced the tensor, so nothing disposed is read again; the values computed
 * are exactly the same. Safeguards:
 *
 * - only a `dy` created inside the running backward scope is disposed (a `dy` passed by the caller of
 *   `tf.grad(f)(x, dy)` is not), and nothing when gradients are nested (higher-order gradients);
 * - an input thunk that returns one of its node's `dy`s, or the same tensor for two inputs, returns a
 *   clone instead (sharing the buffer), so no disposed `dy` is another tensor's gradient.
 *
 * Before the backward pass starts, the tape is pruned to the nodes that are functions of the
 * differentiated tensors (those the engine would keep; it finds them at a cost of one lookup per input
 * and differentiated tensor), and what the others saved is freed at once.
 *
 * Under one tape it also gives `Sum` and `Mean` their gradients without `tf.ones` (the same values; see
 * `reductionGradient`).
 *
 * It applies to every backend.
 */

interface TapeNode {
  kernelName?: string;
  inputs?: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  saved?: tf.Tensor[];
  gradient?: (dys: tf.Tensor[]) => Record<string, () => tf.Tensor>;
}

interface EngineState {
  gradientDepth: number;
  activeScope: { id: number } | null;
  activeTape: TapeNode[] | null;
}

type Gradients = (
  f: () => tf.Tensor,
  xs: tf.Tensor[],
  dy?: tf.Tensor,
  allowNoGradients?: boolean,
) => { value: tf.Tensor; grads: tf.Tensor[] };

/** What the engine records about a buffer: the backend holding it (which counts its references). */
interface BufferInfo {
  backend: { incRef?: (dataId: tf.DataId) => void };
}

/** The engine's `addTapeNode(kernelName, inputs, outputs, gradientsFunc, saved, attrs)`. */
type AddTapeNode = (
  kernelName: string,
  inputs: Record<string, tf.Tensor>,
  outputs: tf.Tensor[],
  gradientsFunc: unknown,
  saved: tf.Tensor[],
  attrs: tf.NamedAttrMap,
) => void;

interface LeanEngine {
  state: EngineState & { tensorInfo: Map<tf.DataId, BufferInfo> };
  gradients: Gradients;
  clone: (x: tf.Tensor) => tf.Tensor;
  addTapeNode: AddTapeNode;
  makeTensorFromTensorInfo(info: tf.TensorInfo, backend?: unknown): tf.Tensor;
}

let original: Gradients | null = null;
let originalClone: ((x: tf.Tensor) => tf.Tensor) | null = null;
let originalAddTapeNode: AddTapeNode | null = null;
let engineRef: LeanEngine | null = null;

/** Tensors of the node processed last, disposed when the engine reaches the next node. */
let pending: tf.Tensor[] = [];

function release(): void {
  const list = pending;
  pending = [];
  for (const t of list) if (!t.isDisposed) t.dispose();
}

/**
 * The op scope under which `tf.fused.conv2d` records its custom gradient: inputs `0` (x), `1` (filter),
 * `2` (bias); the gradient computes ∂x with one `Conv2DBackpropInput` before ∂filter, eagerly.
 */
const FUSED_CONV2D_NODE = 'fusedConv2d__op';

/** Whether the node running its gradient now has an input gradient nobody reads (see {@link isInputGradientUnneeded}). */
let inputGradientUnneeded = false;

/**
 * True while the lean backward pass runs the gradient of a fused convolution whose input `x` is not a
 * function of the variables differentiated (e.g. the first convolution, whose `x` is the image): its
 * `Conv2DBackpropInput` result is discarded by the engine, so the kernel may return zeros without
 * computing it. tfjs computes that gradient eagerly inside `tf.fused.conv2d`'s custom gradient, where
 * the engine's pruning of unneeded inputs cannot reach.
 */
export function isInputGradientUnneeded(): boolean {
  return inputGradientUnneeded;
}

/**
 * The engine's own forward sweep over `tape`: a node is a function of `xs` when one of its inputs is
 * (an input of `xs`, or an output of such a node recorded before it). Returns the ids of those tensors
 * and whether each node is one.
 */
function sweepFromXs(tape: TapeNode[], xs: tf.Tensor[]): { fromXs: Set<number>; reached: boolean[] } {
  const fromXs = new Set(xs.map((x) => x.id));
  const reached = tape.map((node) => {
    if (!Object.values(node.inputs ?? {}).some((t) => fromXs.has(t.id))) return false;
    for (const o of node.outputs) fromXs.add(o.id);
    return true;
  });
  return { fromXs, reached };
}

/**
 * Removes from `tape` (in place) the nodes that are no function of `xs`, and frees what they saved for
 * a gradient that will never run. The engine's `getFilteredNodesXToY` drops exactly these nodes, but
 * it tests each of their inputs against every one of `xs` in turn (`|xs|` lookups of the same key): on
 * the demo's Learnable Groups step, 3 438 of 5 179 nodes (the clones of tensors saved for gradients, the
 * batch norms' moving averages) × 636 weights ≈ 2.8 M lookups, ≈ 80 ms of a ≈ 1 s step. What is left
 * is what the engine would keep, in the same order, so the gradients are the same.
 */
function pruneUnreached(tape: TapeNode[], reached: boolean[]): void {
  let kept = 0;
  tape.forEach((node, i) => {
    if (reached[i]) tape[kept++] = node;
    else for (const t of node.saved ?? []) t.dispose();
  });
  tape.length = kept;
}

/**
 * Prunes `tape` (recorded by one outermost `gradients` call) to the nodes that are functions of `xs`
 * and wraps the gradient of each.
 */
function instrument(tape: TapeNode[], state: EngineState, xs: tf.Tensor[]): void {
  const { fromXs, reached } = sweepFromXs(tape, xs);
  pruneUnreached(tape, reached);
  for (const node of tape) {
    const gradient = node.gradient;
    if (gradient == null) continue;
    const x = node.kernelName === FUSED_CONV2D_NODE ? node.inputs?.['0'] : undefined;
    const skipsX = x !== undefined && !fromXs.has(x.id);
    node.gradient = (dys: tf.Tensor[]) => {
      release();
      inputGradientUnneeded = skipsX;
      let thunks: Record<string, () => tf.Tensor>;
      try {
        thunks = gradient(dys);
      } finally {
        inputGradientUnneeded = false;
      }
      const scope = state.activeScope?.id;
      const given = dys.filter((d): d is tf.Tensor => d != null);
      const returned = new Set<tf.Tensor>(given);
      const guarded: Record<string, () => tf.Tensor> = {};
      for (const [name, thunk] of Object.entries(thunks)) {
        guarded[name] = () => {
          let r = thunk();
          if (returned.has(r)) r = tf.clone(r);
          returned.add(r);
          return r;
        };
      }
      if (state.gradientDepth === 0 && scope != null) {
        pending = [...given.filter((d) => d.scopeId === scope && !d.kept), ...(node.saved ?? [])];
      }
      return guarded;
    };
  }
}

/**
 * The engine's `clone`, which it calls only to keep a tensor for a gradient (a kernel's `inputsToSave`
 * / `outputsToSave`, `customGrad`'s `save`): an `Identity` kernel plus a tape node per saved tensor —
 * 3 576 of each on the demo's Learnable Groups step. Under one tape (`gradientDepth` 1) the gradients
 * that read saved tensors run untaped once the forward pass is done, so that tape node is never used:
 * the saved tensor is then a second tensor on the same buffer (its reference count raised, as `Reshape`
 * and the cpu backend's `Identity` do), with no kernel and no node. Under nested tapes the engine's own
 * `clone` runs, since a higher-order gradient differentiates through it.
 */
function leanClone(this: LeanEngine, x: tf.Tensor): tf.Tensor {
  const info = this.state.gradientDepth === 1 ? this.state.tensorInfo.get(x.dataId) : undefined;
  const incRef = info?.backend.incRef;
  if (info === undefined || typeof incRef !== 'function')
    return (originalClone as (x: tf.Tensor) => tf.Tensor).call(this, x);
  incRef.call(info.backend, x.dataId);
  return this.makeTensorFromTensorInfo({ dataId: x.dataId, shape: x.shape, dtype: x.dtype }, info.backend);
}

/**
 * The gradient of `Sum` or `Mean` over `axes` of a float32 `x`, with the values of tfjs-core's
 * (`reshape(dy)·ones(x.shape)`, divided by the reduced size for `Mean`) bit for bit, but with the ones
 * made by the backend's `Fill` kernel: `tf.ones` fills its array in JavaScript and copies it to the
 * backend, ≈ 2 ms for 344 k elements on wasm where `Fill` takes ≈ 0.1 ms. (`tf.broadcastTo` would copy
 * less, but wasm's `Tile` takes ≈ 45 ms for the same size.)
 */
function reductionGradient(
  kernelName: string,
  x: tf.Tensor,
  output: tf.Tensor,
  attrs: tf.NamedAttrMap,
): (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor> {
  const axes = tf.util.parseAxisParam(attrs.axis as number | number[], x.shape);
  const expanded = x.shape.map((size, i) => (axes.includes(i) ? 1 : size));
  const reducedSize = axes.reduce((n, axis) => n * x.shape[axis], 1);
  return (dys) => ({
    x: () => {
      const dy = dys[0] ?? tf.zeros(output.shape);
      const spread = tf.mul(tf.reshape(dy, expanded), tf.fill(x.shape, 1));
      return kernelName === tf.Mean ? tf.div(spread, reducedSize) : spread;
    },
  });
}

/**
 * The engine's `addTapeNode`, then, under one tape (`gradientDepth` 1), the gradient of a float32
 * `Sum` or `Mean` node replaced by {@link reductionGradient} (the same values, fewer milliseconds).
 */
function leanAddTapeNode(this: LeanEngine, ...args: Parameters<AddTapeNode>): void {
  (originalAddTapeNode as AddTapeNode).apply(this, args);
  const [kernelName, inputs, outputs, , , attrs] = args;
  if (kernelName !== tf.Sum && kernelName !== tf.Mean) return;
  const tape = this.state.activeTape;
  const node = tape?.[tape.length - 1];
  const x = inputs.x as tf.Tensor | undefined;
  if (this.state.gradientDepth !== 1 || node?.gradient == null || x?.dtype !== 'float32' || outputs.length !== 1)
    return;
  node.gradient = reductionGradient(kernelName, x, outputs[0], attrs);
}

function leanGradients(
  this: LeanEngine,
  f: () => tf.Tensor,
  xs: tf.Tensor[],
  dy?: tf.Tensor,
  allowNoGradients?: boolean,
): { value: tf.Tensor; grads: tf.Tensor[] } {
  const state = this.state;
  const recorded = () => {
    const y = f();
    // Depth 1: the outermost gradients call; its tape is complete once f returns.
    if (state.gradientDepth === 1 && state.activeTape != null) instrument(state.activeTape, state, xs);
    return y;
  };
  const outermost = state.gradientDepth === 0;
  try {
    return (original as Gradients).call(this, recorded, xs, dy, allowNoGradients);
  } catch (error) {
    // The engine frees what its tape saved for gradients only after a complete backward pass: after a
    // throw (in f, or in a gradient) the saved tensors stayed kept for good. They are the engine's own
    // clones, which nothing outside the tape can hold, and the next outermost call starts a new tape.
    if (outermost) for (const node of state.activeTape ?? []) for (const t of node.saved ?? []) t.dispose();
    throw error;
  } finally {
    pending = []; // the backward scope has disposed them (or they were handed back)
  }
}

/**
 * Turns lean backpropagation on (see the module notes). Idempotent. Gradients are unchanged; peak
 * training memory drops (the package README gives figures for the Learnable Groups network).
 *
 * @example
 * import * as tf from '@tensorflow/tfjs-core';
 * import * as tfl from '@tensorflow/tfjs-layers';
 * import { enableLeanBackprop } from '@phalanx/wasm-training';
 * const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [4] })] });
 * model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
 * const [xs, ys] = [tf.randomNormal([64, 4]), tf.randomNormal([64, 1])];
 * enableLeanBackprop();
 * await model.fit(xs, ys); // same updates, less memory
 */
export function enableLeanBackprop(): void {
  if (original != null) return;
  const engine = tf.engine() as unknown as LeanEngine;
  engineRef = engine;
  original = engine.gradients;
  originalClone = engine.clone;
  originalAddTapeNode = engine.addTapeNode;
  engine.gradients = leanGradients;
  engine.clone = leanClone;
  engine.addTapeNode = leanAddTapeNode;
}

/** Restores the engine's own `gradients` (everything saved is again freed when the backward pass ends). */
export function disableLeanBackprop(): void {
  if (original == null || engineRef == null) return;
  engineRef.gradients = original;
  if (originalClone != null) engineRef.clone = originalClone;
  if (originalAddTapeNode != null) engineRef.addTapeNode = originalAddTapeNode;
  original = null;
  originalClone = null;
  originalAddTapeNode = null;
  engineRef = null;
}

/** Whether {@link enableLeanBackprop} is in effect. */
export function isLeanBackpropEnabled(): boolean {
  return original != null;
}
