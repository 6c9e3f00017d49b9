/**
 * PyTorch weights behind an estimator: a `.pth`/`.pt` checkpoint as `torch.save` writes it (read in
 * JavaScript, no Python) or a `.safetensors` file, holding a `state_dict` of the network in the model's
 * configuration (the official code's, or `exportTorchStateDict` of a Phalanx model trained further in
 * PyTorch), imported strictly by PyTorch names into a model the estimator then owns.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { importTorchStateDict as importEhpe } from '@phalanx/ehpe';
import { parseSafetensors, parseTorchCheckpoint } from '@phalanx/layers';
import { importTorchStateDict as importLearnableGroups } from '@phalanx/learnable-groups';
import { checkOneOf, PhalanxConfigError } from '@phalanx/errors';
import { CARD_METADATA_KEY, HAND_POSE_MODELS, type HandPoseModelName } from './card';
import type { HandPoseEstimator } from './estimator';
import { estimatorFromModel } from './load';

/** A state dict and the Concrete selector temperature stored beside it (Learnable Groups: `ckpt['Temperature']`). */
export interface TorchCheckpoint {
  /** PyTorch name → tensor, in PyTorch layout; the caller disposes them. */
  tensors: Record<string, tf.Tensor>;
  /** The selector temperature τ when the file stores one. */
  temperature?: number;
}

/** Named errors for `bytes` that are not a `Uint8Array` and a `file` that is not a string. */
function checkFileArgs(component: string, bytes: unknown, file: unknown): void {
  if (!(bytes instanceof Uint8Array)) {
    const received = bytes === null || typeof bytes !== 'object' ? bytes : (bytes.constructor?.name ?? 'an object');
    throw new PhalanxConfigError(
      component,
      'bytes',
      'a Uint8Array (or Buffer) of a .pth/.pt or .safetensors file',
      received,
    );
  }
  if (typeof file !== 'string') throw new PhalanxConfigError(component, 'file', 'a file name (a string)', file);
}

/**
 * Reads a `.safetensors` file (temperature from `__metadata__.Temperature`) or a PyTorch checkpoint (its
 * `state_dict`, `model_state_dict` or `model`, DataParallel's `module.` removed; temperature from the
 * top-level `Temperature`). `file` names the file in errors and picks the format by its extension. `bytes` that
 * are not a `Uint8Array` and a `file` that is not a string are a `PhalanxConfigError`.
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { readTorchCheckpoint } from '@phalanx/pretrained';
 *
 * const { tensors, temperature } = readTorchCheckpoint(readFileSync('model_best.pth'), 'model_best.pth');
 * ```
 */
export function readTorchCheckpoint(bytes: Uint8Array, file: string): TorchCheckpoint {
  checkFileArgs('readTorchCheckpoint', bytes, file);
  if (file.toLowerCase().endsWith('.safetensors')) {
    const parsed = parseSafetensors(bytes);
    const t = Number(parsed.metadata.Temperature);
    return { tensors: parsed.tensors(), temperature: Number.isFinite(t) ? t : undefined };
  }
  const ckpt = parseTorchCheckpoint(bytes, { file });
  const t = ckpt.root instanceof Map ? ckpt.root.get('Temperature') : undefined;
  return { tensors: ckpt.stateDict(), temperature: typeof t === 'number' ? t : undefined };
}

/**
 * The estimator of `model` (a `name` network, e.g. a fresh load of the shipped one) with the weights of
 * the checkpoint `bytes` (named `file`): imported strictly by PyTorch names — every missing or unexpected
 * key and every wrong shape is a named error. The estimator owns `model`; on an error `model` and every
 * tensor read are disposed — except for arguments of the wrong kind (a `name` that is not one of
 * {@link HAND_POSE_MODELS}, a `model` that is not a `tf.LayersModel`, `bytes` that are not a `Uint8Array`, a
 * `file` that is not a string), a `PhalanxConfigError` before anything is read or disposed. The card keeps the
 * depth encoding and drops the training and evaluation records, which describe other weights.
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { estimatorWithTorchWeights, loadHandPoseModel } from '@phalanx/pretrained';
 *
 * // The shipped network's layers, with the checkpoint's weights instead of the shipped ones.
 * const model = await loadHandPoseModel('learnable-groups');
 * const bytes = readFileSync('model_best.pth');
 * const estimator = await estimatorWithTorchWeights('learnable-groups', model, bytes, 'model_best.pth');
 * ```
 */
export async function estimatorWithTorchWeights(
  name: HandPoseModelName,
  model: tfl.LayersModel,
  bytes: Uint8Array,
  file: string,
): Promise<HandPoseEstimator> {
  const component = 'estimatorWithTorchWeights';
  checkOneOf(component, 'name', name, HAND_POSE_MODELS);
  if (typeof (model as Partial<tfl.LayersModel> | null)?.getUserDefinedMetadata !== 'function') {
    throw new PhalanxConfigError(component, 'model', 'a tf.LayersModel', model === null ? null : typeof model);
  }
  checkFileArgs(component, bytes, file);
  let owned: tfl.LayersModel | null = model;
  let tensors: Record<string, tf.Tensor> = {};
  try {
    const checkpoint = readTorchCheckpoint(bytes, file);
    tensors = checkpoint.tensors;
    const meta = { ...((model.getUserDefinedMetadata() ?? {}) as Record<string, unknown>) };
    const card = meta[CARD_METADATA_KEY] as Record<string, unknown> | undefined;
    if (card !== undefined) meta[CARD_METADATA_KEY] = { model: card.model, depth: card.depth };
    model.setUserDefinedMetadata(meta);
    if (name === 'ehpe') importEhpe(model, tensors);
    else {
      const t = checkpoint.temperature;
      importLearnableGroups(model, tensors, t === undefined ? {} : { temperature: t });
    }
    const estimator = estimatorFromModel(name, model);
    owned = null; // the estimator owns it now
    return estimator;
  } finally {
    owned?.dispose();
    for (const t of Object.values(tensors)) t.dispose();
  }
}
