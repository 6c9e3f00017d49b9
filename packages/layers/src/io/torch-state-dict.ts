/**
 * A PyTorch `state_dict` into and out of a model whose layers are named after PyTorch module paths
 * (the reference models of `@phalanx/learnable-groups` and `@phalanx/ehpe`, anything built from
 * `@phalanx/blocks`): the layer named `backbone.r1.conv1` holds `backbone.r1.conv1.weight` and `.bias`,
 * converted by the registry of `torch-converters.ts`.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { PhalanxConfigError } from '@phalanx/errors';
import {
  applyPlan,
  checkDtypesAndBuffers,
  checkImportArgs,
  checkValues,
  exportBindings,
  modelBindings,
  planImport,
  throwFirstMismatch,
} from './torch-engine';

const COMPONENT = 'loadTorchStateDict';

/** A PyTorch tensor whose shape is not the one the model implies. */
export interface TorchShapeMismatch {
  /** The PyTorch key, e.g. `fc.weight`. */
  torch: string;
  /** The tfjs weight it maps to, e.g. `fc/kernel`. */
  tfjs: string;
  /** The PyTorch shape the model implies (PyTorch layout, e.g. `[O, I, kh, kw]`). */
  expected: number[];
  /** The shape of the given tensor. */
  received: number[];
}

/** What an import of PyTorch tensors did ({@link loadTorchStateDict}, `importTorchWeights`, the models' `importTorchStateDict`). */
export interface TorchImportReport {
  /**
   * The PyTorch keys that were written (or, when a strict check failed, would have been), and the
   * buffers that were checked (a `SoftHeatmap`'s `wx`, `wy`).
   */
  loaded: string[];
  /** PyTorch keys the model needs but the tensors lack (layers without a converter: `<layer>.<weight> (<class>)`). */
  missing: string[];
  /** Given keys that match nothing (`num_batches_tracked` keys are ignored, never unexpected). */
  unexpected: string[];
  /** Keys whose tensor has another shape than the model implies; never written. */
  mismatched: TorchShapeMismatch[];
  /** Mapping problems of `importTorchWeights` (unknown or unbuilt layers, a kind that does not fit). */
  problems: string[];
}

/** Options of {@link loadTorchStateDict}. */
export interface TorchStateDictOptions {
  /**
   * Throw when a model weight has no tensor (missing) or a tensor matches no model weight
   * (unexpected), listing them all. `num_batches_tracked` buffers are always ignored. Default true.
   */
  strict?: boolean;
  /**
   * A prefix removed from every key first (e.g. `'module.'` for checkpoints saved from
   * `nn.DataParallel`). Default: `'module.'` when every key starts with it, else none.
   */
  stripPrefix?: string;
  /**
   * Only the layers whose name this matches take part (e.g. `/^backbone\./` to load a backbone into a
   * whole model); strict mode then asks for exactly their tensors. Default: every layer.
   */
  only?: RegExp | ((layerName: string) => boolean);
}

/** The keys of {@link TorchStateDictOptions}: any other key is a named error. */
const OPTION_KEYS = { strict: true, stripPrefix: true, only: true } satisfies Record<keyof TorchStateDictOptions, true>;

/** A named error unless `model` is a `tf.LayersModel` (something with a list of `layers`). */
function checkModel(component: string, model: unknown): void {
  if (!Array.isArray((model as { layers?: unknown } | null)?.layers)) {
    throw new PhalanxConfigError(component, 'model', 'a tf.LayersModel', model === null ? null : typeof model);
  }
}

function byStrippedName(tensors: Readonly<Record<string, tf.Tensor>>, stripPrefix?: string): Map<string, tf.Tensor> {
  const keys = Object.keys(tensors);
  const prefix = stripPrefix ?? (keys.length > 0 && keys.every((k) => k.startsWith('module.')) ? 'module.' : '');
  const byName = new Map<string, tf.Tensor>();
  for (const k of keys) {
    if (prefix && !k.startsWith(prefix)) {
      throw new PhalanxConfigError(COMPONENT, 'stripPrefix', `a prefix of every key (${k})`, prefix);
    }
    byName.set(k.slice(prefix.length), tensors[k]);
  }
  return byName;
}

/**
 * Loads a PyTorch `state_dict` into `model`, matching every tensor by name: the layer named
 * `backbone.r1.conv1` receives `backbone.r1.conv1.weight` and `.bias`, through its class's converter
 * (`registerTorchConverter`):
 * - `Conv2D`: `weight [O, I, kh, kw]` → kernel `[kh, kw, I, O]`, `bias`;
 * - `Conv2DTranspose`: `weight [I, O, kh, kw]` → kernel `[kh, kw, O, I]` (no spatial flip), `bias`;
 * - `Dense`: `weight [O, I]` → kernel `[I, O]`, `bias`; `DepthwiseConv2D`: `weight [I·m, 1, kh, kw]`;
 * - batch norms: `weight, bias, running_mean, running_var` → `gamma, beta, moving_mean,
 *   moving_variance` (`num_batches_tracked` is ignored); layer norms: `weight, bias` → `gamma, beta`;
 * - `GroupFusion` named P (the NDDR block): `P.Conv_Task_List.i.0.weight [U, G·C, 1, 1]` → kernel
 *   columns `i·U … (i+1)·U`, the biases concatenated;
 * - `ConcreteJointSelector` named P: `P.weight [J, G]` (an `nn.Linear(G, J)`) → logits; the temperature
 *   is not part of a state_dict and is left as it is;
 * - `MultiHeadAttention` named P (`nn.MultiheadAttention`): `P.in_proj_weight [3D, D]` rows
 *   `[W_q; W_k; W_v]` → the transposed query / key / value kernels, `P.in_proj_bias [3D]` → their
 *   biases, `P.out_proj.weight`, `P.out_proj.bias` → the output kernel (transposed) and bias;
 * - `DualBranchFusion` named P (EHPE's `PGStage`): `P.omega_g [J, J]`, `P.omega_e [J, 1]`;
 * - `DynamicEdgeGAT` named P (PyTorch Geometric's `GATConv` names): `P.lin.weight [K·U, F]` → kernel
 *   (transposed), `P.att_dst [1, K, U]` → attentionSelf, `P.att_src [1, K, U]` → attentionNeighbor,
 *   `P.lin_q.weight`, `P.lin_k.weight` (dot product), `P.bias`;
 * - `SoftArgmax25D` named P with a trainable β (a `SoftHeatmap`): `P.beta.weight [J, 1, 1, 1]` → β
 *   `[J]`; its buffers `P.wx`, `P.wy` must be the pixel grid `arange(0, size)` and are consumed.
 *
 * **All or nothing**: names, shapes and dtypes are matched and every value is checked (finite;
 * `running_var` ≥ 0) before any weight is written; on any error the model is unchanged and no tensor
 * is left behind.
 *
 * **Shapes**: every tensor must have exactly the PyTorch shape implied by the model.
 *
 * @param model A model whose weighted layers are named after PyTorch modules.
 * @param tensors State-dict tensors keyed by PyTorch name (e.g. `readSafetensors(bytes)`); not disposed.
 * @throws PhalanxShapeError naming the first tensor of the wrong shape.
 * @throws PhalanxConfigError for a `model` that is not a `tf.LayersModel`, `tensors` that are not a record
 *   of tensors (or hold a disposed one), `options` that are not an object of its options, a tensor that is
 *   not float32 or int32, a NaN or infinite value, a
 *   negative `running_var`, a buffer that differs from what the layer computes, or — in strict mode —
 *   listing every missing and unexpected key.
 *
 * @example
 * import { readFileSync } from 'node:fs';
 * import * as tfl from '@tensorflow/tfjs-layers';
 * import { loadTorchStateDict, readSafetensors } from '@phalanx/layers';
 * import { res2dBlock } from '@phalanx/blocks';
 * const x = tfl.input({ shape: [8, 8, 4] });
 * const model = tfl.model({ inputs: x, outputs: res2dBlock(x, { outChannels: 6, name: 'block' }) });
 * loadTorchStateDict(model, readSafetensors(readFileSync('block.safetensors')));
 */
export function loadTorchStateDict(
  model: tfl.LayersModel,
  tensors: Readonly<Record<string, tf.Tensor>>,
  options: TorchStateDictOptions = {},
): TorchImportReport {
  checkModel(COMPONENT, model);
  checkImportArgs(COMPONENT, tensors, options, OPTION_KEYS);
  const { strict = true } = options;
  if (typeof strict !== 'boolean') throw new PhalanxConfigError(COMPONENT, 'strict', 'a boolean', strict);
  const only = options.only ?? (() => true);
  if (!(only instanceof RegExp) && typeof only !== 'function') {
    throw new PhalanxConfigError(COMPONENT, 'only', 'a RegExp or a function (layerName) → boolean', only);
  }
  const keep = typeof only === 'function' ? only : (name: string) => only.test(name);
  const { bindings, unconverted } = modelBindings(model, keep);
  const plan = planImport(bindings, byStrippedName(tensors, options.stripPrefix));
  plan.report.missing.push(...unconverted);
  throwFirstMismatch(COMPONENT, plan);
  checkDtypesAndBuffers(COMPONENT, plan);
  const { missing, unexpected } = plan.report;
  if (strict && (missing.length > 0 || unexpected.length > 0)) {
    const parts: string[] = [];
    if (missing.length > 0) parts.push(`missing keys: ${missing.join(', ')}`);
    if (unexpected.length > 0) parts.push(`unexpected keys: ${unexpected.join(', ')}`);
    throw new PhalanxConfigError(COMPONENT, 'tensors', 'a state_dict matching the model exactly', parts.join('; '));
  }
  checkValues(COMPONENT, plan);
  applyPlan(COMPONENT, plan);
  return plan.report;
}

/**
 * The weights of `model` as a PyTorch `state_dict`: the inverse of {@link loadTorchStateDict}, through
 * the same converters — PyTorch names (`<layer name>.<param>`) and layouts (`[O, I, kh, kw]`,
 * `in_proj_weight`, …), plus the buffers a PyTorch module stores but the layer computes (a
 * `SoftHeatmap`'s `wx`, `wy`). Batch norms export no `num_batches_tracked` (PyTorch's `load_state_dict`
 * fills it in for a state_dict without version metadata). After `loadTorchStateDict(model, sd)`,
 * `torchStateDict(model)` gives back every tensor of `sd` bit for bit.
 *
 * @returns New tensors by PyTorch key; the caller disposes them (`writeSafetensors(sd)` then
 *   `tf.dispose(Object.values(sd))`).
 * @throws PhalanxConfigError naming every weight of a layer that has no converter, or for a `model` that
 *   is not a `tf.LayersModel`.
 *
 * @example
 * import { writeFileSync } from 'node:fs';
 * import * as tf from '@tensorflow/tfjs-core';
 * import * as tfl from '@tensorflow/tfjs-layers';
 * import { torchStateDict, writeSafetensors } from '@phalanx/layers';
 * const x = tfl.input({ shape: [4] });
 * const model = tfl.model({ inputs: x, outputs: tfl.layers.dense({ units: 2, name: 'fc' }).apply(x) as tfl.SymbolicTensor });
 * const sd = torchStateDict(model); // { 'fc.weight': [2, 4], 'fc.bias': [2] }
 * writeFileSync('model.safetensors', writeSafetensors(sd)); // load_state_dict(strict=True) in PyTorch
 * tf.dispose(Object.values(sd));
 */
export function torchStateDict(model: tfl.LayersModel): Record<string, tf.Tensor> {
  checkModel('torchStateDict', model);
  const { bindings, unconverted } = modelBindings(model);
  if (unconverted.length > 0) {
    throw new PhalanxConfigError(
      'torchStateDict',
      'model',
      'layers that all have a PyTorch converter',
      unconverted.join(', '),
    );
  }
  return exportBindings('torchStateDict', bindings);
}
