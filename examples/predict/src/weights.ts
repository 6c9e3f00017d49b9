/**
 * `--weights FILE`: the chosen network with PyTorch weights instead of the shipped ones — a `.pth`/`.pt`
 * checkpoint as `torch.save` writes it (read directly, no Python) or a `.safetensors` file — holding a
 * `state_dict` of that network in the shipped model's configuration (e.g. `exportTorchStateDict` of the
 * shipped model, trained further in PyTorch).
 */
import { fileURLToPath } from 'node:url';
import type * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { importTorchStateDict as importEhpe } from '@phalanx/ehpe';
import { fileSystem, parseSafetensors, parseTorchCheckpoint } from '@phalanx/layers';
import { importTorchStateDict as importLearnableGroups } from '@phalanx/learnable-groups';
import {
  CARD_METADATA_KEY,
  estimatorFromModel,
  shippedModelUrl,
  type HandPoseEstimator,
  type HandPoseModelName,
} from '@phalanx/pretrained';

/** A state dict and the selector temperature stored beside it (Learnable Groups: `ckpt['Temperature']`). */
export interface Checkpoint {
  /** PyTorch name → tensor, in PyTorch layout; the caller disposes them. */
  tensors: Record<string, tf.Tensor>;
  /** The Concrete selector's temperature τ when the file stores one. */
  temperature?: number;
}

/** Reads a `.safetensors` file (temperature from `__metadata__.Temperature`) or a PyTorch checkpoint. */
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
 * The estimator of network `name` with the weights of the checkpoint `bytes` (named `name` in errors):
 * the shipped model's layers, the checkpoint imported strictly by PyTorch names (every missing or
 * unexpected key and every wrong shape is a named error, and nothing is left allocated then). The card
 * keeps the depth encoding and drops the shipped weights' training and evaluation records.
 */
export async function estimatorWithTorchWeights(
  name: HandPoseModelName,
  bytes: Uint8Array,
  file: string,
): Promise<HandPoseEstimator> {
  const { tensors, temperature } = readCheckpoint(bytes, file);
  let model: tfl.LayersModel | null = null;
  try {
    model = await tfl.loadLayersModel(fileSystem(fileURLToPath(shippedModelUrl(name))));
    const meta = { ...((model.getUserDefinedMetadata() ?? {}) as Record<string, unknown>) };
    const card = meta[CARD_METADATA_KEY] as Record<string, unknown> | undefined;
    if (card !== undefined) meta[CARD_METADATA_KEY] = { model: card.model, depth: card.depth };
    model.setUserDefinedMetadata(meta);
    if (name === 'ehpe') importEhpe(model, tensors);
    else importLearnableGroups(model, tensors, temperature === undefined ? {} : { temperature });
    const estimator = estimatorFromModel(name, model);
    model = null; // the estimator owns it now
    return estimator;
  } finally {
    model?.dispose();
    for (const t of Object.values(tensors)) t.dispose();
  }
}
