/**
 * A PyTorch checkpoint picked in the page — a `.pth`/`.pt` file as `torch.save` writes it (read in the
 * browser, no Python) or a `.safetensors` file — loaded into the network the page runs. The checkpoint
 * must be a `state_dict` of the same network and configuration (e.g. the official code's, or
 * `exportTorchStateDict` of a Phalanx model): the page builds a fresh copy of the current model's layers,
 * imports the tensors by their PyTorch names (strictly; a mismatch names every wrong key and leaves the
 * running model as it was) and runs the copy through the same estimator.
 */
import type * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { importTorchStateDict as importEhpe } from '@phalanx/ehpe';
import { parseSafetensors, parseTorchCheckpoint } from '@phalanx/layers';
import { importTorchStateDict as importLearnableGroups } from '@phalanx/learnable-groups';
import {
  CARD_METADATA_KEY,
  estimatorFromModel,
  type HandPoseEstimator,
  type HandPoseModelName,
} from '@phalanx/pretrained';

/** A state dict and the Concrete selector temperature stored beside it (Learnable Groups: `ckpt['Temperature']`). */
export interface Checkpoint {
  /** PyTorch name → tensor, in PyTorch layout; the caller disposes them. */
  tensors: Record<string, tf.Tensor>;
  /** The selector temperature τ when the file stores one. */
  temperature?: number;
}

/**
 * Reads a `.safetensors` file (temperature from `__metadata__.Temperature`) or a PyTorch checkpoint (its
 * `state_dict`, `model_state_dict` or `model`, DataParallel's `module.` removed; temperature from the
 * top-level `Temperature`).
 */
export function readCheckpoint(bytes: Uint8Array, name: string): Checkpoint {
  if (name.toLowerCase().endsWith('.safetensors')) {
    const file = parseSafetensors(bytes);
    const t = Number(file.metadata.Temperature);
    return { tensors: file.tensors(), temperature: Number.isFinite(t) ? t : undefined };
  }
  const ckpt = parseTorchCheckpoint(bytes, { file: name });
  const t = ckpt.root instanceof Map ? ckpt.root.get('Temperature') : undefined;
  return { tensors: ckpt.stateDict(), temperature: typeof t === 'number' ? t : undefined };
}

/**
 * A new model with the layers of `model` (same architecture, fresh weights) and its metadata minus the
 * card's training and evaluation records, which describe the other weights.
 */
async function freshCopy(model: tfl.LayersModel): Promise<tfl.LayersModel> {
  const topology = model.toJSON(undefined, false) as tf.io.ModelJSON['modelTopology'];
  const copy = await tfl.models.modelFromJSON({ modelTopology: topology });
  const meta = { ...((model.getUserDefinedMetadata() ?? {}) as Record<string, unknown>) };
  const card = meta[CARD_METADATA_KEY] as Record<string, unknown> | undefined;
  if (card !== undefined) meta[CARD_METADATA_KEY] = { model: card.model, depth: card.depth };
  copy.setUserDefinedMetadata(meta);
  return copy;
}

/**
 * Loads the checkpoint `bytes` (named `name`) into a copy of `model`, a `kind` network, and returns the
 * estimator of that copy; `model` is left untouched. Throws the import's named error (and frees
 * everything it made) when the checkpoint does not fit the network.
 */
export async function estimatorFromCheckpoint(
  kind: HandPoseModelName,
  model: tfl.LayersModel,
  bytes: Uint8Array,
  name: string,
): Promise<HandPoseEstimator> {
  const { tensors, temperature } = readCheckpoint(bytes, name);
  let copy: tfl.LayersModel | null = null;
  try {
    copy = await freshCopy(model);
    if (kind === 'ehpe') importEhpe(copy, tensors);
    else importLearnableGroups(copy, tensors, temperature === undefined ? {} : { temperature });
    const estimator = estimatorFromModel(kind, copy);
    copy = null; // the estimator owns it now
    return estimator;
  } finally {
    copy?.dispose();
    for (const t of Object.values(tensors)) t.dispose();
  }
}
